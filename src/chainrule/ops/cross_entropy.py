"""Classification losses as fused nodes: the seeds' Softmax-with-Loss, and NLL.

For ``cross_entropy`` the softmax and the log cancel into one backward,
``dZ = (softmax(Z) - onehot(t)) * dL / N``; with class probabilities as targets it is
``(softmax(Z) - P) * dL / N``. Class weights, ``ignore_index`` and ``label_smoothing``
follow PyTorch. Reductions and argument checks are shared with :mod:`chainrule.ops.loss`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.ops.activation import log_softmax, softmax
from chainrule.ops.elementwise import local_scale
from chainrule.ops.loss import (
    _check_reduction,
    _const,
    _float_tensor,
    _like,
    _Loss,
    _reduce,
    _shape,
)
from chainrule.tensor import Tensor

__all__: list[str] = []  # nn.functional's, as the other losses


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
