"""``Distribution``: the base class (shapes, argument and sample validation, ``sample``)."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.autograd.grad_mode import no_grad
from chainrule.distributions import constraints
from chainrule.distributions.utils import lazy_property
from chainrule.tensor import Tensor

__all__ = ["Distribution"]


def _size(shape: Any) -> tuple[int, ...]:
    """A shape as ``cr.Size`` when chainrule has it, else a tuple."""
    import chainrule

    size = getattr(chainrule, "Size", tuple)
    return size(int(n) for n in shape)


class Distribution:
    """Base class of probability distributions, as ``torch.distributions.Distribution``.

    Args:
        batch_shape: the shape of the batch of independent distributions.
        event_shape: the shape of one sample of one distribution.
        validate_args: check the parameters (and the values given to ``log_prob``) against
            their constraints; default True, as PyTorch's (see
            ``set_default_validate_args``).

    A sample of ``sample(sample_shape)`` has shape ``sample_shape + batch_shape +
    event_shape``; ``log_prob(value)`` has ``value``'s shape without the event dims.
    """

    has_rsample = False
    has_enumerate_support = False
    _validate_args = True
    arg_constraints: dict[str, constraints.Constraint] = {}

    @staticmethod
    def set_default_validate_args(value: bool) -> None:
        """Turn argument validation on or off for distributions created afterwards."""
        if value not in (True, False):
            raise ValueError
        Distribution._validate_args = value

    def __init__(self, batch_shape: Any = (), event_shape: Any = (),
                 validate_args: bool | None = None) -> None:
        self._batch_shape = _size(batch_shape)
        self._event_shape = _size(event_shape)
        if validate_args is not None:
            self._validate_args = validate_args
        if self._validate_args:
            for param, constraint in self.arg_constraints.items():
                if constraints.is_dependent(constraint):
                    continue
                if param not in self.__dict__ and isinstance(getattr(type(self), param, None),
                                                             lazy_property):
                    continue  # computed from another parameter: not given, not checked
                value = getattr(self, param)
                with np.errstate(invalid="ignore"):  # NaNs are reported as invalid below
                    valid = np.all(constraint.check(value))
                if not valid:
                    raise ValueError(
                        f"Expected parameter {param} ({type(value).__name__} of shape "
                        f"{tuple(value.shape)}) of distribution {self!r} to satisfy the "
                        f"constraint {constraint!r}, but found invalid values:\n{value}")

    # -- shapes -------------------------------------------------------------------------
    @property
    def batch_shape(self) -> tuple[int, ...]:
        return self._batch_shape

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def _extended_shape(self, sample_shape: Any = ()) -> tuple[int, ...]:
        return _size((*tuple(sample_shape), *self._batch_shape, *self._event_shape))

    # -- what subclasses implement ------------------------------------------------------
    @property
    def support(self) -> constraints.Constraint:
        raise NotImplementedError

    @property
    def mean(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement mean")

    @property
    def mode(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement mode")

    @property
    def variance(self) -> Tensor:
        raise NotImplementedError(f"{type(self)} does not implement variance")

    @property
    def stddev(self) -> Tensor:
        return self.variance.sqrt()

    def rsample(self, sample_shape: Any = ()) -> Tensor:
        """A reparameterised sample: differentiable in the parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not support rsample "
                                  "(has_rsample is False); use sample()")

    def sample(self, sample_shape: Any = ()) -> Tensor:
        """A sample of shape ``sample_shape + batch_shape + event_shape`` (no gradient)."""
        with no_grad():
            return self.rsample(sample_shape)

    def sample_n(self, n: int) -> Tensor:
        warnings.warn("`sample_n(n)` will be deprecated. Use `sample((n,))` instead.",
                      FutureWarning, stacklevel=2)
        return self.sample((n,))

    def log_prob(self, value: Tensor) -> Tensor:
        raise NotImplementedError

    def entropy(self) -> Tensor:
        raise NotImplementedError

    def perplexity(self) -> Tensor:
        return self.entropy().exp()

    # -- validation ---------------------------------------------------------------------
    def _validate_sample(self, value: Any) -> None:
        if not isinstance(value, Tensor):
            raise ValueError("The value argument to log_prob must be a Tensor")
        shape = tuple(value.shape)
        event = tuple(self._event_shape)
        start = len(shape) - len(event)
        if shape[start:] != event:
            raise ValueError(f"The right-most size of value must match event_shape: "
                             f"{_size(shape)} vs {_size(event)}.")
        expected = tuple(self._batch_shape) + event
        for i, j in zip(reversed(shape), reversed(expected), strict=False):
            if i != 1 and j != 1 and i != j:
                raise ValueError(f"Value is not broadcastable with batch_shape+event_shape: "
                                 f"{_size(shape)} vs {_size(expected)}.")
        support = self.support
        if not np.all(support.check(value)):
            raise ValueError(
                f"Expected value argument ({type(value).__name__} of shape {shape}) to be "
                f"within the support ({support!r}) of the distribution {self!r}, but found "
                f"invalid values:\n{value}")

    def __repr__(self) -> str:
        names = [k for k in self.arg_constraints if k in self.__dict__]
        parts = []
        for p in names:
            v = self.__dict__[p]
            parts.append(f"{p}: {v if v.numel() == 1 else _size(v.shape)}")
        return f"{type(self).__name__}({', '.join(parts)})"
