"""ONNX translations (opset 17) of the shape and indexing ops. Registered in
``_translate.TRANSLATIONS``.

Shapes are taken from the trace, so dynamic axes stay dynamic where they can: a reshape
copies the leading dimensions it leaves alone (ONNX's ``0``) and infers one (``-1``), an
expand keeps the dimensions it does not grow (``1``), and slices without bounds run to
the end. ``x[index]`` becomes Slice, Gather and Unsqueeze nodes (basic indexing plus one
integer array).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.onnx._errors import UnsupportedOperatorError
from chainrule.onnx._graph import Graph
from chainrule.onnx._operands import _INT64_MAX, _INT64_MIN, Arg, _in
from chainrule.ops import shape as shape_ops
from chainrule.ops.getitem import GetItem

__all__ = ["SHAPE_TRANSLATIONS"]


def _reshape_spec(src: tuple[int, ...], dst: tuple[int, ...]) -> tuple[list[int], int]:
    """ONNX's shape operand for reshaping ``src`` to ``dst``, keeping a dynamic batch.

    Leading dimensions that stay as they are are copied at run time (``0``); the first
    dimension after them is inferred (``-1``), so one that merges or splits a leading
    dimension follows its size; the rest are fixed. A size-0 dimension switches to the
    literal shape (``allowzero=1``).
    """
    if 0 in dst:
        return list(dst), 1
    k = 0
    while k < min(len(src), len(dst)) and src[k] == dst[k]:
        k += 1
    spec = [0] * k + list(dst[k:])
    if k < len(dst):
        spec[k] = -1
    return spec, 0


def _reshape(g: Graph, args: list[Arg], y: np.ndarray, shape: tuple[int, ...]) -> str:
    spec, allowzero = _reshape_spec(args[0].shape, tuple(y.shape))
    return g.node("Reshape", [_in(g, args[0]), g.ints(spec)], allowzero=allowzero or None)


def _squeeze(g: Graph, args: list[Arg], y: np.ndarray, shape: tuple[int, ...]) -> str:
    """The size-1 dimensions of x that y lacks (matched from the left)."""
    src, dst = args[0].shape, tuple(y.shape)
    axes, j = [], 0
    for i, n in enumerate(src):
        if j < len(dst) and dst[j] == n:
            j += 1
        else:
            axes.append(i)
    x = _in(g, args[0])
    return g.node("Squeeze", [x, g.ints(axes)]) if axes else g.node("Identity", [x])


def _unsqueeze(g: Graph, args: list[Arg], y: np.ndarray, shape: tuple[int, ...]) -> str:
    src, dst = args[0].shape, tuple(y.shape)
    d = next((i for i in range(len(src)) if src[i] != dst[i]), len(src))
    return g.node("Unsqueeze", [_in(g, args[0]), g.ints([d])])


def _transpose(g: Graph, args: list[Arg], y: np.ndarray, dim0: int, dim1: int) -> str:
    perm = list(range(args[0].ndim))
    perm[dim0], perm[dim1] = perm[dim1], perm[dim0]
    return g.node("Transpose", [_in(g, args[0])], perm=perm)


def _permute(g: Graph, args: list[Arg], y: np.ndarray, dims: tuple[int, ...]) -> str:
    return g.node("Transpose", [_in(g, args[0])], perm=[int(d) for d in dims])


def _expand(g: Graph, args: list[Arg], y: np.ndarray, shape: tuple[int, ...]) -> str:
    """Expand to ``shape``, with 1 (keep) where x already has the size (right-aligned)."""
    src, lead = args[0].shape, len(shape) - args[0].ndim
    spec = [1 if i >= lead and src[i - lead] == n else n for i, n in enumerate(shape)]
    return g.node("Expand", [_in(g, args[0]), g.ints(spec)])


def _cat(g: Graph, args: list[Arg], y: np.ndarray, dim: int) -> str:
    return g.node("Concat", [_in(g, a, y.dtype) for a in args], axis=int(dim))


def _stack(g: Graph, args: list[Arg], y: np.ndarray, dim: int) -> str:
    axes = g.ints([dim])
    parts = [g.node("Unsqueeze", [_in(g, a, y.dtype), axes]) for a in args]
    return g.node("Concat", parts, axis=int(dim))


def _flip(g: Graph, args: list[Arg], y: np.ndarray, dims: tuple[int, ...]) -> str:
    n = len(dims)
    inputs = [_in(g, args[0]), g.ints([-1] * n), g.ints([_INT64_MIN] * n), g.ints(dims),
              g.ints([-1] * n)]
    return g.node("Slice", inputs)


def _repeat(g: Graph, args: list[Arg], y: np.ndarray, sizes: tuple[int, ...]) -> str:
    x = _in(g, args[0])
    extra = len(sizes) - args[0].ndim
    if extra:  # Tensor.repeat adds leading dimensions of size 1 first
        x = g.node("Unsqueeze", [x, g.ints(range(extra))])
    return g.node("Tile", [x, g.ints(sizes)])


def _getitem(g: Graph, args: list[Arg], y: np.ndarray, index: Any) -> str:
    """Basic indexing (ints, slices, None, ...) plus one integer array: Slice, Gather and
    Unsqueeze nodes. Boolean masks (a data-dependent shape) have no translation."""
    items = list(index) if isinstance(index, tuple) else [index]
    ndim = args[0].ndim
    if any(isinstance(i, np.ndarray) and i.dtype.kind == "b" for i in items) or any(
        isinstance(i, bool | np.bool_) for i in items
    ):
        raise UnsupportedOperatorError(
            "onnx.export: indexing with a boolean mask gives a shape that depends on the "
            "values; it has no ONNX translation here (use cr.where instead)"
        )
    arrays = [i for i in items if isinstance(i, np.ndarray)]
    ints = [i for i in items if isinstance(i, int | np.integer)]
    if len(arrays) > 1 or (arrays and ints):
        raise UnsupportedOperatorError(
            "onnx.export: indexing with several integer arrays (or an array with integers) "
            "has no ONNX translation here; index one dimension at a time"
        )
    if Ellipsis in [i for i in items if not isinstance(i, np.ndarray)]:
        at = next(k for k, i in enumerate(items) if i is Ellipsis)
        used = sum(1 for i in items if i is not None and i is not Ellipsis)
        items[at : at + 1] = [slice(None)] * (ndim - used)
    starts, ends, axes, steps = [], [], [], []
    picks: list[tuple[int, Any]] = []  # (input axis, int or array)
    new_axes, axis, out_axis = [], 0, 0
    for item in items:
        if item is None:
            new_axes.append(out_axis)
            out_axis += 1
            continue
        if isinstance(item, slice):
            if item != slice(None):
                bounds = _slice_bounds(item, args[0].shape[axis])
                for where, v in zip((starts, ends, steps), bounds, strict=True):
                    where.append(v)
                axes.append(axis)
            out_axis += 1
        else:
            picks.append((axis, item))
            out_axis += np.ndim(item)
        axis += 1
    x = _in(g, args[0])
    if axes:
        x = g.node("Slice", [x, g.ints(starts), g.ints(ends), g.ints(axes), g.ints(steps)])
    for ax, item in reversed(picks):  # the highest axis first: lower axes keep their place
        index = g.traced_array(item) if isinstance(item, np.ndarray) else None  # an input
        if index is None:
            index = g.const(np.asarray(item, np.int64))
        x = g.node("Gather", [x, index], axis=ax)
    if new_axes:
        x = g.node("Unsqueeze", [x, g.ints(new_axes)])
    if x == args[0].name:  # x[...] or x[:]: a view of all of x
        x = g.node("Identity", [x])
    return x


def _slice_bounds(s: slice, n: int) -> tuple[int, int, int]:
    """ONNX Slice's start, end and step for a Python slice of a dimension of size n.

    Positive steps keep open bounds open (to the end, whatever the size at run time);
    negative steps use the bounds Python computes for the traced size.
    """
    step = 1 if s.step is None else int(s.step)
    if step > 0:
        start = 0 if s.start is None else int(s.start)
        stop = _INT64_MAX if s.stop is None else int(s.stop)
        return start, stop, step
    start, stop, step = s.indices(n)
    return start, (_INT64_MIN if stop < 0 else stop), step


SHAPE_TRANSLATIONS: dict[type, Any] = {
    shape_ops.Reshape: _reshape,
    shape_ops.Squeeze: _squeeze,
    shape_ops.Unsqueeze: _unsqueeze,
    shape_ops.Transpose: _transpose,
    shape_ops.Permute: _permute,
    shape_ops.Expand: _expand,
    shape_ops.Cat: _cat,
    shape_ops.Stack: _stack,
    GetItem: _getitem,
    shape_ops.Flip: _flip,
    shape_ops.Repeat: _repeat,
}
