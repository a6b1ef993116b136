"""Softmax family, dropout, leaky ReLU, one-hot and batch normalisation as graph nodes.

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
from chainrule.ops._errors import ShapeError
from chainrule.ops.elementwise import local_scale
from chainrule.ops.shape import _dim
from chainrule.random import _np_generator
from chainrule.tensor import Tensor

# exported to ``cr.*`` as in PyTorch's top level; one_hot, leaky_relu and batch_norm are
# ``nn.functional``'s only (torch.batch_norm has another signature)
__all__ = ["softmax", "log_softmax", "dropout"]


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


class Dropout(Op):
    """Y = X * mask / (1 - p), each element kept with probability 1 - p."""

    shapes = {"X": "(*)", "Y": "(*)"}

    def forward(self, X: np.ndarray, p: float) -> np.ndarray:
        if p == 1:
            self.mask = np.zeros(X.shape, X.dtype)
        else:
            keep = _np_generator(None).random(X.shape, dtype=np.float32) >= p
            self.mask = keep * np.asarray(1 / (1 - p), X.dtype)  # 0 or 1/(1-p), X's dtype
        return X * self.mask

    def backward(self, dY: Any) -> Any:
        """dX = dY * mask / (1 - p)  (*) = (*)(*)"""
        return dY * self.mask


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


class BatchNorm(Op):
    """Y = (X - mean) / sqrt(var + eps) * gamma + beta per channel (dim 1 of X).

    With ``batch_stats`` the mean and biased variance are the batch's own (training), so
    they depend on X; otherwise they are the running estimates, constants (evaluation).
    """

    save_inputs = (0, 1)
    shapes = {"X": "(N,C,*)", "gamma": "(C,)", "beta": "(C,)", "Y": "(N,C,*)"}

    def forward(self, X: np.ndarray, gamma: np.ndarray | None = None,
                beta: np.ndarray | None = None, *, mean: np.ndarray, var: np.ndarray,
                eps: float, batch_stats: bool) -> np.ndarray:
        self.axes = (0,) + tuple(range(2, X.ndim))  # every axis but the channel axis
        self.count = X.size // X.shape[1]  # elements per channel
        self.cshape = (1, X.shape[1]) + (1,) * (X.ndim - 2)  # (1,C,1...) for broadcasting
        self.eps, self.batch_stats, self.mean = eps, batch_stats, mean.reshape(self.cshape)
        self.invstd = 1 / np.sqrt(var.reshape(self.cshape) + eps)
        self.Xhat = (X - self.mean) * self.invstd
        if gamma is None:
            return self.Xhat.copy()  # the output may be changed in place; Xhat is saved
        return self.Xhat * gamma.reshape(self.cshape) + beta.reshape(self.cshape)

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = invstd * (dXhat - mean(dXhat) - Xhat * mean(dXhat * Xhat))  (N,C,*) = (N,C,*)
        dgamma = sum(dY * Xhat, (N,*))  (C,) = (N,C,*)(N,C,*)
        dbeta = sum(dY, (N,*))  (C,) = (N,C,*)"""
        need = self.needs_input_grad
        Xhat, invstd = self._normalized()
        gamma = self.input(1)
        dXhat = dY if gamma is None else dY * gamma.reshape(self.cshape)
        dX = None
        if need[0]:
            if self.batch_stats:  # mean and var depend on X as well
                m = self.count  # elements per channel, a Python int
                mean_d = dXhat.sum(axis=self.axes, keepdims=True) / m
                mean_dx = (dXhat * Xhat).sum(axis=self.axes, keepdims=True) / m
                dXhat = dXhat - mean_d - Xhat * mean_dx
            dX = dXhat * invstd
        if gamma is None:
            return dX, None, None
        dgamma = (dY * Xhat).sum(axis=self.axes) if need[1] else None
        dbeta = dY.sum(axis=self.axes) if need[2] else None
        return dX, dgamma, dbeta

    def _normalized(self) -> tuple[Any, Any]:
        """Xhat and 1/sqrt(var + eps): saved arrays, or recomputed from X under create_graph."""
        if not self.create_graph:
            return self.Xhat, self.invstd
        X = self.input(0)
        if not self.batch_stats:
            return (X - self.mean) * self.invstd, self.invstd
        m = self.count
        Xc = X - X.sum(axis=self.axes, keepdims=True) / m
        invstd = 1 / _math.sqrt((Xc * Xc).sum(axis=self.axes, keepdims=True) / m + self.eps)
        return Xc * invstd, invstd


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
    if input.data.dtype.kind not in "fc":
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


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    The mask comes from the default generator (``cr.manual_seed``). With ``training=False``
    or ``p=0`` the input is returned unchanged; ``p=1`` gives zeros.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    return Dropout.apply(input, p=float(p))


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, else ``negative_slope * input`` (gradient at 0: the slope)."""
    return LeakyReLU.apply(input, negative_slope=float(negative_slope))


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding of class indices: shape ``(*, num_classes)``; no gradient.

    ``num_classes=-1`` infers it as ``max + 1``. Negative or too large indices raise.
    """
    t = tensor.data if isinstance(tensor, Tensor) else np.asarray(tensor)
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


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) of a ``(N, C)`` or ``(N, C, L)`` input, as PyTorch.

    In training (or without running statistics) the batch mean and biased variance
    normalise the input, and the running statistics, if given, are updated in place with
    ``momentum`` (the running variance with the unbiased batch variance). Otherwise the
    running statistics are used.
    """
    x = input.data
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input of shape (N, C) or (N, C, L), got "
                         f"{tuple(x.shape)}")
    C = x.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and tuple(t.shape) != (C,):
            raise ShapeError(f"batch_norm: {name} of shape {tuple(t.shape)} does not match the "
                             f"input's {C} channels (input {tuple(x.shape)})")
    if training or running_mean is None or running_var is None:
        mean, var = _batch_stats(x)
        if training and running_mean is not None and running_var is not None:
            n = x.size // C
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var * (n / max(n - 1, 1)), momentum)
        batch_stats = True
    else:
        mean = running_mean.data.astype(x.dtype)  # a copy: the buffer may change later
        var, batch_stats = running_var.data.astype(x.dtype, copy=False), False
    if weight is None and bias is not None:
        weight = np.ones(C, x.dtype)
    if bias is None and weight is not None:
        bias = np.zeros(C, x.dtype)
    return BatchNorm.apply(input, weight, bias, mean=mean, var=var, eps=eps,
                           batch_stats=batch_stats)


def _batch_stats(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and biased variance of an ``(N, C, *)`` array."""
    axes = (0,) + tuple(range(2, x.ndim))
    if x.size // x.shape[1] <= 1:
        raise ShapeError(f"batch_norm: expected more than 1 value per channel when training, "
                         f"got input of shape {tuple(x.shape)}")
    mean = x.mean(axis=axes)
    xc = x - mean.reshape((1, -1) + (1,) * (x.ndim - 2))
    return mean, (xc * xc).mean(axis=axes)


def _update_running(stat: Tensor, batch: np.ndarray, momentum: float) -> None:
    """stat = (1 - momentum) * stat + momentum * batch, in place (a buffer: no graph)."""
    stat.data *= 1 - momentum
    stat.data += momentum * batch.astype(stat.data.dtype, copy=False)
    stat._version[0] += 1
