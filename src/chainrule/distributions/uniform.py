"""``Uniform(low, high)``: the uniform distribution on ``[low, high)``."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.normal import _draw
from chainrule.distributions.utils import broadcast_all
from chainrule.tensor import Tensor

__all__ = ["Uniform"]


class Uniform(Distribution):
    """Uniform on ``[low, high)``: ``log_prob = -log(high - low)`` inside, ``-inf``
    outside; ``rsample = low + u * (high - low)`` with ``u ~ U[0, 1)``."""

    has_rsample = True

    @property
    def arg_constraints(self) -> dict[str, constraints.Constraint]:  # type: ignore[override]
        return {"low": constraints.less_than(self.high),
                "high": constraints.greater_than(self.low)}

    def __init__(self, low: Tensor | float, high: Tensor | float,
                 validate_args: bool | None = None) -> None:
        self.low, self.high = broadcast_all(low, high)
        scalar = isinstance(low, numbers.Number) and isinstance(high, numbers.Number)
        super().__init__(() if scalar else self.low.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Uniform:
        new = type(self).__new__(type(self))
        shape = tuple(batch_shape)
        new.low, new.high = self.low.expand(*shape), self.high.expand(*shape)
        Distribution.__init__(new, shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def support(self) -> constraints.Constraint:  # type: ignore[override]
        return constraints.interval(self.low, self.high)

    @property
    def mean(self) -> Tensor:
        return (self.high + self.low) / 2

    @property
    def mode(self) -> Tensor:
        return self.high * math.nan

    @property
    def stddev(self) -> Tensor:
        return (self.high - self.low) / 12**0.5

    @property
    def variance(self) -> Tensor:
        return (self.high - self.low) ** 2 / 12

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        u = _draw("uniform", shape, self.low._data.dtype)
        return self.low + u * (self.high - self.low)

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        v = np.asarray(value._data if isinstance(value, Tensor) else value)
        inside = (self.low._data <= v) & (self.high._data > v)
        with np.errstate(divide="ignore"):
            lb_ub = Tensor._make(np.log(inside.astype(self.low._data.dtype)))
        return lb_ub - (self.high - self.low).log()

    def cdf(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        return ((value - self.low) / (self.high - self.low)).clamp(min=0, max=1)

    def icdf(self, value: Any) -> Tensor:
        return value * (self.high - self.low) + self.low

    def entropy(self) -> Tensor:
        return (self.high - self.low).log()
