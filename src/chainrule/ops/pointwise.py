"""More elementwise nodes: rounding, remainders, atan2, log2/log10, expm1, erf, rsqrt,
nan_to_num.

The rounding functions (floor ceil round trunc) are piecewise constant: their gradient is
zero everywhere, as PyTorch defines it. ``frac(x) = x - trunc(x)`` passes the gradient
unchanged. ``remainder`` and ``fmod`` are ``a - b * floor(a / b)`` and
``a - b * trunc(a / b)``: the rounded quotient is locally constant, so it is a factor of
the divisor's gradient. Integer inputs of the floating functions give the default dtype.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops._erf import erf as _erf
from chainrule.ops.arithmetic import _operands
from chainrule.ops.elementwise import _floating, _tensor
from chainrule.tensor import Tensor

__all__ = [
    "floor", "ceil", "round", "trunc", "fix", "frac", "remainder", "fmod", "atan2",
    "arctan2", "log2", "log10", "expm1", "erf", "rsqrt", "nan_to_num", "tan", "asin",
    "arcsin", "acos", "arccos", "atan", "arctan", "sinh", "cosh",
]

_LN2, _LN10 = math.log(2.0), math.log(10.0)
_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)


# -- piecewise constant: zero gradient -------------------------------------------------


class _Rounding(Op):
    """Base of the rounding nodes: y = f(x), a step function with zero derivative."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - each subclass's own
        raise NotImplementedError

    def backward(self, dY: Any) -> Any:
        """dx = 0 * dY  (*) = (*)"""
        return _math.zeros_like(dY)


class Floor(_Rounding):
    """y = floor(x), the largest integer <= x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.floor(x)


class Ceil(_Rounding):
    """y = ceil(x), the smallest integer >= x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.ceil(x)


class Trunc(_Rounding):
    """y = trunc(x), x rounded towards zero."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.trunc(x)


class Round(_Rounding):
    """y = x rounded to ``decimals`` places, halves to even (as PyTorch and NumPy)."""

    def forward(self, x: np.ndarray, decimals: int = 0) -> np.ndarray:
        return np.round(x, decimals)


class Frac(Op):
    """y = x - trunc(x), the fractional part (with the sign of x)."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x - np.trunc(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY  (*) = (*)"""
        return dY


# -- remainders ------------------------------------------------------------------------


class Remainder(Op):
    """y = a - b * floor(a / b): the remainder with the sign of the divisor (Python's %)."""

    save_inputs = (0, 1)
    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}
    rounding = staticmethod(np.floor)

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.remainder(a, b)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = sum_to(dY, a.shape)  (*a) = (*y)
        db = sum_to(-dY * floor(a / b), b.shape)  (*b) = (*y)(*a)(*b)"""
        sa, sb = self.input_shapes
        da = db = None
        if self.needs_input_grad[0]:
            da = unbroadcast(dY, sa)
        if self.needs_input_grad[1]:
            a, b = _math.data(self.input(0)), _math.data(self.input(1))
            with np.errstate(divide="ignore", invalid="ignore"):  # a constant factor
                q = np.asarray(self.rounding(np.divide(a, b)), _math.data(dY).dtype)
            db = unbroadcast(-dY * q, sb)
        return da, db


class Fmod(Remainder):
    """y = a - b * trunc(a / b): the remainder with the sign of the dividend (C's fmod)."""

    rounding = staticmethod(np.trunc)

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.fmod(a, b)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = sum_to(dY, a.shape)  (*a) = (*y)
        db = sum_to(-dY * trunc(a / b), b.shape)  (*b) = (*y)(*a)(*b)"""
        return super().backward(dY)


class Atan2(Op):
    """z = atan2(a, b): the angle of the point (b, a), in (-pi, pi]."""

    save_inputs = (0, 1)
    shapes = {"a": "(*a)", "b": "(*b)", "Y": "(*y)"}

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.arctan2(a, b)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """da = sum_to(dY * b / (a**2 + b**2), a.shape)  (*a) = (*y)(*a)(*b)
        db = sum_to(-dY * a / (a**2 + b**2), b.shape)  (*b) = (*y)(*a)(*b)"""
        sa, sb = self.input_shapes
        a, b = self.input(0), self.input(1)
        da = db = None
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = a * a + b * b
            if self.needs_input_grad[0]:
                da = unbroadcast(dY * b / r2, sa)
            if self.needs_input_grad[1]:
                db = unbroadcast(-dY * a / r2, sb)
        return da, db


# -- smooth unary functions ------------------------------------------------------------


class Log2(Op):
    """y = log2(x)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log2(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY / (x ln 2)  (*) = (*)(*)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return dY / (self.input(0) * _LN2)


class Log10(Op):
    """y = log10(x)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log10(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY / (x ln 10)  (*) = (*)(*)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return dY / (self.input(0) * _LN10)


class Expm1(Op):
    """y = exp(x) - 1, accurate for small x."""

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.expm1(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (Y + 1)  (*) = (*)(*)"""
        return dY * (self.output() + 1)


class Erf(Op):
    """y = erf(x) = 2/sqrt(pi) * integral_0^x exp(-t^2) dt."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return _erf(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * 2/sqrt(pi) * exp(-x**2)  (*) = (*)(*)"""
        x = self.input(0)
        return dY * _math.exp(-(x * x)) * _TWO_OVER_SQRT_PI


class Rsqrt(Op):
    """y = 1 / sqrt(x) (inf at 0, NaN below)."""

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1 / np.sqrt(x)

    def backward(self, dY: Any) -> Any:
        """dx = -dY * Y**3 / 2  (*) = (*)(*)"""
        y = self.output()
        return dY * (y * y * y) * -0.5


class Tan(Op):
    """y = tan(x)."""

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.tan(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (1 + Y**2)  (*) = (*)(*)"""
        y = self.output()
        return dY * (y * y + 1)


class Asin(Op):
    """y = arcsin(x), for x in [-1, 1]."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.arcsin(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY / sqrt(1 - x**2)  (*) = (*)(*)"""
        x = self.input(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return dY / _math.sqrt(1 - x * x)


class Acos(Op):
    """y = arccos(x), for x in [-1, 1]."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.arccos(x)

    def backward(self, dY: Any) -> Any:
        """dx = -dY / sqrt(1 - x**2)  (*) = (*)(*)"""
        x = self.input(0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return -dY / _math.sqrt(1 - x * x)


class Atan(Op):
    """y = arctan(x)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.arctan(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY / (1 + x**2)  (*) = (*)(*)"""
        x = self.input(0)
        return dY / (x * x + 1)


class Sinh(Op):
    """y = sinh(x)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.sinh(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * cosh(x)  (*) = (*)(*)"""
        x = self.input(0)
        return dY * (cosh(x) if isinstance(x, Tensor) else np.cosh(x))


class Cosh(Op):
    """y = cosh(x)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return np.cosh(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * sinh(x)  (*) = (*)(*)"""
        x = self.input(0)
        return dY * (sinh(x) if isinstance(x, Tensor) else np.sinh(x))


class NanToNum(Op):
    """y = x with NaN, +inf and -inf replaced by finite numbers."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, nan: float, posinf: Any, neginf: Any) -> np.ndarray:
        return np.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    def backward(self, dY: Any) -> Any:
        """dx = dY * isfinite(x)  (*) = (*)(*)"""
        return _math.keep(dY, np.isfinite(_math.data(self.input(0))))


# -- functional wrappers ------------------------------------------------------------


def _rounded(cls: type[Op], op: str, input: Any, **kwargs: Any) -> Tensor:
    x = _tensor(op, input)
    if x._data.dtype.kind in "biu":  # integers are already whole: a copy, as PyTorch
        return Tensor._make(x._data.copy())
    return cls.apply(x, **kwargs)


def floor(input: Tensor) -> Tensor:
    """The largest integer <= each element (gradient zero)."""
    return _rounded(Floor, "floor", input)


def ceil(input: Tensor) -> Tensor:
    """The smallest integer >= each element (gradient zero)."""
    return _rounded(Ceil, "ceil", input)


def trunc(input: Tensor) -> Tensor:
    """Each element rounded towards zero (gradient zero)."""
    return _rounded(Trunc, "trunc", input)


fix = trunc


def round(input: Tensor, *, decimals: int = 0) -> Tensor:
    """Round to ``decimals`` places, halves to even: ``round(2.5) = 2`` (gradient zero)."""
    return _rounded(Round, "round", input, decimals=int(decimals))


def frac(input: Tensor) -> Tensor:
    """The fractional part ``input - trunc(input)`` (gradient one)."""
    x = _tensor("frac", input)
    if x._data.dtype.kind in "biu":
        raise RuntimeError(f"frac: expected a floating point tensor, got dtype {x.dtype}")
    return Frac.apply(x)


def _binary(cls: type[Op], op: str, input: Any, other: Any) -> Tensor:
    a, b = _operands(op, input, other)
    kind = (a if isinstance(a, Tensor) else b)._data.dtype.kind
    if kind in "biu":  # integer remainders: exact, and without gradient
        if np.any(_math.data(b) == 0) if not isinstance(b, Tensor) else np.any(b._data == 0):
            raise ZeroDivisionError(f"{op}: integer division by zero")
        fn = np.remainder if cls is Remainder else np.fmod
        return Tensor._make(np.asarray(fn(_math.data(a), _math.data(b))))
    return cls.apply(a, b)


def remainder(input: Any, other: Any) -> Tensor:
    """``input - other * floor(input / other)``: the sign of ``other``, as Python's ``%``."""
    return _binary(Remainder, "remainder", input, other)


def fmod(input: Any, other: Any) -> Tensor:
    """``input - other * trunc(input / other)``: the sign of ``input``, as C's ``fmod``."""
    return _binary(Fmod, "fmod", input, other)


def atan2(input: Any, other: Any) -> Tensor:
    """The angle of the point ``(other, input)`` in radians, in ``(-pi, pi]``."""
    a, b = _operands("atan2", input, other)
    t = a if isinstance(a, Tensor) else b
    if t._data.dtype.kind in "biu":
        a, b = _floating("atan2", a) if isinstance(a, Tensor) else a, \
            _floating("atan2", b) if isinstance(b, Tensor) else b
    return Atan2.apply(a, b)


arctan2 = atan2


def log2(input: Tensor) -> Tensor:
    return Log2.apply(_floating("log2", input))


def log10(input: Tensor) -> Tensor:
    return Log10.apply(_floating("log10", input))


def expm1(input: Tensor) -> Tensor:
    """``exp(input) - 1``, accurate when ``input`` is small."""
    return Expm1.apply(_floating("expm1", input))


def erf(input: Tensor) -> Tensor:
    """The error function (a vectorised polynomial fit, exact to float64 rounding)."""
    return Erf.apply(_floating("erf", input))


def rsqrt(input: Tensor) -> Tensor:
    """``1 / sqrt(input)``."""
    return Rsqrt.apply(_floating("rsqrt", input))


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replace NaN by ``nan``, +inf by ``posinf`` and -inf by ``neginf`` (default: the
    dtype's largest and smallest finite values); the gradient is zero where replaced."""
    x = _tensor("nan_to_num", input)
    if x._data.dtype.kind in "biu":
        return Tensor._make(x._data.copy())
    return NanToNum.apply(x, nan=nan, posinf=posinf, neginf=neginf)


def tan(input: Tensor) -> Tensor:
    return Tan.apply(_floating("tan", input))


def asin(input: Tensor) -> Tensor:
    return Asin.apply(_floating("asin", input))


def acos(input: Tensor) -> Tensor:
    return Acos.apply(_floating("acos", input))


def atan(input: Tensor) -> Tensor:
    return Atan.apply(_floating("atan", input))


def sinh(input: Tensor) -> Tensor:
    return Sinh.apply(_floating("sinh", input))


def cosh(input: Tensor) -> Tensor:
    return Cosh.apply(_floating("cosh", input))


arcsin, arccos, arctan = asin, acos, atan
