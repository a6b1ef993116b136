"""DataLoader: batches of samples from a dataset, in order or shuffled by a seeded generator.

The loader asks a sampler for the order of the indices, groups them into batches, fetches
each batch (with one ``dataset.__getitems__(indices)`` call when the dataset has it, else one
``dataset[i]`` per sample) and collates the samples into stacked Tensors with
:func:`default_collate`. With ``num_workers=0`` loading runs in the calling process; with
``num_workers > 0`` in that many worker processes (see
:mod:`chainrule.utils.data._worker`), giving the same batches in the same order.
"""

from __future__ import annotations

import math
import multiprocessing
import numbers
import operator
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from chainrule.random import Generator, _np_generator
from chainrule.utils.data._worker import _MultiProcessingIter
from chainrule.utils.data.collate import default_collate, default_convert
from chainrule.utils.data.dataset import IterableDataset, _check_generator
from chainrule.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "DataLoader",
    "Sampler",
    "SequentialSampler",
    "RandomSampler",
    "SubsetRandomSampler",
    "WeightedRandomSampler",
    "BatchSampler",
    "default_collate",
    "default_convert",
]


class _Fetcher:
    """What a worker needs to make batches: the dataset and how to collate (picklable
    without the loader, for the ``spawn`` and ``forkserver`` start methods)."""

    def __init__(self, loader: DataLoader) -> None:
        self.dataset = loader.dataset
        self.collate_fn = loader.collate_fn
        self.iterable = loader._iterable
        self.batched = loader.batch_sampler is not None
        self.batch_size = loader.batch_size
        self.drop_last = loader.drop_last

    def fetch(self, indices: Any) -> Any:
        """One batch (or, without batching, one converted sample) of a map-style dataset."""
        if not self.batched:
            return self.collate_fn(self.dataset[indices])
        if isinstance(indices, np.ndarray):
            indices = indices.tolist()
        getitems = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            samples = getitems(indices)
        else:
            samples = [self.dataset[i] for i in indices]
        return self.collate_fn(samples)

    def batches(self) -> Iterator[Any]:
        """The batches of an iterable dataset, in stream order."""
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
        num_workers: how many worker processes load batches (0: load in this process).
            The batches and their order are those of ``num_workers=0``. Each worker has a
            copy of the dataset; an :class:`IterableDataset` is read whole by every worker
            unless it splits itself with :func:`get_worker_info`, as in PyTorch.
        collate_fn: turns a list of samples into a batch (default :func:`default_collate`).
        pin_memory: accepted for compatibility (there are no devices); ignored.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: with workers, the longest wait for one batch in seconds (0: no limit; a
            dead worker is detected within a second either way).
        worker_init_fn: called in each worker with its id, after seeding, before loading.
        multiprocessing_context: a start method name (``'fork'``, ``'spawn'``,
            ``'forkserver'``) or a ``multiprocessing`` context. The default is ``fork``
            where it exists (fast, and what PyTorch uses on Linux; the dataset needs no
            pickling), else ``spawn``. Forking a process in which other threads hold locks
            is unsafe; choose ``'forkserver'`` or ``'spawn'`` then (dataset and functions
            must be picklable).
        generator: the :class:`chainrule.Generator` that shuffles.
        prefetch_factor: batches loaded in advance per worker (default 2 with workers;
            must be None without).
        persistent_workers: keep the workers alive between epochs.
        pin_memory_device, in_order: accepted for compatibility; batches always come in
            order.

    Workers are seeded as in PyTorch: worker ``k`` runs ``cr.manual_seed(base_seed + k)``
    (and seeds ``random`` and NumPy's global generator), so random transforms differ
    between workers and epochs but repeat with the seed. Unlike PyTorch, ``base_seed`` is
    derived from the state of ``generator`` (or the global generator) and the epoch count
    without drawing from it, so a loader with workers shuffles exactly as one without.

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
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Generator | None = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        self.generator = _check_generator(generator, "DataLoader")
        self._check_worker_options(
            num_workers, timeout, prefetch_factor, persistent_workers, worker_init_fn
        )
        if batch_size is not None and (
            isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0
        ):
            raise ValueError(
                f"DataLoader: batch_size should be a positive integer or None, got {batch_size!r}"
            )
        self.dataset = dataset
        self.num_workers = int(num_workers)
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order
        self.drop_last = bool(drop_last)
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.prefetch_factor = (
            2 if prefetch_factor is None and self.num_workers > 0 else prefetch_factor
        )
        self.persistent_workers = bool(persistent_workers)
        self.multiprocessing_context = multiprocessing_context
        if self.num_workers > 0:
            self._mp_context()  # an unknown start method fails here, not in the first epoch
        self._iterator: _MultiProcessingIter | None = None
        self._epochs_started = 0
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

    @staticmethod
    def _check_worker_options(
        num_workers: Any,
        timeout: Any,
        prefetch_factor: Any,
        persistent_workers: Any,
        worker_init_fn: Any,
    ) -> None:
        if isinstance(num_workers, bool) or operator.index(num_workers) < 0:
            raise ValueError(
                "DataLoader: num_workers option should be non-negative; use num_workers=0 "
                f"to disable multiprocessing, got {num_workers!r}"
            )
        if not isinstance(timeout, numbers.Real) or timeout < 0:
            raise ValueError(f"DataLoader: timeout option should be non-negative, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor option could only be specified in "
                "multiprocessing; let num_workers > 0 to enable multiprocessing, otherwise "
                "set prefetch_factor to None"
            )
        if prefetch_factor is not None and (
            isinstance(prefetch_factor, bool)
            or not isinstance(prefetch_factor, int)
            or prefetch_factor <= 0
        ):
            raise ValueError(
                f"DataLoader: prefetch_factor option should be a positive int, got "
                f"{prefetch_factor!r}"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers option needs num_workers > 0")
        if worker_init_fn is not None and not callable(worker_init_fn):
            raise TypeError(
                f"DataLoader: worker_init_fn must be callable, got {type(worker_init_fn).__name__}"
            )

    def _mp_context(self) -> Any:
        """The multiprocessing context workers start in (see ``multiprocessing_context``)."""
        context = self.multiprocessing_context
        if context is None:
            methods = multiprocessing.get_all_start_methods()
            return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
        if isinstance(context, str):
            methods = multiprocessing.get_all_start_methods()
            if context not in methods:
                raise ValueError(
                    f"DataLoader: multiprocessing_context option should specify a valid start "
                    f"method in {methods}, but got multiprocessing_context={context!r}"
                )
            return multiprocessing.get_context(context)
        if not hasattr(context, "Process") or not hasattr(context, "Queue"):
            raise TypeError(
                "DataLoader: multiprocessing_context option should be a valid context object "
                f"or a string specifying the start method, but got {context!r}"
            )
        return context

    def _fetcher(self) -> _Fetcher:
        return _Fetcher(self)

    def _fetch(self, indices: Sequence[Any]) -> Any:
        """One batch: the samples at ``indices``, collated."""
        return self._fetcher().fetch(indices)

    def _index_batches(self) -> Iterator[Any]:
        """What each batch is made of: a list or array of indices (or, without batching,
        one index per element)."""
        if self.batch_sampler is None:
            return iter(self.sampler)  # type: ignore[arg-type]
        if isinstance(self.batch_sampler, BatchSampler):
            return self.batch_sampler._batches()
        return iter(self.batch_sampler)

    def _worker_base_seed(self) -> int:
        """The workers' base seed: from the generator's state and the epoch count, without
        drawing from the generator (see the class docstring)."""
        state = _np_generator(self.generator).bit_generator.state["state"]
        words = [int(state["state"]), int(state["inc"]), self._epochs_started]
        entropy = np.random.SeedSequence(words).generate_state(1, np.uint64)[0]
        return int(entropy >> np.uint64(2))

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers > 0:
            self._epochs_started += 1
            if self.persistent_workers:
                if self._iterator is None or self._iterator._shutdown:
                    self._iterator = _MultiProcessingIter(self)
                else:
                    self._iterator._reset(self)
                return self._iterator
            return _MultiProcessingIter(self)
        return self._iter_in_process()

    def _iter_in_process(self) -> Iterator[Any]:
        fetcher = self._fetcher()
        if self._iterable:
            yield from fetcher.batches()
            return
        for indices in self._index_batches():
            yield fetcher.fetch(indices)

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
