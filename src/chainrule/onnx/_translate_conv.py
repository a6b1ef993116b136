"""ONNX translations (opset 17) of the convolutional ops: convolutions, pooling, padding
and resampling. Registered in ``_translate.TRANSLATIONS``.

Convolutions and max pooling map onto ``Conv``, ``ConvTranspose`` and ``MaxPool`` with the
explicit (possibly asymmetric) pads the op used, so 'same' padding and ceil mode need no
special case. Average pooling is a depthwise ``Conv`` with a kernel of ones times the
op's own ``1/count`` per window (PyTorch's divisor rules, exactly). The per-axis linear
maps (nearest and bilinear resizing, adaptive average pooling, reflect, replicate and
circular padding) become a ``Gather`` (selections) or a ``MatMul`` per axis.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.onnx._errors import UnsupportedOperatorError
from chainrule.onnx._graph import Graph
from chainrule.ops import conv, dropout_channel, padding, pooling

__all__ = ["CONV_TRANSLATIONS"]

Pads = tuple[tuple[int, int], ...]


def _in(g: Graph, arg: Any) -> str:
    """The graph value of an operand (a constant array is stored on first use)."""
    return arg.name if arg.name is not None else g.const(np.asarray(arg.value))


def _onnx_pads(pads: Pads) -> list[int]:
    """ONNX's order: every dimension's begin, then every dimension's end."""
    return [lo for lo, _ in pads] + [hi for _, hi in pads]


def _conv(g: Graph, args: list[Any], y: np.ndarray, stride: tuple[int, ...], pads: Pads,
          dilation: tuple[int, ...], groups: int, grid: tuple[int, ...]) -> str:
    w = args[1]
    return g.node("Conv", [_in(g, a) for a in args], kernel_shape=list(w.shape[2:]),
                  strides=list(stride), pads=_onnx_pads(pads), dilations=list(dilation),
                  group=int(groups))


def _conv_transpose(g: Graph, args: list[Any], y: np.ndarray, stride: tuple[int, ...],
                    pads: Pads, dilation: tuple[int, ...], groups: int,
                    out_size: tuple[int, ...]) -> str:
    x, w = args[0], args[1]
    k = w.shape[2:]
    natural = [(n - 1) * s + d * (kk - 1) + 1 - lo - hi for n, s, d, kk, (lo, hi) in zip(
        x.shape[2:], stride, dilation, k, pads, strict=True)]
    output_padding = [o - n for o, n in zip(out_size, natural, strict=True)]
    return g.node("ConvTranspose", [_in(g, a) for a in args], kernel_shape=list(k),
                  strides=list(stride), pads=_onnx_pads(pads), dilations=list(dilation),
                  group=int(groups), output_padding=output_padding)


def _max_pool(g: Graph, args: list[Any], y: np.ndarray, kernel: tuple[int, ...],
              stride: tuple[int, ...], pads: Pads, dilation: tuple[int, ...],
              grid: tuple[int, ...]) -> str:
    # the right pads already reach the last (ceil-mode) window: floor mode gives ``grid``
    return g.node("MaxPool", [_in(g, args[0])], kernel_shape=list(kernel),
                  strides=list(stride), pads=_onnx_pads(pads), dilations=list(dilation))


def _avg_pool(g: Graph, args: list[Any], y: np.ndarray, kernel: tuple[int, ...],
              stride: tuple[int, ...], pads: Pads, grid: tuple[int, ...],
              scale: np.ndarray) -> str:
    """Window sums by a depthwise Conv with a kernel of ones, times 1/count per window."""
    x = args[0]
    C, dt = x.shape[1], x.dtype
    ones = g.const(np.ones((C, 1, *kernel), dt))
    sums = g.node("Conv", [_in(g, x), ones], kernel_shape=list(kernel), strides=list(stride),
                  pads=_onnx_pads(pads), group=int(C))
    return g.node("Mul", [sums, g.const(np.asarray(scale, dt))])


def _axis_maps(g: Graph, args: list[Any], y: np.ndarray, maps: tuple[np.ndarray, ...],
               index: tuple[np.ndarray, ...] | None = None) -> str:
    """Along each trailing axis: Gather (a selection) or MatMul with the map."""
    x = args[0]
    out = _in(g, x)
    n, dt = len(maps), x.dtype
    for i, A in enumerate(maps):
        axis = x.ndim - n + i
        if index is not None:
            out = g.node("Gather", [out, g.const(np.asarray(index[i], np.int64))], axis=axis)
        elif axis == x.ndim - 1:  # (*, S') = (*, S)(S, S')
            out = g.node("MatMul", [out, g.const(np.ascontiguousarray(A.T).astype(dt))])
        else:  # (S', S) @ (*, S, rest): a matrix on the left broadcasts over the batch
            perm = list(range(x.ndim))
            perm[axis], perm[-2] = perm[-2], perm[axis]
            moved = out if axis == x.ndim - 2 else g.node("Transpose", [out], perm=perm)
            out = g.node("MatMul", [g.const(A.astype(dt)), moved])
            if axis != x.ndim - 2:
                out = g.node("Transpose", [out], perm=perm)
    return out


def _constant_pad(g: Graph, args: list[Any], y: np.ndarray, pads: Pads,
                  value: float = 0.0) -> str:
    x = args[0]
    full = ((0, 0),) * (x.ndim - len(pads)) + tuple(pads)
    return g.node("Pad", [_in(g, x), g.ints(_onnx_pads(full)),
                          g.const(np.asarray(value, x.dtype))], mode="constant")


def _channel_dropout(g: Graph, args: list[Any], y: np.ndarray, p: float) -> str:
    raise UnsupportedOperatorError(
        f"onnx.export: dropout2d with training=True (p={p}) draws a random mask, which an "
        "exported model cannot reproduce; pass training=self.training or use nn.Dropout2d")


CONV_TRANSLATIONS: dict[type, Any] = {
    conv.Conv1d: _conv,
    conv.Conv2d: _conv,
    conv.ConvTranspose1d: _conv_transpose,
    conv.ConvTranspose2d: _conv_transpose,
    pooling.MaxPool1d: _max_pool,
    pooling.MaxPool2d: _max_pool,
    pooling.AvgPool1d: _avg_pool,
    pooling.AvgPool2d: _avg_pool,
    padding.AxisMaps: _axis_maps,
    padding.ConstantPad: _constant_pad,
    dropout_channel.ChannelDropout: _channel_dropout,
}
