"""Loss functions as fused nodes: squared error, L1, binary cross-entropy; shared helpers.

Each loss is one node whose backward is the derivative of the whole loss, as the seeds
derive it: for ``mse_loss`` ``dx = 2 (x - y) * dL / N``. The classification losses
(``cross_entropy``, ``nll_loss``: the seeds' Softmax-with-Loss) are in
:mod:`chainrule.ops.cross_entropy`.
Reductions: ``'mean'`` (default), ``'sum'`` or ``'none'`` (one loss per element/sample).
Class weights, ``ignore_index``, ``label_smoothing`` and ``pos_weight`` follow PyTorch.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.ops.elementwise import local_scale
from chainrule.ops.shape import broadcast_to
from chainrule.tensor import Tensor

# The losses are ``nn.functional``'s (``F.cross_entropy`` ...), as in PyTorch, and are not
# exported to the top-level ``cr.*`` namespace (torch.binary_cross_entropy_with_logits, for
# one, orders its arguments differently).
__all__: list[str] = []

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(loss: np.ndarray, reduction: str, denom: Any = None) -> np.ndarray:
    """Forward reduction of per-element losses (``denom`` defaults to their number)."""
    if reduction == "none":
        return loss
    total = loss.sum()
    if reduction == "sum":
        return total
    n = loss.size if denom is None else denom
    if type(n) is int and n > 0:
        return total / n
    if n == 0:  # empty, or the targets' weights sum to 0: nan, as PyTorch
        return np.asarray(total * math.nan)
    return total / n


class _Loss(Op):
    """Shared backward helper: the gradient of the reduced loss w.r.t. each element's loss."""

    reduction = "mean"
    denom: Any = 1

    def _dloss(self, dY: Any) -> Any:
        """dL/dl_i: dY / N ('mean'), dY ('sum'), or dY itself per element ('none')."""
        if self.reduction == "mean":
            if self.denom == 0:  # a mean over nothing is NaN, and so is its gradient
                return dY * math.nan
            return dY / self.denom
        return dY


# -- elementwise losses ---------------------------------------------------------------


class MSELoss(_Loss):
    """L = mean((x - y)^2): the seeds' squared error."""

    save_inputs = (0, 1)
    shapes = {"x": "(*)", "y": "(*)", "Y": "()"}

    def forward(self, x: np.ndarray, y: np.ndarray, reduction: str = "mean") -> np.ndarray:
        self.diff = d = x - y
        self.reduction, self.denom = reduction, d.size
        return _reduce(d * d, reduction)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = 2 * (x - y) * dL / N  (*) = (*)(*)
        dy = -2 * (x - y) * dL / N  (*) = (*)(*)"""
        d = self.input(0) - self.input(1) if self.create_graph else self.diff
        if self.reduction == "mean" and self.denom:
            g = d * (dY * (2 / self.denom))
        else:
            g = d * (self._dloss(dY) * 2)
        return (g if self.needs_input_grad[0] else None,
                -g if self.needs_input_grad[1] else None)


class L1Loss(_Loss):
    """L = mean(|x - y|)."""

    save_inputs = (0, 1)
    shapes = {"x": "(*)", "y": "(*)", "Y": "()"}

    def forward(self, x: np.ndarray, y: np.ndarray, reduction: str = "mean") -> np.ndarray:
        d = x - y
        self.sign = np.sign(d)  # 0 where x == y, as PyTorch
        self.reduction, self.denom = reduction, d.size
        return _reduce(np.abs(d), reduction)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = sign(x - y) * dL / N  (*) = (*)(*)
        dy = -sign(x - y) * dL / N  (*) = (*)(*)"""
        inputs = [self.input(i) for i in range(2) if self.needs_input_grad[i]]
        g = local_scale(self._dloss(dY), self.sign, *inputs)
        return (g if self.needs_input_grad[0] else None,
                -g if self.needs_input_grad[1] else None)


class BinaryCrossEntropy(_Loss):
    """L = -mean(w * (y log x + (1 - y) log(1 - x))), each log clamped at -100 as PyTorch."""

    save_inputs = (0, 1)
    shapes = {"x": "(*)", "y": "(*)", "Y": "()"}

    def forward(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None,
                reduction: str = "mean") -> np.ndarray:
        if x.size and (x.min() < 0 or x.max() > 1):
            raise ValueError(f"binary_cross_entropy: all elements of input should be between "
                             f"0 and 1, got values in [{x.min()}, {x.max()}] (apply sigmoid "
                             "first, or use binary_cross_entropy_with_logits)")
        with np.errstate(divide="ignore"):
            log_x = np.maximum(np.log(x), -100)
            log_1mx = np.maximum(np.log1p(-x), -100)
        loss = -(y * log_x + (1 - y) * log_1mx)
        self.weight, self.reduction, self.denom = weight, reduction, x.size
        return _reduce(loss if weight is None else loss * weight, reduction)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = w * (x - y) / max(x * (1 - x), 1e-12) * dL / N  (*) = (*)(*)
        dy = w * (log(1 - x) - log(x)) * dL / N  (*) = (*)"""
        x, y = self.input(0), self.input(1)
        dl = self._dloss(dY)
        if self.weight is not None:
            dl = dl * self.weight
        dx = dy = None
        if self.needs_input_grad[0]:
            var = x * (1 - x)
            var = _math.where(_math.data(var) < 1e-12, 1e-12, var)
            dx = dl * (x - y) / var
        if self.needs_input_grad[1]:
            with np.errstate(divide="ignore"):
                dy = dl * (_math.log(1 - x) - _math.log(x))
        return dx, dy


class BinaryCrossEntropyWithLogits(_Loss):
    """L = mean(w * ((1 - y) x + (1 + (pw - 1) y) log(1 + exp(-x)))): BCE of sigmoid(x), stable."""

    save_inputs = (0, 1)
    shapes = {"x": "(*)", "y": "(*)", "Y": "()"}

    def forward(self, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None = None,
                pos_weight: np.ndarray | None = None, reduction: str = "mean") -> np.ndarray:
        sp = np.logaddexp(0, -x)  # log(1 + exp(-x)) without overflow
        if pos_weight is None:
            loss = (1 - y) * x + sp
        else:
            loss = (1 - y) * x + ((pos_weight - 1) * y + 1) * sp
        self.weight, self.pos_weight = weight, pos_weight
        self.reduction, self.denom = reduction, x.size
        return _reduce(loss if weight is None else loss * weight, reduction)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = w * ((1 + (pw - 1) y) sigmoid(x) - pw y) * dL / N  (*) = (*)(*)
        dy = w * ((pw - 1) log(1 + exp(-x)) - x) * dL / N  (*) = (*)(*)"""
        x, y, pw = self.input(0), self.input(1), self.pos_weight
        dl = self._dloss(dY)
        if self.weight is not None:
            dl = dl * self.weight
        dx = dy = None
        if self.needs_input_grad[0]:
            s = _math.sigmoid(x)
            dx = dl * (s - y) if pw is None else dl * (((pw - 1) * y + 1) * s - pw * y)
        if self.needs_input_grad[1]:
            dy = -dl * x if pw is None else dl * ((pw - 1) * _softplus_neg(x) - x)
        return dx, dy


def _softplus_neg(x: Any) -> Any:
    """log(1 + exp(-x)) = max(-x, 0) + log(1 + exp(-|x|)), stable, on arrays or Tensors."""
    negative = _math.data(x) < 0
    abs_x = _math.where(negative, -x, x)
    return _math.where(negative, -x, x * 0) + _math.log(1 + _math.exp(-abs_x))


# -- functional wrappers ------------------------------------------------------------


def _check_reduction(fn: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(_math.data(x)))


def _float_tensor(fn: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        input = Tensor._make(np.asarray(input))
    if input._data.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating point input, got dtype {input.dtype} "
                        "(convert with .float())")
    return input


def _like(fn: str, target: Any, input: Tensor) -> Any:
    """``target`` in the dtype of ``input`` (differentiably if it is a float Tensor)."""
    if isinstance(target, Tensor):
        if target._data.dtype == input._data.dtype:
            return target
        return target.to(input.dtype) if target._data.dtype.kind == "f" else \
            Tensor._make(target._data.astype(input.dtype))
    return np.asarray(target, dtype=input.dtype)


def _const(fn: str, name: str, value: Any, dtype: np.dtype, shape: tuple[int, ...] | None
           ) -> np.ndarray | None:
    """A weight argument as a constant array of ``dtype`` (no gradient flows into it)."""
    if value is None:
        return None
    arr = np.asarray(_math.data(value), dtype=dtype)
    if shape is not None and arr.shape != shape:
        raise ShapeError(f"{fn}: {name} of shape {arr.shape} does not match: expected {shape}")
    return arr


def _promote(input: Tensor, target: Any) -> Tensor:
    """``input`` cast (differentiably) to a wider floating target's dtype, as PyTorch's
    type promotion does: float32 logits with a float64 target give a float64 loss."""
    t = _math.data(target)
    if isinstance(t, np.ndarray) and t.dtype.kind == "f" and t.dtype != input._data.dtype:
        wide = np.promote_types(t.dtype, input._data.dtype)
        if wide != input._data.dtype:
            return input.to(wide)
    return input


def _same_shape(fn: str, input: Any, target: Any) -> None:
    if _shape(input) != _shape(target):
        raise ShapeError(f"{fn}: input of shape {_shape(input)} and target of shape "
                         f"{_shape(target)} differ; they must have the same shape")


def _broadcast_pair(fn: str, input: Tensor, target: Any) -> tuple[Tensor, Any]:
    """Input and target of one shape: PyTorch broadcasts differing shapes with a warning."""
    si, st = _shape(input), _shape(target)
    if si == st:
        return input, target
    try:
        shape = np.broadcast_shapes(si, st)
    except ValueError:
        raise ShapeError(f"{fn}: input of shape {si} and target of shape {st} differ and "
                         "cannot be broadcast together; they should have the same shape") from None
    warnings.warn(
        f"{fn}: using a target size ({st}) that is different to the input size ({si}); "
        "this will likely lead to incorrect results due to broadcasting. Please ensure they "
        "have the same size.", UserWarning, stacklevel=3)
    def expand(x: Any) -> Any:
        if isinstance(x, Tensor):
            return x if x.shape == shape else broadcast_to(x, shape)
        return np.broadcast_to(x, shape)

    return expand(input), expand(target)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)``: the seeds' squared-error loss.

    The gradient is ``2 (input - target) / N`` for the input and its negative for the
    target. Shapes that differ but broadcast are broadcast with a warning, as in PyTorch.
    """
    if (isinstance(input, Tensor) and isinstance(target, Tensor) and reduction == "mean"
            and input._data.dtype.kind == "f" and target._data.dtype == input._data.dtype
            and target._data.shape == input._data.shape):  # the common case, checked at once
        return MSELoss.apply(input, target)
    _check_reduction("mse_loss", reduction)
    input = _float_tensor("mse_loss", input)
    input, target = _broadcast_pair("mse_loss", input, _like("mse_loss", target, input))
    return MSELoss.apply(input, target, reduction=reduction)


def l1_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``mean(|input - target|)`` (gradient ``sign(input - target)/N``)."""
    _check_reduction("l1_loss", reduction)
    input = _float_tensor("l1_loss", input)
    input, target = _broadcast_pair("l1_loss", input, _like("l1_loss", target, input))
    return L1Loss.apply(input, target, reduction=reduction)


def _elementwise_weight(fn: str, name: str, weight: Any, input: Tensor) -> np.ndarray | None:
    """A weight that must broadcast to the input's shape, as a constant array."""
    w = _const(fn, name, weight, input.dtype, None)
    if w is not None:
        try:
            shape = np.broadcast_shapes(w.shape, input.shape)
        except ValueError:
            shape = None
        if shape != input.shape:
            raise ShapeError(f"{fn}: {name} of shape {w.shape} does not broadcast to the "
                             f"input's shape {input.shape}")
    return w


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross entropy of probabilities ``input`` in [0, 1] and targets in [0, 1].

    Each log is clamped at -100, as PyTorch, so probabilities of exactly 0 or 1 give a
    finite loss. ``weight`` (broadcast to the input's shape) rescales each element.
    """
    fn = "binary_cross_entropy"
    _check_reduction(fn, reduction)
    input = _float_tensor(fn, input)
    _same_shape(fn, input, target)
    w = _elementwise_weight(fn, "weight", weight, input)
    return BinaryCrossEntropy.apply(input, _like(fn, target, input), weight=w,
                                    reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """``binary_cross_entropy(sigmoid(input), target)`` in one stable step (logits of 1e4).

    ``pos_weight`` (broadcast along the last dimension) weighs the positive term;
    ``weight`` (broadcast to the input's shape) rescales each element.
    """
    fn = "binary_cross_entropy_with_logits"
    _check_reduction(fn, reduction)
    input = _promote(_float_tensor(fn, input), target)
    _same_shape(fn, input, target)
    w = _elementwise_weight(fn, "weight", weight, input)
    pw = _elementwise_weight(fn, "pos_weight", pos_weight, input)
    return BinaryCrossEntropyWithLogits.apply(input, _like(fn, target, input), weight=w,
                                              pos_weight=pw, reduction=reduction)
