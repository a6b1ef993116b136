"""The smooth and piecewise activations of sequence models as graph nodes: GELU (exact and
tanh), SiLU, ELU, CELU, SELU, softplus, log-sigmoid, mish, softsign, tanhshrink, hardtanh,
ReLU6, hard sigmoid, hard swish and PReLU.

Each node's rule is its derivative times the incoming gradient, read from the input:
``gelu'(x) = Phi(x) + x phi(x)`` (Phi, phi: the standard normal CDF and density),
``silu'(x) = s (1 + x (1 - s))`` with ``s = sigmoid(x)``, ``softplus'(x) = sigmoid(beta x)``.
Smooth derivatives are written with the helpers of ``ops/_math.py`` so that, under
``create_graph``, they are recorded and can be differentiated again; piecewise-linear ones
(hardtanh, ReLU6, hard sigmoid) pass the gradient through a constant mask, which is zero at
the kinks as in PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._erf import erf
from chainrule.ops._errors import ShapeError
from chainrule.ops.elementwise import local_scale
from chainrule.tensor import Tensor

# nn.functional's only, as in PyTorch (torch.selu and friends exist, but F is their home)
__all__: list[str] = []

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)  # GELU's tanh approximation: tanh(k (x + c x^3))
_TANH_C = 0.044715
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946
_SIXTH = float(np.float32(1.0 / 6.0))


def _abs(x: Any) -> Any:
    return _ops.abs(x) if isinstance(x, Tensor) else np.abs(x)


def _softplus(x: Any) -> Any:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|))."""
    if isinstance(x, Tensor):
        return _ops.relu(x) + _ops.log1p(_ops.exp(-_ops.abs(x)))
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


# -- GELU ---------------------------------------------------------------------------------


class GELU(Op):
    """Y = x * Phi(x), Phi the standard normal CDF (exact, with erf)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * (0.5 * (1.0 + erf(x / _SQRT_2)))

    def backward(self, dY: Any) -> Any:
        """dx = dY * (Phi(x) + x * phi(x))  (*) = (*)(*)"""
        x = self.input(0)
        if isinstance(x, Tensor):
            return dY * GELUDerivative.apply(x)
        return dY * _gelu_derivative(x)


def _gelu_derivative(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + erf(x / _SQRT_2)) + x * (_INV_SQRT_2PI * np.exp(-0.5 * x * x))


class GELUDerivative(Op):
    """Y = gelu'(x) = Phi(x) + x phi(x): the factor of GELU's rule, itself differentiable."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return _gelu_derivative(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * phi(x) * (2 - x**2)  (*) = (*)(*)"""
        x = self.input(0)
        return dY * (_math.exp(x * x * -0.5) * _INV_SQRT_2PI) * (2.0 - x * x)


class GELUTanh(Op):
    """Y = x/2 * (1 + tanh(k (x + 0.044715 x^3))), k = sqrt(2/pi) (GPT-2's approximation)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        shape, x = x.shape, x.reshape(-1)  # 1-d views: 0-d arithmetic gives no arrays
        t = x * x  # t = tanh(k (x + c x^3)), built in place: the MLP's widest array
        t *= _TANH_C
        t += 1.0
        t *= x
        t *= _TANH_K
        self.t = t = np.tanh(t, out=t)  # kept for backward
        y = t + 1.0
        y *= x
        y *= 0.5
        return y.reshape(shape)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (1/2 (1 + t) + x/2 (1 - t**2) k (1 + 3c x**2))  (*) = (*)(*)"""
        x = self.input(0)
        if isinstance(x, Tensor):  # recorded: t as a function of x
            x2 = x * x
            t = _math.tanh((x + x2 * x * _TANH_C) * _TANH_K)
            inner = (1.0 + x2 * (3.0 * _TANH_C)) * _TANH_K
            return dY * ((1.0 + t) * 0.5 + x * 0.5 * (1.0 - t * t) * inner)
        t, x = self.t, x.reshape(-1)
        d = t * t  # (1 - t^2) x/2 k (1 + 3c x^2) + (1 + t)/2, in place
        np.subtract(1.0, d, out=d)
        d *= x
        d *= 0.5 * _TANH_K
        x2 = x * x
        x2 *= 3.0 * _TANH_C
        x2 += 1.0
        d *= x2
        d += 0.5
        x2 = np.multiply(t, 0.5, out=x2)
        d += x2
        d *= dY.reshape(-1)
        return d.reshape(dY.shape)


# -- smooth activations built on sigmoid, exp and softplus -------------------------------


class SiLU(Op):
    """Y = x * sigmoid(x) (swish)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * _math.sigmoid(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * s * (1 + x * (1 - s)), s = sigmoid(x)  (*) = (*)(*)"""
        x = self.input(0)
        s = _math.sigmoid(x)
        return dY * (s * (1.0 + x * (1.0 - s)))


class ELU(Op):
    """Y = x where x > 0, else alpha * (exp(x) - 1); with scale (SELU) times that."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, alpha: float, scale: float = 1.0) -> np.ndarray:
        self.alpha, self.scale, self.positive = alpha, scale, x > 0
        neg = alpha * np.expm1(np.minimum(x, 0))
        return scale * np.where(self.positive, x, neg).astype(x.dtype, copy=False)

    def backward(self, dY: Any) -> Any:
        """dx = dY * scale * (1 if x > 0 else alpha * exp(x))  (*) = (*)(*)"""
        x = self.input(0)
        inside = _math.exp(_math.where(self.positive, 0.0, x)) * self.alpha
        factor = _math.where(self.positive, 1.0, inside) * self.scale
        if not isinstance(factor, Tensor):
            factor = factor.astype(x.dtype, copy=False)
        return dY * factor


class CELU(Op):
    """Y = max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, alpha: float) -> np.ndarray:
        self.alpha, self.positive = alpha, x > 0
        neg = alpha * np.expm1(np.minimum(x, 0) / alpha)
        return np.where(self.positive, x, neg).astype(x.dtype, copy=False)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (1 if x > 0 else exp(x / alpha))  (*) = (*)(*)"""
        x = self.input(0)
        factor = _math.where(self.positive, 1.0, _math.exp(_math.where(self.positive, 0.0, x)
                                                          * (1.0 / self.alpha)))
        if not isinstance(factor, Tensor):
            factor = factor.astype(x.dtype, copy=False)
        return dY * factor


class Softplus(Op):
    """Y = log(1 + exp(beta x)) / beta, and Y = x where beta x > threshold."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, beta: float, threshold: float) -> np.ndarray:
        self.beta, self.linear = beta, x * beta > threshold
        soft = _softplus(x * beta) / beta
        return np.where(self.linear, x, soft).astype(x.dtype, copy=False)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (sigmoid(beta x) if beta x <= threshold else 1)  (*) = (*)(*)"""
        x = self.input(0)
        factor = _math.where(self.linear, 1.0, _math.sigmoid(x * self.beta))
        if not isinstance(factor, Tensor):
            factor = factor.astype(x.dtype, copy=False)
        return dY * factor


class LogSigmoid(Op):
    """Y = log(sigmoid(x)) = -softplus(-x), computed without overflow."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return -_softplus(-x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * sigmoid(-x)  (*) = (*)(*)"""
        return dY * _math.sigmoid(-self.input(0))


class Mish(Op):
    """Y = x * tanh(softplus(x))."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x * np.tanh(_softplus(x))

    def backward(self, dY: Any) -> Any:
        """dx = dY * (t + x * sigmoid(x) * (1 - t**2)), t = tanh(softplus(x))  (*) = (*)(*)"""
        x = self.input(0)
        t = _math.tanh(_softplus(x))
        return dY * (t + x * _math.sigmoid(x) * (1.0 - t * t))


class Softsign(Op):
    """Y = x / (1 + |x|)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x / (1.0 + np.abs(x))

    def backward(self, dY: Any) -> Any:
        """dx = dY / (1 + |x|)**2  (*) = (*)(*)"""
        d = 1.0 + _abs(self.input(0))
        return dY / (d * d)


class Tanhshrink(Op):
    """Y = x - tanh(x)."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x - np.tanh(x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * tanh(x)**2  (*) = (*)(*)"""
        t = _math.tanh(self.input(0))
        return dY * (t * t)


# -- piecewise activations ---------------------------------------------------------------


class Hardtanh(Op):
    """Y = clamp(x, min_val, max_val) (ReLU6 is Hardtanh(0, 6))."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, min_val: float, max_val: float) -> np.ndarray:
        self.inside = (x > min_val) & (x < max_val)
        return np.clip(x, min_val, max_val).astype(x.dtype, copy=False)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (min_val < x < max_val)  (*) = (*)(*)"""
        return local_scale(dY, self.inside, self.input(0))


class Hardsigmoid(Op):
    """Y = relu6(x + 3) / 6."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.inside = (x > -3.0) & (x < 3.0)
        return (np.clip(x + 3.0, 0.0, 6.0) / 6.0).astype(x.dtype, copy=False)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (-3 < x < 3) / 6  (*) = (*)(*)"""
        # 1/6 rounded to float32, as PyTorch's kernel has it (a 3e-8 relative difference)
        factor = (self.inside * _SIXTH).astype(_math.data(self.input(0)).dtype)
        return local_scale(dY, factor, self.input(0))


class Hardswish(Op):
    """Y = x * relu6(x + 3) / 6."""

    save_inputs = (0,)
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.low, self.high = x <= -3.0, x >= 3.0
        return (x * np.clip(x + 3.0, 0.0, 6.0) / 6.0).astype(x.dtype, copy=False)

    def backward(self, dY: Any) -> Any:
        """dx = dY * (0 if x <= -3, 1 if x >= 3, else x/3 + 1/2)  (*) = (*)(*)"""
        x = self.input(0)
        middle = x * (1.0 / 3.0) + 0.5
        factor = _math.where(self.low, 0.0, _math.where(self.high, 1.0, middle))
        if not isinstance(factor, Tensor):
            factor = factor.astype(x.dtype, copy=False)
        return dY * factor


class PReLU(Op):
    """Y = x where x > 0, else weight * x (one learned slope, or one per channel, dim 1)."""

    save_inputs = (0, 1)
    shapes = {"x": "(N,C,*)", "weight": "(C,)", "Y": "(N,C,*)"}

    def forward(self, x: np.ndarray, weight: np.ndarray) -> np.ndarray:
        self.positive = x > 0
        self.wshape = (1, -1) + (1,) * (x.ndim - 2) if x.ndim >= 2 and weight.size > 1 else ()
        self.axes = tuple(i for i in range(x.ndim) if i != 1 or weight.size == 1)
        w = weight.reshape(self.wshape) if self.wshape else weight.reshape(())
        return np.where(self.positive, x, w * x).astype(x.dtype, copy=False)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = dY * (1 if x > 0 else weight)  (N,C,*) = (N,C,*)(C,)
        dweight = sum(dY * (0 if x > 0 else x), (N,*))  (C,) = (N,C,*)(N,C,*)"""
        x, weight = self.input(0), self.input(1)
        w = weight.reshape(self.wshape if self.wshape else ())
        dx = dw = None
        if self.needs_input_grad[0]:
            dx = dY * _math.where(self.positive, 1.0, w)
        if self.needs_input_grad[1]:
            dw = (dY * _math.where(self.positive, 0.0, x)).sum(axis=self.axes)
            dw = dw.reshape(self.input_shapes[1])
        return dx, dw


# -- functional wrappers ------------------------------------------------------------------


def _float(op: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if input._data.dtype.kind not in "fc":
        raise TypeError(f"{op}: expected a floating point tensor, got dtype {input.dtype}")
    return input


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``x * Phi(x)`` (``approximate='tanh'``: GPT-2's tanh approximation)."""
    if approximate == "none":
        return GELU.apply(_float("gelu", input))
    if approximate == "tanh":
        return GELUTanh.apply(_float("gelu", input))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)``."""
    return SiLU.apply(_float("silu", input))


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` where positive, else ``alpha * (exp(x) - 1)``."""
    return ELU.apply(_float("elu", input), alpha=float(alpha))


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return ELU.apply(_float("selu", input), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise ValueError("celu: ZeroDivisionError, alpha must not be 0")
    return CELU.apply(_float("celu", input), alpha=float(alpha))


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta x)) / beta``; linear where ``beta x > threshold``."""
    return Softplus.apply(_float("softplus", input), beta=float(beta), threshold=float(threshold))


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, stable for large ``|x|``."""
    return LogSigmoid.apply(_float("logsigmoid", input))


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``."""
    return Mish.apply(_float("mish", input))


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return Softsign.apply(_float("softsign", input))


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``."""
    return Tanhshrink.apply(_float("tanhshrink", input))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """``clamp(x, min_val, max_val)`` (gradient 0 at and beyond the bounds)."""
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val "
                         f"({max_val})")
    return Hardtanh.apply(_float("hardtanh", input), min_val=min_val, max_val=max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(x, 0), 6)``."""
    return Hardtanh.apply(_float("relu6", input), min_val=0.0, max_val=6.0)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``."""
    return Hardsigmoid.apply(_float("hardsigmoid", input))


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``."""
    return Hardswish.apply(_float("hardswish", input))


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` where positive, else ``weight * x``; weight has 1 or ``C`` (dim 1) entries."""
    x = _float("prelu", input)
    n = int(np.prod(weight.shape))
    channels = x.shape[1] if x.ndim >= 2 else 1
    if weight.ndim > 1 or (n != 1 and n != channels):
        raise ShapeError(f"prelu: weight of shape {tuple(weight.shape)} must have 1 or "
                         f"{channels} (the input's channels, dim 1) elements; input "
                         f"{tuple(x.shape)}")
    return PReLU.apply(x, weight)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """``softmax(-x, dim)``."""
    from chainrule.ops.activation import softmax

    return softmax(-_float("softmin", input) if dtype is None else -input.to(dtype), dim)


from chainrule import ops as _ops  # noqa: E402
