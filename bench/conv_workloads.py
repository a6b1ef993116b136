"""The convolutional workloads (issue 12.7), each built three ways from the same weights.

* ``lenet5``: LeNet-5 on ``(64, 1, 28, 28)``: conv 5x5 (pad 2) - ReLU - maxpool 2 - conv
  5x5 - ReLU - maxpool 2 - 400-120-84-10 with ReLU;
* ``convnet3``: three blocks conv 3x3 (pad 1, no bias) - BatchNorm2d - ReLU - maxpool 2 on
  ``(32, 3, 32, 32)``, channels 16-32-64, then a linear layer to 10 classes.

Softmax cross-entropy and SGD with momentum. The NumPy floor is ``reference_conv``; the
chainrule and PyTorch steps are one function (their APIs are the same). Like the MLP
workloads, the losses of the three must agree to float32 rounding.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.reference_conv import NumpyCNN
from bench.steps import library_step, numpy_step

__all__ = ["CNNSpec", "make_cnn_problem", "make_cnn_steps"]


@dataclass(frozen=True)
class CNNSpec:
    """A convolutional network ``arch`` (``"lenet5"`` or ``"convnet3"``) on batches of
    ``(batch, *image)`` trained with SGD + momentum."""

    arch: str
    batch: int
    image: tuple[int, int, int]
    channels: tuple[int, ...] = ()
    lr: float = 0.01
    momentum: float = 0.9
    n_batches: int = 4


Layers = list[tuple[Any, ...]]


def _uniform(rng: np.random.Generator, bound: float, shape: tuple[int, ...]) -> np.ndarray:
    return rng.uniform(-bound, bound, shape).astype(np.float32)


def _conv(rng: np.random.Generator, c_in: int, c_out: int, k: int, pad: int,
          bias: bool = True) -> tuple[Any, ...]:
    bound = 1 / np.sqrt(c_in * k * k)  # PyTorch's default init range
    b = _uniform(rng, bound, (c_out,)) if bias else None
    return ("conv", _uniform(rng, bound, (c_out, c_in, k, k)), b, pad)


def _linear(rng: np.random.Generator, n_in: int, n_out: int) -> tuple[Any, ...]:
    bound = 1 / np.sqrt(n_in)
    return ("linear", _uniform(rng, bound, (n_out, n_in)), _uniform(rng, bound, (n_out,)))


def make_cnn_problem(spec: CNNSpec, seed: int = 0) -> tuple[Layers, list[tuple[Any, Any]]]:
    """The layers with float32 weights, and float32 batches with int64 class targets."""
    rng = np.random.default_rng(seed)
    c, h, w = spec.image
    if spec.arch == "lenet5":
        size = ((h + 4 - 4) // 2 - 4) // 2
        layers: Layers = [_conv(rng, c, 6, 5, 2), ("relu",), ("pool",),
                          _conv(rng, 6, 16, 5, 0), ("relu",), ("pool",), ("flatten",),
                          _linear(rng, 16 * size * size, 120), ("relu",),
                          _linear(rng, 120, 84), ("relu",), _linear(rng, 84, 10)]
    elif spec.arch == "convnet3":
        layers = []
        for c_out in spec.channels:
            ones, zeros = np.ones(c_out, np.float32), np.zeros(c_out, np.float32)
            layers += [_conv(rng, c, c_out, 3, 1, bias=False), ("bn", ones, zeros), ("relu",),
                       ("pool",)]
            c, h, w = c_out, h // 2, w // 2
        layers += [("flatten",), _linear(rng, c * h * w, 10)]
    else:
        raise ValueError(f"make_cnn_problem: unknown arch {spec.arch!r}")
    batches = [(rng.standard_normal((spec.batch, *spec.image), dtype=np.float32),
                rng.integers(0, 10, spec.batch, dtype=np.int64)) for _ in range(spec.n_batches)]
    return layers, batches


def _library_step(lib: Any, spec: CNNSpec, layers: Layers,
                  batches: list[Any]) -> Callable[[], Any]:
    """The training step as a user writes it, for ``lib`` = chainrule or torch."""
    nn = lib.nn
    modules: list[Any] = []
    for kind, *args in layers:
        if kind == "conv":
            W, b, pad = args
            m = nn.Conv2d(W.shape[1], W.shape[0], W.shape[2], padding=pad, bias=b is not None)
            with lib.no_grad():
                m.weight.copy_(lib.from_numpy(W))
                if b is not None:
                    m.bias.copy_(lib.from_numpy(b))
        elif kind == "linear":
            W, b = args
            m = nn.Linear(W.shape[1], W.shape[0])
            with lib.no_grad():
                m.weight.copy_(lib.from_numpy(W))
                m.bias.copy_(lib.from_numpy(b))
        elif kind == "bn":
            m = nn.BatchNorm2d(len(args[0]))
        else:
            m = {"relu": nn.ReLU, "pool": lambda: nn.MaxPool2d(2), "flatten": nn.Flatten}[kind]()
        modules.append(m)
    model = nn.Sequential(*modules)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = lib.optim.SGD(model.parameters(), lr=spec.lr, momentum=spec.momentum)
    return library_step(lib, lambda x, t: loss_fn(model(x), t), optimizer, batches)


def make_cnn_steps(spec: CNNSpec, libs: list[str], seed: int = 0) -> dict[str, Callable[[], Any]]:
    """One training-step closure per library, from the same weights and batches; each call
    trains on the next batch and returns the loss."""
    layers, batches = make_cnn_problem(spec, seed)
    return {lib: numpy_step(NumpyCNN(layers, spec.lr, spec.momentum), batches)
            if lib == "numpy" else
            _library_step(importlib.import_module(lib), spec, layers, batches)
            for lib in libs}
