"""Collation: a list of samples into a batch, as PyTorch's ``default_collate``."""

from __future__ import annotations

import collections.abc
from collections.abc import Sequence
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.tensor import Tensor
from chainrule.utils.data.dataset import BatchedSamples

__all__ = ["default_collate", "default_convert"]


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
