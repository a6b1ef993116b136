"""Hand-written NumPy references for the convolutional workloads: the floor chainrule's
CNN steps are measured against.

The leanest correct NumPy step, every rule written out by hand:

* convolution as im2col + one GEMM: ``cols (C_in*kH*kW, N*H'*W')`` gathered with one
  strided copy per kernel offset, ``Y = W @ cols + b``; backward ``dW = dY @ cols.T``,
  ``db = dY summed``, ``dX = col2im(W.T @ dY)`` (one strided add per kernel offset), the
  patch matrix freed as soon as ``dW`` is computed and ``dX`` skipped for the first layer;
* max pooling 2x2 (stride 2), one strided pass per window offset keeping the first
  maximum (PyTorch's tie rule; the inputs have no NaN), its backward the gradient
  written to that offset;
* batch normalisation (training: batch statistics, running statistics updated):
  ``dX = invstd * (dXhat - mean(dXhat) - Xhat * mean(dXhat * Xhat))``;
* ReLU, the affine layer, softmax cross-entropy and SGD with momentum as in
  ``reference_numpy``.

Everything stays float32.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from bench.reference_numpy import softmax_cross_entropy

__all__ = ["NumpyCNN"]


def im2col(x: np.ndarray, k: int, pad: int) -> tuple[np.ndarray, tuple[int, int]]:
    """``cols (C*k*k, N*Ho*Wo)`` of a stride-1 convolution, and ``(Ho, Wo)``."""
    N, C, H, W = x.shape
    if pad:
        xp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), x.dtype)
        xp[:, :, pad:pad + H, pad:pad + W] = x
    else:
        xp = x
    Ho, Wo = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    cols = np.empty((C, k, k, N, Ho, Wo), x.dtype)
    for i in range(k):
        for j in range(k):
            cols[:, i, j] = xp[:, :, i:i + Ho, j:j + Wo].swapaxes(0, 1)
    return cols.reshape(C * k * k, N * Ho * Wo), (Ho, Wo)


def col2im(dcols: np.ndarray, shape: Sequence[int], k: int, pad: int) -> np.ndarray:
    """The adjoint of ``im2col``: each column added back onto its window."""
    N, C, H, W = shape
    Ho, Wo = H + 2 * pad - k + 1, W + 2 * pad - k + 1
    g = dcols.reshape(C, k, k, N, Ho, Wo)
    dxp = np.zeros((C, N, H + 2 * pad, W + 2 * pad), dcols.dtype)
    for i in range(k):
        for j in range(k):
            dxp[:, :, i:i + Ho, j:j + Wo] += g[:, i, j]
    return np.ascontiguousarray(dxp[:, :, pad:pad + H, pad:pad + W].swapaxes(0, 1))


def maxpool2(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """2x2 max pooling, stride 2: the output and which of the 4 offsets held each maximum
    (the first of equal values, PyTorch's rule), by one pass per offset."""
    N, C, H, W = x.shape
    Ho, Wo = H // 2, W // 2
    y = x[:, :, 0:2 * Ho:2, 0:2 * Wo:2].copy()
    arg = np.zeros(y.shape, np.int8)
    for k, (i, j) in enumerate(((0, 1), (1, 0), (1, 1)), start=1):
        v = x[:, :, i:2 * Ho:2, j:2 * Wo:2]
        better = v > y
        np.copyto(y, v, where=better)
        np.copyto(arg, k, where=better)
    return y, arg


def maxpool2_backward(dy: np.ndarray, arg: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Each gradient to the offset that held its window's maximum."""
    Ho, Wo = dy.shape[2:]
    dx = np.zeros(shape, dy.dtype)
    zero = np.zeros((), dy.dtype)
    for k, (i, j) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1))):
        dx[:, :, i:2 * Ho:2, j:2 * Wo:2] = np.where(arg == k, dy, zero)
    return dx


class NumpyCNN:
    """A CNN given as a list of layers, trained with SGD + momentum, backward by hand.

    Layers: ``("conv", W, b_or_None, pad)``, ``("bn", gamma, beta)``, ``("relu",)``,
    ``("pool",)`` (2x2 max), ``("flatten",)``, ``("linear", W, b)``; parameters copied.
    ``step(x, t)`` trains one step (softmax cross-entropy) and returns the loss before
    the update.
    """

    def __init__(self, layers: Sequence[tuple[Any, ...]], lr: float, momentum: float,
                 bn_momentum: float = 0.1, eps: float = 1e-5) -> None:
        self.layers = []
        self.params: list[np.ndarray] = []
        for layer in layers:
            kind, *args = layer
            args = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
            if kind == "bn":  # running statistics
                args += [np.zeros_like(args[0]), np.ones_like(args[0])]
            self.layers.append([kind, *args])
            self.params += [a for a in args[:2] if isinstance(a, np.ndarray)
                            and kind in ("conv", "bn", "linear")]
        self.velocity = [np.zeros_like(p) for p in self.params]
        self.lr, self.momentum = lr, momentum
        self.bn_momentum, self.eps = bn_momentum, eps

    def step(self, x: np.ndarray, t: np.ndarray) -> np.floating:
        saved: list[Any] = []
        a = x
        for layer in self.layers:
            a, s = self._forward(layer, a)
            saved.append(s)
        loss, g = softmax_cross_entropy(a, t)
        grads: list[np.ndarray] = []
        for i in range(len(self.layers) - 1, -1, -1):
            g, pg = self._backward(self.layers[i], saved, i, g)
            grads = pg + grads
        for p, v, gp in zip(self.params, self.velocity, grads, strict=True):
            v *= self.momentum
            v += gp
            p -= self.lr * v
        return loss

    def _forward(self, layer: list[Any], a: np.ndarray) -> tuple[np.ndarray, Any]:
        kind = layer[0]
        if kind == "conv":
            W, b, pad = layer[1:]
            N = a.shape[0]
            C_out, _, k, _ = W.shape
            cols, (Ho, Wo) = im2col(a, k, pad)
            y = W.reshape(C_out, -1) @ cols  # (C_out,N*L) = (C_out,C*k*k)(C*k*k,N*L)
            if b is not None:
                y += b[:, None]
            y = np.ascontiguousarray(y.reshape(C_out, N, Ho, Wo).swapaxes(0, 1))
            return y, (cols, a.shape)
        if kind == "bn":
            gamma, beta, rmean, rvar = layer[1:]
            axes = (0, 2, 3)
            n = a.size // a.shape[1]
            mean = a.mean(axis=axes)
            xc = a - mean.reshape(1, -1, 1, 1)
            var = (xc * xc).mean(axis=axes)
            rmean *= 1 - self.bn_momentum
            rmean += self.bn_momentum * mean
            rvar *= 1 - self.bn_momentum
            rvar += self.bn_momentum * var * (n / (n - 1))
            invstd = (1 / np.sqrt(var + self.eps)).reshape(1, -1, 1, 1)
            xhat = xc * invstd
            return xhat * gamma.reshape(1, -1, 1, 1) + beta.reshape(1, -1, 1, 1), (xhat, invstd)
        if kind == "relu":
            mask = a > 0
            return a * mask, mask
        if kind == "pool":
            y, arg = maxpool2(a)
            return y, (arg, a.shape)
        if kind == "flatten":
            return a.reshape(a.shape[0], -1), a.shape
        W, b = layer[1:]  # linear
        return a @ W.T + b, a

    def _backward(self, layer: list[Any], saved: list[Any], i: int,
                  g: np.ndarray) -> tuple[np.ndarray | None, list[np.ndarray]]:
        kind = layer[0]
        s, saved[i] = saved[i], None  # this frame holds the layer's saved values alone
        if kind == "conv":
            W, b, pad = layer[1:]
            cols, shape = s
            C_out = W.shape[0]
            gm = np.ascontiguousarray(g.swapaxes(0, 1)).reshape(C_out, -1)  # (C_out, N*L)
            dW = (gm @ cols.T).reshape(W.shape)  # (C_out,C*k*k) = (C_out,N*L)(N*L,C*k*k)
            del cols, s  # the patch matrix is no longer needed
            grads = [dW] if b is None else [dW, gm.sum(axis=1)]
            if i == 0:  # the first layer: no dX
                return None, grads
            dcols = W.reshape(C_out, -1).T @ gm  # (C*k*k,N*L) = (C*k*k,C_out)(C_out,N*L)
            return col2im(dcols, shape, W.shape[2], pad), grads
        if kind == "bn":
            gamma = layer[1]
            xhat, invstd = s
            axes = (0, 2, 3)
            m = g.size // g.shape[1]
            dgamma, dbeta = (g * xhat).sum(axis=axes), g.sum(axis=axes)
            dxhat = g * gamma.reshape(1, -1, 1, 1)
            mean_d = dxhat.sum(axis=axes, keepdims=True) / m
            mean_dx = (dxhat * xhat).sum(axis=axes, keepdims=True) / m
            return (dxhat - mean_d - xhat * mean_dx) * invstd, [dgamma, dbeta]
        if kind == "relu":
            return g * s, []
        if kind == "pool":
            return maxpool2_backward(g, *s), []
        if kind == "flatten":
            return g.reshape(s), []
        W = layer[1]  # linear: dX = dY W, dW = dY^T X, db = sum of dY
        return g @ W, [g.T @ s, g.sum(axis=0)]
