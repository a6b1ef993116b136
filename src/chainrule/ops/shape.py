"""Shape nodes: reshape, transpose, expand, cat/stack, flip/repeat/tile.

None of these ops computes anything: each moves elements, so each backward moves the
gradient back. Reshapes reshape it back, permutations apply the inverse permutation,
``expand`` (the seeds' Repeat) sums it (Sum), ``cat`` slices it. Indexing
(``x[index]``) is in :mod:`chainrule.ops.getitem`.
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
from chainrule.ops.arithmetic import cast
from chainrule.tensor import Tensor

__all__ = [
    "reshape", "view", "flatten", "squeeze", "unsqueeze", "transpose", "swapaxes", "swapdims",
    "permute", "expand", "broadcast_to", "cat", "concat", "concatenate", "stack",
    "flip", "repeat", "tile",
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
    if isinstance(input, Tensor) and np.may_share_memory(out._data, input._data):
        out._version = input._version
    return out


def _cast_grad(g: Any, dtype: np.dtype) -> Any:
    """Bring a gradient back to its input's dtype (after NumPy type promotion)."""
    if g.dtype == dtype:
        return g
    if isinstance(g, Tensor):
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
        """dx = unbroadcast(dY, x.shape)  (*x) = (*y)"""
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
