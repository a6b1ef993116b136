"""Convolution as the seeds' affine layer on image patches: im2col, one GEMM, col2im.

A convolution of ``X (N,C_in,H,W)`` with ``W (C_out,C_in,kH,kW)`` is ``Y = W @ cols + b``
with ``cols = im2col(X)`` of shape ``(C_in*kH*kW, N*H'*W')`` (ops/fold.py): the affine
layer ``Y = W X + b`` of section 4 of docs/derivations.md with the patches as its inputs.
Its three gradients are the affine layer's, with col2im (the patch sum, adjoint of the
gather) carrying ``dcols`` back onto the image:

    dW = dY @ cols.T        (C_out,C_in*kH*kW) = (C_out,N*H'*W')(N*H'*W',C_in*kH*kW)
    dX = col2im(W.T @ dY)   (N,C_in,H,W)
    db = dY summed over N, H', W'

With ``groups`` the channels split into independent blocks: one GEMM per group. The
transposed convolution is the adjoint of the convolution with respect to its input:
``Y = col2im(W.T @ X)``, whose gradients swap the roles of im2col and col2im.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.ops.fold import Pads, col2im, col2im_array, grid_size, im2col, im2col_array, ntuple
from chainrule.tensor import Tensor

__all__: list[str] = []  # the functional forms live in nn.functional


# -- convolution ------------------------------------------------------------------------


class _ConvNd(Op):
    """Y = W @ im2col(X) + b, one GEMM per group (shared by Conv1d and Conv2d)."""

    save_inputs = (0, 1)

    def forward(self, X: np.ndarray, W: np.ndarray, b: np.ndarray | None = None, *,
                stride: tuple[int, ...], pads: Pads, dilation: tuple[int, ...], groups: int,
                grid: tuple[int, ...]) -> np.ndarray:
        self.geometry = (W.shape[2:], stride, pads, dilation, grid)
        self.groups = groups
        N, C_out, G = X.shape[0], W.shape[0], groups
        self.cols = im2col_array(X, *self.geometry)  # (C_in*K, N*L), kept for dW
        if G == 1:
            Y = W.reshape(C_out, -1) @ self.cols  # (C_out,N*L) = (C_out,C_in*K)(C_in*K,N*L)
        else:  # (G,C_out/G,N*L) = (G,C_out/G,C_in/G*K)(G,C_in/G*K,N*L)
            Y = W.reshape(G, C_out // G, -1) @ self.cols.reshape(G, -1, self.cols.shape[1])
            Y = Y.reshape(C_out, -1)
        if b is not None:
            Y += b[:, None]
        return np.ascontiguousarray(Y.reshape(C_out, N, *grid).swapaxes(0, 1))  # (N,C_out,*)

    def _backward(self, dY: Any) -> tuple[Any, ...]:
        need = self.needs_input_grad
        X, W = self.input(0), self.input(1)
        G, C_out = self.groups, W.shape[0]
        dYm = _math.swapaxes(dY, 0, 1).reshape(G, C_out // G, -1)  # (G, C_out/G, N*L)
        dX = dW = db = None
        if need[1]:
            cols = im2col(X, *self.geometry) if self.create_graph else self.cols
            cols = cols.reshape(G, -1, cols.shape[-1])  # (G, C_in/G*K, N*L)
            dW = (dYm @ _math.swapaxes(cols, 1, 2)).reshape(W.shape)
            del cols
        if not self.keep_saved:  # the largest buffer: released before dcols exists
            self.__dict__.pop("cols", None)
        if len(need) == 3 and need[2]:
            db = dYm.sum(-1).reshape(C_out)
        if need[0]:
            Wg = W.reshape(G, C_out // G, -1)
            dcols = (_math.swapaxes(Wg, 1, 2) @ dYm).reshape(-1, dYm.shape[-1])  # (C_in*K, N*L)
            dX = col2im(dcols, self.input_shapes[0], *self.geometry)
        return (dX, dW) if len(need) == 2 else (dX, dW, db)


class Conv1d(_ConvNd):
    """Y = W @ im2col(X) + b: a 1-D convolution, the affine layer on the input's patches."""

    shapes = {"X": "(N,C_in,L)", "W": "(C_out,C_in,k)", "b": "(C_out,)", "Y": "(N,C_out,L')"}

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = col2im(W.T @ dY)  (N,C_in,L) = (C_in*k,C_out)(C_out,N*L')
        dW = dY @ cols.T  (C_out,C_in*k) = (C_out,N*L')(N*L',C_in*k)
        db = dY.sum((0,2))  (C_out,) = sum over axes (0,2) of (N,C_out,L')"""
        return self._backward(dY)


class Conv2d(_ConvNd):
    """Y = W @ im2col(X) + b: a 2-D convolution, the affine layer on the input's patches."""

    shapes = {"X": "(N,C_in,H,W)", "W": "(C_out,C_in,kH,kW)", "b": "(C_out,)",
              "Y": "(N,C_out,H',W')"}

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = col2im(W.T @ dY)  (N,C_in,H,W) = (C_in*kH*kW,C_out)(C_out,N*H'*W')
        dW = dY @ cols.T  (C_out,C_in*kH*kW) = (C_out,N*H'*W')(N*H'*W',C_in*kH*kW)
        db = dY.sum((0,2,3))  (C_out,) = sum over axes (0,2,3) of (N,C_out,H',W')"""
        return self._backward(dY)


# -- transposed convolution -------------------------------------------------------------


class _ConvTransposeNd(Op):
    """Y = col2im(W.T @ X) + b: the adjoint of a convolution with respect to its input."""

    save_inputs = (0, 1)

    def forward(self, X: np.ndarray, W: np.ndarray, b: np.ndarray | None = None, *,
                stride: tuple[int, ...], pads: Pads, dilation: tuple[int, ...], groups: int,
                out_size: tuple[int, ...]) -> np.ndarray:
        N, C_in, *grid = X.shape
        G, K = groups, math.prod(W.shape[2:])
        C_out = W.shape[1] * G
        self.geometry = (W.shape[2:], stride, pads, dilation, tuple(grid))
        self.groups = groups
        Xm = X.swapaxes(0, 1).reshape(G, C_in // G, -1)  # (G, C_in/G, N*L)
        Wg = W.reshape(G, C_in // G, -1)  # (G, C_in/G, C_out/G*K)
        cols = (Wg.swapaxes(1, 2) @ Xm).reshape(C_out * K, -1)  # (C_out*K, N*L)
        Y = col2im_array(cols, (N, C_out, *out_size), *self.geometry)
        if b is not None:
            Y += b.reshape((C_out,) + (1,) * len(out_size))
        return Y

    def _backward(self, dY: Any) -> tuple[Any, ...]:
        need = self.needs_input_grad
        X, W = self.input(0), self.input(1)
        G, C_in = self.groups, W.shape[0]
        dcols = im2col(dY, *self.geometry)  # (C_out*K, N*L)
        dcols = dcols.reshape(G, -1, dcols.shape[-1])  # (G, C_out/G*K, N*L)
        Wg = W.reshape(G, C_in // G, -1)
        dX = dW = db = None
        if need[0]:
            dXm = (Wg @ dcols).reshape((C_in, self.input_shapes[0][0]) + tuple(self.geometry[4]))
            dX = _math.swapaxes(dXm, 0, 1)  # (N, C_in, *L)
        if need[1]:
            Xm = _math.swapaxes(X, 0, 1).reshape(G, C_in // G, -1)
            dW = (Xm @ _math.swapaxes(dcols, 1, 2)).reshape(W.shape)
        if len(need) == 3 and need[2]:
            db = dY.sum(axis=(0,) + tuple(range(2, len(dY.shape))))
        return (dX, dW) if len(need) == 2 else (dX, dW, db)


class ConvTranspose1d(_ConvTransposeNd):
    """Y = col2im(W.T @ X) + b: the adjoint of conv1d with respect to its input."""

    shapes = {"X": "(N,C_in,L)", "W": "(C_in,C_out,k)", "b": "(C_out,)", "Y": "(N,C_out,L')"}

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = W @ im2col(dY)  (N,C_in,L) = (C_in,C_out*k)(C_out*k,N*L)
        dW = X @ im2col(dY).T  (C_in,C_out*k) = (C_in,N*L)(N*L,C_out*k)
        db = dY.sum((0,2))  (C_out,) = sum over axes (0,2) of (N,C_out,L')"""
        return self._backward(dY)


class ConvTranspose2d(_ConvTransposeNd):
    """Y = col2im(W.T @ X) + b: the adjoint of conv2d with respect to its input."""

    shapes = {"X": "(N,C_in,H,W)", "W": "(C_in,C_out,kH,kW)", "b": "(C_out,)",
              "Y": "(N,C_out,H',W')"}

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = W @ im2col(dY)  (N,C_in,H,W) = (C_in,C_out*kH*kW)(C_out*kH*kW,N*H*W)
        dW = X @ im2col(dY).T  (C_in,C_out*kH*kW) = (C_in,N*H*W)(N*H*W,C_out*kH*kW)
        db = dY.sum((0,2,3))  (C_out,) = sum over axes (0,2,3) of (N,C_out,H',W')"""
        return self._backward(dY)


_CONV = {1: Conv1d, 2: Conv2d}
_CONV_T = {1: ConvTranspose1d, 2: ConvTranspose2d}


# -- argument checks (PyTorch's messages, with the op's name) ----------------------------


def _operand(x: Any) -> Any:
    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x))


def _check_common(op: str, d: int, x: Any, weight: Any, bias: Any) -> None:
    if x.ndim not in (d + 1, d + 2):
        raise ShapeError(f"{op}: Expected {d + 1}D (unbatched) or {d + 2}D (batched) input to "
                         f"{op}, but got input of size: {list(x.shape)}")
    if weight.ndim != d + 2:
        raise ShapeError(f"{op}: expected weight to be {d + 2}-dimensional, but got weight of "
                         f"size {list(weight.shape)} instead")
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        dts = [x.dtype, weight.dtype] + ([bias.dtype] if bias is not None else [])
        raise RuntimeError(f"{op}: expected input, weight and bias to have the same dtype, "
                           f"got {', '.join(str(t) for t in dts)}")


def _check_kernel_fits(op: str, spatial: tuple[int, ...], pads: Pads, kernel: tuple[int, ...],
                       dilation: tuple[int, ...], x: Any) -> None:
    padded = tuple(s + lo + hi for s, (lo, hi) in zip(spatial, pads, strict=True))
    eff = tuple(dl * (k - 1) + 1 for k, dl in zip(kernel, dilation, strict=True))
    if any(e > p for e, p in zip(eff, padded, strict=True)):
        raise ShapeError(f"{op}: Calculated padded input size per channel: "
                         f"({' x '.join(map(str, padded))}). Kernel size: "
                         f"({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                         f"actual input size (input {list(x.shape)})")


def _same_pads(kernel: tuple[int, ...], dilation: tuple[int, ...]) -> Pads:
    """'same' padding: ``d(k-1)`` split as PyTorch does, the odd one extra on the right."""
    pads = []
    for k, dl in zip(kernel, dilation, strict=True):
        total = dl * (k - 1)
        pads.append((total // 2, total - total // 2))
    return tuple(pads)


def _conv_pads(op: str, padding: Any, d: int, kernel: tuple[int, ...],
               stride: tuple[int, ...], dilation: tuple[int, ...]) -> Pads:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * d
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{op}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            return _same_pads(kernel, dilation)
        raise ValueError(f"{op}: Invalid padding string {padding!r}, should be one of "
                         f"{{'valid', 'same'}}")
    p = ntuple(padding, d, "padding", op)
    if min(p) < 0:
        raise RuntimeError(f"{op}: negative padding is not supported, got {padding}")
    return tuple((q, q) for q in p)


def _positive(op: str, name: str, value: tuple[int, ...]) -> None:
    if min(value) <= 0:
        raise RuntimeError(f"{op}: non-positive {name} is not supported, got {value}")


def conv(op: str, d: int, input: Tensor, weight: Tensor, bias: Tensor | None, stride: Any,
         padding: Any, dilation: Any, groups: int) -> Tensor:
    """The ``d``-dimensional convolution behind ``F.conv1d`` and ``F.conv2d``."""
    x, w = _operand(input), _operand(weight)
    b = None if bias is None else _operand(bias)
    _check_common(op, d, x, w, b)
    s = ntuple(stride, d, "stride", op)
    dl = ntuple(dilation, d, "dilation", op)
    _positive(op, "stride", s)
    _positive(op, "dilation", dl)
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got {groups}")
    C_out, kernel = w.shape[0], tuple(w.shape[2:])
    if C_out % groups:
        raise ShapeError(f"{op}: Given groups={groups}, expected weight to be divisible by "
                         f"{groups} at dimension 0, but got weight of size {list(w.shape)} "
                         "instead")
    batched = x.ndim == d + 2
    if not batched:
        x = x.unsqueeze(0)
    C_in = x.shape[1]
    if C_in != w.shape[1] * groups:
        raise ShapeError(f"{op}: Given groups={groups}, weight of size {list(w.shape)}, "
                         f"expected input{list(x.shape)} to have {w.shape[1] * groups} "
                         f"channels, but got {C_in} channels instead")
    if b is not None and tuple(b.shape) != (C_out,):
        raise ShapeError(f"{op}: Given weight of size {list(w.shape)}, expected bias to be "
                         f"1-dimensional with {C_out} elements, but got bias of size "
                         f"{list(b.shape)} instead")
    pads = _conv_pads(op, padding, d, kernel, s, dl)
    spatial = tuple(x.shape[2:])
    _check_kernel_fits(op, spatial, pads, kernel, dl, x)
    grid = tuple(grid_size(n, k, st, p, di) for n, k, st, p, di in zip(
        spatial, kernel, s, pads, dl, strict=True))
    args = (x, w) if b is None else (x, w, b)
    y = _CONV[d].apply(*args, stride=s, pads=pads, dilation=dl, groups=groups, grid=grid)
    return y if batched else y.squeeze(0)


def conv_transpose(op: str, d: int, input: Tensor, weight: Tensor, bias: Tensor | None,
                   stride: Any, padding: Any, output_padding: Any, groups: int,
                   dilation: Any) -> Tensor:
    """The ``d``-dimensional transposed convolution behind ``F.conv_transpose1d/2d``."""
    x, w = _operand(input), _operand(weight)
    b = None if bias is None else _operand(bias)
    _check_common(op, d, x, w, b)
    s = ntuple(stride, d, "stride", op)
    dl = ntuple(dilation, d, "dilation", op)
    p = ntuple(padding, d, "padding", op)
    op_ = ntuple(output_padding, d, "output_padding", op)
    _positive(op, "stride", s)
    _positive(op, "dilation", dl)
    if min(p) < 0 or min(op_) < 0:
        raise RuntimeError(f"{op}: negative padding is not supported, got padding {p}, "
                           f"output_padding {op_}")
    for o, st, di in zip(op_, s, dl, strict=True):
        if o >= st and o >= di:
            raise ValueError(f"{op}: output padding must be smaller than either stride or "
                             f"dilation, but got output_padding={op_}, stride={s}, "
                             f"dilation={dl}")
    if not isinstance(groups, int) or groups <= 0:
        raise RuntimeError(f"{op}: non-positive groups is not supported, got {groups}")
    batched = x.ndim == d + 2
    if not batched:
        x = x.unsqueeze(0)
    C_in = x.shape[1]
    if w.shape[0] % groups:
        raise ShapeError(f"{op}: Given groups={groups}, expected weight to be divisible by "
                         f"{groups} at dimension 0, but got weight of size {list(w.shape)} "
                         "instead")
    if C_in != w.shape[0]:
        raise ShapeError(f"{op}: Given transposed=1, weight of size {list(w.shape)}, expected "
                         f"input{list(x.shape)} to have {w.shape[0]} channels, but got {C_in} "
                         "channels instead")
    C_out, kernel = w.shape[1] * groups, tuple(w.shape[2:])
    if b is not None and tuple(b.shape) != (C_out,):
        raise ShapeError(f"{op}: Given transposed=1, weight of size {list(w.shape)}, expected "
                         f"bias to be 1-dimensional with {C_out} elements, but got bias of "
                         f"size {list(b.shape)} instead")
    out_size = tuple((n - 1) * st - 2 * pp + di * (k - 1) + o + 1 for n, st, pp, di, k, o in zip(
        x.shape[2:], s, p, dl, kernel, op_, strict=True))
    if min(out_size) <= 0:
        raise ShapeError(f"{op}: Given input size per channel: {list(x.shape[2:])}, the "
                         f"calculated output size per channel {list(out_size)} is too small "
                         f"(weight {list(w.shape)}, stride {s}, padding {p})")
    args = (x, w) if b is None else (x, w, b)
    y = _CONV_T[d].apply(*args, stride=s, pads=tuple((q, q) for q in p), dilation=dl,
                         groups=groups, out_size=out_size)
    return y if batched else y.squeeze(0)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation, as PyTorch) over ``(N, C_in, L)`` or ``(C_in, L)``.

    ``weight`` is ``(C_out, C_in/groups, k)``; ``padding`` an int, a 1-tuple, ``'valid'``
    or ``'same'``. Output ``(N, C_out, L')`` with ``L' = (L + 2p - d(k-1) - 1) // s + 1``.
    """
    return conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) over ``(N, C_in, H, W)`` or unbatched
    ``(C_in, H, W)``: one im2col, one GEMM per group, bias added.

    Args:
        input: ``(N, C_in, H, W)`` or ``(C_in, H, W)``.
        weight: ``(C_out, C_in/groups, kH, kW)``.
        bias: ``(C_out,)`` or None.
        stride, dilation: an int or a pair. padding: an int, a pair, ``'valid'`` or ``'same'``.
        groups: ``C_in`` and ``C_out`` split into this many independent blocks
            (``groups == C_in``: a depthwise convolution).

    Shape: ``(N, C_out, H', W')`` with ``H' = (H + 2p - d(kH-1) - 1) // s + 1``.

    Example::

        y = F.conv2d(x, w, b, padding=1)  # (64,3,32,32) * (16,3,3,3) -> (64,16,32,32)
    """
    return conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """1-D transposed convolution; ``weight`` is ``(C_in, C_out/groups, k)``.

    Output length ``(L-1)s - 2p + d(k-1) + output_padding + 1``.
    """
    return conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                          output_padding, groups, dilation)


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: Any = 1, padding: Any = 0, output_padding: Any = 0,
                     groups: int = 1, dilation: Any = 1) -> Tensor:
    """2-D transposed convolution (the gradient of conv2d with respect to its input).

    ``weight`` is ``(C_in, C_out/groups, kH, kW)``; output size per dimension
    ``(H-1)s - 2p + d(k-1) + output_padding + 1``.
    """
    return conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                          output_padding, groups, dilation)
