"""Pooling as graph nodes: max pooling (a gather at the argmax, whose adjoint is a scatter),
average pooling (a window sum, whose adjoint spreads each gradient over its window) and
adaptive pooling.

Max pooling keeps, per window, the flat index of its maximum in the input plane
(PyTorch's ``return_indices``); its backward scatters ``dY`` to those indices, and the
scatter's own backward is the gather ``ddY = ddX[indices]``, so second order works.
Average pooling is linear: ``Y = window_sum(X) / count`` and ``dX = spread(dY / count)``.
Adaptive average pooling (and ``interpolate``) are linear maps along each spatial axis
(ops/padding.py: ``AxisMaps``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.ops.fold import Pads, _offsets, col2im, ntuple, pad_for_windows
from chainrule.tensor import Tensor

__all__: list[str] = []  # the functional forms live in nn.functional


# -- the scatter behind max pooling's backward -------------------------------------------


def _global_index(indices: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Plane-local flat indices ``(N,C,*grid)`` as indices into ``X.ravel()``."""
    N, C = shape[:2]
    plane = math.prod(shape[2:])
    return indices + (np.arange(N * C, dtype=np.int64) * plane).reshape(
        (N, C) + (1,) * (indices.ndim - 2))


def scatter_to_argmax(dY: Any, indices: np.ndarray, shape: Sequence[int]) -> Any:
    """``dX``: each ``dY`` added at its window's argmax (zeros elsewhere).

    On arrays a ``bincount`` (windows may overlap: their gradients sum); on Tensors a
    recorded scatter-add, whose backward is the gather ``ddY = ddX[indices]``.
    """
    flat = _global_index(indices, shape)
    size = math.prod(shape)
    if isinstance(dY, Tensor):
        return _math.index_add((size,), flat.reshape(-1), dY.reshape(-1)).reshape(tuple(shape))
    dX = np.bincount(flat.reshape(-1), weights=dY.reshape(-1), minlength=size)
    return dX.astype(dY.dtype, copy=False).reshape(tuple(shape))


class _MaxPoolNd(Op):
    """Y = the maximum of each window of X; which kernel offset held it is kept.

    One pass per kernel offset over strided views (no window copy): a value replaces the
    running maximum when it is greater or NaN, PyTorch's rule (the first of equal maxima
    wins; a NaN propagates). ``arg`` holds the winning offset (int8), from which the
    backward spreads ``dY`` and ``indices`` computes PyTorch's flat indices.
    """

    def forward(self, X: np.ndarray, *, kernel: tuple[int, ...], stride: tuple[int, ...],
                pads: Pads, dilation: tuple[int, ...], grid: tuple[int, ...]) -> np.ndarray:
        self.geometry = (kernel, stride, pads, dilation, grid)
        fill = -np.inf if X.dtype.kind == "f" else np.iinfo(X.dtype).min
        Xp = pad_for_windows(X, pads, grid, kernel, stride, dilation, fill)
        nan = X.dtype.kind == "f" and bool(np.isnan(X.max(initial=-np.inf)))
        Y = arg = None
        K = math.prod(kernel)
        for k, (_, slices) in enumerate(_offsets(kernel, stride, dilation, grid)):
            v = Xp[(slice(None), slice(None), *slices)]
            if Y is None:
                Y, arg = v.copy(), np.zeros(v.shape, np.int8 if K < 128 else np.int32)
                continue
            better = np.greater(v, Y)
            if nan:
                better |= np.isnan(v)
            np.copyto(Y, v, where=better)
            np.copyto(arg, k, where=better)
        self.arg = arg
        return Y

    def indices(self) -> np.ndarray:
        """PyTorch's ``return_indices``: each maximum's flat index in its input plane."""
        kernel, stride, pads, dilation, grid = self.geometry
        spatial = self.input_shapes[0][2:]
        flat = np.zeros(self.arg.shape, np.int64)
        for axis, k_pos in enumerate(np.unravel_index(self.arg, kernel)):
            start = np.arange(grid[axis]) * stride[axis] - pads[axis][0]
            start = start.reshape((-1,) + (1,) * (len(grid) - axis - 1))
            flat = flat * spatial[axis] + start + k_pos * dilation[axis]
        return flat

    def _backward(self, dY: Any) -> Any:
        shape = self.input_shapes[0]
        if isinstance(dY, Tensor):  # recorded: a scatter-add whose backward is the gather
            return scatter_to_argmax(dY, self.indices(), shape)
        kernel, stride, pads, dilation, grid = self.geometry
        padded = [max(lo + n + hi, (g - 1) * s + d * (k - 1) + 1) for (lo, hi), n, g, s, d, k
                  in zip(pads, shape[2:], grid, stride, dilation, kernel, strict=True)]
        dXp = np.zeros((*shape[:2], *padded), dY.dtype)
        zero = np.zeros((), dY.dtype)
        overlap = any(s < d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation,
                                                             strict=True))
        for k, (_, slices) in enumerate(_offsets(kernel, stride, dilation, grid)):
            # each gradient goes to the offset that held its window's maximum
            part = np.where(self.arg == k, dY, zero)
            if overlap:  # windows share elements: their gradients add
                dXp[(slice(None), slice(None), *slices)] += part
            else:
                dXp[(slice(None), slice(None), *slices)] = part
        crop = tuple(slice(lo, lo + n) for (lo, _), n in zip(pads, shape[2:], strict=True))
        return dXp[(slice(None), slice(None), *crop)]


class MaxPool1d(_MaxPoolNd):
    """Y = max over each window of X (length k, stride s)."""

    shapes = {"X": "(N,C,L)", "Y": "(N,C,L')"}

    def backward(self, dY: Any) -> Any:
        """dX = scatter(dY, argmax)  (N,C,L) = (N,C,L')"""
        return self._backward(dY)


class MaxPool2d(_MaxPoolNd):
    """Y = max over each window of X (kH x kW, stride s)."""

    shapes = {"X": "(N,C,H,W)", "Y": "(N,C,H',W')"}

    def backward(self, dY: Any) -> Any:
        """dX = scatter(dY, argmax)  (N,C,H,W) = (N,C,H',W')"""
        return self._backward(dY)


class AdaptiveMaxPool2d(Op):
    """Y = max over each adaptive window ``[floor(i*H/H'), ceil((i+1)*H/H'))`` of X."""

    shapes = {"X": "(N,C,H,W)", "Y": "(N,C,H',W')"}

    def forward(self, X: np.ndarray, *, output_size: tuple[int, int]) -> np.ndarray:
        N, C, H, W = X.shape
        Ho, Wo = output_size
        Y = np.empty((N, C, Ho, Wo), X.dtype)
        self.indices = np.empty((N, C, Ho, Wo), np.int64)
        for i, (h0, h1) in enumerate(adaptive_bounds(H, Ho)):
            for j, (w0, w1) in enumerate(adaptive_bounds(W, Wo)):
                win = X[:, :, h0:h1, w0:w1].reshape(N, C, -1)
                arg = win.argmax(axis=-1)
                Y[:, :, i, j] = np.take_along_axis(win, arg[..., None], axis=-1)[..., 0]
                r, c = np.divmod(arg, w1 - w0)
                self.indices[:, :, i, j] = (h0 + r) * W + w0 + c
        return Y

    def backward(self, dY: Any) -> Any:
        """dX = scatter(dY, argmax)  (N,C,H,W) = (N,C,H',W')"""
        return scatter_to_argmax(dY, self.indices, self.input_shapes[0])


def adaptive_bounds(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows: ``[floor(i*size/out), ceil((i+1)*size/out))``."""
    return [((i * size) // out, -((-(i + 1) * size) // out)) for i in range(out)]


# -- average pooling --------------------------------------------------------------------


def window_sum(Xp: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
               grid: Sequence[int]) -> np.ndarray:
    """The sum of each window of a padded ``Xp``: one strided add per kernel offset."""
    dilation = (1,) * len(kernel)
    out = None
    for _, slices in _offsets(kernel, stride, dilation, grid):
        part = Xp[(slice(None), slice(None), *slices)]
        out = part.copy() if out is None else np.add(out, part, out=out)
    return out


def spread(g: np.ndarray, shape: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
           pads: Pads, grid: Sequence[int]) -> np.ndarray:
    """The adjoint of ``window_sum``: each ``g`` added to every element of its window."""
    spatial = shape[2:]
    padded = [max(lo + s + hi, (n - 1) * st + k)
              for (lo, hi), s, n, st, k in zip(pads, spatial, grid, stride, kernel, strict=True)]
    Xp = np.zeros((*shape[:2], *padded), g.dtype)
    for _, slices in _offsets(kernel, stride, (1,) * len(kernel), grid):
        Xp[(slice(None), slice(None), *slices)] += g
    crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pads, spatial, strict=True))
    return Xp[(slice(None), slice(None), *crop)]


class _AvgPoolNd(Op):
    """Y = window_sum(X) / count: the mean of each window (PyTorch's divisor rules)."""

    def forward(self, X: np.ndarray, *, kernel: tuple[int, ...], stride: tuple[int, ...],
                pads: Pads, grid: tuple[int, ...], scale: np.ndarray) -> np.ndarray:
        self.geometry = (kernel, stride, pads, grid)
        self.scale = scale.astype(X.dtype, copy=False)  # 1/count per window, (*grid)
        Xp = pad_for_windows(X, pads, grid, kernel, stride, (1,) * len(kernel))
        return window_sum(Xp, kernel, stride, grid) * self.scale

    def _backward(self, dY: Any) -> Any:
        kernel, stride, pads, grid = self.geometry
        shape = self.input_shapes[0]
        g = dY * self.scale
        if not isinstance(g, Tensor):
            return spread(g, shape, kernel, stride, pads, grid)
        # recorded: spread is col2im of the gradient copied to every kernel offset
        N, C, K = shape[0], shape[1], math.prod(kernel)
        cols = _math.broadcast_to(g.reshape(1, -1), (K, g.numel()))  # (K, N*C*L)
        X = col2im(cols, (N * C, 1, *shape[2:]), kernel, stride, pads, (1,) * len(kernel), grid)
        return X.reshape(shape)


class AvgPool1d(_AvgPoolNd):
    """Y = the mean of each window of X (length k, stride s)."""

    shapes = {"X": "(N,C,L)", "Y": "(N,C,L')"}

    def backward(self, dY: Any) -> Any:
        """dX = spread(dY / count)  (N,C,L) = (N,C,L')"""
        return self._backward(dY)


class AvgPool2d(_AvgPoolNd):
    """Y = the mean of each window of X (kH x kW, stride s)."""

    shapes = {"X": "(N,C,H,W)", "Y": "(N,C,H',W')"}

    def backward(self, dY: Any) -> Any:
        """dX = spread(dY / count)  (N,C,H,W) = (N,C,H',W')"""
        return self._backward(dY)


# -- geometry and argument checks -------------------------------------------------------


def pool_grid(op: str, spatial: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
              padding: Sequence[int], dilation: Sequence[int], ceil_mode: bool,
              x: Any) -> tuple[tuple[int, ...], Pads]:
    """Output size per dimension (PyTorch's rule) and the padding each side needs."""
    grid, pads = [], []
    for n, k, s, p, d in zip(spatial, kernel, stride, padding, dilation, strict=True):
        span = d * (k - 1) + 1
        num = n + 2 * p - span + (s - 1 if ceil_mode else 0)
        g = num // s + 1
        if ceil_mode and (g - 1) * s >= n + p:  # the last window must start inside
            g -= 1
        grid.append(g)
        pads.append((p, max(p, (g - 1) * s + span - n - p)))
    if min(grid) < 1:
        raise ShapeError(f"{op}: Given input size: ({'x'.join(map(str, x.shape[1:]))}). "
                         f"Calculated output size: ({x.shape[1]}x{'x'.join(map(str, grid))}). "
                         "Output size is too small")
    return tuple(grid), tuple(pads)


def _pool_args(op: str, d: int, x: Any, kernel_size: Any, stride: Any, padding: Any,
               dilation: Any = 1) -> tuple[tuple[int, ...], ...]:
    if x.ndim not in (d + 1, d + 2):
        raise ShapeError(f"{op}: Expected {d + 1}D or {d + 2}D (batch mode) tensor for input "
                         f"with possibly 0 batch size and non-zero dimensions, but got input "
                         f"of size: {list(x.shape)}")
    k = ntuple(kernel_size, d, "kernel_size", op)
    s = k if stride is None or (not isinstance(stride, int) and len(stride) == 0) else ntuple(
        stride, d, "stride", op)
    p = ntuple(padding, d, "padding", op)
    dl = ntuple(dilation, d, "dilation", op)
    for name, v in (("kernel_size", k), ("stride", s), ("dilation", dl)):
        if min(v) <= 0:
            raise ValueError(f"{op}: {name} must be greater than zero, but got {v}")
    if min(p) < 0 or any(2 * pp > kk for pp, kk in zip(p, k, strict=True)):
        raise ValueError(f"{op}: pad should be at most half of effective kernel size, but got "
                         f"padding={p} and kernel_size={k}")
    return k, s, p, dl


def _batched(x: Tensor, d: int) -> tuple[Tensor, bool]:
    return (x, True) if x.ndim == d + 2 else (x.unsqueeze(0), False)


def _operand(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor._make(np.asarray(x))


_MAX = {1: MaxPool1d, 2: MaxPool2d}
_AVG = {1: AvgPool1d, 2: AvgPool2d}


def max_pool(op: str, d: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
             dilation: Any, ceil_mode: bool, return_indices: bool) -> Any:
    """The ``d``-dimensional max pooling behind ``F.max_pool1d`` and ``F.max_pool2d``."""
    x = _operand(input)
    k, s, p, dl = _pool_args(op, d, x, kernel_size, stride, padding, dilation)
    x, batched = _batched(x, d)
    grid, pads = pool_grid(op, x.shape[2:], k, s, p, dl, ceil_mode, x)
    node_out = _MAX[d].apply(x, kernel=k, stride=s, pads=pads, dilation=dl, grid=grid)
    y = node_out if batched else node_out.squeeze(0)
    if not return_indices:
        return y
    indices = _last_indices(x, k, s, pads, dl, grid, node_out, d)
    return y, Tensor._make(indices if batched else indices[0])


def _last_indices(x: Tensor, k: tuple[int, ...], s: tuple[int, ...], pads: Pads,
                  dl: tuple[int, ...], grid: tuple[int, ...], out: Tensor, d: int) -> np.ndarray:
    """The argmax indices of the pooling that made ``out`` (recomputed without a graph)."""
    node = out.grad_fn
    if node is None:
        node = _MAX[d].__new__(_MAX[d])
        node.input_shapes = (tuple(x.shape),)
        node.forward(x._data, kernel=k, stride=s, pads=pads, dilation=dl, grid=grid)
    return node.indices()


def avg_pool(op: str, d: int, input: Tensor, kernel_size: Any, stride: Any, padding: Any,
             ceil_mode: bool, count_include_pad: bool, divisor_override: int | None) -> Tensor:
    """The ``d``-dimensional average pooling behind ``F.avg_pool1d`` and ``F.avg_pool2d``."""
    x = _operand(input)
    k, s, p, _ = _pool_args(op, d, x, kernel_size, stride, padding)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError(f"{op}: divisor must be not zero")
    x, batched = _batched(x, d)
    spatial = x.shape[2:]
    grid, pads = pool_grid(op, spatial, k, s, p, (1,) * d, ceil_mode, x)
    if divisor_override is not None:
        scale = np.full(grid, 1.0 / divisor_override)
    else:
        counts = [_counts(n, kk, ss, pp, g, count_include_pad)
                  for n, kk, ss, pp, g in zip(spatial, k, s, p, grid, strict=True)]
        count = counts[0] if d == 1 else np.multiply.outer(counts[0], counts[1])
        scale = 1.0 / count
    y = _AVG[d].apply(x, kernel=k, stride=s, pads=pads, grid=grid, scale=scale)
    return y if batched else y.squeeze(0)


def _counts(n: int, k: int, s: int, p: int, grid: int, include_pad: bool) -> np.ndarray:
    """Elements each window counts along one dimension (PyTorch's avg_pool divisor)."""
    start = np.arange(grid) * s - p
    end = np.minimum(start + k, n + p)
    if include_pad:
        return (end - start).astype(np.float64)
    return (np.minimum(end, n) - np.maximum(start, 0)).astype(np.float64)


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max over ``output_size`` adaptive windows (PyTorch's bounds; sizes need not divide).

    ``output_size`` an int or a pair; None in it keeps that input dimension.
    """
    x = _operand(input)
    if x.ndim not in (3, 4):
        raise ShapeError(f"adaptive_max_pool2d: Expected 3D or 4D tensor, but got input of "
                         f"size: {list(x.shape)}")
    x, batched = _batched(x, 2)
    size = adaptive_size("adaptive_max_pool2d", output_size, x.shape[2:])
    if any(n == 0 for n in x.shape[2:]):
        raise ShapeError(f"adaptive_max_pool2d: expected non-empty spatial dimensions, got "
                         f"input of size {list(x.shape)}")
    y = AdaptiveMaxPool2d.apply(x, output_size=size)
    out = y if batched else y.squeeze(0)
    if not return_indices:
        return out
    if y.grad_fn is not None:
        idx = y.grad_fn.indices
    else:
        node = AdaptiveMaxPool2d.__new__(AdaptiveMaxPool2d)
        node.forward(x._data, output_size=size)
        idx = node.indices
    return out, Tensor._make(idx if batched else idx[0])


def adaptive_size(op: str, output_size: Any, spatial: Sequence[int]) -> tuple[int, ...]:
    """``output_size`` as a tuple with None replaced by the input's size."""
    d = len(spatial)
    items = (output_size,) * d if output_size is None or isinstance(output_size, int) else tuple(
        output_size)
    if len(items) == 1:
        items = items * d
    if len(items) != d:
        raise ValueError(f"{op}: output_size must be an int or a tuple of {d}, got "
                         f"{output_size!r}")
    size = tuple(n if v is None else int(v) for v, n in zip(items, spatial, strict=True))
    if min(size) < 0:
        raise ValueError(f"{op}: output_size must be non-negative, got {output_size!r}")
    return size


# -- the functional forms -----------------------------------------------------------------


def max_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over windows of length ``kernel_size`` of ``(N, C, L)`` or ``(C, L)``.

    ``stride`` defaults to ``kernel_size``; the padding (at most half the kernel) counts
    as -inf. With ``return_indices`` also the argmax's index into ``L`` (PyTorch's).
    """
    return max_pool("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode,
                    return_indices)


def max_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """Max over ``kH x kW`` windows of ``(N, C, H, W)`` or ``(C, H, W)``.

    ``stride`` defaults to ``kernel_size``; the padding (at most half the kernel) counts
    as -inf; ``ceil_mode`` rounds the output size up. With ``return_indices`` also the
    flat index ``h * W + w`` of each maximum in its input plane, as PyTorch's.

    Shape: ``H' = (H + 2p - d(k-1) - 1) // s + 1`` (rounded up with ``ceil_mode``).
    """
    return max_pool("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode,
                    return_indices)


def avg_pool1d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over windows of length ``kernel_size`` of ``(N, C, L)`` or ``(C, L)``."""
    return avg_pool("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode,
                    count_include_pad, None)


def avg_pool2d(input: Tensor, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over ``kH x kW`` windows of ``(N, C, H, W)`` or ``(C, H, W)``.

    The divisor is the window's size including zero padding (``count_include_pad``) or
    only the input elements it covers; ``divisor_override`` replaces it.
    """
    return avg_pool("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode,
                    count_include_pad, divisor_override)
