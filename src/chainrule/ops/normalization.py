"""Normalisation layers as graph nodes: batch normalisation over the channel axis.

``Y = (X - mean) / sqrt(var + eps) * gamma + beta``; in training the mean and variance are
the batch's own, so they depend on X and the backward carries the two extra terms
``- mean(dXhat) - Xhat * mean(dXhat * Xhat)`` (docs/derivations.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

# ``nn.functional``'s only (torch.batch_norm has another signature)
__all__: list[str] = []


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
        Xhat = (X - self.mean) * self.invstd  # not kept: backward recomputes it from X
        if gamma is None:
            return Xhat
        Xhat *= gamma.reshape(self.cshape)
        Xhat += beta.reshape(self.cshape)
        return Xhat

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
        """Xhat and 1/sqrt(var + eps), recomputed from the saved X (as PyTorch does: one
        buffer of X's size fewer kept between forward and backward); under create_graph
        as a recorded function of X."""
        X = self.input(0)
        if not self.create_graph:
            return (X - self.mean) * self.invstd, self.invstd
        if not self.batch_stats:
            return (X - self.mean) * self.invstd, self.invstd
        m = self.count
        Xc = X - X.sum(axis=self.axes, keepdims=True) / m
        invstd = 1 / _math.sqrt((Xc * Xc).sum(axis=self.axes, keepdims=True) / m + self.eps)
        return Xc * invstd, invstd




# -- functional wrapper ------------------------------------------------------------


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) of a ``(N, C, *)`` input (BatchNorm1d and 2d), as PyTorch.

    In training (or without running statistics) the batch mean and biased variance
    normalise the input, and the running statistics, if given, are updated in place with
    ``momentum`` (the running variance with the unbiased batch variance). Otherwise the
    running statistics are used.
    """
    x = input._data
    if x.ndim < 2:
        raise ShapeError(f"batch_norm: expected an input of shape (N, C, *), got "
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
        mean = running_mean._data.astype(x.dtype)  # a copy: the buffer may change later
        var, batch_stats = running_var._data.astype(x.dtype, copy=False), False
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
    stat._data *= 1 - momentum
    stat._data += momentum * batch.astype(stat._data.dtype, copy=False)
    stat._version[0] += 1


# -- layer normalisation and RMS normalisation (per sample, over the trailing dims) ----------


class LayerNorm(Op):
    """Y = (X - mean) / sqrt(var + eps) * gamma + beta, statistics over X's last dims."""

    save_inputs = (0, 1)
    shapes = {"X": "(*,D)", "gamma": "(D,)", "beta": "(D,)", "Y": "(*,D)"}

    def forward(self, X: np.ndarray, gamma: np.ndarray | None, beta: np.ndarray | None, *,
                k: int, eps: float) -> np.ndarray:
        self.axes = tuple(range(X.ndim - k, X.ndim))  # the normalised dims
        self.count, self.eps = int(np.prod(X.shape[X.ndim - k:])), eps
        Xc = X - X.mean(axis=self.axes, keepdims=True)
        self.invstd = 1 / np.sqrt((Xc * Xc).mean(axis=self.axes, keepdims=True) + eps)
        self.Xhat = Xc * self.invstd
        Y = self.Xhat * gamma if gamma is not None else self.Xhat.copy()
        if beta is not None:
            Y += beta
        return Y

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = invstd * (dXhat - mean(dXhat, D) - Xhat * mean(dXhat * Xhat, D)), dXhat = dY * gamma  (*,D) = (*,D)
        dgamma = sum(dY * Xhat, *)  (D,) = (*,D)(*,D)
        dbeta = sum(dY, *)  (D,) = (*,D)"""  # noqa: E501
        need = self.needs_input_grad
        Xhat, invstd = self._normalized()
        gamma = self.input(1)
        dX = dgamma = dbeta = None
        if need[0]:
            dXhat = dY if gamma is None else dY * gamma
            m, axes = self.count, self.axes
            mean_d = dXhat.sum(axis=axes, keepdims=True) / m
            mean_dx = (dXhat * Xhat).sum(axis=axes, keepdims=True) / m
            if isinstance(dXhat, np.ndarray) and gamma is not None:  # fresh: in place
                dXhat -= mean_d
                dXhat -= Xhat * mean_dx
                dXhat *= invstd
                dX = dXhat
            else:
                dX = (dXhat - mean_d - Xhat * mean_dx) * invstd
        lead = tuple(range(len(dY.shape) - len(self.axes)))  # the batch dims
        if need[1]:
            dgamma = (dY * Xhat).sum(axis=lead) if lead else dY * Xhat
        if need[2]:
            dbeta = dY.sum(axis=lead) if lead else dY
        return dX, dgamma, dbeta

    def _normalized(self) -> tuple[Any, Any]:
        """Xhat and 1/sqrt(var + eps): saved arrays, or recomputed from X under create_graph."""
        if not self.create_graph:
            return self.Xhat, self.invstd
        X, m = self.input(0), self.count
        Xc = X - X.sum(axis=self.axes, keepdims=True) / m
        invstd = 1 / _math.sqrt((Xc * Xc).sum(axis=self.axes, keepdims=True) / m + self.eps)
        return Xc * invstd, invstd


class RMSNorm(Op):
    """Y = X / sqrt(mean(X**2) + eps) * gamma, the mean over X's last dims."""

    save_inputs = (0, 1)
    shapes = {"X": "(*,D)", "gamma": "(D,)", "Y": "(*,D)"}

    def forward(self, X: np.ndarray, gamma: np.ndarray | None, *, k: int,
                eps: float) -> np.ndarray:
        self.axes = tuple(range(X.ndim - k, X.ndim))
        self.count, self.eps = int(np.prod(X.shape[X.ndim - k:])), eps
        self.inv = 1 / np.sqrt((X * X).mean(axis=self.axes, keepdims=True) + eps)
        self.Xhat = X * self.inv
        return self.Xhat * gamma if gamma is not None else self.Xhat.copy()

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = inv * (dXhat - Xhat * mean(dXhat * Xhat, D)), dXhat = dY * gamma  (*,D) = (*,D)
        dgamma = sum(dY * Xhat, *)  (D,) = (*,D)(*,D)"""
        need = self.needs_input_grad
        if self.create_graph:
            X = self.input(0)
            inv = 1 / _math.sqrt((X * X).sum(axis=self.axes, keepdims=True) / self.count
                                 + self.eps)
            Xhat = X * inv
        else:
            Xhat, inv = self.Xhat, self.inv
        gamma = self.input(1)
        dX = dgamma = None
        if need[0]:
            dXhat = dY if gamma is None else dY * gamma
            mean_dx = (dXhat * Xhat).sum(axis=self.axes, keepdims=True) / self.count
            dX = (dXhat - Xhat * mean_dx) * inv
        if len(need) > 1 and need[1]:
            lead = tuple(range(len(dY.shape) - len(self.axes)))
            dgamma = (dY * Xhat).sum(axis=lead) if lead else dY * Xhat
        return dX, dgamma


def _normalized_shape(op: str, input: Tensor, normalized_shape: Any,
                      params: dict[str, Tensor | None]) -> tuple[int, ...]:
    """Check that ``input`` ends with ``normalized_shape`` and the params have that shape."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    shape = tuple(int(n) for n in normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.ndim - k:]) != shape or input.ndim < k:
        raise ShapeError(f"{op}: input of shape {tuple(input.shape)} does not end with "
                         f"normalized_shape {list(shape)}; expected input of shape "
                         f"[*, {', '.join(map(str, shape))}]")
    for name, t in params.items():
        if t is not None and tuple(t.shape) != shape:
            raise ShapeError(f"{op}: {name} of shape {tuple(t.shape)} does not match "
                             f"normalized_shape {list(shape)}")
    return shape


def layer_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its last ``len(normalized_shape)`` dims, then scale and shift.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance.
    """
    shape = _normalized_shape("layer_norm", input, normalized_shape,
                              {"weight": weight, "bias": bias})
    return LayerNorm.apply(input, weight, bias, k=len(shape), eps=float(eps))


def rms_norm(input: Tensor, normalized_shape: Any, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """``y = x / sqrt(mean(x**2) + eps) * weight`` over the last dims (eps None: the
    dtype's machine epsilon, as PyTorch)."""
    shape = _normalized_shape("rms_norm", input, normalized_shape, {"weight": weight})
    if eps is None:
        eps = float(np.finfo(input._data.dtype).eps)
    return RMSNorm.apply(input, weight, k=len(shape), eps=float(eps))
# -- conv: group normalisation --------------------------------------------------------------


class GroupNorm(Op):
    """Y = (X - mean_g) / sqrt(var_g + eps) * gamma + beta, statistics per sample and group.

    The channels of each sample split into G groups; each group is normalised over its
    channels and spatial positions, then each channel scaled and shifted.
    """

    save_inputs = (0, 1)
    shapes = {"X": "(N,C,*)", "gamma": "(C,)", "beta": "(C,)", "Y": "(N,C,*)"}

    def forward(self, X: np.ndarray, gamma: np.ndarray | None = None,
                beta: np.ndarray | None = None, *, groups: int, eps: float) -> np.ndarray:
        N, C = X.shape[:2]
        self.gshape = (N, groups, -1)  # (N, G, C/G * spatial)
        self.cshape = (1, C) + (1,) * (X.ndim - 2)
        self.eps = eps
        Xg = X.reshape(self.gshape)
        mean = Xg.mean(axis=-1, keepdims=True)
        Xc = Xg - mean
        self.invstd = 1 / np.sqrt((Xc * Xc).mean(axis=-1, keepdims=True) + eps)
        self.Xhat = (Xc * self.invstd).reshape(X.shape)
        if gamma is None:
            return self.Xhat.copy()
        return self.Xhat * gamma.reshape(self.cshape) + beta.reshape(self.cshape)

    def backward(self, dY: Any) -> tuple[Any, ...]:
        """dX = invstd * (dXhat - mean_g(dXhat) - Xhat * mean_g(dXhat * Xhat))  (N,C,*) = (N,C,*)
        dgamma = sum(dY * Xhat, (N,*))  (C,) = (N,C,*)(N,C,*)
        dbeta = sum(dY, (N,*))  (C,) = (N,C,*)"""
        need = self.needs_input_grad
        Xhat, invstd = self._normalized()
        gamma = self.input(1)
        dXhat = dY if gamma is None else dY * gamma.reshape(self.cshape)
        axes = (0,) + tuple(range(2, len(dY.shape)))
        dX = None
        if need[0]:
            shape = tuple(self.input_shapes[0])
            d, xh = dXhat.reshape(self.gshape), Xhat.reshape(self.gshape)
            m = d.shape[-1]
            mean_d = d.sum(axis=-1, keepdims=True) / m
            mean_dx = (d * xh).sum(axis=-1, keepdims=True) / m
            dX = ((d - mean_d - xh * mean_dx) * invstd).reshape(shape)
        if gamma is None:
            return dX, None, None
        dgamma = (dY * Xhat).sum(axis=axes) if need[1] else None
        dbeta = dY.sum(axis=axes) if need[2] else None
        return dX, dgamma, dbeta

    def _normalized(self) -> tuple[Any, Any]:
        """Xhat and 1/sqrt(var + eps) per group: saved, or recomputed from X (create_graph)."""
        if not self.create_graph:
            return self.Xhat, self.invstd
        X = self.input(0)
        Xg = X.reshape(self.gshape)
        m = Xg.shape[-1]
        Xc = Xg - Xg.sum(axis=-1, keepdims=True) / m
        invstd = 1 / _math.sqrt((Xc * Xc).sum(axis=-1, keepdims=True) / m + self.eps)
        return (Xc * invstd).reshape(X.shape), invstd


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalise ``(N, C, *)`` over groups of ``C / num_groups`` channels (and all spatial
    positions) per sample, then scale and shift each channel, as PyTorch."""
    x = input
    if x.ndim < 2:
        raise ShapeError(f"group_norm: expected an input of at least 2 dimensions (N, C, *), "
                         f"got shape {tuple(x.shape)}")
    C = x.shape[1]
    if num_groups <= 0 or C % num_groups:
        raise ShapeError(f"group_norm: Expected number of channels in input to be divisible by "
                         f"num_groups, but got input of shape {list(x.shape)} and "
                         f"num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise ShapeError(f"group_norm: Expected {name} to be a vector of size equal to the "
                             f"number of channels in input, but got {name} of shape "
                             f"{list(t.shape)} and input of shape {list(x.shape)}")
    if weight is None and bias is not None:
        weight = np.ones(C, x.dtype)
    if bias is None and weight is not None:
        bias = np.zeros(C, x.dtype)
    return GroupNorm.apply(input, weight, bias, groups=num_groups, eps=eps)
