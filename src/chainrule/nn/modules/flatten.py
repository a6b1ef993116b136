"""``Flatten``: merge a range of dimensions into one (by default all but the batch)."""

from __future__ import annotations

from chainrule import ops
from chainrule.nn.modules.module import Module
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim``: ``(N, 1, 8, 8)`` -> ``(N, 64)`` by default."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return ops.flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size``: ``(N, 400)`` -> ``(N, 16, 5, 5)``
    with ``Unflatten(1, (16, 5, 5))``."""

    def __init__(self, dim: int, unflattened_size: tuple[int, ...]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        dim = self.dim + input.ndim if self.dim < 0 else self.dim
        shape = tuple(input.shape)
        new = self.unflattened_size
        known = 1
        for s in new:
            known *= s if s != -1 else 1
        if (-1 not in new and known != shape[dim]) or (-1 in new and shape[dim] % known):
            raise ShapeError(f"Unflatten: unflattened_size {new} does not match dimension "
                             f"{self.dim} of size {shape[dim]} (input {shape})")
        return input.reshape(shape[:dim] + new + shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
