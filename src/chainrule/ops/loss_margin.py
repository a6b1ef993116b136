"""Margin and embedding losses: ``margin_ranking_loss``, ``hinge_embedding_loss``,
``soft_margin_loss``, ``multi_margin_loss``, ``cosine_embedding_loss``,
``triplet_margin_loss`` and ``triplet_margin_with_distance_loss`` under PyTorch's
signatures.

Each is composed from differentiable ops (clamp, where, log1p, exp, the distances of
:mod:`chainrule.ops.distance`), in the order PyTorch computes them, so values and
gradients (first and second order) agree with PyTorch's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.autograd import is_grad_enabled
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.ops.distance import pairwise_distance
from chainrule.ops.elementwise import minimum
from chainrule.ops.loss_regression import as_float, legacy_reduction, reduce_loss, target_like
from chainrule.tensor import Tensor

__all__: list[str] = []  # nn.functional's names only, as PyTorch


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average: bool | None = None, reduce: bool | None = None,
                        reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``; target 1 means input1 ranks higher."""
    fn = "margin_ranking_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    input1 = as_float(fn, "input1", input1)
    input2 = as_float(fn, "input2", input2)
    target = target_like(target, input1)
    if not input1.ndim == input2.ndim == target.ndim:
        raise RuntimeError(f"{fn} : All input tensors should have same dimension but got "
                           f"sizes: input1: {tuple(input1.shape)}, input2: "
                           f"{tuple(input2.shape)}, target: {tuple(target.shape)} ")
    loss = (-target * (input1 - input2) + margin).clamp(min=0)
    return reduce_loss(loss, reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0,
                         size_average: bool | None = None, reduce: bool | None = None,
                         reduction: str = "mean") -> Tensor:
    """``input`` where target is 1, ``max(0, margin - input)`` where target is -1.

    (Entries whose target is neither get the sum of both terms, as PyTorch.)
    """
    fn = "hinge_embedding_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    input = as_float(fn, "input", input)
    t = np.asarray(_math.data(target))
    shape = np.broadcast_shapes(tuple(input.shape), t.shape)
    if tuple(input.shape) != shape:
        input = input.broadcast_to(shape)
    t = np.broadcast_to(t, shape)
    loss = (_math.where(t != 1, (margin - input).clamp(min=0), 0.0)
            + _math.where(t != -1, input, 0.0))
    return reduce_loss(loss, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average: bool | None = None,
                     reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-target * input))`` (targets 1 or -1)."""
    fn = "soft_margin_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    input = as_float(fn, "input", input)
    target = target_like(target, input)
    if target._data.dtype != input._data.dtype:  # PyTorch: the input's dtype
        target = target.to(input.dtype)
    shape = np.broadcast_shapes(tuple(input.shape), tuple(target.shape))
    if shape != tuple(input.shape):  # the result is written into the input's shape
        raise RuntimeError(f"{fn}: output with shape {list(input.shape)} doesn't match the "
                           f"broadcast shape {list(shape)}")
    if target.requires_grad and is_grad_enabled():
        raise RuntimeError(f"The function '{fn}' is not differentiable with respect to "
                           "argument 'target'. This input cannot have requires_grad True.")
    return reduce_loss((-input * target).exp().log1p(), reduction)


def multi_margin_loss(input: Tensor, target: Tensor, p: int = 1, margin: float = 1.0,
                      weight: Tensor | None = None, size_average: bool | None = None,
                      reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """Multi-class hinge loss of scores ``input`` ``(N, C)`` or ``(C,)`` and class indices.

    ``l_n = sum_{i != y_n} w[y_n] * max(0, margin - x[n, y_n] + x[n, i])^p / C`` with
    ``p`` 1 or 2.
    """
    fn = "multi_margin_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    w = None
    if weight is not None:
        w = np.asarray(_math.data(weight))
        if w.ndim != 1:
            raise ValueError("weight must be one-dimensional")
    input = as_float(fn, "input", input)
    t = np.asarray(_math.data(target))
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"{fn}: expected target of class indices (int64), got dtype "
                           f"{t.dtype}")
    shape = tuple(input.shape)
    if (input.ndim > 2 or input.ndim == 0 or shape[-1] == 0
            or (input.ndim == 1 and shape[0] == 0)):
        raise ShapeError(f"{fn}: Expected non-empty vector or matrix with optional 0-dim "
                         f"batch size, but got: {list(shape)}")
    vector = input.ndim == 1
    X = input.reshape(1, -1) if vector else input
    N, C = X.shape
    tt = t.reshape(-1)
    if t.ndim > 1 or tt.shape[0] != N:
        raise ShapeError(f"{fn}: target tensor should be 1-D with size equal to the number "
                         f"of input samples (batch size). Expected target size [{N}], but "
                         f"got {list(t.shape)}. Input has shape {list(shape)}.")
    if tt.size and (tt.min() < 0 or tt.max() >= C):
        raise RuntimeError(f"{fn}: target out of range: got "
                           f"{int(tt[(tt < 0) | (tt >= C)][0])} for {C} classes")
    if w is not None and w.shape[0] != C:
        raise ShapeError(f"{fn}: weight of shape {w.shape} does not match {C} classes")
    rows = np.arange(N)
    xy = X[rows, tt].reshape(N, 1)  # each sample's score of its own class
    z = (margin - xy + X).clamp(min=0)
    h = z if p == 1 else z * z
    others = np.ones((N, C), bool)
    others[rows, tt] = False  # the target class itself is not summed
    h = _math.where(others, h, 0.0)
    if w is not None:
        h = h * w.astype(input._data.dtype)[tt].reshape(N, 1)
    loss = h.sum(1) / C
    if vector:
        loss = loss.reshape(t.shape)  # () for a 0-d target, (1,) for a 1-element one
    return reduce_loss(loss, reduction)


_EPSILON = 1e-12  # PyTorch's guard on the squared magnitudes in cosine_embedding_loss


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average: bool | None = None, reduce: bool | None = None,
                          reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` where target is 1, ``max(0, cos(x1, x2) - margin)`` where -1.

    Inputs ``(N, D)`` with target ``(N,)``, or ``(D,)`` with a 0-d target.
    """
    fn = "cosine_embedding_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    input1 = as_float(fn, "input1", input1)
    input2 = as_float(fn, "input2", input2)
    t = np.asarray(_math.data(target))
    if t.ndim not in (0, 1):
        raise RuntimeError(f"{fn}: 0D or 1D target tensor expected, multi-target not "
                           "supported")
    want = 2 if t.ndim == 1 else 1
    if input1.ndim != want or input2.ndim != want:
        raise RuntimeError(f"{fn}: {t.ndim}D target tensor expects {want}D input tensors, "
                           f"but found inputs with sizes {tuple(input1.shape)} and "
                           f"{tuple(input2.shape)}.")
    d = t.ndim
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + _EPSILON
    mag2 = (input2 * input2).sum(d) + _EPSILON
    cos = prod / (mag1 * mag2).sqrt()
    t = np.broadcast_to(t, tuple(cos.shape))
    loss = (_math.where(t == 1, 1 - cos, 0.0)
            + _math.where(t == -1, (cos - margin).clamp(min=0), 0.0))
    return reduce_loss(loss, reduction)


def _triplet_checks(fn: str, margin: float, anchor: Tensor, positive: Tensor,
                    negative: Tensor) -> None:
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, p, n = anchor.ndim, positive.ndim, negative.ndim
    if not a == p == n:
        raise RuntimeError(f"{fn}: The anchor, positive, and negative tensors are expected "
                           f"to have the same number of dimensions, but got: anchor {a}D, "
                           f"positive {p}D, and negative {n}D inputs")


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor,
                        margin: float = 1.0, p: float = 2, eps: float = 1e-6,
                        swap: bool = False, size_average: bool | None = None,
                        reduce: bool | None = None, reduction: str = "mean") -> Tensor:
    """``max(0, margin + d(a, p) - d(a, n))`` with ``d`` the ``pairwise_distance`` (p, eps).

    ``swap`` uses ``min(d(a, n), d(p, n))`` as the negative distance.
    """
    fn = "triplet_margin_loss"
    reduction = legacy_reduction(fn, size_average, reduce, reduction)
    anchor = as_float(fn, "anchor", anchor)
    positive = as_float(fn, "positive", positive)
    negative = as_float(fn, "negative", negative)
    _triplet_checks(fn, margin, anchor, positive, negative)
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = minimum(d_neg, pairwise_distance(positive, negative, p, eps))
    return reduce_loss((margin + d_pos - d_neg).clamp(min=0), reduction)


def triplet_margin_with_distance_loss(
        anchor: Tensor, positive: Tensor, negative: Tensor, *,
        distance_function: Callable[[Tensor, Tensor], Tensor] | None = None,
        margin: float = 1.0, swap: bool = False, reduction: str = "mean") -> Tensor:
    """``triplet_margin_loss`` with any distance (``pairwise_distance`` by default)."""
    fn = "triplet_margin_with_distance_loss"
    reduction = legacy_reduction(fn, None, None, reduction)
    _triplet_checks(fn, margin, anchor, positive, negative)
    dist: Callable[[Any, Any], Tensor] = distance_function or pairwise_distance
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = minimum(d_neg, dist(positive, negative))
    return reduce_loss((margin + d_pos - d_neg).clamp(min=0), reduction)
