"""Indexing nodes: narrow, gather/scatter, index_select, take_along_dim, masked_fill,
tril/triu.

Each forward picks or places elements; each backward sends the gradient back along the
same index: the adjoint of a gather is a scatter-add (an element read twice receives
both gradients, the seeds' Branch node) and the adjoint of a scatter is a gather.
"""

from __future__ import annotations

import operator
from typing import Any

from chainrule.ops.shape import _dim, getitem
from chainrule.tensor import Tensor

__all__ = ["narrow"]


def _tensor(op: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def narrow(input: Tensor, dim: int, start: Any, length: int) -> Tensor:
    """The slice ``start : start + length`` of ``input`` along ``dim`` (a view in PyTorch)."""
    x = _tensor("narrow", input)
    d = _dim("narrow", dim, x.ndim)
    n = x.shape[d]
    start, length = operator.index(start), operator.index(length)
    if start < 0:
        start += n
    if not 0 <= start <= n or length < 0 or start + length > n:
        raise IndexError(f"narrow: start ({start}) + length ({length}) exceeds dimension size "
                         f"({n}) of dimension {dim} (shape {tuple(x.shape)})")
    index = (slice(None),) * d + (slice(start, start + length),)
    return getitem(x, index)
