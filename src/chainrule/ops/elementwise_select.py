"""Elementwise selection: clamp, maximum, minimum and where.

Each output element is one of the inputs' elements (or a bound), so the gradient flows,
through a constant mask, to the operand that was selected: clamp passes it where the input
lies within the bounds (the bounds included, as PyTorch) and gives tensor bounds the rest;
maximum and minimum split it half and half between tied inputs; where sends it to the
chosen side (the condition gets none). All broadcast their operands, and the gradients
are summed back to each operand's shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops._errors import ShapeError
from chainrule.ops.arithmetic import _coerce, _operands, _to_dtype
from chainrule.promotion import result_type
from chainrule.tensor import Tensor

__all__ = ["clamp", "clip", "maximum", "minimum", "where"]


class Clamp(Op):
    """y = min(max(x, min), max) with number bounds (either may be None)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, min: Any, max: Any) -> np.ndarray:
        self.min, self.max = min, max
        if min is not None:
            x = np.maximum(x, min)
        if max is not None:
            x = np.minimum(x, max)
        return x

    def backward(self, dY: Any) -> Any:
        """dx = dY * (min <= x <= max)  (*) = (*)(*)"""
        # the bounds themselves pass the gradient, as in PyTorch
        x = _math.data(self.input(0))
        lo, hi = self.min, self.max
        if lo is None:
            inside = x <= hi
        elif hi is None:
            inside = x >= lo
        else:
            inside = (x >= lo) & (x <= hi)
        return _math.where(inside, dY, 0)


class ClampTensor(Op):
    """y = min(max(x, min), max) with tensor bounds (broadcast; either may be None)."""

    save_inputs = (0, 1, 2)
    shapes = {"x": "(*x)", "min": "(*lo)", "max": "(*hi)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, min: Any, max: Any) -> np.ndarray:
        try:
            if min is not None:
                x = np.maximum(x, min)
            if max is not None:
                x = np.minimum(x, max)
        except ValueError:
            shapes = [np.shape(a) for a in (x, min, max) if a is not None]
            raise ShapeError(
                f"clamp: the shapes of input, min and max {shapes} cannot be broadcast together"
            ) from None
        return x

    def backward(self, dY: Any) -> tuple[Any, Any, Any]:
        """dx = dY * (min <= x <= max)  (*x) = (*y)
        dmin = unbroadcast(dY * (x < min < max), min.shape)  (*lo) = (*y)
        dmax = unbroadcast(dY * ((x > max) | (max < min)), max.shape)  (*hi) = (*y)"""
        x, lo, hi = (_math.data(self.input(i)) for i in range(3))
        need_x, need_lo, need_hi = self.needs_input_grad
        sx, slo, shi = self.input_shapes
        dx = dlo = dhi = None
        if need_x:
            inside = True if lo is None else x >= lo
            inside = inside if hi is None else inside & (x <= hi)
            dx = unbroadcast(_math.where(inside, dY, 0), sx)
        if need_lo:
            below = x < lo if hi is None else (x < lo) & (lo < hi)
            dlo = unbroadcast(_math.where(below, dY, 0), slo)
        if need_hi:
            above = x > hi if lo is None else (x > hi) | (hi < lo)
            dhi = unbroadcast(_math.where(above, dY, 0), shi)
        return dx, dlo, dhi


class Maximum(Op):
    """y = max(a, b) elementwise (ties split the gradient half and half, as PyTorch)."""

    save_inputs = (0, 1)
    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}
    _ufunc = np.maximum

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            return self._ufunc(a, b)
        except ValueError:
            raise ShapeError(
                f"{type(self).__name__.lower()}: shapes {np.shape(a)} and {np.shape(b)} cannot "
                "be broadcast together"
            ) from None

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = unbroadcast(dY * ([a > b] + [a == b] / 2), a.shape)  (*a) = (*y)
        db = unbroadcast(dY * ([b > a] + [a == b] / 2), b.shape)  (*b) = (*y)"""
        a, b = _math.data(self.input(0)), _math.data(self.input(1))
        tie = a == b
        half = dY * 0.5 if tie.any() else None
        lose_a, lose_b = (a < b, a > b) if self._ufunc is np.maximum else (a > b, a < b)
        sa, sb = self.input_shapes
        da = db = None
        if self.needs_input_grad[0]:
            da = _math.where(lose_a, 0, dY)
            da = unbroadcast(da if half is None else _math.where(tie, half, da), sa)
        if self.needs_input_grad[1]:
            db = _math.where(lose_b, 0, dY)
            db = unbroadcast(db if half is None else _math.where(tie, half, db), sb)
        return da, db


class Minimum(Maximum):
    """y = min(a, b) elementwise (ties split the gradient half and half, as PyTorch)."""

    _ufunc = np.minimum

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = unbroadcast(dY * ([a < b] + [a == b] / 2), a.shape)  (*a) = (*y)
        db = unbroadcast(dY * ([b < a] + [a == b] / 2), b.shape)  (*b) = (*y)"""
        return super().backward(dY)


class Where(Op):
    """y = input where condition, else other (condition is a constant boolean mask)."""

    shapes = {"condition": "(*c)", "input": "(*a)", "other": "(*b)", "Y": "(*y)"}

    def forward(self, condition: np.ndarray, input: Any, other: Any) -> np.ndarray:
        self.condition = condition
        try:
            return np.where(condition, input, other)
        except ValueError:
            raise ShapeError(
                f"where: the shapes of condition {np.shape(condition)}, input "
                f"{np.shape(input)} and other {np.shape(other)} cannot be broadcast together"
            ) from None

    def backward(self, dY: Any) -> tuple[None, Any, Any]:
        """dinput = unbroadcast(dY * condition, input.shape)  (*a) = (*y)(*c)
        dother = unbroadcast(dY * ~condition, other.shape)  (*b) = (*y)(*c)"""
        _, sa, sb = self.input_shapes
        da = db = None
        if self.needs_input_grad[1]:
            da = unbroadcast(_math.where(self.condition, dY, 0), sa)
        if self.needs_input_grad[2]:
            db = unbroadcast(_math.where(self.condition, 0, dY), sb)
        return None, da, db


# -- functional wrappers ------------------------------------------------------------


def _tensor(op: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    return input


def clamp(input: Tensor, min: Any = None, max: Any = None) -> Tensor:
    """Limit ``input`` to ``[min, max]`` elementwise (``min(max(input, min), max)``).

    Args:
        min, max: numbers or tensors (broadcast against ``input``); either may be None.
            If ``min > max`` the result is ``max``.

    The gradient passes where ``min <= input <= max`` (bounds included, as in PyTorch);
    tensor bounds receive it where they are the result.
    """
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    input = _tensor("clamp", input)
    if isinstance(min, Tensor | np.ndarray) or isinstance(max, Tensor | np.ndarray):
        return ClampTensor.apply(*_coerce("clamp", input, min, max))
    if isinstance(min, np.generic):
        min = min.item()
    if isinstance(max, np.generic):
        max = max.item()
    kind = input._data.dtype.kind
    if kind not in "fc" and not (kind in "iu" and isinstance(min, int | None)
                                 and isinstance(max, int | None)):
        # e.g. an int tensor clamped to 0.5 becomes the default float dtype
        input = _to_dtype(input, result_type(input, min, max))
    return Clamp.apply(input, min=min, max=max)


clip = clamp


def maximum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum with broadcasting; at ties each input gets half the gradient."""
    return Maximum.apply(*_operands("maximum", input, other))


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum with broadcasting; at ties each input gets half the gradient."""
    return Minimum.apply(*_operands("minimum", input, other))


def where(condition: Any, input: Any = None, other: Any = None) -> Any:
    """``input`` where ``condition`` is True, else ``other``, broadcasting all three.

    Args:
        condition: a bool tensor (or array); it receives no gradient.
        input, other: tensors or numbers; the result has their promoted dtype.

    ``where(condition)`` alone returns the indices of the True elements, one int64
    tensor per dimension (as ``nonzero(as_tuple=True)``).
    """
    cond = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    if cond.dtype != np.bool_:
        raise TypeError(
            f"where: expected condition to be a boolean tensor, got a tensor with dtype "
            f"{cond.dtype} (compare it, e.g. x > 0, to get one)"
        )
    if input is None and other is None:
        return tuple(Tensor._make(i.astype(np.int64)) for i in np.nonzero(cond))
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        dtype = result_type(input, other)  # numbers alone: e.g. the default dtype
        return Tensor._make(np.asarray(np.where(cond, input, other), dtype))
    return Where.apply(cond, *_operands("where", input, other))
