"""Comparisons and tests without gradient: isclose/allclose/equal, isnan/isinf/isfinite,
any/all, count_nonzero, numel.

Their results are booleans or counts: piecewise constant in the inputs, so none of them
is recorded in the graph (as in PyTorch, where they have no ``grad_fn``).
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from chainrule.ops.shape import _dim
from chainrule.tensor import Tensor

__all__ = [
    "isclose", "allclose", "equal", "isnan", "isinf", "isposinf", "isneginf", "isfinite",
    "any", "all", "count_nonzero", "numel", "logical_not", "logical_and", "logical_or",
    "logical_xor",
]


def _data(op: str, x: Any) -> np.ndarray:
    if isinstance(x, Tensor):
        return x._data
    if isinstance(x, np.ndarray | builtins.int | builtins.float | builtins.bool):
        return np.asarray(x)
    raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")


def _bool(a: Any) -> Tensor:
    return Tensor._make(np.asarray(a, dtype=np.bool_))


def _axes(op: str, dim: Any, ndim: int) -> Any:
    if dim is None:
        return None
    if isinstance(dim, tuple | list):
        return tuple(_dim(op, d, ndim) for d in dim)
    return _dim(op, dim, ndim)


def isclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """``|input - other| <= atol + rtol * |other|`` elementwise (inf equals inf)."""
    a, b = _data("isclose", input), _data("isclose", other)
    if a.dtype != b.dtype and isinstance(other, Tensor):
        raise RuntimeError(f"isclose: {input.dtype} did not match {other.dtype}")
    return _bool(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input: Tensor, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> builtins.bool:
    """True if every element of ``input`` is close to ``other`` (see :func:`isclose`)."""
    return builtins.bool(isclose(input, other, rtol, atol, equal_nan)._data.all())


def equal(input: Tensor, other: Tensor) -> builtins.bool:
    """True if both tensors have the same shape and elements."""
    a, b = _data("equal", input), _data("equal", other)
    return a.shape == b.shape and builtins.bool(np.array_equal(a, b))


def isnan(input: Tensor) -> Tensor:
    return _bool(np.isnan(_data("isnan", input)))


def isinf(input: Tensor) -> Tensor:
    return _bool(np.isinf(_data("isinf", input)))


def isposinf(input: Tensor) -> Tensor:
    return _bool(np.isposinf(_data("isposinf", input)))


def isneginf(input: Tensor) -> Tensor:
    return _bool(np.isneginf(_data("isneginf", input)))


def isfinite(input: Tensor) -> Tensor:
    return _bool(np.isfinite(_data("isfinite", input)))


def logical_not(input: Tensor) -> Tensor:
    return _bool(np.logical_not(_data("logical_not", input)))


def logical_and(input: Tensor, other: Any) -> Tensor:
    return _bool(np.logical_and(_data("logical_and", input), _data("logical_and", other)))


def logical_or(input: Tensor, other: Any) -> Tensor:
    return _bool(np.logical_or(_data("logical_or", input), _data("logical_or", other)))


def logical_xor(input: Tensor, other: Any) -> Tensor:
    return _bool(np.logical_xor(_data("logical_xor", input), _data("logical_xor", other)))


def any(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    """True where some element (along ``dim``, or of all) is nonzero."""
    a = _data("any", input)
    return _bool(np.any(a, axis=_axes("any", dim, a.ndim), keepdims=keepdim))


def all(input: Tensor, dim: Any = None, keepdim: builtins.bool = False) -> Tensor:
    """True where every element (along ``dim``, or of all) is nonzero."""
    a = _data("all", input)
    return _bool(np.all(a, axis=_axes("all", dim, a.ndim), keepdims=keepdim))


def count_nonzero(input: Tensor, dim: Any = None) -> Tensor:
    """The number of nonzero elements (along ``dim``), as an int64 tensor."""
    a = _data("count_nonzero", input)
    n = np.count_nonzero(a, axis=_axes("count_nonzero", dim, a.ndim))
    return Tensor._make(np.asarray(n, dtype=np.int64))


def numel(input: Tensor) -> builtins.int:
    """The number of elements of ``input``."""
    return builtins.int(_data("numel", input).size)
