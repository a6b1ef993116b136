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

This module holds the elementwise, activation, normalisation, linear-algebra and
reduction translations and the table of all of them (:data:`TRANSLATIONS`). The shape
and indexing ops are translated in ``_translate_shape.py``, the convolutional ones in
``_translate_conv.py``; :class:`Arg` is defined in ``_operands.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule.onnx._errors import UnsupportedOperatorError
from chainrule.onnx._graph import Graph, onnx_dtype
from chainrule.onnx._operands import Arg, _axes, _in
from chainrule.onnx._translate_shape import SHAPE_TRANSLATIONS
from chainrule.ops import (
    activation,
    arithmetic,
    elementwise,
    linalg,
    minmax,
    normalization,
    reduce,
)
from chainrule.ops.dropout import Dropout

__all__ = ["Arg", "TRANSLATIONS", "translation_for"]


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
    # shapes and indexing (onnx/_translate_shape.py)
    **SHAPE_TRANSLATIONS,
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


# conv: convolutions, pooling, padding and resampling (onnx/_translate_conv.py)
from chainrule.onnx._translate_conv import CONV_TRANSLATIONS  # noqa: E402

TRANSLATIONS.update(CONV_TRANSLATIONS)
