"""Arithmetic nodes: add, sub, mul, div, neg, reciprocal (the seeds' 1/x), pow.

Binary ops broadcast like NumPy; each gradient is summed back to its input's shape by
``unbroadcast`` (the seeds' Repeat/Sum node). Inputs may be Tensors, ndarrays or Python
numbers on either side; Python numbers never change a tensor's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.tensor import Tensor

__all__ = ["add", "sub", "rsub", "mul", "div", "true_divide", "neg", "reciprocal", "pow",
           "square", "clone", "cast"]


def _shape_error(op: str, a: Any, b: Any) -> ValueError:
    return ValueError(
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
        """da = sum_to(dY, a.shape)  (*a) = (*y)
        db = sum_to(dY, b.shape)  (*b) = (*y)"""
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

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = sum_to(dY, a.shape)  (*a) = (*y)
        db = -sum_to(dY, b.shape)  (*b) = (*y)"""
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
        """da = sum_to(dY * b, a.shape)  (*a) = (*y)(*b)
        db = sum_to(dY * a, b.shape)  (*b) = (*y)(*a)"""
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
        """da = sum_to(dY / b, a.shape)  (*a) = (*y)(*b)
        db = sum_to(-dY * a / b**2, b.shape)  (*b) = (*y)(*a)(*b)"""
        sa, sb = self.input_shapes
        b = self.input(1)
        da = unbroadcast(dY / b, sa) if self.needs_input_grad[0] else None
        db = None
        if self.needs_input_grad[1]:
            db = unbroadcast(-dY * self.input(0) / (b * b), sb)
        return da, db


class Neg(Op):
    """y = -x."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return -x

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
        """dx = -dY * y**2   (since dy/dx = -1/x**2 = -y**2)  (*) = (*)(*)"""
        y = self.output()
        return -dY * y * y


class Pow(Op):
    """z = a ** b (elementwise, broadcasting)."""

    save_inputs = (0, 1)
    save_output = True
    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}

    def forward(self, a: np.ndarray, b: Any) -> np.ndarray:
        try:
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.power(a, b)
        except ValueError:
            raise _shape_error("pow", a, b) from None

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = sum_to(dY * b * a**(b-1), a.shape)  (*a) = (*y)(*b)(*a)
        db = sum_to(dY * y * log(a), b.shape)  (*b) = (*y)(*y)(*a)"""
        sa, sb = self.input_shapes
        a, b = self.input(0), self.input(1)
        da = db = None
        if self.needs_input_grad[0]:
            with np.errstate(divide="ignore", invalid="ignore"):
                da = unbroadcast(dY * b * a ** (b - 1), sa)
        if self.needs_input_grad[1]:
            # d(a**b)/db = a**b log a; where a == 0 (and b > 0) PyTorch defines it as 0
            with np.errstate(divide="ignore", invalid="ignore"):
                safe_log = _math.log(_math.where(_math.data(a) == 0, 1.0, a))
                db = unbroadcast(dY * self.output() * safe_log, sb)
        return da, db


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


def _promote(a: Any, b: Any) -> tuple[Any, Any]:
    """PyTorch's rule: an integer/bool tensor meets a Python float -> the default dtype."""
    if isinstance(a, Tensor) and a.data.dtype.kind in "biu" and isinstance(b, float):
        a = Tensor._make(a.data.astype(dtypes.get_default_dtype()))
    if isinstance(b, Tensor) and b.data.dtype.kind in "biu" and isinstance(a, float):
        b = Tensor._make(b.data.astype(dtypes.get_default_dtype()))
    return a, b


def _check_operands(op: str, a: Any, b: Any) -> None:
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: expected at least one Tensor, got {type(a).__name__} and "
                        f"{type(b).__name__}")


def add(input: Any, other: Any, alpha: Any = 1) -> Tensor:
    """``input + alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        return Add.apply(input, other)
    _check_operands("add", input, other)
    return Add.apply(*_promote(input, other))


def sub(input: Any, other: Any, alpha: Any = 1) -> Tensor:
    """``input - alpha * other`` with broadcasting."""
    if alpha != 1:
        other = mul(other, alpha)
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        return Sub.apply(input, other)
    _check_operands("sub", input, other)
    return Sub.apply(*_promote(input, other))


def rsub(input: Any, other: Any, alpha: Any = 1) -> Tensor:
    """``other - alpha * input`` (PyTorch's reversed subtraction)."""
    return sub(other, input, alpha)


def mul(input: Any, other: Any) -> Tensor:
    """Elementwise product with broadcasting."""
    if isinstance(input, Tensor) and isinstance(other, Tensor):
        return Mul.apply(input, other)
    _check_operands("mul", input, other)
    return Mul.apply(*_promote(input, other))


def div(input: Any, other: Any, rounding_mode: str | None = None) -> Tensor:
    """True division with broadcasting (integer inputs give the default float dtype)."""
    _check_operands("div", input, other)
    if rounding_mode is not None:
        out = np.floor_divide(_data(input), _data(other))
        if rounding_mode == "trunc":
            out = np.trunc(np.divide(_data(input), _data(other))).astype(out.dtype)
        return Tensor._make(np.asarray(out))
    input, other = _promote(input, other)
    a, b = _data(input), _data(other)
    if np.result_type(a, b).kind in "biu":
        d = dtypes.get_default_dtype()
        input = Tensor._make(np.asarray(a, d)) if isinstance(input, Tensor) else np.asarray(a, d)
        other = Tensor._make(np.asarray(b, d)) if isinstance(other, Tensor) else np.asarray(b, d)
    return Div.apply(input, other)


true_divide = div


def neg(input: Tensor) -> Tensor:
    return Neg.apply(input)


def reciprocal(input: Tensor) -> Tensor:
    """``1 / input`` (the seeds' 1/x node, gradient ``-y**2``)."""
    if input.data.dtype.kind in "biu":
        input = Tensor._make(input.data.astype(dtypes.get_default_dtype()))
    return Reciprocal.apply(input)


def pow(input: Any, exponent: Any) -> Tensor:
    """Elementwise power; either side may be a number."""
    _check_operands("pow", input, exponent)
    return Pow.apply(*_promote(input, exponent))


def square(input: Tensor) -> Tensor:
    return Mul.apply(input, input)


def clone(input: Tensor) -> Tensor:
    return Clone.apply(input)


def cast(input: Tensor, dtype: Any) -> Tensor:
    """``input.to(dtype)``; differentiable between floating dtypes."""
    dtype = dtypes.as_dtype(dtype)
    if input.data.dtype == dtype:
        return input
    if dtype.kind not in "fc":
        return Tensor._make(input.data.astype(dtype))
    return Cast.apply(input, dtype=dtype)


def _data(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x
