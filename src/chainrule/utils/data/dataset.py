"""Datasets: the ``Dataset`` protocol, ``TensorDataset``, ``Subset`` and ``random_split``.

A map-style dataset answers ``len(ds)`` and ``ds[i]``. It may also answer
``ds.__getitems__(indices)`` (PyTorch 2's convention) with the samples at many indices at
once; the built-in datasets do so by fancy-indexing their arrays once, and return a
:class:`BatchedSamples` that :func:`~chainrule.utils.data.default_collate` turns into a batch
without touching the samples one by one.
"""

from __future__ import annotations

import math
import operator
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from chainrule.random import Generator, _np_generator, default_generator
from chainrule.tensor import Tensor, from_numpy

__all__ = [
    "Dataset",
    "IterableDataset",
    "TensorDataset",
    "Subset",
    "random_split",
    "BatchedSamples",
]


class Dataset:
    """A map-style dataset: subclasses define ``__getitem__(index)`` and ``__len__()``.

    Subclasses may also define ``__getitems__(indices)`` returning the samples at a list of
    indices; :class:`~chainrule.utils.data.DataLoader` then calls it once per batch.

    Examples:
        >>> class Squares(Dataset):
        ...     def __len__(self):
        ...         return 10
        ...     def __getitem__(self, i):
        ...         return i, i * i
    """

    def __getitem__(self, index: int) -> Any:
        raise NotImplementedError(
            f"{type(self).__name__} must implement __getitem__(index) to be a Dataset"
        )

    def __len__(self) -> int:
        raise NotImplementedError(
            f"{type(self).__name__} must implement __len__() to be a map-style Dataset"
        )


class IterableDataset(Dataset):
    """A dataset that is a stream of samples: subclasses define ``__iter__()``.

    :class:`~chainrule.utils.data.DataLoader` groups the stream into batches in order; it
    cannot be shuffled by the loader.
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(
            f"{type(self).__name__} must implement __iter__() to be an IterableDataset"
        )

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset and cannot be indexed")


class BatchedSamples(Sequence):
    """The samples of ``dataset`` at ``indices``, fetched in one go and already collated.

    It behaves as the list of samples that PyTorch's ``__getitems__`` returns (its length
    is the number of indices and ``samples[k]`` is ``dataset[indices[k]]``, fetched when
    asked for), so a custom ``collate_fn`` sees what it expects; ``default_collate`` simply
    returns ``batch``, which the dataset built by fancy-indexing its arrays once.

    Args:
        dataset: the dataset the samples come from.
        indices: the indices of the samples, in batch order.
        batch: what ``default_collate`` would make of the samples.
    """

    def __init__(self, dataset: Any, indices: Sequence[int] | np.ndarray, batch: Any) -> None:
        self.dataset = dataset
        self.indices = indices
        self.batch = batch

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, k: Any) -> Any:
        if isinstance(k, slice):
            return [self.dataset[int(i)] for i in self.indices[k]]
        return self.dataset[int(self.indices[k])]

    def __repr__(self) -> str:
        return f"BatchedSamples({len(self)} samples of {type(self.dataset).__name__})"


def _as_index_array(indices: Any, owner: str) -> np.ndarray:
    """``indices`` as a 1-D int64 array, or a clear error."""
    if isinstance(indices, Tensor):
        indices = indices.numpy()
    array = np.asarray(indices)
    if array.ndim != 1 or not (array.size == 0 or np.issubdtype(array.dtype, np.integer)):
        raise TypeError(
            f"{owner}.__getitems__: expected a 1-D sequence of integer indices, "
            f"got {type(indices).__name__} with dtype {array.dtype} and shape {array.shape}"
        )
    return array.astype(np.int64, copy=False)


def _check_index(index: Any, length: int, owner: str) -> int:
    """``index`` as a non-negative int below ``length``, or IndexError/TypeError."""
    if isinstance(index, Tensor) and index.ndim == 0:
        index = index.item()
    try:
        i = operator.index(index)
    except TypeError:
        raise TypeError(f"{owner}: index must be an integer, got {type(index).__name__}") from None
    if not -length <= i < length:
        raise IndexError(f"{owner}: index {i} is out of range for a dataset of {length} samples")
    return i % length if length else i


class TensorDataset(Dataset):
    """Samples are the rows of tensors that share their first dimension.

    ``dataset[i]`` is ``tuple(t[i] for t in tensors)``.

    Args:
        *tensors: Tensors whose first dimensions are equal.

    Examples:
        >>> x, y = cr.randn(100, 3), cr.randint(0, 2, (100,))
        >>> ds = TensorDataset(x, y)
        >>> xi, yi = ds[0]   # shapes (3,) and ()
    """

    def __init__(self, *tensors: Tensor) -> None:
        if not tensors:
            raise ValueError("TensorDataset: expected at least one tensor")
        for k, t in enumerate(tensors):
            if not isinstance(t, Tensor):
                raise TypeError(
                    f"TensorDataset: argument {k} is a {type(t).__name__}, expected a Tensor "
                    "(wrap arrays with cr.from_numpy or cr.tensor)"
                )
            if t.ndim == 0:
                raise ValueError(
                    f"TensorDataset: tensor {k} is 0-dimensional; every tensor needs a first "
                    "dimension indexing the samples"
                )
        sizes = [t.shape[0] for t in tensors]
        if any(size != sizes[0] for size in sizes):
            shapes = ", ".join(str(tuple(t.shape)) for t in tensors)
            raise ValueError(
                f"TensorDataset: all tensors must have the same first dimension (the number "
                f"of samples), got shapes {shapes}"
            )
        self.tensors: tuple[Tensor, ...] = tuple(tensors)

    def __getitem__(self, index: Any) -> tuple[Tensor, ...]:
        if isinstance(index, slice | list | np.ndarray | Tensor) and not (
            isinstance(index, Tensor) and index.ndim == 0
        ):
            return tuple(t[index] for t in self.tensors)  # several samples at once
        i = _check_index(index, len(self), "TensorDataset")
        return tuple(t[i] for t in self.tensors)

    def __getitems__(self, indices: Sequence[int]) -> BatchedSamples:
        """The samples at ``indices``: each tensor fancy-indexed once."""
        idx = _as_index_array(indices, "TensorDataset")
        return BatchedSamples(self, idx, [t[idx] for t in self.tensors])

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of ``dataset`` at ``indices``, in that order.

    Args:
        dataset: the whole dataset.
        indices: the indices into ``dataset`` that make up the subset.
    """

    def __init__(self, dataset: Dataset, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices
        self._index_array: tuple[Any, np.ndarray] | None = None

    def _indices_as_array(self) -> np.ndarray:
        """``indices`` as an int64 array, converted once (again if ``indices`` is replaced)."""
        if self._index_array is None or self._index_array[0] is not self.indices:
            self._index_array = (self.indices, _as_index_array(self.indices, "Subset"))
        return self._index_array[1]

    def __getitem__(self, index: int) -> Any:
        if isinstance(index, list):
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[_check_index(index, len(self), "Subset")]]

    def __getitems__(self, indices: Sequence[int]) -> Any:
        """The samples at ``indices``, fetched with the dataset's own ``__getitems__`` if any."""
        idx = _as_index_array(indices, "Subset")
        inner = self._indices_as_array()[idx].tolist()
        getitems: Callable[[list[int]], Any] | None = getattr(self.dataset, "__getitems__", None)
        if callable(getitems):
            return getitems(inner)
        return [self.dataset[i] for i in inner]

    def __len__(self) -> int:
        return len(self.indices)


def random_split(
    dataset: Dataset,
    lengths: Sequence[int | float],
    generator: Generator | None = default_generator,
) -> list[Subset]:
    """Split ``dataset`` at random into non-overlapping subsets of the given lengths.

    ``lengths`` are either sample counts that add up to ``len(dataset)``, or fractions that
    add up to 1: each subset then gets ``floor(frac * len(dataset))`` samples and the
    remainder is handed out one by one, round-robin, from the first subset on.

    Args:
        dataset: the dataset to split.
        lengths: counts or fractions, one per subset.
        generator: the :class:`chainrule.Generator` drawing the permutation.

    Examples:
        >>> train, val = random_split(ds, [0.8, 0.2], generator=cr.Generator(0))
    """
    n = len(dataset)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        counts = []
        for k, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {k} is {frac}, not in [0, 1]")
            counts.append(math.floor(n * frac))
        for k in range(n - sum(counts)):
            counts[k % len(counts)] += 1
        for k, count in enumerate(counts):
            if count == 0:
                warnings.warn(
                    f"random_split: split {k} is empty ({lengths[k]} of {n} samples)",
                    stacklevel=2,
                )
    else:
        counts = [operator.index(length) for length in lengths]
        if any(count < 0 for count in counts):
            raise ValueError(f"random_split: lengths must not be negative, got {list(lengths)}")
    if sum(counts) != n:
        raise ValueError(
            f"random_split: the lengths {list(lengths)} add up to {sum(counts)}, but the "
            f"dataset has {n} samples"
        )
    permutation = _np_generator(_check_generator(generator, "random_split")).permutation(n)
    permutation = permutation.tolist()
    offsets = np.cumsum([0, *counts]).tolist()
    return [
        Subset(dataset, permutation[start:stop])
        for start, stop in zip(offsets[:-1], offsets[1:], strict=True)
    ]


def _check_generator(generator: Any, owner: str) -> Generator | None:
    """``generator`` if it is a :class:`chainrule.Generator` or None, else a TypeError."""
    if generator is not None and not isinstance(generator, Generator):
        raise TypeError(
            f"{owner}: generator must be a chainrule.Generator or None, "
            f"got {type(generator).__name__}"
        )
    return generator


def _as_numpy(x: Any) -> np.ndarray:
    return x.detach().numpy() if isinstance(x, Tensor) else np.asarray(x)


class _ArrayClassification(Dataset):
    """Base of the built-in datasets: samples are rows of ``data`` with labels ``targets``.

    ``data`` and ``targets`` are Tensors (as in torchvision) read afresh at every fetch, so
    reassigning them (``ds.data, ds.targets = ds.data[mask], ds.targets[mask]``) filters the
    dataset. A sample is ``(features, label)``: ``_features`` turns rows of ``data`` into
    float32 features; the label is a Python int. ``__getitems__`` fetches a batch with one
    fancy-indexing operation unless a per-sample ``transform`` must run.
    """

    classes: list[str] = []
    # True: ``transform`` receives the raw image row (a uint8 NumPy array, what
    # torchvision's PIL image holds) instead of the default sample's features.
    _raw_transform_input = False

    def __init__(
        self,
        data: np.ndarray,
        targets: np.ndarray,
        train: bool,
        transform: Callable[[Any], Any] | None,
        target_transform: Callable[[Any], Any] | None,
    ) -> None:
        self.train = bool(train)
        self.transform = transform
        self.target_transform = target_transform
        self.data: Tensor = _from_numpy(data)
        self.targets: Tensor = _from_numpy(targets.astype(np.int64, copy=False))

    def _features(self, rows: np.ndarray) -> np.ndarray:
        """Rows of ``data`` as the float32 features of the samples."""
        raise NotImplementedError

    def _sample(self, row: np.ndarray) -> Any:
        """One row of ``data`` as the sample's first element when there is no transform."""
        return _from_numpy(self._features(row))

    def __len__(self) -> int:
        return len(_as_numpy(self.targets))

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        data, targets = _as_numpy(self.data), _as_numpy(self.targets)
        i = _check_index(index, len(targets), type(self).__name__)
        label: Any = int(targets[i])
        if self.transform is not None and self._raw_transform_input:
            features: Any = self.transform(np.array(data[i]))
        else:
            features = self._sample(data[i])
            if self.transform is not None:
                features = self.transform(features)
        if self.target_transform is not None:
            label = self.target_transform(label)
        return features, label

    def __getitems__(self, indices: Sequence[int]) -> BatchedSamples | list[tuple[Any, Any]]:
        """The samples at ``indices``; without transforms, as one ready-made batch."""
        if self.transform is not None or self.target_transform is not None:
            return [self[i] for i in indices]
        idx = _as_index_array(indices, type(self).__name__)
        data, targets = _as_numpy(self.data), _as_numpy(self.targets)
        features = self._features(data[idx])
        labels = targets[idx].astype(np.int64, copy=False)
        return BatchedSamples(self, idx, [_from_numpy(features), _from_numpy(labels)])

    @property
    def class_to_idx(self) -> dict[str, int]:
        return {name: k for k, name in enumerate(self.classes)}

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {len(self)}", *self.extra_repr().splitlines()]
        if self.transform is not None:
            lines.append(f"Transform: {self.transform!r}")
        if self.target_transform is not None:
            lines.append(f"Target transform: {self.target_transform!r}")
        return "\n".join([f"Dataset {type(self).__name__}", *("    " + line for line in lines)])


def _from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor sharing the memory of ``array`` (made contiguous first)."""
    return from_numpy(np.ascontiguousarray(array))
