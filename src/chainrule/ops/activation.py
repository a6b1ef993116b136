"""Softmax family, leaky ReLU and one-hot as graph nodes (dropout and batch normalisation
live in ops/dropout.py and ops/normalization.py).

``softmax`` and ``log_softmax`` subtract the maximum before ``exp``, so logits of any
magnitude (1e4 and beyond) give finite results. Their backward rules are the Jacobian-vector
products of the seeds' Softmax node, written without forming the ``(C, C)`` Jacobian:
``dX = Y * (dY - sum(dY * Y))`` and, for ``log_softmax``, ``dX = dY - softmax * sum(dY)``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops.elementwise import local_scale
from chainrule.ops.shape import _dim
from chainrule.tensor import Tensor

# exported to ``cr.*`` as in PyTorch's top level; one_hot and leaky_relu are
# ``nn.functional``'s only (torch.batch_norm has another signature)
__all__ = ["softmax", "log_softmax"]


def _axis(x: np.ndarray, dim: int) -> int | None:
    """The NumPy axis for ``dim`` (None for a 0-d tensor, whose only 'dimension' is itself)."""
    return None if x.ndim == 0 else dim


class Softmax(Op):
    """Y = exp(X - max X) / sum(exp(X - max X)) along ``dim``."""

    save_output = True
    shapes = {"X": "(*)", "Y": "(*)"}

    def forward(self, X: np.ndarray, dim: int) -> np.ndarray:
        self.axis = axis = _axis(X, dim)
        if X.size == 0:
            return X.copy()
        E = np.exp(X - X.max(axis=axis, keepdims=True))  # <= 1: no overflow
        E /= E.sum(axis=axis, keepdims=True)
        return E

    def backward(self, dY: Any) -> Any:
        """dX = Y * (dY - sum(dY * Y, dim))  (*) = (*)(*)"""
        Y = self.output()
        return Y * (dY - (dY * Y).sum(axis=self.axis, keepdims=True))


class LogSoftmax(Op):
    """Y = X - max X - log(sum(exp(X - max X))) along ``dim``."""

    save_output = True
    shapes = {"X": "(*)", "Y": "(*)"}

    def forward(self, X: np.ndarray, dim: int) -> np.ndarray:
        self.axis = axis = _axis(X, dim)
        if X.size == 0:
            return X.copy()
        Z = X - X.max(axis=axis, keepdims=True)
        Z -= np.log(np.exp(Z).sum(axis=axis, keepdims=True))
        return Z

    def backward(self, dY: Any) -> Any:
        """dX = dY - exp(Y) * sum(dY, dim)  (*) = (*)(*)"""
        return dY - _math.exp(self.output()) * dY.sum(axis=self.axis, keepdims=True)


class LeakyReLU(Op):
    """Y = X where X > 0, else negative_slope * X."""

    save_inputs = (0,)
    shapes = {"X": "(*)", "Y": "(*)"}

    def forward(self, X: np.ndarray, negative_slope: float) -> np.ndarray:
        self.positive = X > 0
        self.slope = negative_slope
        return np.where(self.positive, X, X * negative_slope)

    def backward(self, dY: Any) -> Any:
        """dX = dY * (1 if X > 0 else negative_slope)  (*) = (*)(*)"""
        X = self.input(0)
        factor = np.where(self.positive, 1, self.slope).astype(_math.data(X).dtype)
        return local_scale(dY, factor, X)


# -- functional wrappers ------------------------------------------------------------


def _softmax_dim(op: str, dim: int | None, ndim: int) -> int:
    if dim is None:  # PyTorch's deprecated implicit choice
        warnings.warn(
            f"{op}: implicit dimension choice is deprecated; pass dim= explicitly",
            UserWarning, stacklevel=3,
        )
        return 0 if ndim in (0, 1, 3) else 1
    return _dim(op, dim, ndim)


def _float_input(op: str, input: Tensor, dtype: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    if dtype is not None:
        return input.to(dtype)
    if input._data.dtype.kind not in "fc":
        raise TypeError(f"{op}: expected a floating point tensor, got dtype {input.dtype} "
                        "(convert with .float())")
    return input


def softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """Softmax along ``dim``: entries in (0, 1) summing to 1, stable for large logits.

    Example::

        >>> cr.softmax(cr.tensor([[1.0, 2.0, 3.0]]), dim=1)
        tensor([[0.0900, 0.2447, 0.6652]])
    """
    input = _float_input("softmax", input, dtype)
    return Softmax.apply(input, dim=_softmax_dim("softmax", dim, input.ndim))


def log_softmax(input: Tensor, dim: int | None = None, dtype: Any = None) -> Tensor:
    """``log(softmax(input, dim))`` computed directly (stable for logits of any size)."""
    input = _float_input("log_softmax", input, dtype)
    return LogSoftmax.apply(input, dim=_softmax_dim("log_softmax", dim, input.ndim))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, else ``negative_slope * input`` (gradient at 0: the slope)."""
    return LeakyReLU.apply(input, negative_slope=float(negative_slope))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of class indices: shape ``(*, num_classes)``; no gradient.

    ``num_classes=-1`` infers it as ``max + 1``. Negative or too large indices raise.
    """
    t = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if t.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot: expected a tensor of class indices (int64), got dtype "
                           f"{t.dtype}")
    if num_classes == -1:
        if t.size == 0:
            raise RuntimeError("one_hot: cannot infer the number of classes from an empty "
                               "tensor; pass num_classes")
        num_classes = int(t.max()) + 1
    if t.size and t.min() < 0:
        raise RuntimeError(f"one_hot: class values must be non-negative, got {int(t.min())}")
    if t.size and t.max() >= num_classes:
        raise RuntimeError(f"one_hot: class value {int(t.max())} is out of range for "
                           f"num_classes={num_classes} (expected values in [0, "
                           f"{num_classes - 1}])")
    out = (t[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor._make(out)
