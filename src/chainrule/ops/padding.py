"""Padding and resampling as graph nodes: ``F.pad`` (four modes), ``F.interpolate``
(nearest, bilinear) and adaptive average pooling.

All but constant padding are linear maps acting on each spatial axis separately: a
``(S', S)`` matrix per axis (``AxisMaps``): a selection for nearest, reflect, replicate
and circular, interpolation weights for bilinear, window means for adaptive pooling. So
``Y = A_h @ X @ A_w.T`` and the backward is the transposed map ``dX = A_h.T @ dY @ A_w``:
one rule for all of them, differentiable again. Constant padding is its own adjoint
with the pads negated (padding by -p crops).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.ops.pooling import adaptive_bounds, adaptive_size
from chainrule.tensor import Tensor

__all__: list[str] = []  # the functional forms live in nn.functional


# -- linear maps along the trailing axes ------------------------------------------------


def apply_maps(x: Any, maps: Sequence[np.ndarray]) -> Any:
    """``x`` with ``maps[i]`` (S'_i, S_i) applied along its i-th trailing axis."""
    n = len(maps)
    for i, A in enumerate(maps):
        axis = len(x.shape) - n + i
        if axis == len(x.shape) - 1:
            x = x @ A.T  # (*, S') = (*, S)(S, S')
        else:
            x = _math.swapaxes(_math.swapaxes(x, axis, -1) @ A.T, axis, -1)
    return x


class AxisMaps(Op):
    """Y = X with one matrix applied along each trailing axis: ``A_h @ X @ A_w.T``.

    ``index``, when given, says each matrix is a selection (one 1 per row): the forward
    then gathers (exact, and inf stays inf) instead of multiplying.
    """

    shapes = {"X": "(*,S)", "Y": "(*,S')"}

    def forward(self, X: np.ndarray, *, maps: tuple[np.ndarray, ...],
                index: tuple[np.ndarray, ...] | None = None) -> np.ndarray:
        self.maps = tuple(A.astype(X.dtype, copy=False) for A in maps)
        if index is None:
            return apply_maps(X, self.maps)
        n = len(index)
        for i, idx in enumerate(index):
            X = X.take(idx, axis=X.ndim - n + i)
        return X

    def backward(self, dY: Any) -> Any:
        """dX = A.T @ dY along each axis  (*,S) = (S,S')(*,S')"""
        return apply_maps(dY, [A.T for A in self.maps])


class _AxisMaps2d(AxisMaps):
    shapes = {"X": "(N,C,H,W)", "Y": "(N,C,H',W')"}

    def backward(self, dY: Any) -> Any:
        """dX = A_h.T @ dY @ A_w  (N,C,H,W) = (H,H')(N,C,H',W')(W',W)"""
        return apply_maps(dY, [A.T for A in self.maps])


class _AxisMaps1d(AxisMaps):
    shapes = {"X": "(N,C,L)", "Y": "(N,C,L')"}

    def backward(self, dY: Any) -> Any:
        """dX = dY @ A  (N,C,L) = (N,C,L')(L',L)"""
        return apply_maps(dY, [A.T for A in self.maps])


def _named(name: str, d: int, doc: str) -> type[AxisMaps]:
    base = {1: _AxisMaps1d, 2: _AxisMaps2d}.get(d, AxisMaps)
    return type(name, (base,), {"__doc__": doc, "__module__": __name__})


AdaptiveAvgPool1d = _named("AdaptiveAvgPool1d", 1, "Y = X @ A.T: the mean of each adaptive window.")
AdaptiveAvgPool2d = _named("AdaptiveAvgPool2d", 2,
                           "Y = A_h @ X @ A_w.T: the mean of each adaptive window.")
UpsampleNearest1d = _named("UpsampleNearest1d", 1, "Y = X @ A.T with A selecting the nearest.")
UpsampleNearest2d = _named("UpsampleNearest2d", 2,
                           "Y = A_h @ X @ A_w.T with A selecting the nearest source pixel.")
UpsampleLinear1d = _named("UpsampleLinear1d", 1, "Y = X @ A.T, A the linear weights.")
UpsampleBilinear2d = _named("UpsampleBilinear2d", 2,
                            "Y = A_h @ X @ A_w.T, A the linear interpolation weights.")
_PAD_DOC = "Y = X with each padded axis gathered from X's own values: A_h @ X @ A_w.T."
ReflectionPad = {d: _named(f"ReflectionPad{d}d", d, _PAD_DOC) for d in (1, 2, 3)}
ReplicationPad = {d: _named(f"ReplicationPad{d}d", d, _PAD_DOC) for d in (1, 2, 3)}
CircularPad = {d: _named(f"CircularPad{d}d", d, _PAD_DOC) for d in (1, 2, 3)}


def _selection(index: np.ndarray, size: int) -> np.ndarray:
    """The ``(len(index), size)`` matrix with a 1 at ``(i, index[i])``."""
    A = np.zeros((len(index), size))
    A[np.arange(len(index)), index] = 1
    return A


# -- F.pad --------------------------------------------------------------------------------


class ConstantPad(Op):
    """Y = X surrounded by ``value`` (a negative pad crops); its adjoint pads by -pads."""

    shapes = {"X": "(*x)", "Y": "(*y)"}

    def forward(self, X: np.ndarray, *, pads: tuple[tuple[int, int], ...],
                value: float = 0.0) -> np.ndarray:
        self.pads = pads
        n = len(pads)
        lead = X.shape[: X.ndim - n]
        out_sp = [s + lo + hi for s, (lo, hi) in zip(X.shape[X.ndim - n:], pads, strict=True)]
        Y = np.full(lead + tuple(out_sp), value, X.dtype)
        src, dst = [slice(None)] * len(lead), [slice(None)] * len(lead)
        for s, (lo, _), o in zip(X.shape[X.ndim - n:], pads, out_sp, strict=True):
            start, stop = max(lo, 0), min(lo + s, o)
            dst.append(slice(start, max(stop, start)))
            src.append(slice(start - lo, max(stop, start) - lo))
        Y[tuple(dst)] = X[tuple(src)]
        return Y

    def backward(self, dY: Any) -> Any:
        """dX = pad(dY, -pads)  (*x) = (*y)"""
        neg = tuple((-lo, -hi) for lo, hi in self.pads)
        if isinstance(dY, Tensor):
            return ConstantPad.apply(dY, pads=neg)
        return ConstantPad.forward(ConstantPad.__new__(ConstantPad), dY, pads=neg)


def _pad_index(mode: str, size: int, lo: int, hi: int) -> np.ndarray:
    """Source index of each padded position along one axis."""
    pos = np.arange(-lo, size + hi)
    if mode == "replicate":
        return np.clip(pos, 0, size - 1)
    if mode == "circular":
        return pos % size
    period = 2 * (size - 1)  # reflect: ... 2 1 [0 1 2 3] 2 1 0 ...
    pos = np.abs(pos) % period if period else np.zeros_like(pos)
    return np.where(pos >= size, period - pos, pos)


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dimensions, as ``torch.nn.functional.pad``.

    ``pad`` lists (left, right) for the last dimension first: ``(1, 1, 2, 0)`` pads the
    last dimension by 1 on each side and the one before by 2 on top. ``mode``:
    ``'constant'`` (``value``, default 0; negative pads crop), ``'reflect'`` (mirror
    without repeating the edge), ``'replicate'`` (repeat the edge) or ``'circular'``
    (wrap around); the last three pad 1 to 3 spatial dimensions of a batched or
    unbatched input.
    """
    x = input if isinstance(input, Tensor) else Tensor._make(np.asarray(input))
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)} ({pad})")
    n = len(pad) // 2
    if n > x.ndim:
        raise ValueError(f"pad: padding length {len(pad)} is too large for an input of "
                         f"shape {tuple(x.shape)} (at most {2 * x.ndim})")
    pairs = tuple((pad[2 * (n - 1 - i)], pad[2 * (n - 1 - i) + 1]) for i in range(n))
    if mode == "constant":
        out = [s + lo + hi for s, (lo, hi) in zip(x.shape[x.ndim - n:], pairs, strict=True)]
        if min(out, default=1) < 0:
            raise ShapeError(f"pad: the padding {pad} makes a negative size {out} for an input "
                             f"of shape {tuple(x.shape)}")
        return ConstantPad.apply(x, pads=pairs, value=0.0 if value is None else float(value))
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: padding mode {mode!r} is not supported; use "
                                  "'constant', 'reflect', 'replicate' or 'circular'")
    if value is not None and value != 0:
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    if not (n + 1 <= x.ndim <= n + 2) or n > 3:
        raise NotImplementedError(f"pad: {mode} padding of {n} dimension(s) needs a {n + 1}-D "
                                  f"or {n + 2}-D input, got shape {tuple(x.shape)}")
    maps, index = [], []
    for s, (lo, hi) in zip(x.shape[x.ndim - n:], pairs, strict=True):
        if mode == "reflect" and (lo >= s or hi >= s):
            raise ValueError(f"pad: padding size should be less than the corresponding input "
                             f"dimension, but got padding ({lo}, {hi}) at a dimension of size "
                             f"{s} (input {tuple(x.shape)})")
        if mode == "circular" and (lo > s or hi > s):
            raise ValueError(f"pad: padding value ({lo}, {hi}) causes wrapping around more than "
                             f"once for a dimension of size {s} (input {tuple(x.shape)})")
        if min(lo, hi) < 0 and mode != "circular":
            raise ValueError(f"pad: {mode} padding must be non-negative, got {pad}")
        idx = _pad_index(mode, s, lo, hi)
        index.append(idx)
        maps.append(_selection(idx, s))
    cls = {"reflect": ReflectionPad, "replicate": ReplicationPad, "circular": CircularPad}[mode][n]
    return cls.apply(x, maps=tuple(maps), index=tuple(index))


# -- adaptive average pooling -------------------------------------------------------------


def _mean_matrix(size: int, out: int) -> np.ndarray:
    """``(out, size)``: row i averages PyTorch's adaptive window i."""
    A = np.zeros((out, size))
    for i, (a, b) in enumerate(adaptive_bounds(size, out)):
        A[i, a:b] = 1.0 / (b - a)
    return A


def adaptive_avg_pool(op: str, d: int, input: Tensor, output_size: Any) -> Tensor:
    """The mean over ``output_size`` adaptive windows, as PyTorch (sizes need not divide)."""
    x = input if isinstance(input, Tensor) else Tensor._make(np.asarray(input))
    if x.ndim not in (d + 1, d + 2):
        raise ShapeError(f"{op}: Expected {d + 1}D or {d + 2}D tensor, but got input of size: "
                         f"{list(x.shape)}")
    spatial = x.shape[x.ndim - d:]
    size = adaptive_size(op, output_size, spatial)
    if any(n == 0 for n in spatial):
        raise ShapeError(f"{op}: expected non-empty spatial dimensions, got input of size "
                         f"{list(x.shape)}")
    maps = tuple(_mean_matrix(n, o) for n, o in zip(spatial, size, strict=True))
    cls = AdaptiveAvgPool1d if d == 1 else AdaptiveAvgPool2d
    return cls.apply(x, maps=maps)


# -- F.interpolate ------------------------------------------------------------------------


def _scale(in_size: int, out_size: int, scale_factor: float | None, align: bool) -> float:
    """PyTorch's source-coordinate scale for one axis."""
    if align:
        return (in_size - 1) / (out_size - 1) if out_size > 1 else 0.0
    if scale_factor is not None:
        return 1.0 / scale_factor
    return in_size / out_size


def _nearest_index(in_size: int, out_size: int, scale_factor: float | None) -> np.ndarray:
    scale = np.float32(_scale(in_size, out_size, scale_factor, False))
    src = np.floor(np.arange(out_size, dtype=np.float32) * scale).astype(np.int64)
    return np.minimum(src, in_size - 1)


def _linear_matrix(in_size: int, out_size: int, scale_factor: float | None,
                   align: bool) -> np.ndarray:
    """``(out, in)`` linear interpolation weights (PyTorch's source index rule)."""
    scale = _scale(in_size, out_size, scale_factor, align)
    dst = np.arange(out_size, dtype=np.float64)
    src = dst * scale if align else np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    i1 = np.minimum(i0 + 1, in_size - 1)
    lam = src - i0
    A = np.zeros((out_size, in_size))
    rows = np.arange(out_size)
    np.add.at(A, (rows, i0), 1 - lam)
    np.add.at(A, (rows, i1), lam)
    return A


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None, antialias: bool = False) -> Tensor:
    """Resize the spatial dimensions, as ``torch.nn.functional.interpolate``.

    ``mode`` ``'nearest'`` (3-D or 4-D input), ``'linear'`` (3-D) or ``'bilinear'`` (4-D);
    exactly one of ``size`` and ``scale_factor``. ``align_corners`` (linear modes only)
    maps the corner pixels' centres onto each other.
    """
    x = input if isinstance(input, Tensor) else Tensor._make(np.asarray(input))
    d = x.ndim - 2
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if d not in (1, 2):
        raise ShapeError(f"interpolate: expected a 3-D or 4-D input (N, C, *spatial), got "
                         f"shape {tuple(x.shape)}")
    if mode not in ("nearest", "linear", "bilinear"):
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported; use "
                                  "'nearest', 'linear' or 'bilinear'")
    if (mode == "linear" and d != 1) or (mode == "bilinear" and d != 2):
        raise NotImplementedError(f"interpolate: got {x.ndim}D input, but {mode} mode needs "
                                  f"{3 if mode == 'linear' else 4}D input")
    if mode == "nearest" and align_corners is not None:
        raise ValueError("interpolate: align_corners option can only be set with the "
                         "interpolating modes: linear | bilinear | bicubic | trilinear")
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: only one of size or scale_factor should be defined")
    spatial = tuple(x.shape[2:])
    if size is not None:
        out = tuple(size) if isinstance(size, list | tuple) else (size,) * d
        if len(out) != d:
            raise ValueError(f"interpolate: input and output must have the same number of "
                             f"spatial dimensions, but got input with spatial dimensions of "
                             f"{list(spatial)} and output size of {list(out)}")
        factors: tuple[float | None, ...] = (None,) * d
    else:
        sf = tuple(scale_factor) if isinstance(scale_factor, list | tuple) else (
            scale_factor,) * d
        if len(sf) != d:
            raise ValueError(f"interpolate: scale_factor {scale_factor!r} does not match the "
                             f"{d} spatial dimension(s)")
        out = tuple(int(math.floor(n * float(f))) for n, f in zip(spatial, sf, strict=True))
        factors = (None,) * d if recompute_scale_factor else tuple(float(f) for f in sf)
    if min(out) <= 0:
        raise ValueError(f"interpolate: the output size {out} must be positive (input "
                         f"{tuple(x.shape)})")
    if mode == "nearest":
        index = tuple(_nearest_index(n, o, f) for n, o, f in zip(spatial, out, factors,
                                                                  strict=True))
        maps = tuple(_selection(i, n) for i, n in zip(index, spatial, strict=True))
        cls = UpsampleNearest1d if d == 1 else UpsampleNearest2d
        return cls.apply(x, maps=maps, index=index)
    align = bool(align_corners)
    maps = tuple(_linear_matrix(n, o, f, align) for n, o, f in zip(spatial, out, factors,
                                                                    strict=True))
    cls = UpsampleLinear1d if d == 1 else UpsampleBilinear2d
    return cls.apply(x, maps=maps)
