"""One translation per chainrule op: the ONNX nodes (opset 17) that compute its forward.

A translation is ``fn(g, args, y, **kwargs) -> name``: ``g`` is the :class:`Graph` being
built, ``args`` the op's operands as :class:`Arg` (graph values or constants), ``y`` the
output the op produced while tracing (its shape and dtype), ``kwargs`` the keyword
arguments the op was applied with (``dim``, ``axes``, ``shape`` ...). It appends nodes and
returns the name of the value holding the op's output.

Shapes are taken from the trace, so the translations keep dynamic axes dynamic where they
can: a reshape copies leading dimensions it leaves alone (ONNX's ``0``) and infers one
(``-1``), an expand keeps the dimensions it does not grow (``1``), slices without bounds
run to the end, and counts (the N of a variance) are read from the runtime shape.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.onnx._errors import UnsupportedOperatorError
from chainrule.onnx._graph import Graph, onnx_dtype
from chainrule.ops import (
    activation,
    arithmetic,
    elementwise,
    indexing,
    linalg,
    minmax,
    normalization,
    reduce,
)
from chainrule.ops import shape as shape_ops
from chainrule.ops.dropout import Dropout

__all__ = ["Arg", "TRANSLATIONS", "translation_for"]

_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


@dataclass
class Arg:
    """One operand of a traced op.

    ``name`` is the graph value holding it ('' for an absent optional operand, None for
    a constant not yet in the graph); ``value`` is what the op saw: an ndarray, a Python
    number, or None.
    """

    name: str | None
    value: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.value))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.asarray(self.value).dtype


def _in(g: Graph, arg: Arg, dtype: Any = None) -> str:
    """The graph value of an operand; a constant is stored on first use.

    A Python number takes ``dtype`` (the op's result dtype: NumPy computed ``x * 2.0`` in
    x's dtype, and ONNX wants both operands of one type); arrays keep their own dtype.
    """
    if arg.name is not None:
        return arg.name
    if isinstance(arg.value, np.ndarray):
        return g.const(arg.value)
    return g.const(arg.value, dtype)


def _axes(axes: tuple[int, ...] | None) -> list[int] | None:
    return None if axes is None else list(axes)


# -- elementwise ----------------------------------------------------------------------


def _unary(op_type: str) -> Callable[..., str]:
    def translate(g: Graph, args: list[Arg], y: np.ndarray, **kwargs: Any) -> str:
        return g.node(op_type, [_in(g, args[0])])

    translate.__doc__ = f"y = {op_type}(x)"
    return translate


def _binary(op_type: str) -> Callable[..., str]:
    def translate(g: Graph, args: list[Arg], y: np.ndarray, **kwargs: Any) -> str:
        return g.node(op_type, [_in(g, a, y.dtype) for a in args])

    translate.__doc__ = f"y = {op_type}(a, b), broadcasting as NumPy"
    return translate


def _log1p(g: Graph, args: list[Arg], y: np.ndarray) -> str:
    return g.node("Log", [g.node("Add", [_in(g, args[0]), g.const(1, y.dtype)])])


def _sign(g: Graph, args: list[Arg], y: np.ndarray) -> str:
    x = _in(g, args[0])
    return g.node("Identity", [x]) if args[0].dtype.kind == "b" else g.node("Sign", [x])


def _cast(g: Graph, args: list[Arg], y: np.ndarray, dtype: Any) -> str:
    return g.node("Cast", [_in(g, args[0])], to=onnx_dtype(dtype))


def _clamp(g: Graph, args: list[Arg], y: np.ndarray, min: Any, max: Any) -> str:
    """min(max(x, lo), hi), as NumPy evaluates it (so lo > hi gives hi, as PyTorch)."""
    out = _in(g, args[0])
    if min is not None:
        out = g.node("Max", [out, g.const(min, y.dtype)])
    if max is not None:
        out = g.node("Min", [out, g.const(max, y.dtype)])
    return out


def _clamp_tensor(g: Graph, args: list[Arg], y: np.ndarray) -> str:
    x, lo, hi = args
    out = _in(g, x)
    if lo.value is not None:
        out = g.node("Max", [out, _in(g, lo, y.dtype)])
    if hi.value is not None:
        out = g.node("Min", [out, _in(g, hi, y.dtype)])
    if out == x.name:  # neither bound: a copy
        out = g.node("Identity", [out])
    return out


def _where(g: Graph, args: list[Arg], y: np.ndarray) -> str:
    cond, a, b = args
    return g.node("Where", [_in(g, cond), _in(g, a, y.dtype), _in(g, b, y.dtype)])


def _leaky_relu(g: Graph, args: list[Arg], y: np.ndarray, negative_slope: float) -> str:
    return g.node("LeakyRelu", [_in(g, args[0])], alpha=float(negative_slope))


def _softmax(op_type: str) -> Callable[..., str]:
    def translate(g: Graph, args: list[Arg], y: np.ndarray, dim: int) -> str:
        if args[0].ndim == 0:
            raise UnsupportedOperatorError(
                f"onnx.export: {op_type} of a 0-dimensional tensor has no ONNX translation "
                "(ONNX's softmax needs an axis); reshape it to (1,) first"
            )
        return g.node(op_type, [_in(g, args[0])], axis=int(dim))

    translate.__doc__ = f"y = {op_type}(x, axis=dim)"
    return translate


def _dropout(g: Graph, args: list[Arg], y: np.ndarray, p: float) -> str:
    raise UnsupportedOperatorError(
        f"onnx.export: dropout with training=True (p={p}) draws a random mask, which an "
        "exported model cannot reproduce; export evaluates the model in eval mode, so pass "
        "training=self.training to F.dropout (nn.Dropout does) or use nn.Dropout"
    )


# -- linear algebra -------------------------------------------------------------------


def _linear(g: Graph, args: list[Arg], y: np.ndarray) -> str:
    """Gemm for a matrix input; MatMul with the transposed weight (+ Add) otherwise."""
    x, w = _in(g, args[0]), _in(g, args[1])
    b = _in(g, args[2]) if len(args) == 3 else None
    if args[0].ndim == 2:  # (N,out) = (N,in)(in,out) + (out,)
        return g.node("Gemm", [x, w] + ([b] if b else []), transB=1)
    out = g.node("MatMul", [x, g.node("Transpose", [w], perm=[1, 0])])  # (*,out) = (*,in)(in,out)
    return g.node("Add", [out, b]) if b else out


def _bilinear(g: Graph, args: list[Arg], y: np.ndarray) -> str:
    """y_k = x1^T A_k x2 + b_k as one Einsum: '...i,...j,kij->...k' with explicit labels."""
    batch = "nmpqrstuvw"[: args[0].ndim - 1]
    eq = f"{batch}i,{batch}j,kij->{batch}k"  # (*,out) = (*,in1)(*,in2)(out,in1,in2)
    out = g.node("Einsum", [_in(g, a) for a in args[:3]], equation=eq)
    return g.node("Add", [out, _in(g, args[3])]) if len(args) == 4 else out


def _einsum(g: Graph, args: list[Arg], y: np.ndarray, terms: list[str], out: str) -> str:
    return g.node("Einsum", [_in(g, a) for a in args], equation=",".join(terms) + "->" + out)


def _outer(g: Graph, args: list[Arg], y: np.ndarray) -> str:
    a = g.node("Unsqueeze", [_in(g, args[0]), g.ints([1])])  # (N,1)
    return g.node("Mul", [a, _in(g, args[1])])  # (N,M) = (N,1)(M,)


# -- normalisation --------------------------------------------------------------------


def _batch_norm(g: Graph, args: list[Arg], y: np.ndarray, mean: np.ndarray,
                var: np.ndarray, eps: float, batch_stats: bool) -> str:
    """BatchNormalization with the running statistics (eval mode), or the batch's own
    mean and biased variance computed in the graph (a model without running stats)."""
    x = args[0]
    C, dt = x.shape[1], x.dtype
    scale = _in(g, args[1]) if len(args) > 1 and args[1].value is not None else g.const(
        np.ones(C, dt))
    bias = _in(g, args[2]) if len(args) > 2 and args[2].value is not None else g.const(
        np.zeros(C, dt))
    xin = _in(g, x)
    if batch_stats:
        axes = [0, *range(2, x.ndim)]  # every axis but the channel axis
        m_keep = g.node("ReduceMean", [xin], axes=axes, keepdims=1)  # (1,C,1...)
        xc = g.node("Sub", [xin, m_keep])
        m = g.node("ReduceMean", [xin], axes=axes, keepdims=0)  # (C,)
        v = g.node("ReduceMean", [g.node("Mul", [xc, xc])], axes=axes, keepdims=0)  # (C,)
    else:
        # the running statistics, named as in the state dict where they can be matched
        v = g.state_initializer(var) or g.const(var)
        sibling = v[: -len("running_var")] + "running_mean" if v.endswith("running_var") else None
        m = g.state_initializer(mean, sibling) or g.const(mean)
    return g.node("BatchNormalization", [xin, scale, bias, m, v], epsilon=float(eps))


# -- reductions -----------------------------------------------------------------------


def _to_dtype(g: Graph, arg: Arg, dtype: np.dtype) -> str:
    x = _in(g, arg)
    return x if arg.dtype == dtype else g.node("Cast", [x], to=onnx_dtype(dtype))


def _sum(g: Graph, args: list[Arg], y: np.ndarray, axes: Any, keepdim: bool,
         dtype: Any = None) -> str:
    x = _to_dtype(g, args[0], y.dtype)  # int inputs sum to int64
    if axes == ():  # NumPy's axis=(): nothing is reduced
        return g.node("Identity", [x])
    inputs = [x] if axes is None else [x, g.ints(axes)]
    return g.node("ReduceSum", inputs, keepdims=int(keepdim))


def _reduce(op_type: str) -> Callable[..., str]:
    """ReduceMean / ReduceMax / ReduceMin / ReduceProd: axes as an attribute in opset 17."""

    def translate(g: Graph, args: list[Arg], y: np.ndarray, axes: Any, keepdim: bool,
                  dtype: Any = None) -> str:
        x = _to_dtype(g, args[0], y.dtype)
        if axes == () or args[0].ndim == 0:
            return g.node("Identity", [x])
        return g.node(op_type, [x], axes=_axes(axes), keepdims=int(keepdim))

    translate.__doc__ = f"y = {op_type}(x, axes, keepdims)"
    return translate


def _max_dim(op_type: str) -> Callable[..., str]:
    """The values of max(x, dim) / min(x, dim) (the indices are not part of the graph)."""

    def translate(g: Graph, args: list[Arg], y: np.ndarray, dim: int, keepdim: bool,
                  indices: Any) -> str:
        x = _in(g, args[0])
        if args[0].ndim == 0:
            return g.node("Identity", [x])
        return g.node(op_type, [x], axes=[int(dim)], keepdims=int(keepdim))

    return translate


def _count(g: Graph, x: str, axes: Any, dtype: np.dtype) -> str:
    """The number of elements each reduction combines, read from x's runtime shape."""
    dims = g.node("Shape", [x])
    if axes is not None:
        dims = g.node("Gather", [dims, g.ints(axes)], axis=0)
    n = g.node("ReduceProd", [dims], keepdims=0)
    return g.node("Cast", [n], to=onnx_dtype(dtype))


def _squeeze_reduced(g: Graph, v: str, axes: Any, keepdim: bool) -> str:
    """Drop the size-1 reduced dimensions that a keepdims=1 reduction left."""
    if keepdim:
        return v
    if axes is None:
        return g.node("Reshape", [v, g.ints([])])  # a 0-d result
    return g.node("Squeeze", [v, g.ints(axes)])


def _var(sqrt: bool) -> Callable[..., str]:
    def translate(g: Graph, args: list[Arg], y: np.ndarray, axes: Any, correction: float,
                  keepdim: bool) -> str:
        x = _in(g, args[0])
        ax = _axes(axes)
        xc = g.node("Sub", [x, g.node("ReduceMean", [x], axes=ax, keepdims=1)])
        sq = g.node("Mul", [xc, xc])
        total = g.node("ReduceSum", [sq] if axes is None else [sq, g.ints(axes)], keepdims=1)
        # N - correction, or 0 when that is negative (inf / nan follow, as in chainrule)
        dof = g.node("Sub", [_count(g, x, axes, y.dtype), g.const(correction, y.dtype)])
        dof = g.node("Max", [dof, g.const(0, y.dtype)])
        out = g.node("Div", [total, dof])
        out = g.node("Sqrt", [out]) if sqrt else out
        return _squeeze_reduced(g, out, axes, keepdim)

    return translate


def _logsumexp(g: Graph, args: list[Arg], y: np.ndarray, axes: Any, keepdim: bool) -> str:
    """m + log(sum(exp(x - m))) with m the maximum: stable for large inputs."""
    x = _in(g, args[0])
    m = g.node("ReduceMax", [x], axes=_axes(axes), keepdims=1)
    e = g.node("Exp", [g.node("Sub", [x, m])])
    s = g.node("ReduceSum", [e] if axes is None else [e, g.ints(axes)], keepdims=1)
    out = g.node("Add", [g.node("Log", [s]), m])
    return _squeeze_reduced(g, out, axes, keepdim)


# -- shapes ---------------------------------------------------------------------------


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


# -- the table --------------------------------------------------------------------------

Translation = Callable[..., str]

TRANSLATIONS: dict[type, Translation] = {
    # arithmetic
    arithmetic.Add: _binary("Add"),
    arithmetic.Sub: _binary("Sub"),
    arithmetic.Mul: _binary("Mul"),
    arithmetic.Div: _binary("Div"),
    arithmetic.Pow: _binary("Pow"),
    arithmetic.Neg: _unary("Neg"),
    arithmetic.Reciprocal: _unary("Reciprocal"),
    arithmetic.Cast: _cast,
    arithmetic.Clone: _unary("Identity"),
    # elementwise functions
    elementwise.Exp: _unary("Exp"),
    elementwise.Log: _unary("Log"),
    elementwise.Log1p: _log1p,
    elementwise.Sqrt: _unary("Sqrt"),
    elementwise.Sin: _unary("Sin"),
    elementwise.Cos: _unary("Cos"),
    elementwise.Tanh: _unary("Tanh"),
    elementwise.Sigmoid: _unary("Sigmoid"),
    elementwise.ReLU: _unary("Relu"),
    elementwise.Abs: _unary("Abs"),
    elementwise.Sign: _sign,
    elementwise.Clamp: _clamp,
    elementwise.ClampTensor: _clamp_tensor,
    elementwise.Maximum: _binary("Max"),
    elementwise.Minimum: _binary("Min"),
    elementwise.Where: _where,
    # activations and normalisation
    activation.Softmax: _softmax("Softmax"),
    activation.LogSoftmax: _softmax("LogSoftmax"),
    activation.LeakyReLU: _leaky_relu,
    Dropout: _dropout,
    normalization.BatchNorm: _batch_norm,
    # linear algebra
    linalg.MatMul: _binary("MatMul"),
    linalg.Linear: _linear,
    linalg.Bilinear: _bilinear,
    linalg.Einsum: _einsum,
    linalg.Outer: _outer,
    # reductions
    reduce.Sum: _sum,
    reduce.Mean: _reduce("ReduceMean"),
    reduce.Prod: _reduce("ReduceProd"),
    minmax.Amax: _reduce("ReduceMax"),
    minmax.Amin: _reduce("ReduceMin"),
    minmax.Max: _max_dim("ReduceMax"),
    minmax.Min: _max_dim("ReduceMin"),
    reduce.Var: _var(sqrt=False),
    reduce.Std: _var(sqrt=True),
    reduce.Logsumexp: _logsumexp,
    # shapes and indexing
    shape_ops.Reshape: _reshape,
    shape_ops.Squeeze: _squeeze,
    shape_ops.Unsqueeze: _unsqueeze,
    shape_ops.Transpose: _transpose,
    shape_ops.Permute: _permute,
    shape_ops.Expand: _expand,
    shape_ops.Cat: _cat,
    shape_ops.Stack: _stack,
    indexing.GetItem: _getitem,
    shape_ops.Flip: _flip,
    shape_ops.Repeat: _repeat,
}


def translation_for(cls: type) -> Translation | None:
    """The translation of op class ``cls``, or None.

    A subclass inherits its base's translation only when it computes the same forward
    (``View`` and ``Flatten`` are reshapes; the per-arity ``Einsum`` classes are einsums).
    """
    for base in cls.__mro__:
        fn = TRANSLATIONS.get(base)
        if fn is not None:
            return fn if base is cls or cls.forward is base.forward else None
    return None
