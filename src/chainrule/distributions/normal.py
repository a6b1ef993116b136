"""``Normal(loc, scale)``: the Gaussian, with reparameterised samples."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.distributions import constraints
from chainrule.distributions.distribution import Distribution
from chainrule.distributions.utils import broadcast_all
from chainrule.random import _np_generator
from chainrule.tensor import Tensor

__all__ = ["Normal"]


def _draw(kind: str, shape: tuple[int, ...], dtype: np.dtype) -> Tensor:
    """Standard normal or uniform [0, 1) draws from chainrule's seeded generator."""
    g = _np_generator(None)
    wide = np.float32 if dtype == np.float32 else np.float64
    a = g.standard_normal(shape, dtype=wide) if kind == "normal" else g.random(shape, dtype=wide)
    return Tensor._make(a.astype(dtype, copy=False))


class Normal(Distribution):
    """The normal distribution with mean ``loc`` and standard deviation ``scale``.

    ``log_prob(x) = -(x - loc)^2 / (2 scale^2) - log(scale) - log(sqrt(2 pi))``;
    ``rsample`` is ``loc + eps * scale`` with ``eps ~ N(0, 1)``, so gradients reach
    ``loc`` and ``scale``.
    """

    arg_constraints = {"loc": constraints.real, "scale": constraints.positive}
    support = constraints.real
    has_rsample = True

    def __init__(self, loc: Tensor | float, scale: Tensor | float,
                 validate_args: bool | None = None) -> None:
        self.loc, self.scale = broadcast_all(loc, scale)
        scalar = isinstance(loc, numbers.Number) and isinstance(scale, numbers.Number)
        super().__init__(() if scalar else self.loc.shape, validate_args=validate_args)

    def expand(self, batch_shape: Any, _instance: Any = None) -> Normal:
        new = type(self).__new__(type(self))
        shape = tuple(batch_shape)
        new.loc, new.scale = self.loc.expand(*shape), self.scale.expand(*shape)
        Distribution.__init__(new, shape, validate_args=False)
        new._validate_args = self._validate_args
        return new

    @property
    def mean(self) -> Tensor:
        return self.loc

    @property
    def mode(self) -> Tensor:
        return self.loc

    @property
    def stddev(self) -> Tensor:
        return self.scale

    @property
    def variance(self) -> Tensor:
        return self.scale ** 2

    def sample(self, sample_shape: Any = ()) -> Tensor:
        with no_grad():
            return self.rsample(sample_shape)

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        shape = tuple(self._extended_shape(sample_shape))
        eps = _draw("normal", shape, self.loc._data.dtype)
        return self.loc + eps * self.scale

    def log_prob(self, value: Any) -> Tensor:
        if self._validate_args:
            self._validate_sample(value)
        var = self.scale ** 2
        return (-((value - self.loc) ** 2) / (2 * var) - self.scale.log()
                - math.log(math.sqrt(2 * math.pi)))

    def entropy(self) -> Tensor:
        return 0.5 + 0.5 * math.log(2 * math.pi) + self.scale.log()

    def __reduce__(self) -> Any:  # pragma: no cover - pickling support
        return (type(self), (self.loc, self.scale))


