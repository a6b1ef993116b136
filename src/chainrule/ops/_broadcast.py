"""The seeds' Repeat/Sum node: broadcasting in the forward, summing back in the backward.

A binary op broadcasts an input of shape ``(3,)`` against ``(N, 3)`` by repeating it N
times (Repeat). Its gradient is the transpose of that copy: the N incoming gradients are
summed (Sum). ``unbroadcast`` is that Sum, shared by every broadcasting op.
"""

from __future__ import annotations

from typing import Any


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` down to ``shape`` (the adjoint of ``broadcast_to(x, grad.shape)``).

    Works on ndarrays and on Tensors (under ``create_graph``) alike.

    dX = dY.sum(over the broadcast axes)   (*x) = sum((*y))
    """
    gshape = grad.shape
    if gshape == shape:
        return grad
    lead = len(gshape) - len(shape)
    axes = tuple(range(lead)) + tuple(
        i + lead for i, n in enumerate(shape) if n == 1 and gshape[i + lead] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    if lead or grad.shape != shape:
        grad = grad.reshape(shape)
    return grad
