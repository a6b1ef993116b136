"""``cr.Size``: the type of ``x.shape`` and ``x.size()``, a tuple of ints as ``torch.Size``."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["Size"]


class Size(tuple):
    """A tensor's shape: a tuple of ints (slicing and ``+`` give a Size again).

    ``Size([2, 3]).numel()`` is the number of elements, 6; it prints as
    ``chainrule.Size([2, 3])``.
    """

    __slots__ = ()

    def __new__(cls, sizes: Any = ()) -> Size:
        return super().__new__(cls, (int(s) for s in sizes))

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``Size([])``)."""
        return math.prod(self)

    def __getitem__(self, index: Any) -> Any:
        out = super().__getitem__(index)
        return Size(out) if isinstance(index, slice) else out

    def __add__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple(self) + tuple(other))

    def __radd__(self, other: Any) -> Size:
        if not isinstance(other, tuple):
            return NotImplemented
        return Size(tuple(other) + tuple(self))

    def __mul__(self, n: Any) -> Size:
        return Size(tuple(self) * n)

    __rmul__ = __mul__

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (Size, (tuple(self),))
