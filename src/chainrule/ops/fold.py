"""im2col and col2im: the patch gather that turns a convolution into one matrix product,
and its adjoint, the patch sum.

``im2col`` lays every receptive field of a zero-padded input ``X (N,C,*S)`` out as a column
of a matrix ``cols (C*K, N*L)`` (``K`` the kernel's size, ``L`` the number of windows per
sample); a convolution is then the seeds' affine layer ``W @ cols``. ``col2im`` is its
adjoint: each column is added back onto the window it came from, so overlapping windows
sum (as Repeat/Sum is to broadcast). Each is the other's backward, so gradients of any
order come for free. ``F.unfold`` and ``F.fold`` are PyTorch's layout ``(N, C*K, L)`` of
the same two nodes.
"""

from __future__ import annotations

import functools
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from chainrule.autograd.function import Op
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

__all__: list[str] = []  # F.unfold and F.fold live in nn.functional

Pads = tuple[tuple[int, int], ...]  # (before, after) per spatial dimension


# -- geometry ---------------------------------------------------------------------------


def ntuple(value: Any, n: int, name: str, op: str) -> tuple[int, ...]:
    """``value`` (an int or a sequence of n ints) as an n-tuple of ints."""
    if type(value) is int:  # the usual cases first: an int, or already an n-tuple
        return (value,) * n
    if type(value) is tuple and len(value) == n and all(type(v) is int for v in value):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return (int(value),) * n
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of {n} ints, "
                        f"got {value!r}") from None
    if len(items) == 1:
        items = items * n
    if len(items) != n or not all(isinstance(v, int | np.integer) for v in items):
        raise ValueError(f"{op}: {name} must be an int or a tuple of {n} ints, got {value!r}")
    return tuple(int(v) for v in items)


def grid_size(size: int, kernel: int, stride: int, pads: tuple[int, int],
              dilation: int) -> int:
    """How many windows fit along one dimension: ``(S + pads - d(k-1) - 1) // s + 1``."""
    return (size + pads[0] + pads[1] - dilation * (kernel - 1) - 1) // stride + 1


def pad_for_windows(X: np.ndarray, pads: Pads, grid: Sequence[int], kernel: Sequence[int],
                    stride: Sequence[int], dilation: Sequence[int], fill: Any = 0) -> np.ndarray:
    """X padded by ``pads`` with ``fill``, cut or extended to what the windows of ``grid``
    read (a ceil-mode pooling window may reach past the padding)."""
    spatial = X.shape[2:]
    need = [(g - 1) * s + d * (k - 1) + 1
            for g, k, s, d in zip(grid, kernel, stride, dilation, strict=True)]
    if all(p == (0, 0) for p in pads) and tuple(need) == spatial:
        return X
    shape = X.shape[:2] + tuple(need)
    out = np.zeros(shape, X.dtype) if fill == 0 else np.full(shape, fill, X.dtype)
    src, dst = [slice(None)] * 2, [slice(None)] * 2
    for (lo, _), n, size in zip(pads, need, spatial, strict=True):
        start, stop = max(lo, 0), min(lo + size, n)  # where X lands in the padded frame
        dst.append(slice(start, stop))
        src.append(slice(start - lo, stop - lo))
    out[tuple(dst)] = X[tuple(src)]
    return out


def windows(Xp: np.ndarray, kernel: Sequence[int], stride: Sequence[int],
            dilation: Sequence[int], grid: Sequence[int]) -> np.ndarray:
    """A view ``(N, C, *grid, *kernel)`` of the receptive fields of a padded ``Xp``."""
    span = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    view = sliding_window_view(Xp, span, axis=tuple(range(2, Xp.ndim)))
    index = (slice(None), slice(None))
    index += tuple(slice(0, (g - 1) * s + 1, s) for g, s in zip(grid, stride, strict=True))
    index += tuple(slice(None, None, d) for d in dilation)
    return view[index]


@functools.lru_cache(maxsize=256)
def _offsets(kernel: tuple[int, ...], stride: tuple[int, ...], dilation: tuple[int, ...],
             grid: tuple[int, ...]) -> tuple[tuple[tuple[int, ...], tuple[slice, ...]], ...]:
    """Each kernel offset with the strided slice of the padded input its windows read
    (computed once per geometry: a layer calls it with the same arguments every step)."""
    out = []
    for offset in itertools.product(*(range(k) for k in kernel)):
        slices = tuple(slice(i * d, i * d + (g - 1) * s + 1, s)
                       for i, d, g, s in zip(offset, dilation, grid, stride, strict=True))
        out.append((offset, slices))
    return tuple(out)


# -- the two kernels on arrays ----------------------------------------------------------


def im2col_array(X: np.ndarray, kernel: Sequence[int], stride: Sequence[int], pads: Pads,
                 dilation: Sequence[int], grid: Sequence[int]) -> np.ndarray:
    """``cols (C*K, N*L)``: column ``(n, l)`` holds the window ``l`` of sample ``n``."""
    N, C = X.shape[:2]
    Xp = pad_for_windows(X, pads, grid, kernel, stride, dilation)
    cols = np.empty((C, *kernel, N, *grid), X.dtype)
    for offset, slices in _offsets(kernel, stride, dilation, grid):
        # (C, N, *grid) = the input's values under this kernel offset, every window at once
        cols[(slice(None), *offset)] = Xp[(slice(None), slice(None), *slices)].swapaxes(0, 1)
    return cols.reshape(C * math.prod(kernel), N * math.prod(grid))


def col2im_array(cols: np.ndarray, shape: Sequence[int], kernel: Sequence[int],
                 stride: Sequence[int], pads: Pads, dilation: Sequence[int],
                 grid: Sequence[int]) -> np.ndarray:
    """``X (N,C,*S)``: every column added back onto its window, the padding cropped."""
    N, C, *spatial = shape
    g = cols.reshape(C, *kernel, N, *grid)
    padded = [max(lo + s + hi, (n - 1) * st + d * (k - 1) + 1)
              for (lo, hi), s, n, st, d, k in zip(pads, spatial, grid, stride, dilation, kernel,
                                                  strict=True)]
    Xp = np.zeros((C, N, *padded), cols.dtype)  # channel-first: g[:, offset] adds in place
    for offset, slices in _offsets(kernel, stride, dilation, grid):
        Xp[(slice(None), slice(None), *slices)] += g[(slice(None), *offset)]
    crop = tuple(slice(lo, lo + s) for (lo, _), s in zip(pads, spatial, strict=True))
    return np.ascontiguousarray(Xp[(slice(None), slice(None), *crop)].swapaxes(0, 1))


# -- the two nodes ----------------------------------------------------------------------


class Im2col(Op):
    """cols = im2col(X): each receptive field of the zero-padded X as one column.

    ``cols[(c, *k), (n, *l)] = Xpad[n, c, l * stride + k * dilation]``.
    """

    shapes = {"X": "(N,C,*S)", "Y": "(C*K,N*L)"}

    def forward(self, X: np.ndarray, *, kernel: tuple[int, ...], stride: tuple[int, ...],
                pads: Pads, dilation: tuple[int, ...], grid: tuple[int, ...]) -> np.ndarray:
        self.geometry = (kernel, stride, pads, dilation, grid)
        return im2col_array(X, kernel, stride, pads, dilation, grid)

    def backward(self, dY: Any) -> Any:
        """dX = col2im(dY)  (N,C,*S) = (C*K,N*L)"""
        return col2im(dY, self.input_shapes[0], *self.geometry)


class Col2im(Op):
    """X = col2im(cols): each column added onto its window; the adjoint of ``im2col``."""

    shapes = {"cols": "(C*K,N*L)", "Y": "(N,C,*S)"}

    def forward(self, cols: np.ndarray, *, shape: tuple[int, ...], kernel: tuple[int, ...],
                stride: tuple[int, ...], pads: Pads, dilation: tuple[int, ...],
                grid: tuple[int, ...]) -> np.ndarray:
        self.geometry = (kernel, stride, pads, dilation, grid)
        return col2im_array(cols, shape, kernel, stride, pads, dilation, grid)

    def backward(self, dY: Any) -> Any:
        """dcols = im2col(dY)  (C*K,N*L) = (N,C,*S)"""
        return im2col(dY, *self.geometry)


def im2col(X: Any, kernel: tuple[int, ...], stride: tuple[int, ...], pads: Pads,
           dilation: tuple[int, ...], grid: tuple[int, ...]) -> Any:
    """im2col of an ndarray (no graph) or of a Tensor (a recorded ``Im2col`` node)."""
    if isinstance(X, Tensor):
        return Im2col.apply(X, kernel=kernel, stride=stride, pads=pads, dilation=dilation,
                            grid=grid)
    return im2col_array(X, kernel, stride, pads, dilation, grid)


def col2im(cols: Any, shape: Sequence[int], kernel: tuple[int, ...], stride: tuple[int, ...],
           pads: Pads, dilation: tuple[int, ...], grid: tuple[int, ...]) -> Any:
    """col2im of an ndarray (no graph) or of a Tensor (a recorded ``Col2im`` node)."""
    if isinstance(cols, Tensor):
        return Col2im.apply(cols, shape=tuple(shape), kernel=kernel, stride=stride, pads=pads,
                            dilation=dilation, grid=grid)
    return col2im_array(cols, shape, kernel, stride, pads, dilation, grid)


# -- F.unfold and F.fold ----------------------------------------------------------------


def unfold(input: Tensor, kernel_size: Any, dilation: Any = 1, padding: Any = 0,
           stride: Any = 1) -> Tensor:
    """Extract sliding local blocks (im2col), as ``torch.nn.functional.unfold``.

    Shape: ``(N, C, H, W)`` (or unbatched ``(C, H, W)``) -> ``(N, C*kH*kW, L)`` with ``L``
    the number of windows; block ``l`` of channel ``c`` is the column ``[:, c*kH*kW + k, l]``.
    """
    x = input
    if x.ndim not in (3, 4):
        raise ShapeError(f"unfold: expected a 3-D (unbatched) or 4-D (batched) input, got "
                         f"shape {tuple(x.shape)}")
    batched = x.ndim == 4
    if not batched:
        x = x.unsqueeze(0)
    k, d, p, s = (ntuple(v, 2, name, "unfold") for v, name in
                  ((kernel_size, "kernel_size"), (dilation, "dilation"), (padding, "padding"),
                   (stride, "stride")))
    _check_positive("unfold", kernel_size=k, dilation=d, stride=s)
    if min(p) < 0:
        raise ValueError(f"unfold: padding must be non-negative, got {padding}")
    N, C, H, W = x.shape
    pads = tuple((q, q) for q in p)
    grid = tuple(grid_size(n, kk, ss, pp, dd) for n, kk, ss, pp, dd in zip(
        (H, W), k, s, pads, d, strict=True))
    if min(grid) < 1:
        raise ShapeError(f"unfold: the kernel {k} with dilation {d} does not fit the padded "
                         f"input of spatial size {(H + 2 * p[0], W + 2 * p[1])} (input "
                         f"{tuple(input.shape)}, padding {p})")
    cols = Im2col.apply(x, kernel=k, stride=s, pads=pads, dilation=d, grid=grid)
    L = grid[0] * grid[1]
    out = cols.reshape(C * k[0] * k[1], N, L).permute(1, 0, 2)  # (N, C*K, L)
    return out if batched else out.squeeze(0)


def fold(input: Tensor, output_size: Any, kernel_size: Any, dilation: Any = 1,
         padding: Any = 0, stride: Any = 1) -> Tensor:
    """Combine sliding local blocks into a tensor, summing overlaps (col2im), as PyTorch.

    Shape: ``(N, C*kH*kW, L)`` (or unbatched ``(C*kH*kW, L)``) -> ``(N, C, H, W)`` with
    ``(H, W) = output_size``. The adjoint of ``unfold``: ``fold(unfold(x))`` multiplies each
    element of ``x`` by the number of blocks it is in.
    """
    x = input
    if x.ndim not in (2, 3):
        raise ShapeError(f"fold: expected a 2-D (unbatched) or 3-D (batched) input, got "
                         f"shape {tuple(x.shape)}")
    batched = x.ndim == 3
    if not batched:
        x = x.unsqueeze(0)
    size, k, d, p, s = (ntuple(v, 2, name, "fold") for v, name in
                        ((output_size, "output_size"), (kernel_size, "kernel_size"),
                         (dilation, "dilation"), (padding, "padding"), (stride, "stride")))
    _check_positive("fold", kernel_size=k, dilation=d, stride=s)
    N, CK, L = x.shape
    K = k[0] * k[1]
    if CK % K:
        raise ShapeError(f"fold: expected size of input's dimension 1 to be divisible by the "
                         f"product of kernel_size, but got input.size(1)={CK} and "
                         f"kernel_size={k}")
    pads = tuple((q, q) for q in p)
    grid = tuple(grid_size(n, kk, ss, pp, dd) for n, kk, ss, pp, dd in zip(
        size, k, s, pads, d, strict=True))
    if min(grid) < 1 or grid[0] * grid[1] != L:
        raise ShapeError(f"fold: given output_size={size}, kernel_size={k}, dilation={d}, "
                         f"padding={p}, stride={s}, expected size of input's dimension 2 to "
                         f"match the calculated number of sliding blocks {grid[0]} * {grid[1]} "
                         f"= {grid[0] * grid[1]}, but got input.size(2)={L}")
    cols = x.permute(1, 0, 2).reshape(CK, N * L)  # (C*K, N*L)
    out = Col2im.apply(cols, shape=(N, CK // K, *size), kernel=k, stride=s, pads=pads,
                       dilation=d, grid=grid)
    return out if batched else out.squeeze(0)


def _check_positive(op: str, **values: tuple[int, ...]) -> None:
    for name, v in values.items():
        if min(v) <= 0:
            raise ValueError(f"{op}: {name} must be greater than zero, got {v}")
