"""Regression and distribution losses: ``smooth_l1_loss``, ``huber_loss``, ``kl_div``,
``poisson_nll_loss`` and ``gaussian_nll_loss`` under PyTorch's signatures.

Smooth L1 and Huber are one fused node each (their rule is the clamped difference);
the others are composed from differentiable ops (exp, log, where, ...), so their
gradients, including second order, are those of the ops they are built from.
The legacy ``size_average``/``reduce`` arguments map onto ``reduction`` as in PyTorch.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

__all__: list[str] = []  # nn.functional's names only, as PyTorch

_REDUCTIONS = ("mean", "sum", "none")


# -- shared helpers (also used by loss_margin and distance) -----------------------------


def legacy_reduction(fn: str, size_average: bool | None, reduce: bool | None,
                     reduction: str, allowed: tuple[str, ...] = _REDUCTIONS) -> str:
    """``reduction`` after PyTorch's deprecated ``size_average``/``reduce`` (each None = True)."""
    if size_average is not None or reduce is not None:
        warnings.warn("size_average and reduce args will be deprecated, please use "
                      "reduction='sum' instead.", UserWarning, stacklevel=3)
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        return "none" if not reduce else ("mean" if size_average else "sum")
    if reduction not in allowed:
        raise ValueError(f"{fn}: {reduction} is not a valid value for reduction (expected "
                         f"one of {', '.join(repr(r) for r in allowed)})")
    return reduction


def reduce_loss(loss: Tensor, reduction: str) -> Tensor:
    """``'mean'`` (NaN for no elements, as PyTorch), ``'sum'`` or ``'none'``."""
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def as_float(fn: str, name: str, x: Any) -> Tensor:
    """``x`` as a Tensor (numbers and arrays wrapped; integer tensors are rejected)."""
    if not isinstance(x, Tensor):
        arr = np.asarray(x)
        if arr.dtype.kind not in "f":
            arr = arr.astype(np.float32 if arr.dtype.kind in "iub" else arr.dtype)
        x = Tensor._make(arr)
    if x._data.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating point {name}, got dtype {x.dtype} "
                        "(convert with .float())")
    return x


def target_like(x: Any, input: Tensor) -> Tensor:
    """A target as a Tensor; plain numbers/arrays take the input's dtype."""
    if isinstance(x, Tensor):
        return x if x._data.dtype.kind == "f" else x.to(input.dtype)
    return Tensor._make(np.asarray(x, dtype=input._data.dtype))


def _size_warning(fn: str, input: Tensor, target: Tensor) -> None:
    """PyTorch's warning for differing (broadcast) input and target sizes; error if they
    cannot broadcast."""
    si, st = tuple(input.shape), tuple(target.shape)
    if si == st:
        return
    try:
        np.broadcast_shapes(si, st)
    except ValueError:
        raise ShapeError(f"{fn}: input of shape {si} and target of shape {st} cannot be "
                         "broadcast together; they should have the same shape") from None
    warnings.warn(f"{fn}: Using a target size ({st}) that is different to the input size "
                  f"({si}). This will likely lead to incorrect results due to broadcasting. "
                  "Please ensure they have the same size.", UserWarning, stacklevel=4)


def _broadcast(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    shape = np.broadcast_shapes(tuple(a.shape), tuple(b.shape))
    return (a if tuple(a.shape) == shape else a.broadcast_to(shape),
            b if tuple(b.shape) == shape else b.broadcast_to(shape))


# -- smooth L1 / Huber: one fused node -----------------------------------------------


class SmoothL1(Op):
    """l = 0.5 d^2 / beta if |d| < beta else |d| - 0.5 beta, d = x - y (``smooth_l1_loss``);
    with ``huber`` the loss is beta times that (``huber_loss`` with delta = beta)."""

    save_inputs = (0, 1)
    shapes = {"x": "(*)", "y": "(*)", "Y": "()"}

    def forward(self, x: np.ndarray, y: np.ndarray, beta: float = 1.0,
                reduction: str = "mean", huber: bool = False) -> np.ndarray:
        d = x - y
        a = np.abs(d)
        self.inside = a < beta  # the quadratic zone
        self.beta, self.huber, self.reduction, self.n = beta, huber, reduction, d.size
        scale = beta if huber else 1.0
        loss = np.where(self.inside, (0.5 * scale / beta) * d * d, scale * (a - 0.5 * beta))
        loss = loss.astype(d.dtype, copy=False)
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return total
        return total / d.size if d.size else np.asarray(total * math.nan)

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = clamp(x - y, -beta, beta) * s / beta * dL / N  (*) = (*)(*)
        dy = -clamp(x - y, -beta, beta) * s / beta * dL / N  (*) = (*)(*)

        s is 1 for smooth L1 and beta for Huber; N is 1 unless the reduction is 'mean'.
        """
        x, y = self.input(0), self.input(1)
        d = x - y
        outside = np.sign(_math.data(d)) * self.beta  # the clamp's constant value
        c = _math.where(self.inside, d, outside.astype(_math.data(d).dtype, copy=False))
        g = c if self.huber else c * (1.0 / self.beta)
        if self.reduction == "mean":
            g = g * (dY / self.n) if self.n else g * (dY * math.nan)
        else:
            g = g * dY
        return (g if self.needs_input_grad[0] else None,
                -g if self.needs_input_grad[1] else None)


def _smooth(fn: str, input: Any, target: Any, reduction: str, beta: float,
            huber: bool) -> Tensor:
    input = as_float(fn, "input", input)
    target = target_like(target, input)
    _size_warning(fn, input, target)
    input, target = _broadcast(input, target)
    if huber and target._data.dtype != input._data.dtype:  # PyTorch: the input's dtype
        target = target.to(input.dtype)
    if input._data.dtype != target._data.dtype:
        from chainrule.promotion import result_type
        dt = result_type(input, target)
        input, target = input.to(dt), target.to(dt)
    if beta == 0.0:  # the quadratic zone is empty: plain L1, as PyTorch
        return reduce_loss((input - target).abs(), reduction)
    return SmoothL1.apply(input, target, beta=float(beta), reduction=reduction, huber=huber)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                   reduce: bool | None = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1: ``0.5 (x - y)^2 / beta`` where ``|x - y| < beta``, else ``|x - y| - beta/2``.

    ``beta=0`` is the L1 loss; a negative ``beta`` is an error. Different (broadcastable)
    input and target sizes are broadcast with PyTorch's warning.
    """
    fn = "smooth_l1_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    if beta < 0:
        raise RuntimeError(f"{fn} does not support negative values for beta (got {beta}).")
    return _smooth(fn, input, target, reduction, beta, huber=False)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber: ``0.5 (x - y)^2`` where ``|x - y| < delta``, else ``delta (|x - y| - delta/2)``.

    ``delta`` must be positive. ``weight`` (of the input's size) rescales each element's
    loss before the reduction, as PyTorch 2.13.
    """
    fn = "huber_loss"
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: {reduction} is not a valid value for reduction")
    if delta <= 0:
        raise RuntimeError(f"{fn} does not support non-positive values for delta "
                           f"(got {delta}).")
    if weight is None:
        return _smooth(fn, input, target, reduction, delta, huber=True)
    w = weight if isinstance(weight, Tensor) else Tensor._make(np.asarray(weight))
    if tuple(w.shape) != tuple(np.shape(_math.data(input))):
        raise ValueError(f"{fn}: Weights and input must have the same size (weight "
                         f"{tuple(w.shape)}, input {tuple(np.shape(_math.data(input)))}).")
    return reduce_loss(_smooth(fn, input, target, "none", delta, huber=True) * w, reduction)


# -- composed losses -------------------------------------------------------------------


def kl_div(input: Tensor, target: Tensor, size_average: bool | None = None,
           reduce: bool | None = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL divergence ``target * (log(target) - input)`` with ``input`` log-probabilities.

    ``log_target=True`` takes the target as log-probabilities too:
    ``exp(target) * (target - input)``. A zero target contributes 0 (``0 log 0 = 0``).
    ``'batchmean'`` divides the sum by the batch size (the KL's definition); ``'mean'``
    divides by the number of elements and warns, as PyTorch.
    """
    fn = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(fn, size_average, reduce, reduction)
    else:
        if reduction not in (*_REDUCTIONS, "batchmean"):
            raise ValueError(f"{fn}: {reduction} is not a valid value for reduction")
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size "
                          "and the support size.'batchmean' divides only by the batch size, "
                          "and aligns with the KL div math definition.'mean' will be changed "
                          "to behave the same as 'batchmean' in the next major release.",
                          UserWarning, stacklevel=2)
    input = as_float(fn, "input", input)
    target = target_like(target, input)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        zero = _math.data(target) == 0
        safe = _math.where(zero, 1.0, target)  # log(0) never computed: no NaN gradient
        with np.errstate(invalid="ignore"):  # a negative target gives NaN, as PyTorch
            xlogx = _math.where(zero, 0.0, target * safe.log())
        loss = xlogx - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.ndim else total
    return reduce_loss(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True,
                     full: bool = False, size_average: bool | None = None,
                     eps: float = 1e-8, reduce: bool | None = None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log likelihood of ``target`` given the rate ``input``.

    ``log_input=True``: ``exp(input) - target * input`` (the input is the log-rate);
    else ``input - target * log(input + eps)``. ``full`` adds the Stirling term
    ``t log t - t + 0.5 log(2 pi t)`` where ``t > 1``.
    """
    fn = "poisson_nll_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    input = as_float(fn, "input", input)
    target = target_like(target, input)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = _math.data(target) > 1
        t = _math.where(big, target, 1.0)  # the masked entries never see log(t <= 0)
        stirling = t * t.log() - t + 0.5 * (t * (2 * math.pi)).log()
        loss = loss + _math.where(big, stirling, 0.0)
    return reduce_loss(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float,
                      full: bool = False, eps: float = 1e-6,
                      reduction: str = "mean") -> Tensor:
    """Gaussian negative log likelihood ``0.5 (log(var) + (input - target)^2 / var)``.

    ``var`` is a float, a tensor of the input's shape, or one with one dimension of size 1
    (or the last dimension missing) for a variance shared across it. ``var`` is clamped
    to ``eps`` for stability; as PyTorch, the clamp is not differentiated (the gradient
    passes as if unclamped). ``full`` adds ``0.5 log(2 pi)``.
    """
    fn = "gaussian_nll_loss"
    input = as_float(fn, "input", input)
    ishape = tuple(input.shape)
    if isinstance(var, float):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = Tensor._make(np.full(ishape, var, dtype=input._data.dtype))
    else:
        var = as_float(fn, "var", var)
        if (var._data < 0).any():
            raise ValueError("var has negative entry/entries")
    vshape = tuple(var.shape)
    if vshape != ishape:
        if ishape[:-1] == vshape:
            var = var.unsqueeze(-1)
        elif not (len(ishape) == len(vshape) and sum(
                v for i, v in zip(ishape, vshape, strict=True) if i != v) == 1):
            raise ValueError(f"var is of incorrect size (var {vshape}, input {ishape})")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: {reduction} is not valid")
    target = target_like(target, input)
    v = var._data
    # clamp(var, eps) with the clamp outside the graph: var + constant
    var = var + Tensor._make((np.maximum(v, eps) - v).astype(v.dtype, copy=False))
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return reduce_loss(loss, reduction)
