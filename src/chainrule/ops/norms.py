"""Norms: ``norm``, ``linalg.vector_norm``, ``linalg.matrix_norm``, ``linalg.norm``.

The Euclidean norm, the one training code uses (gradient clipping, weight norms), is one
node: ``y = sqrt(sum x^2)`` with gradient ``x / y`` (0 where y = 0, as PyTorch). Other
orders are built from differentiable ops (``abs``, ``pow``, ``sum``, ``amax``), so their
gradients come from those nodes' rules.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.ops.elementwise import _floating
from chainrule.ops.shape import _dim
from chainrule.tensor import Tensor

__all__ = ["norm", "vector_norm", "matrix_norm", "linalg_norm"]


class EuclideanNorm(Op):
    """y = sqrt(sum(x^2)) over the reduced dimensions."""

    save_inputs = (0,)
    save_output = True
    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, axes: Any, keepdim: bool) -> np.ndarray:
        self.axes, self.keepdim = axes, keepdim
        return np.sqrt(np.add.reduce(x * x, axis=axes, keepdims=keepdim))

    def backward(self, dY: Any) -> Any:
        """dx = dY * x / Y  (*x) = (*y)(*x)(*y)"""
        # (0 where Y = 0: the subgradient PyTorch picks)
        shape, axes = self.input_shapes[0], self.axes
        y, g = self.output(), dY
        if not self.keepdim:
            kept = tuple(range(len(shape))) if axes is None else axes
            y = y.reshape(tuple(1 if i in kept else n for i, n in enumerate(shape)))
            g = g.reshape(y.shape)
        zero = _math.data(y) == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return _math.drop(g / _math.where(zero, 1, y), zero) * self.input(0)


def _dims(op: str, dim: Any, ndim: int) -> Any:
    if dim is None:
        return None
    if isinstance(dim, int | np.integer):
        return (_dim(op, dim, ndim),)
    return tuple(sorted(_dim(op, d, ndim) for d in dim))


def vector_norm(x: Tensor, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """``(sum |x|^ord)^(1/ord)`` over ``dim`` (all elements if None); ``ord`` may be
    ``inf`` (max |x|), ``-inf`` (min |x|) or 0 (the number of nonzeros)."""
    x = _floating("vector_norm", x)
    if dtype is not None:
        x = x.to(dtype)
    axes = _dims("vector_norm", dim, x.ndim)
    if ord == 2:
        return EuclideanNorm.apply(x, axes=axes, keepdim=keepdim)
    a = x.abs()
    if ord == math.inf:
        return a.amax(dim=axes if axes is not None else tuple(range(x.ndim)), keepdim=keepdim)
    if ord == -math.inf:
        return a.amin(dim=axes if axes is not None else tuple(range(x.ndim)), keepdim=keepdim)
    if ord == 0:
        n = np.add.reduce(x._data != 0, axis=axes, keepdims=keepdim)
        return Tensor._make(np.asarray(n, dtype=x._data.dtype))
    if ord == 1:
        return a.sum(dim=axes, keepdim=keepdim)
    return (a ** ord).sum(dim=axes, keepdim=keepdim) ** (1.0 / ord)


def matrix_norm(A: Tensor, ord: Any = "fro", dim: tuple[int, int] = (-2, -1),
                keepdim: bool = False, *, dtype: Any = None) -> Tensor:
    """Matrix norms over the two dimensions ``dim``: ``'fro'``, or ``1``/``-1`` (max/min
    column sum of |A|), ``inf``/``-inf`` (max/min row sum of |A|)."""
    A = _floating("matrix_norm", A)
    if A.ndim < 2:
        raise ShapeError(f"linalg.matrix_norm: the input tensor A must have at least 2 "
                         f"dimensions, got shape {tuple(A.shape)}")
    r, c = (_dim("matrix_norm", d, A.ndim) for d in dim)
    if ord == "fro":
        return vector_norm(A, 2, (r, c), keepdim, dtype=dtype)
    if ord in (1, -1, math.inf, -math.inf):
        if dtype is not None:
            A = A.to(dtype)
        sum_dim, pick_dim = (r, c) if ord in (1, -1) else (c, r)
        s = A.abs().sum(dim=sum_dim, keepdim=True)
        out = s.amax(dim=pick_dim, keepdim=True) if ord > 0 else s.amin(dim=pick_dim,
                                                                        keepdim=True)
        return out if keepdim else out.squeeze((r, c))
    raise NotImplementedError(f"linalg.matrix_norm: ord={ord!r} is not supported (chainrule "
                              "has 'fro', 1, -1, inf and -inf; 'nuc' and 2 need an SVD)")


def linalg_norm(A: Tensor, ord: Any = None, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None) -> Tensor:
    """``torch.linalg.norm``: a vector norm, or a matrix norm when ``ord`` is a matrix
    order or ``dim`` has two entries."""
    A = _floating("linalg.norm", A)
    if isinstance(dim, int | np.integer):
        dim = (dim,)
    if ord is None:
        return vector_norm(A, 2, dim, keepdim, dtype=dtype)
    matrix = (dim is not None and len(dim) == 2) or (dim is None and A.ndim == 2)
    if isinstance(ord, str) or matrix:
        return matrix_norm(A, ord, (-2, -1) if dim is None else tuple(dim), keepdim,
                           dtype=dtype)
    if dim is None and A.ndim != 1:
        raise RuntimeError(f"linalg.norm: input must be 1-D or 2-D when dim is None and ord "
                           f"is given, got shape {tuple(A.shape)}")
    return vector_norm(A, ord, dim, keepdim, dtype=dtype)


def norm(input: Tensor, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         dtype: Any = None) -> Tensor:
    """``torch.norm``: the 2-norm of all elements (``'fro'``) or a ``p``-norm over ``dim``."""
    if p == "fro" or p is None:
        p = 2
    if p == "nuc":
        raise NotImplementedError("norm: p='nuc' is not supported (it needs an SVD)")
    return vector_norm(input, p, dim, keepdim, dtype=dtype)
