"""Cumulative nodes: cumsum and cumprod along a dimension.

``y_j = sum_{i<=j} x_i``: each input reaches every later output, so the gradient is the
reversed cumulative sum of dY. For the product, ``dy_j/dx_i = y_j / x_i`` (j >= i), so
``dx = revcumsum(dY * y) / x`` where no input is zero; slices holding a zero take the
exact (quadratic) sum of products instead.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops.shape import _dim, flip
from chainrule.tensor import Tensor

__all__ = ["cumsum", "cumprod"]


def _revcumsum(g: Any, dim: int) -> Any:
    """sum_{j >= i} g_j along ``dim``, on arrays or (recorded) Tensors."""
    if isinstance(g, Tensor):
        return flip(cumsum(flip(g, dim), dim), dim)
    return np.flip(np.cumsum(np.flip(g, dim), dim), dim)


class Cumsum(Op):
    """y_j = sum_{i <= j} x_i along dim."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, dim: int) -> np.ndarray:
        self.dim = dim
        return np.cumsum(x, dim)

    def backward(self, dY: Any) -> Any:
        """dx = revcumsum(dY, dim)  (*) = (*)"""
        return _revcumsum(dY, self.dim)


class Cumprod(Op):
    """y_j = prod_{i <= j} x_i along dim."""

    save_inputs = (0,)
    save_output = True
    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, dim: int) -> np.ndarray:
        self.dim = dim
        return np.cumprod(x, dim)

    def backward(self, dY: Any) -> Any:
        """dx = revcumsum(dY * Y, dim) / x  (*) = (*)(*)(*)"""
        x = self.input(0)
        xd = x._data if isinstance(x, Tensor) else x
        if not (xd == 0).any():
            return _revcumsum(dY * self.output(), self.dim) / x
        if isinstance(dY, Tensor):
            raise NotImplementedError("cumprod: gradients of gradients through an input "
                                      "holding zeros are not supported")
        return _cumprod_grad_exact(xd, dY, self.dim)


def _cumprod_grad_exact(x: np.ndarray, g: np.ndarray, dim: int) -> np.ndarray:
    """dx_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k, without dividing (zeros allowed)."""
    xm, gm = np.moveaxis(x, dim, -1), np.moveaxis(g, dim, -1)
    n = xm.shape[-1]
    out = np.zeros_like(xm)
    for i in range(n):
        others = xm.copy()
        others[..., i] = 1
        out[..., i] = (gm[..., i:] * np.cumprod(others, -1)[..., i:]).sum(-1)
    return np.moveaxis(out, -1, dim)


def _prepare(op: str, input: Any, dim: Any, dtype: Any) -> tuple[Tensor, int]:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if dim is None:
        raise TypeError(f"{op}: missing the required argument 'dim'")
    x = input
    if dtype is not None:
        x = x.to(dtype)
    elif x._data.dtype.kind in "biu":  # integers accumulate in int64, as PyTorch
        x = Tensor._make(x._data.astype(np.int64))
    d = _dim(op, dim, x.ndim)
    if x.ndim == 0:
        x = x.reshape(1)
    return x, d


def cumsum(input: Tensor, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """Cumulative sums along ``dim`` (integers and bools accumulate in int64)."""
    x, d = _prepare("cumsum", input, dim, dtype)
    out = Cumsum.apply(x, dim=d)
    return out.reshape(()) if input.ndim == 0 else out


def cumprod(input: Tensor, dim: int | None = None, *, dtype: Any = None) -> Tensor:
    """Cumulative products along ``dim`` (integers and bools accumulate in int64)."""
    x, d = _prepare("cumprod", input, dim, dtype)
    out = Cumprod.apply(x, dim=d)
    return out.reshape(()) if input.ndim == 0 else out


