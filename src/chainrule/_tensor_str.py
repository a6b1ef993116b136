"""How a tensor prints: PyTorch's ``repr`` (summarised, wrapped, 4 digits) for NumPy data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import dtypes as _dtypes

__all__ = ["DTYPE_NAMES", "format_tensor"]

#: the dtype names ``repr`` and ``Tensor.type()`` print after ``chainrule.``
DTYPE_NAMES = {
    np.dtype("float32"): "float32",
    np.dtype("float64"): "float64",
    np.dtype("float16"): "float16",
    np.dtype("int64"): "int64",
    np.dtype("int32"): "int32",
    np.dtype("int16"): "int16",
    np.dtype("int8"): "int8",
    np.dtype("uint8"): "uint8",
    np.dtype("bool"): "bool",
}


# PyTorch's print options: summarise above 1000 elements, keeping 3 at each edge of
# every dimension; lines of at most 80 characters; 4 digits after the point
_THRESHOLD, _EDGE, _LINEWIDTH, _PRECISION = 1000, 3, 80, 4


def _summary(a: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows: the first and last 3 along each dimension."""
    for axis, n in enumerate(a.shape):
        if n > 2 * _EDGE:
            keep = np.r_[0:_EDGE, n - _EDGE:n]
            a = np.take(a, keep, axis=axis)
    return a


def _number_format(a: np.ndarray) -> tuple[Any, int]:
    """``(format one number, column width)`` chosen from the values ``a`` as PyTorch does.

    Floats: scientific notation when the nonzero finite magnitudes span more than 1000x
    or leave [1e-4, 1e8) (integral values may go down to any size), integral values as
    ``"1."``, else 4 decimals. The width is that of the widest nonzero finite value (zeros,
    nan and inf don't count); others are padded to it.
    """
    if a.dtype.kind != "f":
        width = max((len(str(v)) for v in a.reshape(-1).tolist()), default=1)
        return str, width
    vals = a[np.isfinite(a) & (a != 0)].astype(np.float64)
    if not vals.size:
        return lambda x: f"{x:.0f}" + ("." if math.isfinite(x) else ""), 1
    mag = np.abs(vals)
    integral = bool(np.all(vals == np.ceil(vals)))
    span = mag.max() / mag.min() > 1000 or mag.max() > 1e8
    if span or (not integral and mag.min() < 1e-4):
        spec = f"{{:.{_PRECISION}e}}"
    elif integral:
        spec = "{:.0f}."
    else:
        spec = f"{{:.{_PRECISION}f}}"

    def text(x: float) -> str:
        return spec.format(x) if math.isfinite(x) else f"{x:.0f}"

    # the widest value is the largest, the most negative, or (a 3-digit exponent) the
    # smallest positive or negative one
    pos, neg = vals[vals > 0], vals[vals < 0]
    edges = [vals.max(), vals.min()]
    if pos.size:
        edges.append(pos.min())
    if neg.size:
        edges.append(neg.max())
    width = max(len(text(v)) for v in edges)
    return text, width


def _format_array(a: np.ndarray, indent: int, summarize: bool, text: Any, width: int) -> str:
    """Nested brackets as PyTorch prints them: rows wrapped to the line width."""
    if a.ndim == 0:
        return text(a.item()).rjust(width)
    cut = summarize and a.shape[0] > 2 * _EDGE
    if a.ndim == 1:
        items = a.tolist()
        if cut:
            data = [text(v).rjust(width) for v in items[:_EDGE]] + [" ..."]
            data += [text(v).rjust(width) for v in items[-_EDGE:]]
        else:
            data = [text(v).rjust(width) for v in items]
        per_line = max(1, (_LINEWIDTH - indent) // (width + 2))
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(a.shape[0])
    if cut:
        rows = [*range(_EDGE), None, *range(a.shape[0] - _EDGE, a.shape[0])]
    parts = [
        "..." if i is None else _format_array(a[i], indent + 1, summarize, text, width)
        for i in rows
    ]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def format_tensor(t: Any) -> str:
    """PyTorch-like repr: ``tensor([[1., 2.]], requires_grad=True)``."""
    a = t._data
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    name = f"dtype=chainrule.{DTYPE_NAMES.get(a.dtype, str(a.dtype))}"
    default = _dtypes.get_default_dtype()
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={a.shape}")
        if a.dtype != default:
            suffixes.append(name)
        body = "[]"
    else:
        if a.dtype not in (default, np.dtype("int64"), np.dtype("bool")):
            suffixes.append(name)
        summarize = a.size > _THRESHOLD
        text, width = _number_format(_summary(a) if summarize else a)
        body = _format_array(a, indent, summarize, text, width)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    # a suffix that would overflow the last line goes on a line of its own
    out = prefix + body
    line = len(out) - out.rfind("\n") + 1
    for suffix in suffixes:
        if line + len(suffix) + 2 > _LINEWIDTH:
            out += ",\n" + " " * indent + suffix
            line = indent + len(suffix)
        else:
            out += ", " + suffix
            line += len(suffix) + 2
    return out + ")"
