"""``Categorical(probs=... | logits=...)``: one of K classes, per batch entry."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.normal import _draw
from chainrule.distributions.utils import lazy_property, logits_to_probs, probs_to_logits
from chainrule.tensor import Tensor

__all__ = ["Categorical"]


class Categorical(Distribution):
    """Class ``k`` of ``K`` with probability ``probs[..., k]`` (normalised over the last
    dimension) or ``softmax(logits)[..., k]``; ``logits`` are stored normalised
    (``logits - logsumexp(logits)``), so they are log-probabilities.

    ``log_prob(k) = logits[..., k]``; ``entropy = -sum(probs * logits)``.
    """

    arg_constraints = {"probs": constraints.simplex, "logits": constraints.real_vector}
    has_enumerate_support = True

    def __init__(self, probs: Tensor | None = None, logits: Tensor | None = None,
                 validate_args: bool | None = None) -> None:
        if (probs is None) == (logits is None):
            raise ValueError("Either `probs` or `logits` must be specified, but not both.")
        if probs is not None:
            if probs.ndim < 1:
                raise ValueError("`probs` parameter must be at least one-dimensional.")
            self.probs = probs / probs.sum(-1, keepdim=True)
            self._param = self.probs
        else:
            if logits.ndim < 1:
                raise ValueError("`logits` parameter must be at least one-dimensional.")
            self.logits = logits - logits.logsumexp(-1, keepdim=True)
            self._param = self.logits
        self._num_events = self._param.shape[-1]
        batch = tuple(self._param.shape[:-1]) if self._param.ndim > 1 else ()
        super().__init__(batch, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Categorical:
        new = type(self).__new__(type(self))
        shape = tuple(batch_shape)
        for name in ("probs", "logits"):
            if name in self.__dict__:
                setattr(new, name, self.__dict__[name].expand(*shape, self._num_events))
                new._param = getattr(new, name)
        new._num_events = self._num_events
        Distribution.__init__(new, shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.integer_interval(0, self._num_events - 1)

    @lazy_property
    def logits(self) -> Tensor:
        return probs_to_logits(self.probs)

    @lazy_property
    def probs(self) -> Tensor:
        return logits_to_probs(self.logits)

    @property
    def param_shape(self) -> tuple[int, ...]:
        return tuple(self._param.shape)

    @property
    def mean(self) -> Tensor:
        return Tensor._make(np.full(self._extended_shape(), math.nan, self.probs._data.dtype))

    @property
    def mode(self) -> Tensor:
        return Tensor._make(self.probs._data.argmax(-1))

    @property
    def variance(self) -> Tensor:
        return Tensor._make(np.full(self._extended_shape(), math.nan, self.probs._data.dtype))

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """Class indices (int64) of shape ``sample_shape + batch_shape``, drawn by inverse
        CDF from chainrule's seeded generator."""
        n = int(np.prod(tuple(sample_shape), dtype=np.int64))
        p = self.probs._data.reshape(-1, self._num_events).astype(np.float64)
        cdf = np.cumsum(p, axis=-1)
        cdf /= cdf[:, -1:]
        u = _draw("uniform", (n, p.shape[0]), np.dtype(np.float64))._data  # (n, rows)
        idx = (u[..., None] >= cdf[None]).sum(-1)
        idx = np.minimum(idx, self._num_events - 1).astype(np.int64)
        return Tensor._make(idx.reshape(self._extended_shape(sample_shape)))

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        v = np.asarray(value._data if isinstance(value, Tensor) else value).astype(np.int64)
        logits = self.logits
        shape = np.broadcast_shapes(v.shape + (1,), tuple(logits.shape))
        log_pmf = logits if tuple(logits.shape) == shape else logits.broadcast_to(shape)
        v = np.broadcast_to(v[..., None], shape)[..., 0]
        flat = log_pmf.reshape(-1, self._num_events)
        picked = flat[np.arange(flat.shape[0]), v.reshape(-1)]
        return picked.reshape(shape[:-1])

    def entropy(self) -> Tensor:
        min_real = float(np.finfo(self.logits._data.dtype).min)
        logits = self.logits.clamp(min=min_real)
        return -(logits * self.probs).sum(-1)

    def enumerate_support(self, expand: bool = True) -> Tensor:
        values = np.arange(self._num_events, dtype=np.int64).reshape(
            (-1,) + (1,) * len(self._batch_shape))
        if expand:
            values = np.broadcast_to(values, (self._num_events, *self._batch_shape))
        return Tensor._make(np.array(values))


