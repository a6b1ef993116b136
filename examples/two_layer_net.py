"""The seeds' two-layer network, trained with raw tensors and hand-written updates.

The network and loss of the derivation in ``shared/seeds/003`` (no ``nn``, no optimizer)::

    H = X W1            X (N, D_in),  W1 (D_in, H)
    H_relu = max(H, 0)
    Y_pred = H_relu W2  W2 (H, D_out)
    loss = ||Y_pred - Y||_F^2

First the gradients that ``loss.backward()`` computes are compared with the seeds' hand
formulas (``dY_pred = 2 (Y_pred - Y)``, ``dW2 = H_relu^T dY_pred``,
``dH = (dY_pred W2^T) * [H > 0]``, ``dW1 = X^T dH``); then the weights are trained by
gradient descent, one in-place ``w -= lr * w.grad`` per step, and the loss falls.

Run: ``python examples/two_layer_net.py [--steps 300] [--lr 2e-4]``
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import chainrule as cr


def seed_gradients(
    X: np.ndarray, W1: np.ndarray, W2: np.ndarray, Y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(dloss/dW1, dloss/dW2)`` by the seeds' formulas, in plain NumPy."""
    H = X @ W1  # (N, D_in) x (D_in, H) -> (N, H)
    H_relu = np.maximum(H, 0)
    Y_pred = H_relu @ W2  # (N, H) x (H, D_out) -> (N, D_out)
    dY_pred = 2 * (Y_pred - Y)  # (N, D_out)
    dW2 = H_relu.T @ dY_pred  # (H, N) x (N, D_out) -> (H, D_out)
    dH = (dY_pred @ W2.T) * (H > 0)  # (N, D_out) x (D_out, H) -> (N, H), zero where H <= 0
    dW1 = X.T @ dH  # (D_in, N) x (N, H) -> (D_in, H)
    return dW1, dW2


def forward_loss(X: cr.Tensor, W1: cr.Tensor, W2: cr.Tensor, Y: cr.Tensor) -> cr.Tensor:
    """``||relu(X W1) W2 - Y||_F^2`` as a chainrule graph."""
    Y_pred = (X @ W1).relu() @ W2  # (N, D_in)(D_in, H) -> (N, H) -> (N, H)(H, D_out)
    return ((Y_pred - Y) ** 2).sum()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=64, help="samples N")
    parser.add_argument("--d-in", type=int, default=100, help="input features D_in")
    parser.add_argument("--hidden", type=int, default=50, help="hidden units H")
    parser.add_argument("--d-out", type=int, default=10, help="outputs D_out")
    parser.add_argument("--steps", type=int, default=300, help="gradient-descent steps")
    parser.add_argument("--lr", type=float, default=2e-4, help="learning rate")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    cr.manual_seed(args.seed)
    X = cr.randn(args.n, args.d_in, dtype=cr.float64)
    Y = cr.randn(args.n, args.d_out, dtype=cr.float64)
    # weights scaled by 1/sqrt(fan-in), so that H and Y_pred start with unit variance
    W1 = cr.randn(args.d_in, args.hidden, dtype=cr.float64) / np.sqrt(args.d_in)
    W2 = cr.randn(args.hidden, args.d_out, dtype=cr.float64) / np.sqrt(args.hidden)
    W1.requires_grad_()
    W2.requires_grad_()

    # 1. autograd against the seeds' hand-derived gradients
    forward_loss(X, W1, W2, Y).backward()
    dW1, dW2 = seed_gradients(X.numpy(), W1.detach().numpy(), W2.detach().numpy(), Y.numpy())
    print("autograd vs the seeds' formulas:")
    for name, formula, ours, seeds in (
        ("dW2", "H_relu^T dY_pred", W2.grad.numpy(), dW2),
        ("dW1", "X^T dH", W1.grad.numpy(), dW1),
    ):
        print(f"  {name} = {formula:<18} max |difference| = {np.abs(ours - seeds).max():.2e}")

    # 2. gradient descent with manual updates
    print("training:")
    for step in range(args.steps):
        W1.grad = W2.grad = None
        loss = forward_loss(X, W1, W2, Y)
        loss.backward()
        with cr.no_grad():
            W1 -= args.lr * W1.grad  # in place, as in PyTorch
            W2 -= args.lr * W2.grad
        if step % max(1, args.steps // 10) == 0 or step == args.steps - 1:
            print(f"  step {step:4d}  loss {loss.item():.6g}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
