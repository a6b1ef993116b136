"""A Bilinear layer learns a bilinear function of two inputs from examples.

The target is ``y_k = x1^T A_k x2 + b_k`` with a fixed random ``A`` of shape
``(out, in1, in2)`` and ``b`` of shape ``(out,)``: exactly the function an
``nn.Bilinear(in1, in2, out)`` computes (its backward is derived in
``shared/seeds/001``). Trained with Adam on the mean squared error, the layer's
``weight`` and ``bias`` converge to ``A`` and ``b``.

Run: ``python examples/bilinear.py [--epochs 40]``
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.utils.data import DataLoader, TensorDataset


def make_data(
    n: int, in1: int, in2: int, out: int, seed: int
) -> tuple[TensorDataset, np.ndarray, np.ndarray]:
    """``n`` samples ``((x1, x2), y)`` of a random bilinear target, and its ``A`` and ``b``."""
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((out, in1, in2)).astype(np.float32)
    b = rng.standard_normal(out).astype(np.float32)
    x1 = rng.standard_normal((n, in1)).astype(np.float32)
    x2 = rng.standard_normal((n, in2)).astype(np.float32)
    y = np.einsum("ni,kij,nj->nk", x1, A, x2) + b  # (N, in1)(out, in1, in2)(N, in2) -> (N, out)
    return TensorDataset(cr.from_numpy(x1), cr.from_numpy(x2), cr.from_numpy(y)), A, b


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--in1", type=int, default=4)
    parser.add_argument("--in2", type=int, default=3)
    parser.add_argument("--out", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=0.02)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    cr.manual_seed(args.seed)
    data, A, b = make_data(args.samples, args.in1, args.in2, args.out, args.seed)
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True,
                        generator=cr.Generator(args.seed))
    model = nn.Bilinear(args.in1, args.in2, args.out)
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    print(model)
    for epoch in range(1, args.epochs + 1):
        total = 0.0
        for x1, x2, y in loader:
            loss = F.mse_loss(model(x1, x2), y)  # model(x1, x2): (B, out)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(y)
        if epoch == 1 or epoch % max(1, args.epochs // 6) == 0 or epoch == args.epochs:
            print(f"epoch {epoch:3d}  mse {total / len(data):.3e}")
    weight_error = np.abs(model.weight.detach().numpy() - A).max()
    bias_error = np.abs(model.bias.detach().numpy() - b).max()
    print(f"max |weight - A| = {weight_error:.1e}   max |bias - b| = {bias_error:.1e}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
