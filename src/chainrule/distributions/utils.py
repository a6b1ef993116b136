"""Helpers of the distributions: broadcasting parameters, probabilities <-> logits, and
the lazily computed attributes (``probs`` from ``logits`` and back)."""

from __future__ import annotations

import numbers
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import dtypes as _dtypes
from chainrule.tensor import Tensor

__all__ = ["broadcast_all", "clamp_probs", "lazy_property", "logits_to_probs",
           "probs_to_logits"]


def broadcast_all(*values: Any) -> tuple[Tensor, ...]:
    """Tensors broadcast to one shape; numbers become tensors of the first tensor's dtype
    (the default dtype if all are numbers)."""
    if not all(isinstance(v, Tensor | numbers.Number) for v in values):
        raise ValueError("Input arguments must all be instances of Number, torch.Tensor or "
                         "objects implementing __torch_function__.")
    tensors = [v for v in values if isinstance(v, Tensor)]
    dtype = tensors[0]._data.dtype if tensors else _dtypes.get_default_dtype()
    out = [v if isinstance(v, Tensor) else Tensor._make(np.asarray(v, dtype=dtype))
           for v in values]
    shape = np.broadcast_shapes(*(tuple(v.shape) for v in out))
    return tuple(v if tuple(v.shape) == shape else v.broadcast_to(shape) for v in out)


def clamp_probs(probs: Tensor) -> Tensor:
    """Probabilities clamped to ``[eps, 1 - eps]`` (eps of their dtype)."""
    eps = float(np.finfo(probs._data.dtype).eps)
    return probs.clamp(min=eps, max=1 - eps)


def logits_to_probs(logits: Tensor, is_binary: bool = False) -> Tensor:
    """sigmoid(logits) (binary) or softmax over the last dimension."""
    return logits.sigmoid() if is_binary else logits.softmax(-1)


def probs_to_logits(probs: Tensor, is_binary: bool = False) -> Tensor:
    """log-odds (binary) or log-probabilities, from clamped probabilities."""
    p = clamp_probs(probs)
    return p.log() - (-p).log1p() if is_binary else p.log()


class lazy_property:  # noqa: N801  (PyTorch's name)
    """An attribute computed on first access and then stored on the instance."""

    def __init__(self, fn: Callable[[Any], Any]) -> None:
        self.wrapped = fn
        self.__doc__ = fn.__doc__

    def __get__(self, instance: Any, obj_type: Any = None) -> Any:
        if instance is None:
            return self
        value = self.wrapped(instance)
        instance.__dict__[self.wrapped.__name__] = value
        return value
