"""Tensor factories: ``zeros ones full empty arange linspace eye rand randn randint randperm``
and the ``*_like`` forms, with PyTorch's signatures (sizes as ``2, 3`` or ``(2, 3)``)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.device import check_device
from chainrule.ops._errors import ShapeError
from chainrule.random import Generator, _np_generator
from chainrule.tensor import Tensor

__all__ = [
    "zeros", "ones", "full", "empty", "arange", "linspace", "eye",
    "zeros_like", "ones_like", "full_like", "empty_like", "rand_like", "randn_like",
    "rand", "randn", "randint", "randperm", "normal",
]


def _size(size: tuple[Any, ...], op: str) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    try:
        shape = tuple(int(s) for s in size)
    except TypeError:
        raise TypeError(f"{op}: size must be ints or a tuple of ints, got {size!r}") from None
    if any(s < 0 for s in shape):
        raise ShapeError(f"{op}: negative dimension in size {shape}")
    return shape


def _make(arr: np.ndarray, requires_grad: bool, device: Any = None, op: str = "factory"
          ) -> Tensor:
    check_device(device, op)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _float(dtype: Any) -> np.dtype:
    return dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)


def zeros(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
          ) -> Tensor:
    return _make(np.zeros(_size(size, "zeros"), _float(dtype)), requires_grad, device, "zeros")


def ones(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
         ) -> Tensor:
    return _make(np.ones(_size(size, "ones"), _float(dtype)), requires_grad, device, "ones")


def empty(*size: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False
          ) -> Tensor:
    return _make(np.empty(_size(size, "empty"), _float(dtype)), requires_grad, device, "empty")


def full(size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
         requires_grad: bool = False) -> Tensor:
    if dtype is None:
        if isinstance(fill_value, bool):
            dtype = dtypes.bool
        elif isinstance(fill_value, int):
            dtype = dtypes.int64
    shape = _size((size,) if not isinstance(size, (tuple, list)) else tuple(size), "full")
    return _make(np.full(shape, fill_value, _float(dtype)), requires_grad, device, "full")


def arange(start: Any, end: Any = None, step: Any = 1, dtype: Any = None, device: Any = None,
           requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if dtype is None:
        ints = all(isinstance(v, int) for v in (start, end, step))
        dtype = dtypes.int64 if ints else dtypes.get_default_dtype()
    _check_arange(start, end, step)
    try:
        values = np.arange(start, end, step)
    except (ValueError, MemoryError) as e:  # more elements than memory can hold
        raise RuntimeError(f"arange({start}, {end}, {step}): too many elements ({e})") from None
    return _make(values.astype(dtypes.as_dtype(dtype)), requires_grad, device, "arange")


def _check_arange(start: Any, end: Any, step: Any) -> None:
    """PyTorch's checks, before NumPy can wrap a bound past int64 into an empty range."""
    bounds = []
    for name, v in (("start", start), ("end", end), ("step", step)):
        v = v.item() if isinstance(v, Tensor | np.generic) else v
        if isinstance(v, int) and not -(2**63) <= v < 2**63:
            raise RuntimeError(
                f"arange: {name}={v} cannot be converted to int64 without overflow"
            )
        if isinstance(v, float) and not math.isfinite(v):
            raise RuntimeError(f"arange: unsupported range: {start} -> {end} (step {step})")
        bounds.append(v)
    start, end, step = bounds
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange: upper bound {end} and lower bound {start} inconsistent with step sign "
            f"({step})"
        )
    length = math.ceil((end - start) / step) if isinstance(step, float) or any(
        isinstance(v, float) for v in (start, end)
    ) else -((start - end) // step)
    if length >= 2**63:
        raise RuntimeError(f"arange: {length} elements do not fit in int64")


def linspace(start: float, end: float, steps: int, dtype: Any = None, device: Any = None,
             requires_grad: bool = False) -> Tensor:
    return _make(np.linspace(start, end, steps).astype(_float(dtype)), requires_grad, device,
                 "linspace")


def eye(n: int, m: int | None = None, dtype: Any = None, device: Any = None,
        requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=_float(dtype)), requires_grad, device, "eye")


def _like(x: Tensor, dtype: Any) -> np.dtype:
    return x.dtype if dtype is None else dtypes.as_dtype(dtype)


def zeros_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(input.shape, _like(input, dtype)), requires_grad, device, "zeros_like")


def ones_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return _make(np.ones(input.shape, _like(input, dtype)), requires_grad, device, "ones_like")


def empty_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    return _make(np.empty(input.shape, _like(input, dtype)), requires_grad, device, "empty_like")


def full_like(input: Tensor, fill_value: Any, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    return _make(np.full(input.shape, fill_value, _like(input, dtype)), requires_grad, device,
                 "full_like")


def rand(*size: Any, generator: Generator | None = None, dtype: Any = None,
         device: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1)."""
    g = _np_generator(generator)
    return _make(g.random(_size(size, "rand")).astype(_float(dtype)), requires_grad, device,
                 "rand")


def randn(*size: Any, generator: Generator | None = None, dtype: Any = None,
          device: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples."""
    g = _np_generator(generator)
    return _make(g.standard_normal(_size(size, "randn")).astype(_float(dtype)), requires_grad,
                 device, "randn")


def rand_like(input: Tensor, dtype: Any = None, device: Any = None,
              requires_grad: bool = False) -> Tensor:
    check_device(device, "rand_like")
    return rand(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def randn_like(input: Tensor, dtype: Any = None, device: Any = None,
               requires_grad: bool = False) -> Tensor:
    check_device(device, "randn_like")
    return randn(input.shape, dtype=_like(input, dtype), requires_grad=requires_grad)


def randint(low: int, high: Any = None, size: Any = None, generator: Generator | None = None,
            dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    """Integers in [low, high); ``randint(high, size)`` as in PyTorch."""
    if size is None:
        low, high, size = 0, low, high
    if size is None:
        raise TypeError("randint: size is required")
    g = _np_generator(generator)
    out = g.integers(low, high, _size((size,) if isinstance(size, int) else tuple(size),
                                       "randint"))
    return _make(out.astype(dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)),
                 requires_grad, device, "randint")


def randperm(n: int, generator: Generator | None = None, dtype: Any = None,
             device: Any = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0 .. n-1``."""
    out = _np_generator(generator).permutation(int(n))
    return _make(out.astype(dtypes.int64 if dtype is None else dtypes.as_dtype(dtype)),
                 requires_grad, device, "randperm")


def normal(mean: float, std: float, size: Any, generator: Generator | None = None,
           dtype: Any = None, device: Any = None, requires_grad: bool = False) -> Tensor:
    g = _np_generator(generator)
    return _make(g.normal(mean, std, _size(tuple(size), "normal")).astype(_float(dtype)),
                 requires_grad, device, "normal")
