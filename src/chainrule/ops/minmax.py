"""Reduction nodes for the extremes: max/min, amax/amin (and argmax/argmin, no gradient).

The gradient of a maximum flows to the elements that attained it; ties share it evenly
(as PyTorch's ``amax``), while ``max(x, dim)`` sends it to the one index it returns.
Argument handling is :mod:`chainrule.ops.reduce`'s.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops.elementwise import maximum, minimum
from chainrule.ops.reduce import (
    Axes,
    _check_nonempty,
    _dims,
    _keep,
    _one_dim,
    _tensor,
)
from chainrule.tensor import Tensor

__all__ = ["max", "min", "amax", "amin", "argmax", "argmin"]

# what max(x, dim) and min(x, dim) return, as torch.return_types.max / .min
_MaxResult = namedtuple("max", ["values", "indices"])  # type: ignore[name-match]
_MinResult = namedtuple("min", ["values", "indices"])  # type: ignore[name-match]


# -- max and min ----------------------------------------------------------------------


class Amax(Op):
    """y = the largest element over the reduced dimensions (ties share the gradient)."""

    save_inputs = (0,)
    save_output = True
    shapes = {"x": "(*x)", "Y": "(*y)"}
    _ufunc = np.maximum

    def forward(self, x: np.ndarray, axes: Axes, keepdim: bool) -> np.ndarray:
        self.axes, self.keepdim = axes, keepdim
        return self._ufunc.reduce(x, axis=axes, keepdims=keepdim)

    def backward(self, dY: Any) -> Any:
        """dx = dY * [x == Y] / count(x == Y)  (*x) = (*y)(*x)"""
        # tied extremes share the gradient evenly (PyTorch's amax rule)
        shape, axes, keepdim = self.input_shapes[0], self.axes, self.keepdim
        x = _math.data(self.input(0))
        hit = x == _keep(_math.data(self.output()), shape, axes, keepdim)
        count = np.count_nonzero(hit, axis=axes, keepdims=True).astype(_math.data(dY).dtype)
        g = _keep(dY, shape, axes, keepdim)
        if count.all():
            return hit * (g / count)
        with np.errstate(divide="ignore", invalid="ignore"):
            return hit * (g / count)  # a NaN maximum has no hit: 0 * inf = nan, as PyTorch


class Amin(Amax):
    """y = the smallest element over the reduced dimensions (ties share the gradient)."""

    _ufunc = np.minimum


class Max(Op):
    """values of max(x, dim): each slice's largest element; its gradient goes to the index."""

    shapes = {"x": "(*x)", "Y": "(*y)"}
    _ufunc = np.maximum

    def forward(self, x: np.ndarray, dim: int, keepdim: bool, indices: np.ndarray
                ) -> np.ndarray:
        self.dim, self.keepdim, self.indices = dim, keepdim, indices
        if x.ndim == 0:
            return x.copy()
        return self._ufunc.reduce(x, axis=dim, keepdims=keepdim)

    def backward(self, dY: Any) -> Any:
        """dx = dY at the selected index along dim, 0 elsewhere  (*x) = (*y)"""
        shape, dim = self.input_shapes[0], self.dim
        if not shape:
            return dY
        g = _keep(dY, shape, (dim,), self.keepdim)
        positions = np.arange(shape[dim]).reshape((-1,) + (1,) * (len(shape) - dim - 1))
        return _math.where(self.indices == positions, g, 0)  # one-hot along dim


class Min(Max):
    """values of min(x, dim): each slice's smallest element; its gradient goes to the index."""

    _ufunc = np.minimum


def _max_min(op: str, input: Tensor, dim: Any, keepdim: bool, axis: Any, keepdims: Any,
             other: Any) -> Any:
    x = _tensor(op, input)
    if isinstance(dim, Tensor | np.ndarray):  # max(x, other): elementwise
        return (maximum if op == "max" else minimum)(x, dim)
    if other is not None:
        return (maximum if op == "max" else minimum)(x, other)
    if axis is not None:
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if dim is None:  # the whole tensor: ties share the gradient (as amax)
        _check_nonempty(op, x, None)
        return (Amax if op == "max" else Amin).apply(x, axes=None, keepdim=False)
    if not isinstance(dim, int | np.integer):
        raise TypeError(
            f"{op}: dim must be an int, got {dim!r} (use amax/amin to reduce over several "
            "dimensions)"
        )
    d = _one_dim(op, dim, x._data.ndim)
    _check_nonempty(op, x, (d,) if x._data.ndim else None)
    data = x._data if x._data.ndim else x._data.reshape(1)
    arg = np.argmax if op == "max" else np.argmin
    idx = arg(data, axis=d, keepdims=True)
    values = (Max if op == "max" else Min).apply(x, dim=d, keepdim=bool(keepdim), indices=idx)
    if not x._data.ndim:
        idx = idx.reshape(())
    elif not keepdim:
        idx = idx.squeeze(d)
    result = _MaxResult if op == "max" else _MinResult
    return result(values, Tensor._make(idx.astype(np.int64, copy=False)))


def max(input: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None,
        axis: Any = None, keepdims: bool | None = None) -> Any:
    """The largest element, in three forms as in PyTorch:

    * ``max(x)``: a 0-d tensor (the gradient is shared evenly among tied maxima);
    * ``max(x, dim, keepdim=False)``: a named tuple ``(values, indices)``; the gradient
      of each value goes to the element at its index;
    * ``max(x, other)``: the elementwise :func:`maximum`.

    Example:
        >>> values, indices = cr.max(cr.tensor([[1., 5.], [7., 2.]]), dim=1)
        >>> indices
        tensor([1, 0])
    """
    return _max_min("max", input, dim, keepdim, axis, keepdims, other)


def min(input: Tensor, dim: Any = None, keepdim: bool = False, *, other: Any = None,
        axis: Any = None, keepdims: bool | None = None) -> Any:
    """The smallest element: ``min(x)``, ``min(x, dim)`` -> ``(values, indices)`` or
    ``min(x, other)`` (elementwise :func:`minimum`); see :func:`max`."""
    return _max_min("min", input, dim, keepdim, axis, keepdims, other)


def amax(input: Tensor, dim: Any = (), keepdim: bool = False, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Largest element over ``dim`` (int, tuple; ``()`` or None for all dimensions).

    Tied maxima share the gradient evenly (as PyTorch's amax).
    """
    x = _tensor("amax", input)
    axes, keepdim = _dims("amax", x, None if axis is not None and dim == () else dim, keepdim,
                          axis, keepdims)
    _check_nonempty("amax", x, axes)
    return Amax.apply(x, axes=axes, keepdim=keepdim)


def amin(input: Tensor, dim: Any = (), keepdim: bool = False, *, axis: Any = None,
         keepdims: bool | None = None) -> Tensor:
    """Smallest element over ``dim`` (int, tuple; ``()`` or None for all dimensions)."""
    x = _tensor("amin", input)
    axes, keepdim = _dims("amin", x, None if axis is not None and dim == () else dim, keepdim,
                          axis, keepdims)
    _check_nonempty("amin", x, axes)
    return Amin.apply(x, axes=axes, keepdim=keepdim)


def _arg(op: str, input: Tensor, dim: Any, keepdim: bool) -> Tensor:
    x = _tensor(op, input)
    find = np.argmax if op == "argmax" else np.argmin
    if dim is None:
        _check_nonempty(op, x, None)
        idx = np.asarray(find(x._data))
        if keepdim:
            idx = idx.reshape((1,) * x._data.ndim)
    else:
        if not isinstance(dim, int | np.integer):
            raise TypeError(f"{op}: dim must be an int or None, got {dim!r}")
        d = _one_dim(op, dim, x._data.ndim)
        if x._data.ndim == 0:
            idx = np.zeros((), np.int64)
        else:
            _check_nonempty(op, x, (d,))
            idx = find(x._data, axis=d, keepdims=bool(keepdim))
    return Tensor._make(idx.astype(np.int64, copy=False))


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest element (of the flattened tensor if ``dim`` is None): int64,
    no gradient. Ties give the first index; a NaN counts as the largest."""
    return _arg("argmax", input, dim, keepdim)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest element (of the flattened tensor if ``dim`` is None)."""
    return _arg("argmin", input, dim, keepdim)
