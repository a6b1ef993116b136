"""Elementwise nodes: exp, log, sqrt, trigonometric, sigmoid, relu, clamp, maximum, where.

Each unary node's local derivative is read from its input or, cheaper, its output (the
seeds' exp node: ``dy/dx = y``; sigmoid: ``y(1-y)``). Piecewise functions (relu, abs,
clamp, maximum, where) pass the gradient through a constant mask, with PyTorch's values at
the kinks: relu'(0) = 0, abs'(0) = 0, clamp passes it at the bounds, and maximum/minimum
split it half and half between tied inputs. Integer inputs of the floating functions
(exp, log, ...) give the default dtype, as in PyTorch.

clamp, maximum, minimum and where (nodes and functions) are defined in
:mod:`chainrule.ops.elementwise_select` and re-exported here.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops.elementwise_select import Clamp as Clamp  # re-exported from here
from chainrule.ops.elementwise_select import ClampTensor as ClampTensor
from chainrule.ops.elementwise_select import Maximum as Maximum
from chainrule.ops.elementwise_select import Minimum as Minimum
from chainrule.ops.elementwise_select import Where as Where
from chainrule.ops.elementwise_select import clamp, clip, maximum, minimum, where
from chainrule.tensor import Tensor

__all__ = [
    "exp", "log", "log1p", "sqrt", "abs", "sign", "sin", "cos", "tanh", "sigmoid", "relu",
    "clamp", "clip", "maximum", "minimum", "where",
]


# -- smooth unary functions -------------------------------------------------------------


class Exp(Op):
    """y = exp(x) (the seeds' exp node: its derivative is its output)."""

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):  # exp(1e4) = inf, silently as in PyTorch
            return np.exp(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * Y  (*) = (*)(*)"""
        return dY * self.output()


class Log(Op):
    """y = log(x) (NaN for x < 0 and -inf at 0, without a warning)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY / x  (*) = (*)(*)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return dY / self.input(0)


class Log1p(Op):
    """y = log(1 + x), accurate for small x."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log1p(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY / (1 + x)  (*) = (*)(*)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return dY / (self.input(0) + 1)


class Sqrt(Op):
    """y = sqrt(x) (NaN for x < 0; the gradient at 0 is inf)."""

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            return np.sqrt(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY / (2 Y)  (*) = (*)(*)"""
        with np.errstate(divide="ignore", invalid="ignore"):
            return dY / (self.output() * 2)


class Sin(Op):
    """y = sin(x)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.sin(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * cos(x)  (*) = (*)(*)"""
        return dY * _math.cos(self.input(0))


class Cos(Op):
    """y = cos(x)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.cos(x)

    def backward(self, dY: Any) -> Any:
        """dx = -dY * sin(x)  (*) = (*)(*)"""
        return -dY * _math.sin(self.input(0))


class Tanh(Op):
    """y = tanh(x)."""

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (1 - Y**2)  (*) = (*)(*)"""
        y = self.output()
        return dY * (1 - y * y)


class Sigmoid(Op):
    """y = 1 / (1 + exp(-x)) (the seeds' sigmoid node)."""

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return _math.sigmoid(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * Y * (1 - Y)  (*) = (*)(*)(*)"""
        y = self.output()
        return dY * (y * (1 - y))


# -- piecewise functions: a constant mask carries the gradient --------------------------


class LocalScale(Op):
    """y = g * c, where c (a mask or a sign) is constant near the tensors ``x`` it reads."""

    # The gradient rule of a piecewise-linear op (relu, abs, leaky_relu, l1_loss, nll_loss)
    # under create_graph: recorded as a function of g and of x, whose derivative in x is
    # zero, so gradients of gradients are zeros (as PyTorch's threshold_backward and sgn
    # give) rather than "does not require grad".
    shapes = {"g": "(*g)", "x": "(*x)", "Y": "(*y)"}

    def forward(self, g: np.ndarray, *x: np.ndarray, factor: np.ndarray) -> np.ndarray:
        self.factor = factor
        self.x_dtypes = tuple(a.dtype for a in x)
        return _scale(g, factor)

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dg = unbroadcast(dY * c, g.shape)  (*g) = (*y)(*y)
        dx = zeros_like(x)  (*x)"""
        need = self.needs_input_grad
        dg = unbroadcast(_scale(dY, self.factor), self.input_shapes[0]) if need[0] else None
        zeros = (
            (Tensor._make(np.zeros(s, d)) if isinstance(dY, Tensor) else np.zeros(s, d))
            if n else None
            for n, s, d in zip(need[1:], self.input_shapes[1:], self.x_dtypes, strict=True)
        )
        return (dg, *zeros)


def _scale(g: Any, factor: np.ndarray) -> Any:
    """g * factor; a boolean factor is a mask (0 where false, even if g is inf or NaN)."""
    if factor.dtype == bool:
        return _math.keep(g, factor)
    return g * factor


def local_scale(g: Any, factor: np.ndarray, *x: Any) -> Any:
    """``g * factor`` in a backward rule; recorded as a function of ``x`` under create_graph."""
    if isinstance(g, Tensor):
        return LocalScale.apply(g, *x, factor=factor)
    return _scale(g, factor)


class ReLU(Op):
    """y = max(x, 0)."""

    def name(self) -> str:
        return "ReluBackward"  # PyTorch's grad_fn name; explain shows the seeds' "ReLU"

    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, _math.constant(0, (), x.dtype))

    def backward(self, dY: Any) -> Any:
        """dx = dY * (x > 0)  (*) = (*)(*)"""
        # Y <= 0 exactly where x <= 0: there the gradient is 0; at x = NaN it passes (NaN
        # <= 0 is false), as in PyTorch
        Y = self.output()
        Y_data = _math.data(Y)
        dead = np.less_equal(Y_data, _math.constant(0, (), Y_data.dtype))
        if type(dead) is not np.ndarray:  # a 0-d comparison gives a NumPy bool
            dead = np.asarray(dead)
        if type(dY) is np.ndarray:
            return _math.drop(dY, dead)
        return local_scale(dY, np.logical_not(dead, out=dead), Y)


class Abs(Op):
    """y = |x|."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * sign(x)  (*) = (*)(*)"""
        # sign(0) = 0: the gradient at the kink is 0, as in PyTorch
        x = self.input(0)
        return local_scale(dY, np.sign(_math.data(x)), x)


class Sign(Op):
    """y = sign(x) in {-1, 0, 1}: piecewise constant, so its gradient is zero."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy() if x.dtype.kind == "b" else np.sign(x)

    def backward(self, dY: Any) -> Any:
        """dx = 0 * dY  (*) = (*)"""
        return _math.zeros_like(dY)


# -- functional wrappers ------------------------------------------------------------


def _floating(op: str, input: Any) -> Tensor:
    """The input of a floating-point function: integers become the default dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input._data.dtype.kind in "biu":
        return Tensor._make(input._data.astype(dtypes.get_default_dtype()))
    return input


def _tensor(op: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    return input


def exp(input: Tensor) -> Tensor:
    """``e ** input`` elementwise (overflows to inf silently)."""
    return Exp.apply(_floating("exp", input))


def log(input: Tensor) -> Tensor:
    """Natural logarithm: NaN for negative inputs and -inf at 0, as NumPy and PyTorch."""
    return Log.apply(_floating("log", input))


def log1p(input: Tensor) -> Tensor:
    """``log(1 + input)``, accurate when ``input`` is small."""
    return Log1p.apply(_floating("log1p", input))


def sqrt(input: Tensor) -> Tensor:
    """Square root (NaN for negative inputs)."""
    return Sqrt.apply(_floating("sqrt", input))


def sin(input: Tensor) -> Tensor:
    return Sin.apply(_floating("sin", input))


def cos(input: Tensor) -> Tensor:
    return Cos.apply(_floating("cos", input))


def tanh(input: Tensor) -> Tensor:
    return Tanh.apply(_floating("tanh", input))


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-input))``, finite and warning-free for inputs of any size."""
    return Sigmoid.apply(_floating("sigmoid", input))


def relu(input: Tensor) -> Tensor:
    """``max(input, 0)``; the gradient at 0 is 0, as in PyTorch."""
    return ReLU.apply(_tensor("relu", input))


def abs(input: Tensor) -> Tensor:
    """``|input|``; the gradient at 0 is 0."""
    return Abs.apply(_tensor("abs", input))


def sign(input: Tensor) -> Tensor:
    """-1, 0 or 1 by the sign of each element (its gradient is zero everywhere)."""
    return Sign.apply(_tensor("sign", input))
