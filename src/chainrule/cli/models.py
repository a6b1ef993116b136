"""The ``chainrule train --model`` architectures other than the MLP: a small CNN.

``MODELS`` maps a ``--model`` name to a builder ``(sample_shape, num_classes, config=None)
-> Module``, where ``sample_shape`` is one sample's shape; the CNN needs ``(C, H, W)``
and says so otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chainrule import nn
from chainrule.cli.common import CLIError

__all__ = ["MODELS", "build_cnn", "describe_cnn", "image_shape", "limit_blas_threads"]

CNN_WIDTH = 16  # channels of the first block; the second has twice as many


def image_shape(dataset: Any, name: str = "the dataset") -> tuple[int, int, int]:
    """``(C, H, W)`` of one sample of ``dataset``, or a CLIError for data that are not images."""
    features, _ = dataset[0]
    return _check_image_shape(tuple(getattr(features, "shape", ())), name)


def _check_image_shape(shape: tuple[int, ...], name: str = "the dataset") -> tuple[int, int, int]:
    shape = tuple(int(d) for d in shape)
    if len(shape) != 3:
        raise CLIError(
            f"--model cnn needs images of shape (C, H, W), but {name}'s samples have shape "
            f"{shape}; use --model mlp",
            code=2,
        )
    return shape  # type: ignore[return-value]


def _block(c_in: int, c_out: int) -> list[nn.Module]:
    return [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    ]


def build_cnn(input_shape: tuple[int, ...], num_classes: int, config: Any = None) -> nn.Sequential:
    """Two ``Conv 3x3 -> BatchNorm -> ReLU -> MaxPool 2x2`` blocks, then
    ``Dropout(0.25) -> Linear`` to the classes.

    Channels ``C -> 16 -> 32``; an ``H x W`` image ends as ``32 x H/4 x W/4`` features
    (8x8 digits: 32x2x2 = 128; 28x28 MNIST: 32x7x7; 32x32 CIFAR-10: 32x8x8). Small on
    purpose: on the 8x8 digits it reaches 99.7% in 20 epochs of a few seconds each.
    Building it also limits this process's BLAS to one thread (:func:`limit_blas_threads`);
    ``config`` (the run's settings) is accepted for the builder table and not needed.
    """
    channels, height, width = _check_image_shape(input_shape)
    limit_blas_threads()
    if height < 4 or width < 4:
        raise CLIError(f"--model cnn needs images of at least 4x4 pixels, got {height}x{width}")
    w = CNN_WIDTH
    return nn.Sequential(
        *_block(channels, w),
        *_block(w, 2 * w),
        nn.Flatten(),
        nn.Dropout(0.25),
        nn.Linear(2 * w * (height // 4) * (width // 4), num_classes),
    )


def describe_cnn(input_shape: tuple[int, int, int], num_classes: int) -> str:
    """``CNN 1x8x8 -> 16-32 -> 10``: the CNN's shape in one phrase."""
    c, h, w = input_shape
    return f"CNN {c}x{h}x{w} -> {CNN_WIDTH}-{2 * CNN_WIDTH} -> {num_classes}"


def limit_blas_threads() -> None:
    """Run BLAS on one thread in this process, when threadpoolctl is installed.

    A small CNN's matrix products are far too small to gain from several threads, and the
    threads' hand-offs cost much more than they give: measured on the 8x8 digits on a
    busy 2-core machine, 4.6 ms of CPU per step on one thread against 45 ms on OpenBLAS's
    default (and 6x the wall time for a whole run).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1, user_api="blas")


#: ``--model`` names (besides ``mlp``) -> builder of the model for a sample shape.
MODELS: dict[str, Callable[..., nn.Module]] = {"cnn": build_cnn}
