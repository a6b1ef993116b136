"""The ``chainrule train --model`` architectures other than the MLP: a small CNN.

``MODELS`` maps a ``--model`` name to a builder ``(input_shape, num_classes) -> Module``,
where ``input_shape`` is one sample's ``(C, H, W)``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import nn
from chainrule.cli.common import CLIError

__all__ = ["MODELS", "build_cnn", "describe_cnn", "image_shape"]

CNN_WIDTH = 32  # channels of the first block; the other two have twice as many


def image_shape(dataset: Any, name: str = "the dataset") -> tuple[int, int, int]:
    """``(C, H, W)`` of one sample of ``dataset``, or a CLIError for data that are not images."""
    features, _ = dataset[0]
    shape = tuple(int(d) for d in getattr(features, "shape", ()))
    if len(shape) != 3:
        raise CLIError(
            f"--model cnn needs images of shape (C, H, W), but {name}'s samples have shape "
            f"{shape}; use --model mlp",
            code=2,
        )
    return shape  # type: ignore[return-value]


def _block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
    ]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


def build_cnn(input_shape: tuple[int, int, int], num_classes: int) -> nn.Sequential:
    """Three 3x3 ``Conv -> BatchNorm -> ReLU`` blocks, the last two followed by 2x2 max
    pooling, then ``Dropout(0.25) -> Linear`` to the classes.

    Channels ``C -> 32 -> 64 -> 64``; an ``H x W`` image ends as ``64 x H/4 x W/4``
    features (8x8 digits: 64x2x2 = 256; 28x28 MNIST: 64x7x7; 32x32 CIFAR-10: 64x8x8).
    """
    channels, height, width = input_shape
    if height < 4 or width < 4:
        raise CLIError(f"--model cnn needs images of at least 4x4 pixels, got {height}x{width}")
    w = CNN_WIDTH
    return nn.Sequential(
        *_block(channels, w, pool=False),
        *_block(w, 2 * w, pool=True),
        *_block(2 * w, 2 * w, pool=True),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(2 * w * (height // 4) * (width // 4), num_classes),
    )


def describe_cnn(input_shape: tuple[int, int, int], num_classes: int) -> str:
    """``CNN 1x8x8 -> 32-64-64 -> 10``: the CNN's shape in one phrase."""
    c, h, w = input_shape
    return f"CNN {c}x{h}x{w} -> {CNN_WIDTH}-{2 * CNN_WIDTH}-{2 * CNN_WIDTH} -> {num_classes}"


#: ``--model`` names (besides ``mlp``) -> builder of the model for an input shape.
MODELS: dict[str, Callable[[tuple[int, int, int], int], nn.Module]] = {"cnn": build_cnn}
