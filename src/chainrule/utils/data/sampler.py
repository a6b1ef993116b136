"""Samplers, as ``torch.utils.data.sampler``: the order in which a loader visits a dataset.

Indices are drawn lazily, in chunks of at most 65,536 (``_index_chunks``), so a loader over
a dataset of 3e8 samples gives its first batch at once and holds a few hundred kilobytes
of indices, never a list of every index. A random permutation of up to 2**24 indices is
drawn whole with NumPy's ``Generator.permutation`` (so a seeded order equals
``cr.Generator(seed).np.permutation(n)``); a longer one is a keyed bijection of
``[0, n)`` (a Feistel network with cycle-walking, its keys drawn from the generator),
evaluated chunk by chunk.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from chainrule.random import Generator, _np_generator
from chainrule.tensor import Tensor
from chainrule.utils.data.dataset import _check_generator

__all__ = [
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
]

_CHUNK = 1 << 16  # indices drawn at a time
_WHOLE_PERMUTATION = 1 << 24  # permutations up to this length are drawn in one go


def _chunks_of(indices: Iterable[Any]) -> Iterator[np.ndarray]:
    """Any iterable of indices as int64 arrays of at most ``_CHUNK`` (or lists, if not ints)."""
    make = getattr(indices, "_index_chunks", None)
    if make is not None:
        yield from make()
        return
    chunk: list[Any] = []
    for index in indices:
        chunk.append(index)
        if len(chunk) == _CHUNK:
            yield chunk  # type: ignore[misc]
            chunk = []
    if chunk:
        yield chunk  # type: ignore[misc]


def _iter_ints(chunks: Iterator[Any]) -> Iterator[Any]:
    for chunk in chunks:
        yield from (chunk.tolist() if isinstance(chunk, np.ndarray) else chunk)


class _FeistelPermutation:
    """A random bijection of ``[0, n)``: a balanced Feistel network over the smallest
    ``2**(2k) >= n``, walked again on values ``>= n`` (cycle-walking) until they land in
    range. O(1) memory; each position is mapped independently, so any range of
    positions is computed on its own."""

    _ROUNDS = 6

    def __init__(self, n: int, rng: np.random.Generator) -> None:
        self.n = n
        self.half_bits = max(1, math.ceil(math.log2(max(n, 2)) / 2))
        self.mask = np.uint64((1 << self.half_bits) - 1)
        self.keys = rng.integers(0, 2**63, size=self._ROUNDS, dtype=np.uint64)

    def _round_function(self, r: np.ndarray, key: np.uint64) -> np.ndarray:
        x = (r ^ key) * np.uint64(0x9E3779B97F4A7C15)
        x ^= x >> np.uint64(29)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(32)
        return x & self.mask

    def _encrypt(self, x: np.ndarray) -> np.ndarray:
        bits = np.uint64(self.half_bits)
        left, right = x >> bits, x & self.mask
        for key in self.keys:
            left, right = right, left ^ self._round_function(right, key)
        return (left << bits) | right

    def __call__(self, positions: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            out = self._encrypt(positions.astype(np.uint64))
            outside = out >= self.n
            while outside.any():
                out[outside] = self._encrypt(out[outside])
                outside = out >= self.n
        return out.astype(np.int64)


def _permutation_chunks(n: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """A random permutation of ``range(n)`` in chunks, drawn lazily."""
    if n <= _WHOLE_PERMUTATION:
        permutation = rng.permutation(n).astype(np.int64, copy=False)
        for start in range(0, n, _CHUNK):
            yield permutation[start : start + _CHUNK]
        return
    bijection = _FeistelPermutation(n, rng)
    for start in range(0, n, _CHUNK):
        yield bijection(np.arange(start, min(n, start + _CHUNK), dtype=np.uint64))


def _check_positive_int(value: Any, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(
            f"{owner}: {name} should be a positive integer value, but got {name}={value!r}"
        )
    return int(value)


class Sampler:
    """Base class: an iterable over dataset indices (``__iter__``, usually ``__len__``)."""

    def __init__(self, data_source: Any = None) -> None:
        pass

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__()")


class SequentialSampler(Sampler):
    """The indices ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def _index_chunks(self) -> Iterator[np.ndarray]:
        n = len(self.data_source)
        for start in range(0, n, _CHUNK):
            yield np.arange(start, min(n, start + _CHUNK), dtype=np.int64)

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """The indices in a random order, drawn afresh from ``generator`` at every iteration.

    Args:
        data_source: the dataset (only its length is used).
        replacement: draw ``num_samples`` indices independently (with repeats) instead of
            permutations.
        num_samples: how many indices per iteration (default ``len(data_source)``); without
            replacement, more than ``len(data_source)`` chains several permutations.
        generator: the :class:`chainrule.Generator` to draw from (default: the global one,
            seeded by ``cr.manual_seed``).
    """

    def __init__(
        self,
        data_source: Any,
        replacement: bool = False,
        num_samples: int | None = None,
        generator: Generator | None = None,
    ) -> None:
        self.data_source = data_source
        if not isinstance(replacement, bool):
            raise TypeError(
                f"RandomSampler: replacement should be a boolean value, but got "
                f"replacement={replacement!r}"
            )
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = _check_generator(generator, "RandomSampler")
        n = self.num_samples
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n <= 0:
            raise ValueError(
                f"RandomSampler: num_samples should be a positive integer value, but got "
                f"num_samples={n!r}" + (" (the dataset is empty)" if num_samples is None else "")
            )

    @property
    def num_samples(self) -> int:
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def _index_chunks(self) -> Iterator[np.ndarray]:
        """A fresh draw of ``num_samples`` indices, chunk by chunk."""
        n, count = len(self.data_source), int(self.num_samples)
        rng = _np_generator(self.generator)
        if self.replacement:
            for start in range(0, count, _CHUNK):
                yield rng.integers(0, n, size=min(_CHUNK, count - start), dtype=np.int64)
            return
        remaining = count
        while remaining > 0:
            for chunk in _permutation_chunks(n, rng):
                yield chunk[:remaining]
                remaining -= len(chunk[:remaining])
                if remaining == 0:
                    return

    def __iter__(self) -> Iterator[int]:
        return _iter_ints(self._index_chunks())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, drawn afresh at every iteration.

    Args:
        indices: the indices to visit (a sequence, array or Tensor).
        generator: the :class:`chainrule.Generator` to draw from.
    """

    def __init__(self, indices: Sequence[int], generator: Generator | None = None) -> None:
        self.indices = indices
        self.generator = _check_generator(generator, "SubsetRandomSampler")

    def _index_chunks(self) -> Iterator[Any]:
        indices = self.indices.numpy() if isinstance(self.indices, Tensor) else self.indices
        array = np.asarray(indices)
        for chunk in _permutation_chunks(len(array), _np_generator(self.generator)):
            yield array[chunk]

    def __iter__(self) -> Iterator[Any]:
        return _iter_ints(self._index_chunks())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))``, index ``i`` with probability
    proportional to ``weights[i]``.

    Args:
        weights: non-negative weights, one per index (they need not sum to 1).
        num_samples: how many indices per iteration.
        replacement: draw with replacement (an index may repeat); without, each index at
            most once, so ``num_samples`` must not exceed the number of non-zero weights.
        generator: the :class:`chainrule.Generator` to draw from.

    Raises:
        ValueError: ``weights`` not 1-D, ``num_samples`` not a positive int.
        RuntimeError: (when iterating, as ``torch.multinomial``) negative, infinite or NaN
            weights, all weights zero, or too many samples without replacement.
    """

    def __init__(
        self,
        weights: Sequence[float],
        num_samples: int,
        replacement: bool = True,
        generator: Generator | None = None,
    ) -> None:
        owner = "WeightedRandomSampler"
        self.num_samples = _check_positive_int(num_samples, "num_samples", owner)
        if not isinstance(replacement, bool):
            raise ValueError(
                f"{owner}: replacement should be a boolean value, but got "
                f"replacement={replacement!r}"
            )
        array = weights.detach().numpy() if isinstance(weights, Tensor) else weights
        array = np.asarray(array, dtype=np.float64)
        if array.ndim != 1:
            raise ValueError(
                f"{owner}: weights should be a 1d sequence but given weights have shape "
                f"{tuple(array.shape)}"
            )
        self.weights = array
        self.replacement = replacement
        self.generator = _check_generator(generator, owner)

    def _probabilities(self) -> np.ndarray:
        w = self.weights
        if w.size == 0 or not np.isfinite(w).all() or (w < 0).any():
            raise RuntimeError(
                "WeightedRandomSampler: weights must be finite and non-negative, got "
                f"{w.size} weights with minimum {w.min() if w.size else None}"
            )
        total = w.sum()
        if total <= 0:
            raise RuntimeError("WeightedRandomSampler: the weights sum to zero")
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise RuntimeError(
                f"WeightedRandomSampler: cannot sample {self.num_samples} indices without "
                f"replacement from {np.count_nonzero(w)} non-zero weights"
            )
        return w / total

    def _index_chunks(self) -> Iterator[np.ndarray]:
        p = self._probabilities()
        rng = _np_generator(self.generator)
        if not self.replacement:
            yield rng.choice(len(p), size=self.num_samples, replace=False, p=p).astype(np.int64)
            return
        cumulative = np.cumsum(p)
        cumulative /= cumulative[-1]
        for start in range(0, self.num_samples, _CHUNK):
            u = rng.random(min(_CHUNK, self.num_samples - start))
            yield np.minimum(np.searchsorted(cumulative, u, side="right"), len(p) - 1)

    def __iter__(self) -> Iterator[int]:
        return _iter_ints(self._index_chunks())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of ``sampler`` into lists of ``batch_size``.

    Args:
        sampler: any iterable of indices.
        batch_size: indices per batch.
        drop_last: drop the last batch if it is smaller than ``batch_size``.

    Examples:
        >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False))
        [[0, 1], [2, 3], [4]]
    """

    def __init__(self, sampler: Iterable[Any], batch_size: int, drop_last: bool) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(
                f"BatchSampler: batch_size should be a positive integer value, but got "
                f"batch_size={batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(
                "BatchSampler: drop_last should be a boolean value, but got "
                f"drop_last={drop_last!r}"
            )
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def _batches(self) -> Iterator[Sequence[Any]]:
        """The batches, as int64 arrays when the sampler draws arrays, else as lists."""
        pending: list[Any] = []  # pieces of the batch being assembled
        size = 0
        for chunk in _chunks_of(self.sampler):
            start = 0
            while start < len(chunk):
                take = min(self.batch_size - size, len(chunk) - start)
                pending.append(chunk[start : start + take])
                size += take
                start += take
                if size == self.batch_size:
                    yield _join(pending)
                    pending, size = [], 0
        if size and not self.drop_last:
            yield _join(pending)

    def __iter__(self) -> Iterator[list[Any]]:
        for batch in self._batches():
            yield batch.tolist() if isinstance(batch, np.ndarray) else batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def _join(pieces: list[Any]) -> Any:
    if all(isinstance(p, np.ndarray) for p in pieces):
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
    return [i for p in pieces for i in (p.tolist() if isinstance(p, np.ndarray) else p)]
