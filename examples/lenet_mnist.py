"""LeNet-5 on MNIST, written as one would in PyTorch: about 99% test accuracy in 10 epochs.

The network is LeCun et al.'s (1998) with ReLU and max pooling, as it is usually written
today: ``Conv(1->6, 5x5, pad 2) -> ReLU -> MaxPool 2 -> Conv(6->16, 5x5) -> ReLU -> MaxPool 2
-> Linear(400->120) -> ReLU -> Linear(120->84) -> ReLU -> Linear(84->10)``. It is trained
with Adam (lr 1e-3, cosine-annealed to 0) on batches of 64 images, each turned into a
normalised tensor by ``transforms.Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])``
as in PyTorch's MNIST example. The IDX files are read from ``--data-root`` (or
``--data-root/MNIST/raw``); ``--download`` fetches them there.

Run: ``python examples/lenet_mnist.py --data-root data [--epochs 10] [--num-workers 1]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import chainrule as cr
from chainrule import nn, optim, transforms
from chainrule.datasets import MNIST
from chainrule.nn import functional as F
from chainrule.utils.data import DataLoader

MEAN, STD = (0.1307,), (0.3081,)  # of MNIST's training pixels, in [0, 1]


class LeNet5(nn.Module):
    """LeNet-5 for ``(B, 1, 28, 28)`` images: two conv/pool stages, three linear layers."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, kernel_size=5, padding=2)  # (B, 6, 28, 28)
        self.conv2 = nn.Conv2d(6, 16, kernel_size=5)  # (B, 16, 10, 10)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)  # (B, 6, 14, 14)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)  # (B, 16, 5, 5)
        x = x.flatten(1)  # (B, 400)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)  # (B, 10) logits


def evaluate(model: nn.Module, loader: DataLoader) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over ``loader``."""
    model.eval()
    total, correct, count = 0.0, 0, 0
    with cr.no_grad():
        for x, y in loader:
            logits = model(x)
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(dim=1) == y).numpy().sum().item()
            count += len(y)
    return total / count, correct / count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--download", action="store_true", help="fetch missing files")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--num-workers", type=int, default=0, help="loader processes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    cr.manual_seed(args.seed)
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    train_set = MNIST(args.data_root, train=True, download=args.download, transform=transform)
    test_set = MNIST(args.data_root, train=False, download=args.download, transform=transform)
    train_loader = DataLoader(
        train_set,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.num_workers,
        generator=cr.Generator(args.seed),
    )
    test_loader = DataLoader(test_set, batch_size=1000, num_workers=args.num_workers)

    model = LeNet5()
    optimizer = optim.Adam(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)
    print(model)
    for epoch in range(1, args.epochs + 1):
        began = time.perf_counter()
        model.train()
        for x, y in train_loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        test_loss, test_acc = evaluate(model, test_loader)
        print(
            f"epoch {epoch}/{args.epochs}  last batch loss {loss.item():.4f}  "
            f"test loss {test_loss:.4f}  test acc {100 * test_acc:.2f}%  "
            f"({time.perf_counter() - began:.1f} s)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
