"""Arithmetic nodes: add, sub, mul, div, neg, reciprocal (the seeds' 1/x), pow.

Binary ops broadcast like NumPy; each gradient is summed back to its input's shape by
``unbroadcast`` (the seeds' Repeat/Sum node). Inputs may be Tensors, ndarrays or Python
numbers on either side. The result dtype follows PyTorch's promotion rules
(:mod:`chainrule.promotion`): an int tensor with a float tensor gives the float tensor's
dtype, a zero-dimensional tensor or a Python number never widens a tensor of its own
category.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.autograd.function import Op
from chainrule.autograd.grad_mode import GradMode
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops._errors import ShapeError
from chainrule.promotion import result_type
from chainrule.tensor import Tensor

__all__ = ["add", "sub", "rsub", "mul", "div", "true_divide", "neg", "reciprocal", "pow",
           "square", "clone", "cast"]


def _shape_error(op: str, a: Any, b: Any) -> ShapeError:
    return ShapeError(
        f"{op}: shapes {tuple(np.shape(a))} and {tuple(np.shape(b))} cannot be broadcast "
        "together (each dimension must be equal, or 1 in one of them)"
    )


class Add(Op):
    """z = a + b (the seeds' add node: it passes the gradient through to both inputs)."""

    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            return a + b
        except ValueError:
            raise _shape_error("add", a, b) from None

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = unbroadcast(dY, a.shape)  (*a) = (*y)
        db = unbroadcast(dY, b.shape)  (*b) = (*y)"""
        sa, sb = self.input_shapes
        return unbroadcast(dY, sa), unbroadcast(dY, sb)


class Sub(Op):
    """z = a - b."""

    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            return a - b
        except ValueError:
            raise _shape_error("sub", a, b) from None
        except TypeError:
            raise RuntimeError(
                "sub: subtraction, the `-` operator, with two bool tensors is not supported; "
                "use the `^` operator or logical_xor() instead"
            ) from None

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = unbroadcast(dY, a.shape)  (*a) = (*y)
        db = -unbroadcast(dY, b.shape)  (*b) = (*y)"""
        sa, sb = self.input_shapes
        db = -unbroadcast(dY, sb) if self.needs_input_grad[1] else None
        return unbroadcast(dY, sa), db


class Mul(Op):
    """z = a * b (the seeds' multiply node: each input's gradient is dz times the other)."""

    save_inputs = (0, 1)
    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            return a * b
        except ValueError:
            raise _shape_error("mul", a, b) from None

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = unbroadcast(dY * b, a.shape)  (*a) = (*y)(*b)
        db = unbroadcast(dY * a, b.shape)  (*b) = (*y)(*a)"""
        sa, sb = self.input_shapes
        need_a, need_b = self.needs_input_grad
        da = unbroadcast(dY * self.input(1), sa) if need_a else None
        db = unbroadcast(dY * self.input(0), sb) if need_b else None
        return da, db


class Div(Op):
    """z = a / b."""

    save_inputs = (0, 1)
    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                return a / b
        except ValueError:
            raise _shape_error("div", a, b) from None

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = unbroadcast(dY / b, a.shape)  (*a) = (*y)(*b)
        db = unbroadcast(-dY * a / b**2, b.shape)  (*b) = (*y)(*a)(*b)"""
        sa, sb = self.input_shapes
        b = self.input(1)
        da = db = None
        with np.errstate(divide="ignore", invalid="ignore"):  # b == 0: inf, as PyTorch
            if self.needs_input_grad[0]:
                da = unbroadcast(dY / b, sa)
            if self.needs_input_grad[1]:
                db = unbroadcast(-dY * self.input(0) / (b * b), sb)
        return da, db


class Neg(Op):
    """y = -x."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        try:
            return -x
        except TypeError:
            raise RuntimeError(
                "neg: negation, the `-` operator, on a bool tensor is not supported; "
                "use the `~` operator or logical_not() to invert a mask"
            ) from None

    def backward(self, dY: Any) -> Any:
        """dx = -dY  (*) = (*)"""
        return -dY


class Reciprocal(Op):
    """y = 1/x (the seeds' 1/x node)."""

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1 / x

    def backward(self, dY: Any) -> Any:
        """dx = -dY * Y**2  (*) = (*)(*)"""
        y = self.output()  # dy/dx = -1/x**2 = -y**2: the seeds' 1/x node
        return -dY * y * y


class Pow(Op):
    """z = a ** b (elementwise, broadcasting)."""

    save_inputs = (0, 1)
    save_output = True
    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}

    def forward(self, a: np.ndarray, b: Any) -> np.ndarray:
        try:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return np.power(a, b)
        except ValueError:
            if np.result_type(a, b).kind in "iu" and np.any(np.asarray(b) < 0):
                raise RuntimeError(
                    "pow: integers to negative integer powers are not allowed (convert the "
                    "base with .float() first)"
                ) from None
            raise _shape_error("pow", a, b) from None

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = unbroadcast(dY * b * a**(b-1), a.shape)  (*a) = (*y)(*b)(*a)
        db = unbroadcast(dY * y * log(a), b.shape)  (*b) = (*y)(*y)(*a)"""
        sa, sb = self.input_shapes
        a, b = self.input(0), self.input(1)
        da = db = None
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if self.needs_input_grad[0]:
                da = dY * b * a ** (b - 1)
                # b == 0: a**b is constant 1, so its derivative is 0 even at a == 0
                # (where b * a**(b-1) would be 0 * inf); PyTorch defines it so too
                zero_b = _math.data(b) == 0
                if np.any(zero_b):
                    da = _math.where(zero_b, 0, da)
                da = unbroadcast(da, sa)
            if self.needs_input_grad[1]:
                # d(a**b)/db = a**b log a; where a == 0 and b >= 0 PyTorch defines it as 0
                db = unbroadcast(dY * self.output() * _safe_log(a, b), sb)
        return da, db


def _safe_log(a: Any, b: Any) -> Any:
    """log(a), with 0 where a == 0 and b >= 0 (a Python number stays a number, keeping the
    dtype); where a == 0 and b < 0 it stays -inf (a**b log a = -inf, as in PyTorch)."""
    if isinstance(a, int | float):
        if a != 0:
            return math.log(a) if a > 0 else math.nan
        bd = _math.data(b)
        return np.where(bd >= 0, 0, -np.inf).astype(bd.dtype) if np.any(bd < 0) else 0.0
    zero = (_math.data(a) == 0) & (_math.data(b) >= 0)
    return _math.log(_math.where(zero, 1, a)) if zero.any() else _math.log(a)


class Cast(Op):
    """y = x.to(dtype): the gradient is cast back to the input's dtype."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, dtype: np.dtype) -> np.ndarray:
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, dY: Any) -> Any:
        """dx = dY.to(x.dtype)  (*) = (*)"""
        if isinstance(dY, Tensor):
            return cast(dY, self.in_dtype)
        return dY.astype(self.in_dtype)


class Clone(Op):
    """y = a copy of x (a new buffer; the gradient passes through)."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, dY: Any) -> Any:
        """dx = dY  (*) = (*)"""
        return dY


# -- functional wrappers ------------------------------------------------------------


def into(op: str, out: Tensor | None, result: Tensor) -> Tensor:
    """PyTorch's ``out=``: ``result`` written into ``out`` (resized to its shape) and
    ``out`` returned. Not differentiable, as in PyTorch."""
    if not isinstance(out, Tensor):
        raise TypeError(f"{op}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if GradMode.enabled and (result.requires_grad or out.requires_grad):
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    if not np.can_cast(result._data.dtype, out._data.dtype, casting="same_kind"):
        raise RuntimeError(f"{op}(): result type {result._data.dtype} can't be cast to the "
                           f"desired output type {out._data.dtype}")
    if out._data.shape != result._data.shape:
        out._data = np.empty(result._data.shape, out._data.dtype)
    np.copyto(out._data, result._data, casting="same_kind")
    out._version[0] += 1
    return out


def add(input: Any, other: Any, alpha: Any = 1, *, out: Tensor | None = None) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    if alpha != 1:
        other = _scaled("add", input, other, alpha)
    result = Add.apply(*_operands("add", input, other))
    return result if out is None else into("add", out, result)


def sub(input: Any, other: Any, alpha: Any = 1, *, out: Tensor | None = None) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    if alpha != 1:
        other = _scaled("sub", input, other, alpha)
    result = Sub.apply(*_operands("sub", input, other))
    return result if out is None else into("sub", out, result)


def rsub(input: Any, other: Any, alpha: Any = 1) -> Tensor:
    """``other - alpha * input`` (PyTorch's reversed subtraction)."""
    return sub(other, input, alpha)


def mul(input: Any, other: Any, *, out: Tensor | None = None) -> Tensor:
    """Elementwise product with broadcasting."""
    result = Mul.apply(*_operands("mul", input, other))
    return result if out is None else into("mul", out, result)


def div(input: Any, other: Any, rounding_mode: str | None = None) -> Tensor:
    """True division with broadcasting (integer inputs give the default float dtype).

    ``rounding_mode='floor'`` or ``'trunc'`` rounds the quotient, keeping integer dtypes;
    that result carries no gradient (its derivative is zero almost everywhere).
    """
    if rounding_mode is not None:
        return _div_rounded(input, other, rounding_mode)
    a, b = _operands("div", input, other)
    if (a if isinstance(a, Tensor) else b)._data.dtype.kind in "biu":
        d = dtypes.get_default_dtype()
        a, b = _to_dtype(a, d), _to_dtype(b, d)
    return Div.apply(a, b)


true_divide = div


def _div_rounded(input: Any, other: Any, rounding_mode: str) -> Tensor:
    if rounding_mode not in ("floor", "trunc"):
        raise ValueError(
            f"div: rounding_mode must be None, 'trunc' or 'floor', got {rounding_mode!r}"
        )
    a, b = (_math.data(x) for x in _coerce("div", input, other))
    integer = np.result_type(a, b).kind in "biu"
    if integer and np.any(np.asarray(b) == 0):
        raise ZeroDivisionError(f"div: integer division by zero (rounding_mode={rounding_mode!r})")
    with np.errstate(divide="ignore", invalid="ignore"):
        if rounding_mode == "floor":
            out = np.floor_divide(a, b)
        elif integer:  # exact: no detour through floating point
            out = np.sign(a) * np.sign(b) * (np.abs(a) // np.abs(b))
        else:
            out = np.trunc(np.divide(a, b))
    return Tensor._make(np.asarray(out))


def neg(input: Tensor) -> Tensor:
    return Neg.apply(input)


def reciprocal(input: Tensor) -> Tensor:
    """``1 / input`` (the seeds' 1/x node, gradient ``-y**2``)."""
    if input._data.dtype.kind in "biu":
        input = Tensor._make(input._data.astype(dtypes.get_default_dtype()))
    return Reciprocal.apply(input)


def pow(input: Any, exponent: Any) -> Tensor:
    """Elementwise power; either side may be a number."""
    return Pow.apply(*_operands("pow", input, exponent))


def square(input: Tensor) -> Tensor:
    return Mul.apply(input, input)


def clone(input: Tensor) -> Tensor:
    return Clone.apply(input)


def cast(input: Tensor, dtype: Any) -> Tensor:
    """``input.to(dtype)``; differentiable between floating dtypes."""
    dtype = dtypes.as_dtype(dtype)
    if input._data.dtype == dtype:
        return input
    if dtype.kind not in "fc":
        return Tensor._make(input._data.astype(dtype))
    return Cast.apply(input, dtype=dtype)


def _scaled(op: str, input: Any, other: Any, alpha: Any) -> Any:
    """``alpha * other`` for add/sub (PyTorch refuses a float alpha for integer tensors)."""
    if isinstance(alpha, float) and result_type(input, other).kind in "biu":
        raise RuntimeError(
            f"{op}: for integer input tensors, alpha must not be a floating point number, "
            f"got alpha={alpha}"
        )
    return other * alpha


# -- operands in the result dtype (the rules are in chainrule.promotion) --------------


def _operands(op: str, a: Any, b: Any) -> tuple[Any, Any]:
    """``a`` and ``b`` ready for a binary node: at least one is a Tensor and NumPy will
    compute in PyTorch's result dtype. The common cases return at once."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if b._data.dtype == a._data.dtype:
                return a, b
        elif type(b) is float:
            if a._data.dtype.kind in "fc":
                return a, b
        elif type(b) is int and a._data.dtype.kind != "b":
            return a, b
    elif isinstance(b, Tensor):
        if type(a) is float:
            if b._data.dtype.kind in "fc":
                return a, b
        elif type(a) is int and b._data.dtype.kind != "b":
            return a, b
    return _coerce(op, a, b)  # type: ignore[return-value]


def _coerce(op: str, *operands: Any) -> tuple[Any, ...]:
    """Convert every operand to PyTorch's result dtype (None stays None).

    Tensors are cast differentiably, ndarrays with ``astype``, numbers become 0-d arrays.
    """
    xs = []
    for x in operands:
        if isinstance(x, np.generic):
            x = x.item()  # NumPy scalars count as Python numbers, as in PyTorch
        elif isinstance(x, list | tuple):
            x = np.asarray(x)
        xs.append(x)
    if not any(isinstance(x, Tensor) for x in xs):
        raise TypeError(
            f"{op}: expected at least one Tensor, got "
            + " and ".join(type(x).__name__ for x in operands)
        )
    try:
        dtype = result_type(*xs)
    except TypeError as e:
        raise TypeError(f"{op}: {e}") from None
    return tuple(_to_dtype(x, dtype) for x in xs)


def _to_dtype(x: Any, dtype: np.dtype) -> Any:
    if isinstance(x, Tensor):
        return x if x._data.dtype == dtype else cast(x, dtype)
    if isinstance(x, np.ndarray):
        return x if x.dtype == dtype else x.astype(dtype)
    if x is None:
        return None
    return np.asarray(x, dtype)
