"""Loss functions as fused nodes: the seeds' Softmax-with-Loss and squared error, and more.

Each loss is one node whose backward is the derivative of the whole loss, as the seeds
derive it: for ``cross_entropy`` the softmax and the log cancel into
``dZ = (softmax(Z) - onehot(t)) * dL / N``; for ``mse_loss`` ``dx = 2 (x - y) * dL / N``.
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
from chainrule.ops.activation import log_softmax, softmax
from chainrule.ops.elementwise import local_scale
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


# -- cross entropy ----------------------------------------------------------------------


class SoftmaxCrossEntropy(_Loss):
    """L = -log_softmax(Z)[n, t_n] averaged over n: the seeds' Softmax-with-Loss.

    With class weights w, ``ignore_index`` and label smoothing e the target distribution of
    sample n is ``q_n = (1-e) w[t_n] onehot(t_n) + (e/C) w`` (zero when t_n is ignored), the
    loss ``l_n = -sum_c q_nc log_softmax(Z)_nc`` and the mean divides by ``sum_n w[t_n]``.
    """

    save_inputs = (0,)
    shapes = {"Z": "(N,C)", "t": "(N,)", "Y": "()"}

    def forward(self, Z: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None,
                ignore_index: int | None = None, reduction: str = "mean",
                label_smoothing: float = 0.0) -> np.ndarray:
        N, C = Z.shape
        m = Z.max(axis=1, keepdims=True)  # (N,1): exp(Z - m) <= 1, no overflow
        E = np.exp(Z - m)
        s = E.sum(axis=1, keepdims=True)
        E /= s
        self.P, self.reduction, self.rows = E, reduction, np.arange(N)
        ignored = None if ignore_index is None else t == ignore_index  # None: nothing ignored
        self.t = t = t if ignored is None else np.where(ignored, 0, t)
        nll = (m[:, 0] - Z[self.rows, t]) + np.log(s[:, 0])  # -log p[n, t_n]  (N,)
        if weight is None and ignored is None and label_smoothing == 0:
            self.Q, self.denom = None, N  # the hot path: one-hot targets
            return _reduce(nll, reduction, N)
        if ignored is None:
            ignored = np.zeros(N, bool)
        valid = (~ignored).astype(Z.dtype)  # (N,): 0 where the target is ignored
        row_w = valid * weight[t] if weight is not None else valid  # w[t_n]
        self.denom = row_w.sum()
        # the targets' weights sum to 0: the mean is x/0, but (as PyTorch) no gradient
        # reaches the ignored samples
        self.zero_rows = ignored if self.denom == 0 and ignored.any() else None
        self.Q = self._target_distribution(valid, row_w, weight, C, label_smoothing)
        loss = (1 - label_smoothing) * row_w * nll
        if label_smoothing:
            logp = (Z - m) - np.log(s)  # (N,C)
            w = weight if weight is not None else 1
            loss -= (label_smoothing / C) * valid * (logp * w).sum(axis=1)
        return _reduce(loss, reduction, self.denom)

    def _target_distribution(self, valid: np.ndarray, row_w: np.ndarray,
                             weight: np.ndarray | None, C: int, eps: float) -> np.ndarray:
        """q_n = (1-e) w[t_n] onehot(t_n) + (e/C) w, rows of ignored samples zero  (N,C)."""
        Q = np.zeros((valid.shape[0], C), valid.dtype)
        if eps:
            Q += (eps / C) * valid[:, None] * (weight if weight is not None else 1)
        Q[self.rows, self.t] += (1 - eps) * row_w
        return Q

    def backward(self, dY: Any) -> tuple[Any, None]:
        """dZ = (softmax(Z) - onehot(t)) * dL / N  (N,C) = (N,C)

        With weights, smoothing or ignored targets, onehot(t) becomes q_n and softmax(Z)
        is scaled by sum_c q_nc; N becomes the sum of the targets' weights.
        """
        dl = self._dloss(dY)
        if self.reduction == "none":
            dl = dl.reshape(-1, 1)  # (N,1)
        if self.Q is None and not self.create_graph:  # hot path, in place on a new array
            dZ = self.P * dl
            dZ[self.rows, self.t] -= dl if dl.ndim == 0 else dl[:, 0]
            return dZ, None
        P = softmax(self.input(0), 1) if self.create_graph else self.P
        Q = self.Q if self.Q is not None else self._onehot()
        # general rule: dZ = (P * sum_c q_c - q) * dl, and sum_c q_c = 1 for one-hot q
        scale = Q.sum(axis=1, keepdims=True) if self.Q is not None else 1
        dZ = (P * scale - Q) * dl
        if self.Q is not None and self.zero_rows is not None:
            dZ = _math.where(self.zero_rows[:, None], 0, dZ)
        return dZ, None

    def _onehot(self) -> np.ndarray:
        Q = np.zeros(self.P.shape, self.P.dtype)
        Q[self.rows, self.t] = 1
        return Q


class SoftmaxCrossEntropyProbs(_Loss):
    """L = -sum_c w_c q_nc log_softmax(Z)_nc averaged over n, for class-probability targets.

    ``q = (1 - e) T + e / C`` with label smoothing e; the mean divides by N.
    """

    save_inputs = (0, 1)
    shapes = {"Z": "(N,C)", "T": "(N,C)", "Y": "()"}

    def forward(self, Z: np.ndarray, T: np.ndarray, weight: np.ndarray | None = None,
                reduction: str = "mean", label_smoothing: float = 0.0) -> np.ndarray:
        Zm = Z - Z.max(axis=1, keepdims=True)
        self.logP = Zm - np.log(np.exp(Zm).sum(axis=1, keepdims=True))  # (N,C)
        self.weight, self.eps, self.reduction = weight, label_smoothing, reduction
        self.denom = Z.shape[0]
        return _reduce(-(self._wq(T) * self.logP).sum(axis=1), reduction)

    def _wq(self, T: Any) -> Any:
        """w * q with q = (1 - e) T + e / C: each class's weighted target probability."""
        q = T * (1 - self.eps) + self.eps / T.shape[1] if self.eps else T
        return q * self.weight if self.weight is not None else q

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dZ = (softmax(Z) * sum_c(w*q) - w*q) * dL / N  (N,C) = (N,C)(N,C)
        dT = -(1 - e) * w * log_softmax(Z) * dL / N  (N,C) = (N,C)"""
        dl = self._dloss(dY)
        if self.reduction == "none":
            dl = dl.reshape(-1, 1)
        logP = log_softmax(self.input(0), 1) if self.create_graph else self.logP
        dZ = dT = None
        if self.needs_input_grad[0]:
            wq = self._wq(self.input(1))
            dZ = (_math.exp(logP) * wq.sum(axis=1, keepdims=True) - wq) * dl
        if self.needs_input_grad[1]:
            w = self.weight if self.weight is not None else 1
            dT = logP * (w * -(1 - self.eps)) * dl
        return dZ, dT


# -- negative log likelihood ----------------------------------------------------------


class NLLLoss(_Loss):
    """L = -X[n, t_n] * w[t_n] averaged over n (X holds log-probabilities)."""

    save_inputs = (0,)
    shapes = {"X": "(N,C)", "t": "(N,)", "Y": "()"}

    def forward(self, X: np.ndarray, t: np.ndarray, weight: np.ndarray | None = None,
                ignore_index: int | None = None, reduction: str = "mean") -> np.ndarray:
        N = X.shape[0]
        ignored = None if ignore_index is None else t == ignore_index  # None: nothing ignored
        self.t = t = t if ignored is None else np.where(ignored, 0, t)
        self.rows, self.reduction = np.arange(N), reduction
        self.row_w = None
        if weight is not None or ignored is not None:
            self.row_w = np.ones(N, X.dtype) if ignored is None else (~ignored).astype(X.dtype)
            if weight is not None:
                self.row_w *= weight[t]
        picked = X[self.rows, t]
        self.denom = N if self.row_w is None else self.row_w.sum()
        # the targets' weights sum to 0: the mean is x/0, but (as PyTorch) no gradient
        # reaches the ignored samples
        self.zero_rows = ignored if self.denom == 0 and ignored is not None else None
        loss = -picked if self.row_w is None else -picked * self.row_w
        return _reduce(loss, reduction, self.denom)

    def backward(self, dY: Any) -> tuple[Any, None]:
        """dX[n, t_n] = -w[t_n] * dL / N  (N,C) = (N,)"""
        dl = self._dloss(dY)
        n = self.rows.shape[0]
        g = -dl if self.row_w is None else -dl * self.row_w  # (N,) or ()
        if self.zero_rows is not None:
            g = _math.where(self.zero_rows, 0, g)
        if g.shape != (n,):
            g = _math.broadcast_to(g, (n,))
        if isinstance(g, Tensor):
            # recorded as a function of X too (with derivative 0), as PyTorch records it
            dX = _math.index_add(self.input_shapes[0], (self.rows, self.t), g)
            return local_scale(dX, np.ones(dX.shape, bool), self.input(0)), None
        dX = np.zeros(self.input_shapes[0], g.dtype)
        dX[self.rows, self.t] = g  # each row has one target: no repeated index
        return dX, None


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
    if input.data.dtype.kind != "f":
        raise TypeError(f"{fn}: expected a floating point input, got dtype {input.dtype} "
                        "(convert with .float())")
    return input


def _like(fn: str, target: Any, input: Tensor) -> Any:
    """``target`` in the dtype of ``input`` (differentiably if it is a float Tensor)."""
    if isinstance(target, Tensor):
        if target.data.dtype == input.data.dtype:
            return target
        return target.to(input.dtype) if target.data.dtype.kind == "f" else \
            Tensor._make(target.data.astype(input.dtype))
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
    if isinstance(t, np.ndarray) and t.dtype.kind == "f" and t.dtype != input.data.dtype:
        wide = np.promote_types(t.dtype, input.data.dtype)
        if wide != input.data.dtype:
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
    from chainrule.ops.shape import broadcast_to

    def expand(x: Any) -> Any:
        if isinstance(x, Tensor):
            return x if x.shape == shape else broadcast_to(x, shape)
        return np.broadcast_to(x, shape)

    return expand(input), expand(target)


def _check_targets(fn: str, t: np.ndarray, C: int, ignore_index: int) -> int | None:
    """Raise IndexError naming the first class index outside [0, C) (ignore_index allowed).

    Returns ``ignore_index`` if some target equals it, else None (nothing to ignore).
    """
    if t.size == 0:
        return None
    lo, hi = t.min(), t.max()
    if lo >= 0 and hi < C and not lo <= ignore_index <= hi:
        return None  # the usual case: all valid, none ignored (-100 < 0 <= lo)
    bad = t[((t < 0) | (t >= C)) & (t != ignore_index)]
    if bad.size:
        raise IndexError(f"{fn}: target {int(bad.flat[0])} is out of bounds for {C} classes "
                         f"(expected class indices in [0, {C - 1}] or ignore_index="
                         f"{ignore_index})")
    return ignore_index if (t == ignore_index).any() else None


def _classes_last(fn: str, input: Tensor, target: Any, index_target: bool
                  ) -> tuple[Tensor, Any, tuple[int, ...]]:
    """Bring ``(C,)``, ``(N,C)`` or ``(N,C,d1,...)`` input to ``(M,C)`` and its target to
    ``(M,)`` (class indices) or ``(M,C)`` (probabilities); also return the 'none' shape."""
    shape = _shape(input)
    if len(shape) == 0:
        raise ShapeError(f"{fn}: expected an input of shape (C,), (N, C) or (N, C, d1, ...), "
                         "got a 0-d tensor")
    C = shape[0] if len(shape) == 1 else shape[1]
    out_shape = shape[:1] + shape[2:] if len(shape) > 1 else ()
    expected = out_shape if index_target else shape
    if _shape(target) != expected:
        kind = "class indices" if index_target else "class probabilities"
        raise ShapeError(f"{fn}: input of shape {shape} expects a target of {kind} of shape "
                         f"{expected}, got target of shape {_shape(target)}")
    if len(shape) == 2:
        return input, target, out_shape
    if len(shape) == 1:
        input = input.reshape(1, C)
        target = target.reshape(1) if index_target else target.reshape(1, C)
        return input, target, out_shape
    perm = (0, *range(2, len(shape)), 1)  # (N,C,d1..) -> (N,d1..,C)
    input = input.permute(perm).reshape(-1, C)
    if index_target:
        return input, target.reshape(-1), out_shape
    if isinstance(target, Tensor):
        return input, target.permute(perm).reshape(-1, C), out_shape
    return input, np.transpose(target, perm).reshape(-1, C), out_shape


def _finish(loss: Tensor, reduction: str, out_shape: tuple[int, ...]) -> Tensor:
    if reduction == "none" and loss.shape != out_shape:
        return loss.reshape(out_shape)
    return loss


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross entropy between softmax(input) over dim 1 and the target: the seeds'
    Softmax-with-Loss, one fused node with gradient ``(softmax - onehot) / N``.

    Args:
        input: logits of shape ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)``.
        target: class indices (integers) of shape ``(N,)``, ``()`` or ``(N, d1, ...)``, or
            class probabilities (floats) of the input's shape.
        weight: per-class weights ``(C,)``; the weighted mean divides by the sum of the
            targets' weights. Constant (no gradient).
        ignore_index: class index whose samples contribute nothing (index targets only).
        reduction: ``'mean'``, ``'sum'`` or ``'none'`` (one loss per sample).
        label_smoothing: e in [0, 1]: the target becomes ``(1 - e) target + e / C``.

    Example::

        >>> logits = cr.tensor([[2.0, 0.5, -1.0]], requires_grad=True)
        >>> F.cross_entropy(logits, cr.tensor([0]))
        tensor(0.2413, grad_fn=<SoftmaxCrossEntropyBackward>)
    """
    fn = "cross_entropy"
    _check_reduction(fn, reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn}: label_smoothing must be between 0.0 and 1.0, got "
                         f"{label_smoothing}")
    input = _float_tensor(fn, input)
    kind = np.asarray(_math.data(target)).dtype.kind
    if kind not in "iuf":
        raise TypeError(f"{fn}: target must hold class indices (int64) or class "
                        f"probabilities (float), got dtype {np.asarray(_math.data(target)).dtype}")
    index_target = kind in "iu"
    if index_target:
        target = np.asarray(_math.data(target))
    else:
        input = _promote(input, target)
        target = _like(fn, target, input)
    Z, t, out_shape = _classes_last(fn, input, target, index_target)
    C = Z.shape[1]
    w = _const(fn, "weight", weight, input.dtype, (C,))
    if index_target:
        ignore = _check_targets(fn, t, C, int(ignore_index))
        loss = SoftmaxCrossEntropy.apply(Z, t, weight=w, ignore_index=ignore,
                                         reduction=reduction,
                                         label_smoothing=float(label_smoothing))
    else:
        loss = SoftmaxCrossEntropyProbs.apply(Z, t, weight=w, reduction=reduction,
                                              label_smoothing=float(label_smoothing))
    return _finish(loss, reduction, out_shape)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None,
             ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """Negative log likelihood of class indices given log-probabilities ``input``.

    ``input`` is ``(N, C)``, ``(C,)`` or ``(N, C, d1, ...)`` (e.g. from ``log_softmax``);
    ``target`` holds class indices of shape ``(N,)``, ``()`` or ``(N, d1, ...)``. The
    weighted mean divides by the sum of the targets' weights, as PyTorch.
    """
    fn = "nll_loss"
    _check_reduction(fn, reduction)
    input = _float_tensor(fn, input)
    t = np.asarray(_math.data(target))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{fn}: target must hold class indices (int64), got dtype {t.dtype}")
    X, t, out_shape = _classes_last(fn, input, t, True)
    C = X.shape[1]
    ignore = _check_targets(fn, t, C, int(ignore_index))
    w = _const(fn, "weight", weight, input.dtype, (C,))
    loss = NLLLoss.apply(X, t, weight=w, ignore_index=ignore, reduction=reduction)
    return _finish(loss, reduction, out_shape)


def mse_loss(input: Tensor, target: Tensor, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)``: the seeds' squared-error loss.

    The gradient is ``2 (input - target) / N`` for the input and its negative for the
    target. Shapes that differ but broadcast are broadcast with a warning, as in PyTorch.
    """
    if (isinstance(input, Tensor) and isinstance(target, Tensor) and reduction == "mean"
            and input.data.dtype.kind == "f" and target.data.dtype == input.data.dtype
            and target.data.shape == input.data.shape):  # the common case, checked at once
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
