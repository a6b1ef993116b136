"""Distances between vectors: ``cosine_similarity`` and ``pairwise_distance``.

Both are composed from differentiable ops. A norm of a zero vector gets the gradient 0
(as PyTorch's ``norm``), not the NaN of ``sqrt`` at 0: the square root is taken of a
value kept away from 0 and the zero norms are put back with ``where``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

__all__ = ["cosine_similarity", "pairwise_distance"]


def _float(fn: str, name: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        x = Tensor._make(np.asarray(x))
    if x._data.dtype.kind != "f":
        x = x.float()
    return x


def _broadcast_shape(fn: str, x1: Tensor, x2: Tensor) -> tuple[int, ...]:
    """The shape ``x1`` and ``x2`` broadcast to, or a ShapeError naming ``fn``."""
    try:
        return np.broadcast_shapes(tuple(x1.shape), tuple(x2.shape))
    except ValueError:
        raise ShapeError(f"{fn}: x1 of shape {tuple(x1.shape)} and x2 of shape "
                         f"{tuple(x2.shape)} cannot be broadcast together") from None


def _safe_sqrt(s: Tensor) -> Tensor:
    """sqrt(s) for s >= 0 with gradient 0 (not inf/NaN) where s == 0."""
    pos = s._data > 0
    if pos.all():
        return s.sqrt()
    return _math.where(pos, _math.where(pos, s, 1.0).sqrt(), 0.0)


def vector_norm(x: Tensor, p: float, dim: int, keepdim: bool = False) -> Tensor:
    """The p-norm of ``x`` along ``dim`` (p = 2, 1, inf, -inf, 0 or any other real)."""
    if p == 2:
        return _safe_sqrt((x * x).sum(dim, keepdim=keepdim))
    a = x.abs()
    if p == 1:
        return a.sum(dim, keepdim=keepdim)
    if p == math.inf:
        return a.amax(dim, keepdim=keepdim)
    if p == -math.inf:
        return a.amin(dim, keepdim=keepdim)
    if p == 0:  # the number of non-zero entries: piecewise constant, no gradient
        count = (x._data != 0).sum(axis=dim, keepdims=keepdim).astype(x._data.dtype)
        return Tensor._make(count)
    s = (a ** p).sum(dim, keepdim=keepdim)
    pos = s._data > 0
    if pos.all():
        return s ** (1.0 / p)
    return _math.where(pos, _math.where(pos, s, 1.0) ** (1.0 / p), 0.0)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """``sum(x1 * x2, dim) / (max(||x1||, eps) * max(||x2||, eps))`` after broadcasting.

    ``dim`` refers to the broadcast shape and is removed from the result. As PyTorch,
    each norm is clamped to ``eps`` outside the graph: the gradient passes as if it were
    unclamped, with the clamped value.
    """
    fn = "cosine_similarity"
    x1, x2 = _float(fn, "x1", x1), _float(fn, "x2", x2)
    shape = _broadcast_shape(fn, x1, x2)
    nd = len(shape)
    if not -max(nd, 1) <= dim < max(nd, 1):
        raise IndexError(f"{fn}: Dimension out of range (expected to be in range of "
                         f"[{-max(nd, 1)}, {max(nd, 1) - 1}], but got {dim})")
    if tuple(x1.shape) != shape:
        x1 = x1.broadcast_to(shape)
    if tuple(x2.shape) != shape:
        x2 = x2.broadcast_to(shape)
    if nd == 0:
        x1, x2, dim = x1.reshape(1), x2.reshape(1), 0

    def clamped_norm(x: Tensor) -> Tensor:
        n = vector_norm(x, 2, dim, keepdim=True)
        v = n._data
        lift = np.maximum(v, eps) - v
        return n + Tensor._make(lift.astype(v.dtype, copy=False)) if lift.any() else n

    return ((x1 / clamped_norm(x1)) * (x2 / clamped_norm(x2))).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """``||x1 - x2 + eps||_p`` over the last dimension (of the broadcast shape)."""
    fn = "pairwise_distance"
    x1, x2 = _float(fn, "x1", x1), _float(fn, "x2", x2)
    shape = _broadcast_shape(fn, x1, x2)
    d = x1 - x2 + eps
    if len(shape) == 0:  # a 0-d difference is its own norm's vector: the result is 0-d
        return vector_norm(d.reshape(1), p, 0, keepdim=False)
    return vector_norm(d, p, len(shape) - 1, keepdim=keepdim)
