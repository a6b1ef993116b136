"""Shape and indexing nodes: reshape, transpose, expand, cat/stack/split, ``x[index]``.

None of these ops computes anything: each moves elements, so each backward moves the
gradient back. Reshapes reshape it back, permutations apply the inverse permutation,
``expand`` (the seeds' Repeat) sums it (Sum), ``cat`` slices it, and ``x[index]``
scatters it into zeros, adding where an index repeats (the seeds' Branch: an element
read twice receives both gradients).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

__all__ = [
    "reshape", "view", "flatten", "squeeze", "unsqueeze", "transpose", "swapaxes", "swapdims",
    "permute", "expand", "broadcast_to", "cat", "concat", "concatenate", "stack", "split",
    "chunk", "getitem", "index_put", "index_add_zeros", "flip", "repeat", "tile",
]


# -- argument helpers -----------------------------------------------------------------


def _shape_arg(op: str, args: Sequence[Any]) -> tuple[int, ...]:
    """``f(x, 2, 3)`` and ``f(x, (2, 3))`` both give ``(2, 3)``."""
    if len(args) == 1 and not isinstance(args[0], int | np.integer):
        args = args[0]
        if isinstance(args, Tensor | np.ndarray):
            args = args.tolist()
    try:
        return tuple(operator.index(n) for n in args)
    except TypeError:
        raise TypeError(f"{op}: expected a shape of integers, got {args!r}") from None


def _dim(op: str, dim: Any, ndim: int) -> int:
    """Normalise a possibly negative dimension, as PyTorch does (IndexError if out of range)."""
    dim = operator.index(dim)
    lo, hi = -max(ndim, 1), max(ndim, 1) - 1
    if not lo <= dim <= hi:
        raise IndexError(
            f"{op}: dimension {dim} is out of range for a tensor of {ndim} dimension(s) "
            f"(expected a value in [{lo}, {hi}])"
        )
    return dim % max(ndim, 1)


def _shape(x: Any) -> tuple[int, ...]:
    return tuple(x.shape) if isinstance(x, Tensor | np.ndarray) else np.shape(x)


def _ndim(x: Any) -> int:
    return len(_shape(x))


def _operand(x: Any) -> Any:
    """Tensors pass through; anything else becomes an ndarray constant."""
    return x if isinstance(x, Tensor | np.ndarray) else np.asarray(x)


def _view_of(input: Any, out: Tensor) -> Tensor:
    """A result sharing memory with its input shares its version counter too (as PyTorch's
    views do), so changing either in place is caught by a backward that saved the other."""
    if isinstance(input, Tensor) and np.may_share_memory(out.data, input.data):
        out._version = input._version
    return out


def _cast_grad(g: Any, dtype: np.dtype) -> Any:
    """Bring a gradient back to its input's dtype (after NumPy type promotion)."""
    if g.dtype == dtype:
        return g
    if isinstance(g, Tensor):
        from chainrule.ops.arithmetic import cast

        return cast(g, dtype)
    return g.astype(dtype)


# -- reshapes -----------------------------------------------------------------------


class Reshape(Op):
    """y = x with a new shape (same elements in the same order)."""

    shapes = {"x": "(*a)", "Y": "(*b)"}

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return x.reshape(shape)

    def backward(self, dY: Any) -> Any:
        """dx = dY.reshape(x.shape)  (*a) = (*b)"""
        return dY.reshape(self.input_shapes[0])


class View(Reshape):
    """y = x viewed with a new shape (here the same as reshape)."""


class Flatten(Reshape):
    """y = x with dimensions start_dim..end_dim merged into one."""


class Squeeze(Reshape):
    """y = x without (some of) its size-1 dimensions."""


class Unsqueeze(Reshape):
    """y = x with a size-1 dimension inserted."""


def _reshape_to(cls: type[Reshape], op: str, input: Tensor, shape: tuple[int, ...]) -> Tensor:
    size = math.prod(input.shape)
    bad = shape.count(-1) > 1 or any(n < -1 for n in shape)
    if not bad:
        prod = math.prod(n for n in shape if n != -1)
        bad = prod != size if -1 not in shape else (prod == 0 or size % prod != 0)
    if bad:
        raise ShapeError(
            f"{op}: shape {shape} is invalid for a tensor of shape {tuple(input.shape)} "
            f"({size} elements); at most one dimension may be -1"
        )
    return _view_of(input, cls.apply(input, shape=shape))


def reshape(input: Tensor, *shape: Any) -> Tensor:
    """The same elements with a new shape; one dimension may be -1 (inferred).

    Example: ``reshape(x, 2, -1)`` or ``reshape(x, (2, -1))``.
    """
    return _reshape_to(Reshape, "reshape", _operand(input), _shape_arg("reshape", shape))


def view(input: Tensor, *shape: Any) -> Tensor:
    """As :func:`reshape` (chainrule has no separate strided views)."""
    return _reshape_to(View, "view", _operand(input), _shape_arg("view", shape))


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dimensions ``start_dim`` to ``end_dim`` (inclusive); a 0-d tensor becomes (1,)."""
    shape = tuple(input.shape)
    if not shape:
        return _view_of(input, Flatten.apply(input, shape=(1,)))
    s, e = _dim("flatten", start_dim, len(shape)), _dim("flatten", end_dim, len(shape))
    if s > e:
        raise ShapeError(f"flatten: start_dim ({start_dim}) cannot come after end_dim ({end_dim})")
    new = shape[:s] + (math.prod(shape[s : e + 1]),) + shape[e + 1 :]
    return _view_of(input, Flatten.apply(input, shape=new))


def squeeze(input: Tensor, dim: int | tuple[int, ...] | None = None) -> Tensor:
    """Remove size-1 dimensions: all of them, or those among ``dim`` (others are kept)."""
    shape = tuple(input.shape)
    if dim is None:
        dims = {i for i, n in enumerate(shape) if n == 1}
    else:
        dims = dim if isinstance(dim, tuple | list) else (dim,)
        dims = {_dim("squeeze", d, len(shape)) for d in dims}
    new = tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1))
    return _view_of(input, Squeeze.apply(input, shape=new))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dimension at ``dim`` (``-1`` appends one at the end)."""
    shape = tuple(input.shape)
    d = _dim("unsqueeze", dim, len(shape) + 1)
    return _view_of(input, Unsqueeze.apply(input, shape=shape[:d] + (1,) + shape[d:]))


# -- permutations -------------------------------------------------------------------


class Transpose(Op):
    """y = x with two dimensions swapped."""

    shapes = {"x": "(*a)", "Y": "(*b)"}

    def forward(self, x: np.ndarray, dim0: int, dim1: int) -> np.ndarray:
        self.dims = (dim0, dim1)
        return np.swapaxes(x, dim0, dim1)

    def backward(self, dY: Any) -> Any:
        """dx = dY.transpose(dim0, dim1)  (*a) = (*b)"""
        return _math.swapaxes(dY, *self.dims)


class Permute(Op):
    """y = x with its dimensions reordered: y.shape[i] = x.shape[dims[i]]."""

    shapes = {"x": "(*a)", "Y": "(*b)"}

    def forward(self, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        self.dims = dims
        return np.transpose(x, dims)

    def backward(self, dY: Any) -> Any:
        """dx = dY.permute(argsort(dims))  (*a) = (*b)"""
        return _math.transpose(dY, tuple(int(i) for i in np.argsort(self.dims)))


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dimensions ``dim0`` and ``dim1``."""
    nd = _ndim(input)
    d0, d1 = _dim("transpose", dim0, nd), _dim("transpose", dim1, nd)
    if nd == 0:  # PyTorch allows transpose(0, 0) and (-1, -1) of a scalar
        return _view_of(input, Reshape.apply(input, shape=()))
    return _view_of(input, Transpose.apply(input, dim0=d0, dim1=d1))


swapaxes = swapdims = transpose


def permute(input: Tensor, *dims: Any) -> Tensor:
    """Reorder the dimensions: ``permute(x, 2, 0, 1)`` or ``permute(x, (2, 0, 1))``."""
    dims = _shape_arg("permute", dims)
    nd = _ndim(input)
    if len(dims) != nd:
        raise ShapeError(
            f"permute: got {len(dims)} dimensions {dims} for a tensor of shape "
            f"{_shape(input)} ({nd} dimensions)"
        )
    norm = tuple(_dim("permute", d, nd) for d in dims)
    if len(set(norm)) != nd:
        raise ShapeError(f"permute: dims {dims} repeat a dimension; expected a permutation")
    return _view_of(input, Permute.apply(input, dims=norm))


# -- broadcasting: the seeds' Repeat node -------------------------------------------


class Expand(Op):
    """y = x repeated along its size-1 dimensions and new leading ones (no copy)."""

    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
        return np.broadcast_to(x, shape)

    def backward(self, dY: Any) -> Any:
        """dx = sum_to(dY, x.shape)  (*x) = (*y)"""
        return unbroadcast(dY, self.input_shapes[0])


def _expand(op: str, input: Tensor, sizes: tuple[int, ...]) -> Tensor:
    shape = tuple(input.shape)
    lead = len(sizes) - len(shape)
    if lead < 0:
        raise ShapeError(
            f"{op}: the target shape {sizes} has fewer dimensions than the tensor's {shape}"
        )
    target = []
    for i, n in enumerate(sizes):
        old = shape[i - lead] if i >= lead else None
        if n == -1:
            if old is None:
                raise ShapeError(f"{op}: -1 is not allowed for the new leading dimension {i} "
                                 f"of {sizes}")
            n = old
        elif old is not None and old != n and old != 1:
            raise ShapeError(
                f"{op}: cannot expand shape {shape} to {sizes}: the size {old} must match "
                f"{n} at non-singleton dimension {i}"
            )
        target.append(n)
    return _view_of(input, Expand.apply(input, shape=tuple(target)))


def expand(input: Tensor, *sizes: Any) -> Tensor:
    """Broadcast to ``sizes`` (``-1`` keeps a size; new dimensions are added in front)."""
    return _expand("expand", input, _shape_arg("expand", sizes))


def broadcast_to(input: Tensor, shape: Any) -> Tensor:
    """Broadcast ``input`` to ``shape`` (NumPy rules); the gradient is summed back."""
    return _expand("broadcast_to", _operand(input), _shape_arg("broadcast_to", (shape,)))


# -- joining and splitting ----------------------------------------------------------


class Cat(Op):
    """y = the inputs joined along an existing dimension."""

    shapes = {"Y": "(*y)"}

    def forward(self, *x: np.ndarray, dim: int) -> np.ndarray:
        self.dim = dim
        self.dtypes = [a.dtype for a in x]
        return np.concatenate(x, axis=dim)

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dx_i = dY[..., start_i:stop_i, ...] (x_i's slice along dim)  (*x_i) = (*y)"""
        lead = (slice(None),) * self.dim
        grads, start = [], 0
        for shape, need, dtype in zip(self.input_shapes, self.needs_input_grad, self.dtypes,
                                      strict=True):
            stop = start + shape[self.dim]
            grads.append(_cast_grad(dY[(*lead, slice(start, stop))], dtype) if need else None)
            start = stop
        return tuple(grads)


class Stack(Op):
    """y = the inputs stacked along a new dimension."""

    shapes = {"Y": "(*y)"}

    def forward(self, *x: np.ndarray, dim: int) -> np.ndarray:
        self.dim = dim
        self.dtypes = [a.dtype for a in x]
        return np.stack(x, axis=dim)

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dx_i = dY.select(dim, i)  (*x_i) = (*y)"""
        lead = (slice(None),) * self.dim
        return tuple(
            _cast_grad(dY[(*lead, i)], dtype) if need else None
            for i, (need, dtype) in enumerate(zip(self.needs_input_grad, self.dtypes,
                                                  strict=True))
        )


def _tensor_list(op: str, tensors: Any) -> list[Any]:
    if isinstance(tensors, Tensor | np.ndarray):
        raise TypeError(
            f"{op}: expected a sequence of tensors, got a single {type(tensors).__name__}"
        )
    xs = [_operand(t) for t in tensors]
    if not xs:
        raise ShapeError(f"{op}: expected a non-empty sequence of tensors")
    return xs


def cat(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Concatenate along dimension ``dim``; all other dimensions must match."""
    xs = _tensor_list("cat", tensors)
    shapes = [_shape(x) for x in xs]
    if any(len(s) == 0 for s in shapes):
        raise ShapeError(f"cat: zero-dimensional tensors cannot be concatenated (shapes {shapes})")
    nd = len(shapes[0])
    d = _dim("cat", dim, nd)
    for s in shapes[1:]:
        if len(s) != nd or s[:d] + s[d + 1 :] != shapes[0][:d] + shapes[0][d + 1 :]:
            raise ShapeError(
                f"cat: tensors must have the same shape except in dimension {dim}; got shapes "
                f"{', '.join(map(str, shapes))}"
            )
    return Cat.apply(*xs, dim=d)


concat = concatenate = cat


def stack(tensors: Sequence[Tensor], dim: int = 0) -> Tensor:
    """Stack equally shaped tensors along a new dimension ``dim``."""
    xs = _tensor_list("stack", tensors)
    shapes = [_shape(x) for x in xs]
    if any(s != shapes[0] for s in shapes):
        raise ShapeError(
            f"stack: expects each tensor to be equal size, got shapes {', '.join(map(str, shapes))}"
        )
    d = _dim("stack", dim, len(shapes[0]) + 1)
    return Stack.apply(*xs, dim=d)


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
        return _checked_index_array(item.data)
    if isinstance(item, list):
        arr = np.asarray([i.data if isinstance(i, Tensor) else i for i in item])
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
        dvalue = sum_to(dY[index], value.shape)  (*v) = (*x)"""
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


# -- flip / repeat / tile ------------------------------------------------------------


class Flip(Op):
    """y = x with the order of elements reversed along ``dims``."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, dims: tuple[int, ...]) -> np.ndarray:
        self.dims = dims
        return np.flip(x, dims)

    def backward(self, dY: Any) -> Any:
        """dx = dY.flip(dims)  (*) = (*)"""
        if isinstance(dY, Tensor):
            return Flip.apply(dY, dims=self.dims)
        return np.flip(dY, self.dims)


class Repeat(Op):
    """y = x tiled ``sizes[i]`` times along each dimension i (``Tensor.repeat``)."""

    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, sizes: tuple[int, ...]) -> np.ndarray:
        self.sizes = sizes
        return np.tile(x, sizes)

    def backward(self, dY: Any) -> Any:
        """dx = dY.reshape(r0, s0, r1, s1, ...).sum(r0, r1, ...)  (*x) = (*y)"""
        xs = self.input_shapes[0]
        padded = (1,) * (len(self.sizes) - len(xs)) + tuple(xs)
        split_shape = tuple(n for pair in zip(self.sizes, padded, strict=True) for n in pair)
        g = dY.reshape(split_shape).sum(axis=tuple(range(0, len(split_shape), 2)))
        return g.reshape(xs)


def flip(input: Tensor, dims: int | Sequence[int]) -> Tensor:
    """Reverse the order of elements along ``dims``."""
    nd = _ndim(input)
    dims = (dims,) if isinstance(dims, int | np.integer) else tuple(dims)
    return _view_of(input, Flip.apply(input, dims=tuple(_dim("flip", d, nd) for d in dims)))


def repeat(input: Tensor, *sizes: Any) -> Tensor:
    """``Tensor.repeat``: tile ``sizes[i]`` times along dimension i (len(sizes) >= ndim)."""
    sizes = _shape_arg("repeat", sizes)
    if len(sizes) < _ndim(input):
        raise ShapeError(
            f"repeat: the number of repeats {sizes} cannot be smaller than the number of "
            f"dimensions of the tensor {_shape(input)}"
        )
    if any(s < 0 for s in sizes):
        raise ShapeError(f"repeat: repeats must be non-negative, got {sizes}")
    return Repeat.apply(input, sizes=sizes)


def tile(input: Tensor, dims: Sequence[int]) -> Tensor:
    """As :func:`repeat`, with ``dims`` padded by leading 1s to the tensor's rank."""
    dims = _shape_arg("tile", (dims,))
    dims = (1,) * (_ndim(input) - len(dims)) + dims
    return repeat(input, dims)
