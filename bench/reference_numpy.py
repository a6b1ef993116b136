"""Hand-written NumPy references: the floor that chainrule's benchmarks are measured against.

Each reference computes exactly what the chainrule and PyTorch versions compute, with the
seeds' backward formulas written out by hand and nothing else:

* affine layer ``Y = X W^T + b`` (weight ``(out, in)``, as ``nn.Linear``):
  ``dX = dY W``, ``dW = dY^T X``, ``db = sum over the batch of dY``;
* ReLU: ``dX = dY * (X > 0)`` (the mask);
* softmax with cross-entropy: ``dZ = (softmax(Z) - onehot(t)) / N``;
* mean squared error: ``dY = 2 (Y - T) / numel``;
* SGD with momentum as PyTorch writes it: ``buf = momentum * buf + g``; ``p -= lr * buf``
  (the buffer starts at zero, so the first step is ``buf = g``, PyTorch's ``clone(g)``).

Everything stays float32: Python scalars are weak in NumPy 2, so ``/ N`` keeps the dtype.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["NumpyMLP", "chain_forward", "chain_forward_backward", "softmax_cross_entropy"]


def softmax_cross_entropy(z: np.ndarray, t: np.ndarray,
                          batch: int | None = None) -> tuple[np.floating, np.ndarray]:
    """Mean softmax cross-entropy of the logits ``z`` ``(N, C)`` for the class indices ``t``
    (stable: log-sum-exp with the row max) and its gradient ``(softmax(z) - onehot(t)) /
    batch``. ``batch`` is N unless given: a data-parallel process gives the global batch,
    as its gradients are summed over the processes."""
    n = z.shape[0]
    m = z.max(axis=1, keepdims=True)
    e = np.exp(z - m)
    s = e.sum(axis=1, keepdims=True)
    rows = np.arange(n)
    loss = np.mean(np.log(s[:, 0]) + m[:, 0] - z[rows, t])
    dz = e / s  # softmax
    dz[rows, t] -= 1  # - onehot
    dz /= n if batch is None else batch
    return loss, dz


class NumpyMLP:
    """A ReLU MLP trained with SGD + momentum, forward and backward written by hand.

    Args:
        weights: ``[(W, b), ...]`` per layer, ``W`` of shape ``(out, in)``; copied.
        loss: ``"ce"`` (softmax cross-entropy on class indices) or ``"mse"``.
        lr, momentum: the SGD hyper-parameters.

    ``step(x, t)`` runs one training step on a batch and returns the loss before the update
    (a float32 NumPy scalar).
    """

    def __init__(
        self,
        weights: Sequence[tuple[np.ndarray, np.ndarray]],
        loss: str,
        lr: float,
        momentum: float,
    ) -> None:
        if loss not in ("ce", "mse"):
            raise ValueError(f"NumpyMLP: loss must be 'ce' or 'mse', got {loss!r}")
        self.W = [W.copy() for W, _ in weights]
        self.b = [b.copy() for _, b in weights]
        self.vW = [np.zeros_like(W) for W in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.loss = loss
        self.lr = lr
        self.momentum = momentum

    def step(self, x: np.ndarray, t: np.ndarray) -> np.floating:
        """One step: forward, loss, backward (seeds' formulas), SGD momentum update."""
        W, b = self.W, self.b
        last = len(W) - 1
        inputs = []  # the input of each layer (X of its dW = dY^T X)
        pre = []  # pre-activations of the hidden layers (for the ReLU masks)
        a = x
        for i in range(last + 1):
            inputs.append(a)
            z = a @ W[i].T + b[i]  # (N,out) = (N,in)(in,out) + (out,)
            if i < last:
                pre.append(z)
                a = np.maximum(z, 0)
        if self.loss == "ce":
            loss, dz = softmax_cross_entropy(z, t)  # dz = (p - onehot) / N
        else:
            diff = z - t
            loss = np.mean(diff * diff)
            dz = diff * (2 / diff.size)  # d mean((z - t)^2) / dz
        lr, mom = self.lr, self.momentum
        for i in range(last, -1, -1):
            gW = dz.T @ inputs[i]  # dW = dY^T X  (out,in) = (out,N)(N,in)
            gb = dz.sum(axis=0)  # db = sum_n dY  (out,)
            if i > 0:  # dX = dY W (with the weights before the update), then the mask
                dz = (dz @ W[i]) * (pre[i - 1] > 0)
            vW, vb = self.vW[i], self.vb[i]
            vW *= mom
            vW += gW
            W[i] -= lr * vW
            vb *= mom
            vb += gb
            b[i] -= lr * vb
        return loss


def chain_forward(x: np.ndarray, pairs: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``y = y * a + b`` for each ``(a, b)`` of ``pairs``: 2 ops per pair, forward only."""
    y = x
    for a, c in pairs:
        y = y * a + c
    return y


def chain_forward_backward(
    x: np.ndarray, pairs: Sequence[tuple[np.ndarray, np.ndarray]], seed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The chain's output and ``dy/dx`` contracted with ``seed``, backward by hand.

    ``y = u * a`` gives ``du = dy * a``; ``y = u + b`` gives ``du = dy``. Nothing needs
    saving, as every multiplier is a constant.
    """
    y = chain_forward(x, pairs)
    g = seed
    for a, _ in reversed(pairs):
        g = g * a
    return y, g
