"""``Bernoulli(probs=... | logits=...)``: one coin flip per entry."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.normal import _draw
from chainrule.distributions.utils import (
    broadcast_all,
    lazy_property,
    logits_to_probs,
    probs_to_logits,
)
from chainrule.tensor import Tensor

__all__ = ["Bernoulli"]


def _bce_with_logits(logits: Tensor, target: Any) -> Tensor:
    """Elementwise binary cross entropy of logits (no reduction), broadcast first."""
    from chainrule.ops.loss import binary_cross_entropy_with_logits

    logits, target = broadcast_all(logits, target)
    return binary_cross_entropy_with_logits(logits, target, reduction="none")


class Bernoulli(Distribution):
    """1 with probability ``probs`` (or ``sigmoid(logits)``), else 0.

    Give exactly one of ``probs`` and ``logits``; the other is computed on first use
    (``logits = log(p) - log(1 - p)`` from probabilities clamped to ``[eps, 1 - eps]``).
    ``log_prob(x) = -bce_with_logits(logits, x)``.
    """

    arg_constraints = {"probs": constraints.unit_interval, "logits": constraints.real}
    support = constraints.boolean
    has_enumerate_support = True

    def __init__(self, probs: Tensor | float | None = None,
                 logits: Tensor | float | None = None,
                 validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            scalar = isinstance(probs, numbers.Number)
            (self.probs,) = broadcast_all(probs)
            self._param = self.probs
        else:
            scalar = isinstance(logits, numbers.Number)
            (self.logits,) = broadcast_all(logits)
            self._param = self.logits
        super().__init__(() if scalar else self._param.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Bernoulli:
        new = type(self).__new__(type(self))
        shape = tuple(batch_shape)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(*shape))
                new._param = getattr(new, name)
        Distribution.__init__(new, shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs, is_binary=True)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits, is_binary=True)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(self._param.shape)

    @property
    def mean(self) -> Tensor:
        return self.probs

    @property
    def mode(self) -> Tensor:
        p = self.probs._data
        mode = (p >= 0.5).astype(p.dtype)
        mode[p == 0.5] = math.nan
        return Tensor._make(mode)

    @property
    def variance(self) -> Tensor:
        return self.probs * (1 - self.probs)

    def sample(self, sample_shape: Any = ()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        p = np.broadcast_to(self.probs._data, shape)
        u = _draw("uniform", shape, p.dtype)._data
        return Tensor._make((u < p).astype(p.dtype))

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return -_bce_with_logits(self.logits, value)

    def entropy(self) -> Tensor:
        return _bce_with_logits(self.logits, self.probs)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = np.arange(2, dtype=self._param._data.dtype).reshape(
            (-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = np.broadcast_to(values, (2, *self._batch_shape))
        return Tensor._make(np.array(values))
