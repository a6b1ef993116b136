"""Sorting: sort, argsort, topk, and the rearrangements roll and repeat_interleave;
multinomial sampling.

``sort`` and ``topk`` return ``(values, indices)``; the values are a gather of the input
at the indices, so their gradient is the gather's: scattered back to where each value
came from. ``roll`` moves elements cyclically (its gradient rolls back), and
``repeat_interleave`` is an ``index_select`` with repeated indices (its gradient sums
the copies).
"""

from __future__ import annotations

import operator
from collections import namedtuple
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops._errors import ShapeError
from chainrule.ops.indexing import gather, index_select
from chainrule.ops.shape import _dim
from chainrule.random import Generator, _np_generator
from chainrule.tensor import Tensor

__all__ = ["sort", "argsort", "topk", "roll", "repeat_interleave", "multinomial", "msort"]

# what sort and topk return, as torch.return_types.sort / .topk
_SortResult = namedtuple("sort", ["values", "indices"])  # type: ignore[name-match]
_TopkResult = namedtuple("topk", ["values", "indices"])  # type: ignore[name-match]


def _tensor(op: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def _order(a: np.ndarray, dim: int, descending: bool) -> np.ndarray:
    """Indices sorting ``a`` along ``dim``, ties in their original order (stable)."""
    if not descending:
        return np.argsort(a, axis=dim, kind="stable")
    if a.dtype.kind in "bu":
        a = a.astype(np.int64)
    if a.dtype.kind == "f":  # NaN counts as the largest, as in PyTorch: first
        key = np.where(np.isnan(a), -np.inf, -a)
        order = np.argsort(key, axis=dim, kind="stable")
        nan_first = np.argsort(~np.isnan(np.take_along_axis(a, order, dim)), axis=dim,
                               kind="stable")
        return np.take_along_axis(order, nan_first, dim)
    return np.argsort(-a, axis=dim, kind="stable")


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
         ) -> Any:
    """``(values, indices)`` of ``input`` sorted along ``dim`` (ties keep their order)."""
    x = _tensor("sort", input)
    if x.ndim == 0:
        return _SortResult(gather(x, 0, np.zeros((), np.int64)),
                           Tensor._make(np.zeros((), np.int64)))
    d = _dim("sort", dim, x.ndim)
    idx = _order(x._data, d, descending)
    return _SortResult(gather(x, d, idx), Tensor._make(idx))


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False
            ) -> Tensor:
    """The indices that sort ``input`` along ``dim``."""
    return sort(input, dim, descending, stable).indices


def msort(input: Tensor) -> Tensor:
    return sort(input, 0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True
         ) -> Any:
    """``(values, indices)`` of the ``k`` largest (or smallest) elements along ``dim``."""
    x = _tensor("topk", input)
    d = _dim("topk", dim, x.ndim) if x.ndim else 0
    n = x.shape[d] if x.ndim else 1
    k = operator.index(k)
    if not 0 <= k <= n:
        raise RuntimeError(f"topk: k ({k}) is out of range for dimension {dim} of size {n}")
    if x.ndim == 0:
        return _TopkResult(x.reshape(()) * 1 if k else x.reshape(1)[:0],
                           Tensor._make(np.zeros((), np.int64)))
    idx = np.take(_order(x._data, d, largest), np.arange(k), axis=d)
    return _TopkResult(gather(x, d, idx), Tensor._make(idx))


class Roll(Op):
    """y = x with elements shifted cyclically by ``shifts`` along ``dims``."""

    shapes = {"x": "(*)", "Y": "(*)"}

    def forward(self, x: np.ndarray, shifts: tuple[int, ...], dims: tuple[int, ...]
                ) -> np.ndarray:
        self.shifts, self.dims = shifts, dims
        return np.roll(x, shifts, dims)

    def backward(self, dY: Any) -> Any:
        """dx = roll(dY, -shifts, dims)  (*) = (*)"""
        back = tuple(-s for s in self.shifts)
        if isinstance(dY, Tensor):
            return Roll.apply(dY, shifts=back, dims=self.dims)
        return np.roll(dY, back, self.dims)


def roll(input: Tensor, shifts: int | Sequence[int], dims: int | Sequence[int] | None = None
         ) -> Tensor:
    """Shift elements cyclically: ``shifts[i]`` places along ``dims[i]`` (the flattened
    tensor if ``dims`` is None)."""
    x = _tensor("roll", input)
    shifts = (shifts,) if isinstance(shifts, int | np.integer) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"roll: shifts {shifts} needs dims of the same length")
        return Roll.apply(x.reshape(-1), shifts=(int(shifts[0]),), dims=(0,)).reshape(x.shape)
    dims = (dims,) if isinstance(dims, int | np.integer) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"roll: shifts and dims must have the same length, got {shifts} "
                           f"and {dims}")
    return Roll.apply(x, shifts=tuple(int(s) for s in shifts),
                      dims=tuple(_dim("roll", d, x.ndim) for d in dims))


def repeat_interleave(input: Tensor, repeats: Any = None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Repeat each element (each slice along ``dim``) ``repeats`` times, as ``np.repeat``.

    ``repeats`` is an int or a 1-D tensor of one count per element; with ``dim=None`` the
    input is flattened first. ``repeat_interleave(counts)`` alone gives
    ``[0]*counts[0] + [1]*counts[1] + ...``.
    """
    x = _tensor("repeat_interleave", input)
    if repeats is None:
        counts = x._data
        if counts.ndim > 1 or counts.dtype.kind not in "iu":
            raise TypeError("repeat_interleave: repeats must be a 1-D integer tensor")
        return Tensor._make(np.repeat(np.arange(counts.size), counts).astype(np.int64))
    if dim is None:
        x, d = x.reshape(-1), 0
    else:
        d = _dim("repeat_interleave", dim, x.ndim)
    if x.ndim == 0:
        x = x.reshape(1)
    r = repeats._data if isinstance(repeats, Tensor) else np.asarray(repeats)
    n = x.shape[d]
    if r.ndim > 1 or (r.ndim == 1 and r.size not in (1, n)):
        raise ShapeError(f"repeat_interleave: repeats must have the same size as input along "
                         f"dim ({n}), got shape {r.shape}")
    if r.size and r.min() < 0:
        raise RuntimeError("repeat_interleave: repeats can not be negative")
    index = np.repeat(np.arange(n), r.reshape(-1) if r.ndim else int(r))
    return index_select(x, d, index)


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator: Generator | None = None) -> Tensor:
    """Draw ``num_samples`` category indices per row of non-negative ``input`` weights
    (1-D or 2-D, not necessarily normalised), from chainrule's seeded generator."""
    x = _tensor("multinomial", input)
    if x.ndim not in (1, 2):
        raise RuntimeError(f"multinomial: prob_dist must be 1 or 2 dim, got shape "
                           f"{tuple(x.shape)}")
    w = x._data.astype(np.float64).reshape(-1, x.shape[-1])
    n = w.shape[1]
    if not np.isfinite(w).all() or (w < 0).any():
        raise RuntimeError("multinomial: probability tensor contains either `inf`, `nan` or "
                           "element < 0")
    if (w.sum(1) <= 0).any():
        raise RuntimeError("multinomial: invalid multinomial distribution (sum of "
                           "probabilities <= 0)")
    num_samples = operator.index(num_samples)
    if num_samples <= 0:
        raise RuntimeError(f"multinomial: cannot sample n_sample <= 0 samples, got "
                           f"{num_samples}")
    if not replacement and num_samples > n:
        raise RuntimeError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                           f"without replacement ({num_samples} > {n})")
    g = _np_generator(generator)
    rows = []
    for p in w:
        if not replacement and num_samples > np.count_nonzero(p):
            raise RuntimeError("multinomial: not enough categories with nonzero probability "
                               "to sample without replacement")
        rows.append(g.choice(n, size=num_samples, replace=replacement, p=p / p.sum()))
    out = np.asarray(rows, dtype=np.int64)
    return Tensor._make(out.reshape(num_samples) if x.ndim == 1 else out)
