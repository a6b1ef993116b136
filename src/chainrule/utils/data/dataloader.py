"""DataLoader: batches of samples from a dataset, in order or shuffled by a seeded generator.

The loader asks a sampler for the order of the indices, groups them into batches, fetches
each batch (with one ``dataset.__getitems__(indices)`` call when the dataset has it, else one
``dataset[i]`` per sample) and collates the samples into stacked Tensors with
:func:`default_collate`. Loading runs in the calling process (``num_workers`` is accepted
for PyTorch compatibility and changes nothing).
"""

from __future__ import annotations

import collections.abc
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.random import Generator, _np_generator
from chainrule.tensor import Tensor
from chainrule.utils.data.dataset import BatchedSamples, IterableDataset, _check_generator

__all__ = [
    "DataLoader",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "BatchSampler",
    "default_collate",
    "default_convert",
]


# --------------------------------------------------------------------------- collation


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _check_same_shapes(shapes: Sequence[tuple[int, ...]], what: str) -> None:
    for k, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise RuntimeError(
                f"default_collate: cannot stack {what} of different shapes: {shapes[0]} at "
                f"sample 0 and {shape} at sample {k} (pass a collate_fn that pads or keeps a list)"
            )


def default_collate(batch: Sequence[Any]) -> Any:
    """Turn a list of samples into a batch, as PyTorch's ``default_collate`` does.

    Samples are collated by the type of the first one:

    - Tensors are stacked along a new first dimension (``cr.stack``);
    - NumPy arrays are stacked into a Tensor of their dtype; NumPy scalars into a Tensor;
    - Python ints give an ``int64`` Tensor, floats a ``float64`` Tensor (as in PyTorch),
      bools a ``bool`` Tensor; strings and bytes stay a list;
    - dicts are collated key by key, named tuples field by field, and tuples and lists
      position by position, giving a list (so ``x, y = batch`` works).

    A :class:`~chainrule.utils.data.BatchedSamples` (what the built-in datasets'
    ``__getitems__`` returns) is already collated: its ``batch`` is returned as it is.

    Examples:
        >>> default_collate([(cr.zeros(3), 0), (cr.ones(3), 1)])
        [tensor([[0., 0., 0.],
                [1., 1., 1.]]), tensor([0, 1])]
    """
    if isinstance(batch, BatchedSamples):
        return batch.batch
    if len(batch) == 0:
        raise ValueError("default_collate: got an empty batch (no samples to collate)")
    elem = batch[0]
    if isinstance(elem, Tensor):
        _check_same_shapes([tuple(t.shape) for t in batch], "tensors")
        return cr.stack(list(batch), 0)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSUV":
            raise TypeError(f"default_collate: cannot collate arrays of dtype {elem.dtype}")
        _check_same_shapes([a.shape for a in batch], "arrays")
        return cr.from_numpy(np.stack(batch))
    if isinstance(elem, np.bool_ | np.number):
        return cr.from_numpy(np.asarray(batch))
    if isinstance(elem, float):
        return cr.tensor(list(batch), dtype=cr.float64)
    if isinstance(elem, int):  # bool is an int: a list of bools gives a bool tensor
        return cr.tensor(list(batch))
    if isinstance(elem, str | bytes):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([sample[key] for sample in batch]) for key in elem}
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(list(field)) for field in zip(*batch, strict=True)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = [len(sample) for sample in batch]
        if any(size != sizes[0] for size in sizes):
            raise RuntimeError(
                f"default_collate: every sample must have the same number of elements, "
                f"got sizes {sorted(set(sizes))}"
            )
        return [default_collate(list(field)) for field in zip(*batch, strict=True)]
    raise TypeError(
        "default_collate: a batch must contain tensors, numpy arrays, numbers, dicts or "
        f"lists; found {type(elem).__name__}"
    )


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays and scalars inside ``data`` into Tensors, leaving the rest as is.

    The loader's ``collate_fn`` when ``batch_size=None`` (no batching). Tuples become lists,
    as in PyTorch.
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return data if data.dtype.kind in "OSUV" else cr.from_numpy(data)
    if isinstance(data, np.bool_ | np.number):
        return cr.from_numpy(np.asarray(data))
    if isinstance(data, str | bytes):
        return data
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, collections.abc.Sequence):
        return [default_convert(d) for d in data]
    return data


# ----------------------------------------------------------------------------- samplers


class Sampler:
    """An iterable over dataset indices; subclasses define ``__iter__`` (and ``__len__``)."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__()")


class SequentialSampler(Sampler):
    """The indices ``0, 1, ..., len(data_source) - 1`` in order."""

    def __init__(self, data_source: Any) -> None:
        self.data_source = data_source

    def _index_array(self) -> np.ndarray:
        return np.arange(len(self.data_source), dtype=np.int64)

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
        self.replacement = bool(replacement)
        self._num_samples = num_samples
        self.generator = _check_generator(generator, "RandomSampler")
        n = self.num_samples
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError(
                f"RandomSampler: num_samples should be a positive integer, got {n!r}"
                + (" (the dataset is empty)" if num_samples is None else "")
            )

    @property
    def num_samples(self) -> int:
        if self._num_samples is None:
            return len(self.data_source)
        return self._num_samples

    def _index_array(self) -> np.ndarray:
        """A fresh draw of ``num_samples`` indices from the generator."""
        n, count = len(self.data_source), self.num_samples
        rng = _np_generator(self.generator)
        if self.replacement:
            return rng.integers(0, n, size=count, dtype=np.int64)
        rounds = [rng.permutation(n) for _ in range(math.ceil(count / n))]
        return np.concatenate(rounds)[:count].astype(np.int64, copy=False)

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

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
                f"BatchSampler: batch_size should be a positive integer, got {batch_size!r}"
            )
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a bool, got {drop_last!r}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def _batches(self) -> Iterator[Sequence[Any]]:
        """The batches: slices of one index array when the sampler makes one, else lists."""
        make_array = getattr(self.sampler, "_index_array", None)
        if make_array is not None:
            indices = make_array()
            stop = len(indices)
            if self.drop_last:
                stop -= stop % self.batch_size
            for start in range(0, stop, self.batch_size):
                yield indices[start : start + self.batch_size]
            return
        batch: list[Any] = []
        for index in self.sampler:
            batch.append(index)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __iter__(self) -> Iterator[list[Any]]:
        for batch in self._batches():
            yield batch.tolist() if isinstance(batch, np.ndarray) else batch

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


# --------------------------------------------------------------------------- DataLoader


class DataLoader:
    """Iterate over a dataset in batches of stacked Tensors.

    Each ``iter(loader)`` is one epoch. With ``shuffle=True`` every epoch draws a new
    permutation from ``generator`` (or from the global generator, seeded by
    ``cr.manual_seed``), so a seeded run repeats exactly.

    Args:
        dataset: a map-style :class:`Dataset` (``len`` and ``[i]``) or an
            :class:`IterableDataset`.
        batch_size: samples per batch; ``None`` yields the samples one by one, unbatched.
        shuffle: reshuffle the indices at every epoch.
        sampler: an iterable of indices to use instead of ``shuffle``.
        batch_sampler: an iterable of lists of indices; excludes ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``.
        num_workers: accepted for compatibility; loading always runs in this process.
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`).
        pin_memory: accepted for compatibility (there are no devices); ignored.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        generator: the :class:`chainrule.Generator` that shuffles.

    If the dataset defines ``__getitems__(indices)``, it is called once per batch with the
    list of indices instead of ``dataset[i]`` for each sample; the built-in datasets use
    this to fetch a batch with one fancy-indexing operation.

    Examples:
        >>> ds = TensorDataset(cr.randn(10, 3), cr.arange(10))
        >>> loader = DataLoader(ds, batch_size=4, shuffle=True, generator=cr.Generator(0))
        >>> len(loader)
        3
        >>> for x, y in loader:   # x: (4, 3), (4, 3), (2, 3); y: (4,), (4,), (2,)
        ...     pass
    """

    def __init__(
        self,
        dataset: Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Iterable[Any] | None = None,
        batch_sampler: Iterable[Sequence[Any]] | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[Any], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        *,
        generator: Generator | None = None,
    ) -> None:
        self.generator = _check_generator(generator, "DataLoader")
        if isinstance(num_workers, bool) or operator.index(num_workers) < 0:
            raise ValueError(f"DataLoader: num_workers must be >= 0, got {num_workers!r}")
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
        ):
            raise ValueError(
                f"DataLoader: batch_size should be a positive integer or None, got {batch_size!r}"
            )
        self.dataset = dataset
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.drop_last = bool(drop_last)
        self._iterable = isinstance(dataset, IterableDataset) or (
            not hasattr(dataset, "__getitem__") and hasattr(dataset, "__iter__")
        )
        if self._iterable:
            for name, value in (
                ("shuffle", shuffle),
                ("sampler", sampler),
                ("batch_sampler", batch_sampler),
            ):
                if value:
                    raise ValueError(
                        f"DataLoader: {name} is not supported for an iterable dataset "
                        f"({type(dataset).__name__}); it is read in its own order"
                    )
        elif not (hasattr(dataset, "__getitem__") and hasattr(dataset, "__len__")):
            raise TypeError(
                "DataLoader: dataset must be a map-style Dataset (with __getitem__ and "
                f"__len__) or an iterable dataset, got {type(dataset).__name__}"
            )
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler option is mutually exclusive with batch_size, "
                    "shuffle, sampler, and drop_last"
                )
            batch_size = None
        elif batch_size is None and drop_last:
            raise ValueError(
                "DataLoader: batch_size=None (no batching) is mutually exclusive with drop_last"
            )
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if sampler is None and not self._iterable:
            sampler = (
                RandomSampler(dataset, generator=self.generator)
                if shuffle
                else SequentialSampler(dataset)
            )
        if batch_sampler is None and batch_size is not None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, self.drop_last)
        self.batch_size = batch_size
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        if collate_fn is None:
            auto_collation = batch_sampler is not None or (self._iterable and batch_size)
            collate_fn = default_collate if auto_collation else default_convert
        self.collate_fn = collate_fn

    def _fetch(self, indices: Sequence[Any]) -> Any:
        """One batch: the samples at ``indices``, collated."""
        if isinstance(indices, np.ndarray):
            indices = indices.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            samples = getitems(indices)
        else:
            samples = [self.dataset[i] for i in indices]
        return self.collate_fn(samples)

    def _iter_stream(self) -> Iterator[Any]:
        """Batches read in order from an iterable dataset."""
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch: list[Any] = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)

    def __iter__(self) -> Iterator[Any]:
        if self._iterable:
            yield from self._iter_stream()
        elif self.batch_sampler is None:  # batch_size=None: samples one by one
            for index in self.sampler:
                yield self.collate_fn(self.dataset[index])
        else:
            batches = (
                self.batch_sampler._batches()
                if isinstance(self.batch_sampler, BatchSampler)
                else iter(self.batch_sampler)
            )
            for indices in batches:
                yield self._fetch(indices)

    def __len__(self) -> int:
        if self._iterable:
            try:
                n = len(self.dataset)
            except (TypeError, NotImplementedError):
                raise TypeError(
                    f"DataLoader: the iterable dataset {type(self.dataset).__name__} has no "
                    "__len__, so the number of batches is unknown"
                ) from None
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)  # type: ignore[arg-type]
        return len(self.sampler)  # type: ignore[arg-type]
