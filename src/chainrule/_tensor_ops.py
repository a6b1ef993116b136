"""The Tensor's everyday operations as methods: arithmetic, elementwise functions,
reductions, reshaping and products (``x.add(y)``, ``x.sum(1)``, ``x.view(2, -1)``, ...).

``Tensor`` inherits these from :class:`TensorOps` (ordinary methods of a base class, no
monkeypatching). Each is one call of the function of the same name in
:mod:`chainrule.ops`, where the op's forward and backward rules are.

This module is imported by ``tensor.py`` before the ops exist (see that module's
docstring on the tensor <-> autograd <-> ops import cycle), so it reaches them at call
time as ``chainrule.ops`` (an attribute of the package once the ops are imported): a
lookup of a few tens of nanoseconds, where an import inside each method would cost a
microsecond on these hot paths.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import chainrule as _cr

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

__all__ = ["TensorOps"]


class TensorOps:
    """PyTorch's core ``Tensor`` operation methods (a base of Tensor)."""

    __slots__ = ()

    def add(self, other: Any, alpha: Any = 1) -> Tensor:
        return _cr.ops.add(self, other, alpha)

    def sub(self, other: Any, alpha: Any = 1) -> Tensor:
        return _cr.ops.sub(self, other, alpha)

    def mul(self, other: Any) -> Tensor:
        return _cr.ops.mul(self, other)

    def div(self, other: Any, rounding_mode: str | None = None) -> Tensor:
        return _cr.ops.div(self, other, rounding_mode=rounding_mode)

    def square(self) -> Tensor:
        return _cr.ops.square(self)

    def log1p(self) -> Tensor:
        return _cr.ops.log1p(self)

    def sign(self) -> Tensor:
        return _cr.ops.sign(self)

    def neg(self) -> Tensor:
        return _cr.ops.neg(self)

    def reciprocal(self) -> Tensor:
        return _cr.ops.reciprocal(self)

    def pow(self, exponent: Any) -> Tensor:
        return _cr.ops.pow(self, exponent)

    def exp(self) -> Tensor:
        return _cr.ops.exp(self)

    def log(self) -> Tensor:
        return _cr.ops.log(self)

    def sqrt(self) -> Tensor:
        return _cr.ops.sqrt(self)

    def abs(self) -> Tensor:
        return _cr.ops.abs(self)

    def sin(self) -> Tensor:
        return _cr.ops.sin(self)

    def cos(self) -> Tensor:
        return _cr.ops.cos(self)

    def tanh(self) -> Tensor:
        return _cr.ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _cr.ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _cr.ops.relu(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        return _cr.ops.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return _cr.ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _cr.ops.minimum(self, other)

    def sum(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.sum(self, *args, **kwargs)

    def mean(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.mean(self, *args, **kwargs)

    def var(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.var(self, *args, **kwargs)

    def std(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.std(self, *args, **kwargs)

    def max(self, *args: Any, **kwargs: Any) -> Any:
        return _cr.ops.max(self, *args, **kwargs)

    def min(self, *args: Any, **kwargs: Any) -> Any:
        return _cr.ops.min(self, *args, **kwargs)

    def amax(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.amax(self, *args, **kwargs)

    def amin(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.amin(self, *args, **kwargs)

    def argmax(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.argmax(self, *args, **kwargs)

    def argmin(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.argmin(self, *args, **kwargs)

    def logsumexp(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.logsumexp(self, *args, **kwargs)

    def prod(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.prod(self, *args, **kwargs)

    def softmax(self, dim: int) -> Tensor:
        return _cr.ops.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return _cr.ops.log_softmax(self, dim)

    def reshape(self, *shape: Any) -> Tensor:
        return _cr.ops.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        return _cr.ops.view(self, *shape)

    def view_as(self, other: Tensor) -> Tensor:
        return _cr.ops.view(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _cr.ops.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _cr.ops.flatten(self, start_dim, end_dim)

    def squeeze(self, *args: Any, **kwargs: Any) -> Tensor:
        return _cr.ops.squeeze(self, *args, **kwargs)

    def unsqueeze(self, dim: int) -> Tensor:
        return _cr.ops.unsqueeze(self, dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _cr.ops.transpose(self, dim0, dim1)

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> Tensor:
        return _cr.ops.transpose(self, 0, 1) if self.ndim == 2 else self

    def permute(self, *dims: Any) -> Tensor:
        return _cr.ops.permute(self, *dims)

    def expand(self, *sizes: Any) -> Tensor:
        return _cr.ops.expand(self, *sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        return _cr.ops.expand(self, other.shape)

    def broadcast_to(self, shape: Any) -> Tensor:
        return _cr.ops.broadcast_to(self, shape)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return _cr.ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _cr.ops.chunk(self, chunks, dim)

    def flip(self, *dims: Any) -> Tensor:
        return _cr.ops.flip(self, dims[0] if len(dims) == 1 else dims)

    def repeat(self, *sizes: Any) -> Tensor:
        return _cr.ops.repeat(self, *sizes)

    def tile(self, *dims: Any) -> Tensor:
        return _cr.ops.tile(self, dims[0] if len(dims) == 1 else dims)

    def index_put(self, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
        return _cr.ops.index_put(self, indices, values, accumulate=accumulate)

    def dot(self, other: Any) -> Tensor:
        return _cr.ops.dot(self, other)

    def matmul(self, other: Any) -> Tensor:
        return _cr.ops.matmul(self, other)

    def mm(self, other: Any) -> Tensor:
        return _cr.ops.mm(self, other)

    def bmm(self, other: Any) -> Tensor:
        return _cr.ops.bmm(self, other)

    def outer(self, other: Any) -> Tensor:
        return _cr.ops.outer(self, other)

    def where(self, condition: Any, other: Any) -> Tensor:
        return _cr.ops.where(condition, self, other)
