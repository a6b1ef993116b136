"""A small ResNet on CIFAR-10 with data augmentation and loader worker processes.

The network follows He et al. (2016)'s CIFAR ResNets at their smallest: a 3x3 stem, then
three stages of one residual block each (``BasicBlock``: two 3x3 ``Conv -> BatchNorm``
with a ReLU between, added to the input, which a strided 1x1 conv reshapes when the
stage halves the size), global average pooling and a linear layer: 16, 32 and 64 channels
at 32x32, 16x16 and 8x8 (ResNet-8). Training images are padded by 4 and randomly
cropped back to 32x32, flipped left-right with probability 1/2, and normalised
(``cr.transforms``), in ``--num-workers`` loader processes. SGD with momentum 0.9,
weight decay 5e-4, lr 0.1 cosine-annealed over the epochs.

The binary CIFAR-10 (``cifar-10-binary.tar.gz``, or its ``cifar-10-batches-bin`` folder) is
read from ``--data-root``; ``--download`` fetches it there.

Run: ``python examples/resnet_cifar10.py --data-root data [--epochs 30] [--num-workers 2]``
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import chainrule as cr
from chainrule import nn, optim, transforms
from chainrule.datasets import CIFAR10
from chainrule.nn import functional as F
from chainrule.utils.data import DataLoader

MEAN = (0.4914, 0.4822, 0.4465)  # per channel, of CIFAR-10's training pixels in [0, 1]
STD = (0.2470, 0.2435, 0.2616)


class BasicBlock(nn.Module):
    """``relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x))``; the shortcut is the identity
    unless the block changes the channels or the size (then a strided 1x1 conv + BN)."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Sequential()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet(nn.Module):
    """Stem, one ``BasicBlock`` per stage (``width``, ``2 width``, ``4 width`` channels),
    global average pooling, linear classifier."""

    def __init__(self, width: int = 16, num_classes: int = 10) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(width)
        self.layer1 = BasicBlock(width, width)
        self.layer2 = BasicBlock(width, 2 * width, stride=2)
        self.layer3 = BasicBlock(2 * width, 4 * width, stride=2)
        self.fc = nn.Linear(4 * width, num_classes)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        x = F.relu(self.bn(self.conv(x)))  # (B, w, 32, 32)
        x = self.layer3(self.layer2(self.layer1(x)))  # (B, 4w, 8, 8)
        return self.fc(x.mean(dim=(2, 3)))  # global average pool -> (B, 10) logits


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
    parser.add_argument("--data-root", required=True, help="folder with CIFAR-10 (binary)")
    parser.add_argument("--download", action="store_true", help="fetch the archive")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--width", type=int, default=16, help="channels of the first stage")
    parser.add_argument("--num-workers", type=int, default=2, help="loader processes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    cr.manual_seed(args.seed)
    augment = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    plain = transforms.Compose([transforms.ToTensor(), transforms.Normalize(MEAN, STD)])
    train_set = CIFAR10(args.data_root, train=True, download=args.download, transform=augment)
    test_set = CIFAR10(args.data_root, train=False, download=args.download, transform=plain)
    train_loader = DataLoader(
        train_set,
        batch_size=args.batch_size,
        shuffle=True,
        num_workers=args.num_workers,
        persistent_workers=args.num_workers > 0,
        generator=cr.Generator(args.seed),
    )
    test_loader = DataLoader(test_set, batch_size=500, num_workers=args.num_workers)

    model = ResNet(args.width)
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
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
