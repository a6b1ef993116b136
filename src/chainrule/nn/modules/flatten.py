"""``Flatten``: merge a range of dimensions into one (by default all but the batch)."""

from __future__ import annotations

from chainrule import ops
from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor

__all__ = ["Flatten"]


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
