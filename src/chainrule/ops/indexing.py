"""Indexing nodes: gather/scatter/scatter_add, index_select/index_add/index_fill,
take_along_dim, masked_fill, tril/triu, narrow.

Each forward picks or places elements; each backward sends the gradient back along the
same index. The adjoint of a gather is a scatter-add into zeros (an element read twice
receives both gradients: the seeds' Branch node) and the adjoint of that scatter-add is
the gather again, so each is the other's backward and gradients of gradients work.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.ops.arithmetic import _to_dtype
from chainrule.ops.getitem import getitem
from chainrule.ops.shape import _dim
from chainrule.promotion import result_type
from chainrule.tensor import Tensor

__all__ = [
    "narrow", "gather", "scatter", "scatter_add", "index_select", "index_add", "index_fill",
    "take_along_dim", "masked_fill", "tril", "triu",
]


def _tensor(op: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def _index(op: str, index: Any) -> np.ndarray:
    i = index._data if isinstance(index, Tensor) else np.asarray(index)
    if i.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected an int64 index tensor, got dtype {i.dtype}")
    return i.astype(np.int64, copy=False)


def _full_index(index: np.ndarray, dim: int) -> tuple[Any, ...]:
    """The NumPy index of the elements ``index`` names along ``dim``: for every position p
    of ``index``, position p with coordinate ``dim`` replaced by ``index[p]``."""
    idx = list(np.indices(index.shape, sparse=True))
    idx[dim] = index
    return tuple(idx)


def _check_gather_index(op: str, shape: tuple[int, ...], dim: int, index: np.ndarray,
                        other: str = "input") -> None:
    if index.ndim != len(shape) and not (index.ndim <= 1 and len(shape) <= 1):
        raise ShapeError(f"{op}: index of shape {index.shape} must have as many dimensions "
                         f"as the {other} of shape {shape}")
    for d, (n, m) in enumerate(zip(index.shape, shape, strict=False)):
        if d != dim and n > m:
            raise ShapeError(f"{op}: index of shape {index.shape} is larger than the {other} "
                             f"of shape {shape} in dimension {d}")
    n = shape[dim] if shape else 1
    if index.size and (index.min() < -n or index.max() >= n):
        bad = index[(index < -n) | (index >= n)].flat[0]
        raise IndexError(f"{op}: index {int(bad)} is out of bounds for dimension {dim} with "
                         f"size {n}")


def _scatter_add_array(shape: tuple[int, ...], dim: int, index: np.ndarray,
                       g: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, g.dtype)
    np.add.at(out, _full_index(index, dim), g[tuple(slice(0, n) for n in index.shape)])
    return out


class Gather(Op):
    """y[p] = x[p with coordinate dim replaced by index[p]]  (y has index's shape)."""

    shapes = {"x": "(*x)", "Y": "(*i)"}

    def forward(self, x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
        self.dim, self.index = dim, index
        return x[_full_index(index, dim)]

    def backward(self, dY: Any) -> Any:
        """dx = scatter_add(zeros(x.shape), dim, index, dY)  (*x) = (*i)"""
        shape = self.input_shapes[0]
        if isinstance(dY, Tensor):
            return ScatterAddZeros.apply(dY, shape=shape, dim=self.dim, index=self.index)
        return _scatter_add_array(shape, self.dim, self.index, dY)


class ScatterAddZeros(Op):
    """y = zeros(shape) with g added at the elements ``index`` names (gather's adjoint)."""

    shapes = {"g": "(*i)", "Y": "(*x)"}

    def forward(self, g: np.ndarray, shape: tuple[int, ...], dim: int,
                index: np.ndarray) -> np.ndarray:
        self.dim, self.index = dim, index
        return _scatter_add_array(shape, dim, index, g)

    def backward(self, dY: Any) -> Any:
        """dg = gather(dY, dim, index)  (*i) = (*x)"""
        if isinstance(dY, Tensor):
            return Gather.apply(dY, dim=self.dim, index=self.index)
        return dY[_full_index(self.index, self.dim)]


class Scatter(Op):
    """y = x with y[p with coordinate dim replaced by index[p]] = src[p]."""

    shapes = {"x": "(*x)", "src": "(*s)", "Y": "(*x)"}

    def forward(self, x: np.ndarray, src: np.ndarray, dim: int, index: np.ndarray,
                add: bool) -> np.ndarray:
        self.dim, self.index, self.add = dim, index, add
        where = _full_index(index, dim)
        part = src[tuple(slice(0, n) for n in index.shape)]
        out = x.copy()
        if add:
            np.add.at(out, where, part)
        else:
            out[where] = part
            self.written = np.zeros(x.shape, np.bool_)
            self.written[where] = True
        return out

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = dY * (not written)  (*x) = (*x)
        dsrc = gather(dY, dim, index)  (*s) = (*x)"""
        dx = dsrc = None
        if self.needs_input_grad[0]:
            dx = dY if self.add else _math.drop(dY, self.written)
        if self.needs_input_grad[1]:
            if isinstance(dY, Tensor):
                dsrc = Gather.apply(dY, dim=self.dim, index=self.index)
            else:
                dsrc = dY[_full_index(self.index, self.dim)]
            ss = self.input_shapes[1]
            if tuple(dsrc.shape) != tuple(ss):  # src larger than index: zero elsewhere
                if isinstance(dsrc, Tensor):
                    dsrc = _pad_zeros(dsrc, ss)
                else:
                    full = np.zeros(ss, dsrc.dtype)
                    full[tuple(slice(0, n) for n in dsrc.shape)] = dsrc
                    dsrc = full
        return dx, dsrc


class ScatterAdd(Scatter):
    """y = x + scatter of src at the elements index names (repeated indices add)."""

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = dY  (*x) = (*x)
        dsrc = gather(dY, dim, index)  (*s) = (*x)"""
        return super().backward(dY)


def _pad_zeros(t: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``t`` placed at the start of zeros of ``shape`` (differentiably: a slice's adjoint)."""
    from chainrule.ops.getitem import index_add_zeros

    return index_add_zeros(shape, tuple(slice(0, n) for n in t.shape), t)


class IndexSelect(Op):
    """y = x picked at the 1-D ``index`` along ``dim`` (np.take)."""

    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, dim: int, index: np.ndarray) -> np.ndarray:
        self.dim, self.index = dim, index
        return np.take(x, index, axis=dim)

    def backward(self, dY: Any) -> Any:
        """dx = index_add(zeros(x.shape), dim, index, dY)  (*x) = (*y)"""
        shape = self.input_shapes[0]
        if isinstance(dY, Tensor):
            return IndexAddDim.apply(dY, shape=shape, dim=self.dim, index=self.index)
        return _index_add_array(shape, self.dim, self.index, dY)


def _index_add_array(shape: tuple[int, ...], dim: int, index: np.ndarray,
                     g: np.ndarray) -> np.ndarray:
    out = np.zeros(shape, g.dtype)
    np.add.at(out, (slice(None),) * dim + (index,), g)
    return out


class IndexAddDim(Op):
    """y = zeros(shape) with the slices of g added at ``index`` along ``dim``."""

    shapes = {"g": "(*y)", "Y": "(*x)"}

    def forward(self, g: np.ndarray, shape: tuple[int, ...], dim: int,
                index: np.ndarray) -> np.ndarray:
        self.dim, self.index = dim, index
        return _index_add_array(shape, dim, index, g)

    def backward(self, dY: Any) -> Any:
        """dg = index_select(dY, dim, index)  (*y) = (*x)"""
        if isinstance(dY, Tensor):
            return IndexSelect.apply(dY, dim=self.dim, index=self.index)
        return np.take(dY, self.index, axis=self.dim)


class MaskedFill(Op):
    """y = value where mask, else x (mask broadcast to x's shape)."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, mask: np.ndarray, value: Any) -> np.ndarray:
        self.mask = np.broadcast_to(mask, x.shape)
        return np.where(self.mask, np.asarray(value, x.dtype), x)

    def backward(self, dY: Any) -> Any:
        """dx = dY * ~mask  (*) = (*)(*)"""
        return _math.drop(dY, np.ascontiguousarray(self.mask))


class Tri(Op):
    """y = the lower (tril) or upper (triu) triangle of the last two dimensions of x."""

    shapes = {"x": "(*,m,n)", "Y": "(*,m,n)"}

    def forward(self, x: np.ndarray, diagonal: int, upper: bool) -> np.ndarray:
        self.diagonal, self.upper = diagonal, upper
        return np.triu(x, diagonal) if upper else np.tril(x, diagonal)

    def name(self) -> str:
        return "TriuBackward" if self.upper else "TrilBackward"

    def backward(self, dY: Any) -> Any:
        """dx = tri(dY)  (*,m,n) = (*,m,n)"""
        if isinstance(dY, Tensor):
            return Tri.apply(dY, diagonal=self.diagonal, upper=self.upper)
        return np.triu(dY, self.diagonal) if self.upper else np.tril(dY, self.diagonal)


# -- functional wrappers ------------------------------------------------------------


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """The slice ``start : start + length`` of ``input`` along ``dim`` (a view in PyTorch)."""
    x = _tensor("narrow", input)
    d = _dim("narrow", dim, x.ndim)
    n = x.shape[d]
    start, length = operator.index(start), operator.index(length)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({n}) of dimension {dim} (shape {tuple(x.shape)})")
    index = (slice(None),) * d + (slice(start, start + length),)
    return getitem(x, index)


def _wrap(index: np.ndarray, n: int) -> np.ndarray:
    return np.where(index < 0, index + n, index) if index.size and index.min() < 0 else index


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[p] = input[p with coordinate dim replaced by index[p]]``; ``out`` has the
    shape of ``index`` (which may be smaller than ``input`` in the other dimensions)."""
    x = _tensor("gather", input)
    d = _dim("gather", dim, x.ndim)
    i = _index("gather", index)
    _check_gather_index("gather", tuple(x.shape), d, i)
    if x.ndim == 0:
        return Gather.apply(x.reshape(1), dim=0, index=i.reshape(1)).reshape(i.shape)
    return Gather.apply(x, dim=d, index=_wrap(i, x.shape[d]))


def _scatter(op: str, input: Tensor, dim: int, index: Any, src: Any, add: bool) -> Tensor:
    x = _tensor(op, input)
    d = _dim(op, dim, x.ndim)
    i = _index(op, index)
    _check_gather_index(op, tuple(x.shape), d, i, "self")
    if not isinstance(src, Tensor):  # a number: ``value=``
        src = Tensor._make(np.full(i.shape, src, x._data.dtype))
    elif src._data.dtype != x._data.dtype:
        raise RuntimeError(f"{op}: expected self and src to have the same dtype, got "
                           f"{x.dtype} and {src.dtype}")
    for k, (n, m) in enumerate(zip(i.shape, src.shape, strict=False)):
        if n > m:
            raise ShapeError(f"{op}: index of shape {i.shape} is larger than src of shape "
                             f"{tuple(src.shape)} in dimension {k}")
    cls = ScatterAdd if add else Scatter
    return cls.apply(x, src, dim=d, index=_wrap(i, x.shape[d] if x.ndim else 1), add=add)


def scatter(input: Tensor, dim: int, index: Tensor, src: Any = None, *, value: Any = None,
            reduce: str | None = None) -> Tensor:
    """A copy of ``input`` with ``src[p]`` (or ``value``) written at the position ``p``
    with coordinate ``dim`` replaced by ``index[p]``. ``reduce='add'`` adds instead."""
    if reduce is not None and reduce not in ("add", "sum"):
        raise NotImplementedError(f"scatter: reduce={reduce!r} is not supported (use 'add')")
    if src is None:
        if value is None:
            raise TypeError("scatter: expected src (a tensor) or value (a number)")
        src = value
    return _scatter("scatter", input, dim, index, src, reduce is not None)


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src[p]`` added at the position ``p`` with coordinate
    ``dim`` replaced by ``index[p]`` (repeated positions add up)."""
    return _scatter("scatter_add", input, dim, index, src, True)


def _index_1d(op: str, index: Any, n: int) -> np.ndarray:
    i = _index(op, index)
    if i.ndim > 1:
        raise ShapeError(f"{op}: index must be 1-D (or 0-d), got shape {i.shape}")
    i = i.reshape(-1)
    if i.size and (i.min() < -n or i.max() >= n):
        bad = i[(i < -n) | (i >= n)][0]
        raise IndexError(f"{op}: index {int(bad)} is out of range for dimension of size {n}")
    return _wrap(i, n)


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The slices of ``input`` at the 1-D ``index`` along ``dim`` (repeats allowed)."""
    x = _tensor("index_select", input)
    if x.ndim == 0:
        return IndexSelect.apply(x.reshape(1), dim=0,
                                 index=_index_1d("index_select", index, 1)).reshape(())
    d = _dim("index_select", dim, x.ndim)
    return IndexSelect.apply(x, dim=d, index=_index_1d("index_select", index, x.shape[d]))


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *,
              alpha: Any = 1) -> Tensor:
    """``input`` with ``alpha * source``'s slices added at ``index`` along ``dim``."""
    x = _tensor("index_add", input)
    d = _dim("index_add", dim, x.ndim)
    i = _index_1d("index_add", index, x.shape[d])
    src = _tensor("index_add", source)
    expected = tuple(x.shape[:d]) + (i.size,) + tuple(x.shape[d + 1:])
    if tuple(src.shape) != expected:
        raise ShapeError(f"index_add: source of shape {tuple(src.shape)} does not match: "
                         f"expected {expected} for index of length {i.size}")
    added = IndexAddDim.apply(src, shape=tuple(x.shape), dim=d, index=i)
    return x + (added * alpha if alpha != 1 else added)


def index_fill(input: Tensor, dim: int, index: Tensor, value: Any) -> Tensor:
    """``input`` with the slices at ``index`` along ``dim`` set to ``value``."""
    x = _tensor("index_fill", input)
    d = _dim("index_fill", dim, x.ndim)
    i = _index_1d("index_fill", index, x.shape[d] if x.ndim else 1)
    mask = np.zeros(x.shape[d] if x.ndim else 1, np.bool_)
    mask[i] = True
    shape = [1] * x.ndim
    if x.ndim:
        shape[d] = x.shape[d]
    return masked_fill(x, mask.reshape(shape), value)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` with broadcasting: ``input`` and ``indices`` broadcast in every dimension
    but ``dim``; with ``dim=None`` both are flattened first."""
    x = _tensor("take_along_dim", input)
    i = _index("take_along_dim", indices)
    if dim is None:
        return gather(x.reshape(-1), 0, i.reshape(-1))
    if i.ndim != x.ndim:
        raise ShapeError(f"take_along_dim: input of shape {tuple(x.shape)} and indices of "
                         f"shape {i.shape} should have the same number of dimensions")
    d = _dim("take_along_dim", dim, x.ndim)
    xs, is_ = list(x.shape), list(i.shape)
    xs[d] = is_[d] = 1
    try:
        common = list(np.broadcast_shapes(tuple(xs), tuple(is_)))
    except ValueError:
        raise ShapeError(f"take_along_dim: input of shape {tuple(x.shape)} and indices of "
                         f"shape {i.shape} do not broadcast outside dimension {d}") from None
    xt, it = list(common), list(common)
    xt[d], it[d] = x.shape[d], i.shape[d]
    if tuple(x.shape) != tuple(xt):
        x = x.expand(tuple(xt))
    return gather(x, d, np.broadcast_to(i, tuple(it)))


def masked_fill(input: Tensor, mask: Any, value: Any) -> Tensor:
    """``input`` with ``value`` where the boolean ``mask`` is True (the two broadcast).

    ``value`` is a number or a 0-d tensor (which then receives the gradient of the
    filled elements).
    """
    x = _tensor("masked_fill", input)
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_fill: expected a boolean mask, got dtype {m.dtype}")
    try:
        shape = np.broadcast_shapes(m.shape, tuple(x.shape))
    except ValueError:
        raise ShapeError(f"masked_fill: the mask of shape {m.shape} does not broadcast with "
                         f"the input's shape {tuple(x.shape)}") from None
    if shape != tuple(x.shape):  # a larger mask broadcasts the input, as PyTorch
        from chainrule.ops.shape import broadcast_to

        x = broadcast_to(x, shape)
    if isinstance(value, Tensor):
        if value.ndim != 0:
            raise ShapeError(f"masked_fill: only supports a 0-dimensional value tensor, got "
                             f"shape {tuple(value.shape)}")
        if value.requires_grad:
            from chainrule.ops.elementwise import where

            return where(m, _to_dtype(value, x._data.dtype), x)
        value = value.item()
    if x._data.dtype.kind in "biu" and isinstance(value, float) and not float(value).is_integer():
        raise RuntimeError(f"masked_fill: value {value} cannot be converted to {x.dtype} "
                           "without overflow or loss")
    if x._data.dtype.kind == "b" and not isinstance(value, bool | np.bool_ | int):
        x = _to_dtype(x, result_type(x, value))
    return MaskedFill.apply(x, mask=m, value=value)


def _tri(op: str, input: Tensor, diagonal: int, upper: bool) -> Tensor:
    x = _tensor(op, input)
    if x.ndim < 2:
        raise ShapeError(f"{op}: input tensor must have at least 2 dimensions, got shape "
                         f"{tuple(x.shape)}")
    return Tri.apply(x, diagonal=operator.index(diagonal), upper=upper)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dimensions (elements with j - i <= diagonal)."""
    return _tri("tril", input, diagonal, False)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dimensions (elements with j - i >= diagonal)."""
    return _tri("triu", input, diagonal, True)
