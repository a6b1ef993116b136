"""Subscript nodes: ``x[index]`` and ``index_put`` (``x[index] = v``); split and chunk.

``x[index]`` reads elements; its backward scatters the gradient into zeros of the
input's shape, adding where an index repeats (the seeds' Branch: an element read twice
receives both gradients). ``index_put`` writes ``v`` into a copy; the gradient of the
overwritten elements is zero and ``v`` receives the gradient of the elements it wrote.
``split`` and ``chunk`` are slices.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops._errors import ShapeError
from chainrule.ops.shape import _cast_grad, _dim, _operand, _view_of
from chainrule.tensor import Tensor

__all__ = ["getitem", "index_put", "index_add_zeros", "split", "chunk"]


# -- indexing ------------------------------------------------------------------------


def _convert_index(index: Any) -> Any:
    """Tensors and lists inside an index become ndarrays (NumPy's advanced indexing)."""
    if isinstance(index, tuple):
        return tuple(_convert_index_item(i) for i in index)
    return _convert_index_item(index)


class IndexOverflowError(IndexError, ValueError):
    """An index that does not fit in int64 (PyTorch raises ValueError, NumPy IndexError)."""


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _convert_index_item(item: Any) -> Any:
    if isinstance(item, Tensor):
        return _checked_index_array(item._data)
    if isinstance(item, list):
        arr = np.asarray([i._data if isinstance(i, Tensor) else i for i in item])
        return arr.astype(np.intp) if arr.size == 0 else _checked_index_array(arr)
    if isinstance(item, int | np.integer) and not isinstance(item, bool | np.bool_):
        if not _INT64_MIN <= int(item) <= _INT64_MAX:
            raise IndexOverflowError(
                f"index {int(item)} does not fit in int64: indices must be in "
                f"[-2**63, 2**63 - 1] (and within the dimension's size)"
            )
        return int(item) if isinstance(item, np.unsignedinteger) else item
    if isinstance(item, np.ndarray):
        return _checked_index_array(item)
    return item


def _checked_index_array(arr: np.ndarray) -> np.ndarray:
    """Integer index arrays as int64: uint64 values past int64 would wrap to negatives."""
    if arr.dtype == object:
        raise IndexOverflowError(
            "an index value does not fit in int64: indices must be in [-2**63, 2**63 - 1]"
        )
    if arr.dtype.kind == "u" and arr.dtype.itemsize == 8:
        if arr.size and int(arr.max()) > _INT64_MAX:
            raise IndexOverflowError(
                f"index {int(arr.max())} (uint64) does not fit in int64: indices must be in "
                "[-2**63, 2**63 - 1]"
            )
        return arr.astype(np.int64)
    return arr


def _may_repeat(index: Any) -> bool:
    """True when the index can select one element twice (an integer array)."""
    items = index if isinstance(index, tuple) else (index,)
    return any(isinstance(i, np.ndarray) and i.dtype.kind in "iu" and i.size > 1 for i in items)


def _describe_index(index: Any) -> str:
    def one(i: Any) -> str:
        if isinstance(i, slice):
            parts = ["" if v is None else str(v) for v in (i.start, i.stop, i.step)]
            return ":".join(parts[:2]) + (f":{parts[2]}" if i.step is not None else "")
        if i is Ellipsis:
            return "..."
        if isinstance(i, np.ndarray):
            if i.size <= 8:
                return f"array({i.tolist()})"
            return f"array(shape={i.shape}, dtype={i.dtype})"
        return repr(i)

    if isinstance(index, tuple):
        return "[" + ", ".join(one(i) for i in index) + "]"
    return "[" + one(index) + "]"


def _index_error(op: str, index: Any, shape: tuple[int, ...], err: Exception) -> IndexError:
    return IndexError(
        f"{op}: index {_describe_index(index)} is invalid for a tensor of shape {shape}: {err}"
    )


class GetItem(Op):
    """y = x[index] (basic slicing, integer arrays, boolean masks)."""

    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, index: Any) -> np.ndarray:
        try:
            out = x[index]
        except IndexError as e:
            raise _index_error("getitem", index, x.shape, e) from None
        self.index = index
        return out

    def backward(self, dY: Any) -> Any:
        """dx = index_add(zeros(x.shape), index, dY)  (*x) = (*y)"""
        return _scatter_add(self.input_shapes[0], self.index, dY)


class IndexAddZeros(Op):
    """y = zeros(shape) with g added at ``index`` (repeated positions accumulate)."""

    shapes = {"g": "(*g)", "Y": "(*y)"}

    def forward(self, g: np.ndarray, shape: tuple[int, ...], index: Any) -> np.ndarray:
        self.index = index
        return _scatter(shape, index, g)

    def backward(self, dY: Any) -> Any:
        """dg = dY[index]  (*g) = (*y)"""
        return dY[self.index]


def _scatter(shape: tuple[int, ...], index: Any, g: np.ndarray) -> np.ndarray:
    """zeros(shape) with g added at index."""
    out = np.zeros(shape, g.dtype)
    if _may_repeat(index):
        np.add.at(out, index, g)  # an element indexed k times receives k gradients
    else:
        out[index] = g  # each element at most once: plain assignment is faster
    return out


def _scatter_add(shape: tuple[int, ...], index: Any, g: Any) -> Any:
    """The adjoint of ``x[index]``: ndarray fast path, or a recorded node for Tensors."""
    if isinstance(g, Tensor):
        return IndexAddZeros.apply(g, shape=shape, index=index)
    return _scatter(shape, index, g)


class IndexPut(Op):
    """y = a copy of x with y[index] = value (or += value with accumulate=True)."""

    shapes = {"x": "(*x)", "value": "(*v)", "Y": "(*x)"}

    def forward(self, x: np.ndarray, value: Any, index: Any,
                accumulate: bool = False) -> np.ndarray:
        out = x.copy()
        try:
            _put(out, index, value, accumulate)
        except IndexError as e:
            raise _index_error("index_put", index, x.shape, e) from None
        except ValueError as e:
            _put(out, index, _drop_leading_ones(value, out[index].shape, index, x.shape, e),
                 accumulate)
        self.index, self.accumulate = index, accumulate
        self.value_dtype = getattr(value, "dtype", None)
        return out

    def backward(self, dY: Any) -> tuple[Any, Any]:
        """dx = dY with zeros at index (dY if accumulate)  (*x) = (*x)
        dvalue = unbroadcast(dY[index], value.shape)  (*v) = (*x)"""
        dx = dv = None
        if self.needs_input_grad[0]:
            if self.accumulate:
                dx = dY
            elif isinstance(dY, Tensor):
                dx = IndexPut.apply(dY, 0, index=self.index)
            else:
                dx = dY.copy()
                dx[self.index] = 0
        if self.needs_input_grad[1]:
            g = dY[self.index]
            vshape = self.input_shapes[1]
            if len(vshape) > len(g.shape):  # value had extra leading 1s
                g = g.reshape((1,) * (len(vshape) - len(g.shape)) + tuple(g.shape))
            dv = _cast_grad(unbroadcast(g, vshape), self.value_dtype)
        return dx, dv


def _put(out: np.ndarray, index: Any, value: Any, accumulate: bool) -> None:
    if accumulate:
        np.add.at(out, index, value)  # repeated positions add up
    else:
        out[index] = value


def _drop_leading_ones(value: Any, target: tuple[int, ...], index: Any,
                       shape: tuple[int, ...], err: Exception) -> Any:
    """PyTorch drops leading 1s of a value (``x[1] = tensor([2.])``), NumPy not always."""
    extra = np.ndim(value) - len(target)
    if extra > 0 and all(n == 1 for n in np.shape(value)[:extra]):
        return np.reshape(value, np.shape(value)[extra:])
    raise RuntimeError(
        f"index_put: value of shape {np.shape(value)} cannot be broadcast to "
        f"x[{_describe_index(index)[1:-1]}] for a tensor of shape {shape}: {err}"
    ) from None


def getitem(input: Tensor, index: Any) -> Tensor:
    """``input[index]``: slices, ints, None, Ellipsis, integer arrays/lists/Tensors and
    boolean masks, mixed as NumPy allows. The gradient is scattered back with
    ``np.add.at`` semantics, so an element selected several times gets their sum."""
    return _view_of(input, GetItem.apply(_operand(input), index=_convert_index(index)))


def index_put(input: Tensor, index: Any, value: Any, accumulate: bool = False) -> Tensor:
    """A copy of ``input`` with ``input[index] = value`` (what ``x[index] = value`` records).

    Differentiable in ``input`` (zero gradient where overwritten) and in ``value`` (the
    gradient at the written positions, summed back to ``value``'s shape). With
    ``accumulate=True`` the value is added instead (repeated positions add up) and
    ``input``'s gradient passes through unchanged. ``index`` is any index ``x[index]``
    accepts, including PyTorch's tuple of index tensors.
    """
    if isinstance(value, list | tuple):
        value = np.asarray(value)
    return IndexPut.apply(_operand(input), value, index=_convert_index(index),
                          accumulate=bool(accumulate))


def index_add_zeros(shape: tuple[int, ...], index: Any, g: Tensor) -> Tensor:
    """``zeros(shape)`` with ``g`` added at ``index`` (the adjoint of ``x[index]``)."""
    return IndexAddZeros.apply(g, shape=tuple(shape), index=_convert_index(index))


# -- split and chunk: slices -----------------------------------------------------------


def _slice_along(input: Tensor, dim: int, start: int, stop: int) -> Tensor:
    return getitem(input, (slice(None),) * dim + (slice(start, stop),))


def split(tensor: Tensor, split_size_or_sections: int | Sequence[int],
          dim: int = 0) -> tuple[Tensor, ...]:
    """Split into pieces of ``split_size`` (the last may be smaller) or of the given sizes."""
    shape = tuple(tensor.shape)
    if not shape:
        raise ShapeError("split: cannot split a zero-dimensional tensor")
    d = _dim("split", dim, len(shape))
    n = shape[d]
    if isinstance(split_size_or_sections, int | np.integer):
        size = int(split_size_or_sections)
        if size < 0 or (size == 0 and n > 0):
            raise ShapeError(f"split: split_size must be positive, got {size}")
        sizes = [min(size, n - s) for s in range(0, n, size)] if n else [0]
    else:
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != n or any(s < 0 for s in sizes):
            raise ShapeError(
                f"split: sections {sizes} must be non-negative and sum to the size {n} of "
                f"dimension {dim} of shape {shape}"
            )
    pieces, start = [], 0
    for s in sizes:
        pieces.append(_slice_along(tensor, d, start, start + s))
        start += s
    return tuple(pieces)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` pieces of size ``ceil(n / chunks)`` (so possibly fewer pieces)."""
    if chunks <= 0:
        raise ShapeError(f"chunk: chunks must be positive, got {chunks}")
    shape = tuple(input.shape)
    if not shape:
        raise ShapeError("chunk: cannot chunk a zero-dimensional tensor")
    d = _dim("chunk", dim, len(shape))
    n = shape[d]
    if n == 0:
        return tuple(_slice_along(input, d, 0, 0) for _ in range(chunks))
    return split(input, -(-n // chunks), d)
