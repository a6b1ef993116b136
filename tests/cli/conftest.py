"""Fixtures of the command-line tests: running ``main`` in-process, tiny MNIST files."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from chainrule.cli.__main__ import main


def write_fake_mnist(folder: Path, n_train: int = 120, n_test: int = 40, seed: int = 0) -> Path:
    """Write the four MNIST IDX files (gzipped) of a tiny learnable stand-in into ``folder``.

    Each image is faint noise plus a bright 6x6 square whose position is given by its label,
    so a small MLP separates the classes quickly.
    """
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        rng.shuffle(labels)
        images = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
        for k, label in enumerate(labels):
            row, col = divmod(int(label), 5)
            images[k, 4 + 12 * row : 10 + 12 * row, 2 + 5 * col : 8 + 5 * col] = 255
        header = np.array([0x803, n, 28, 28], dtype=">u4").tobytes()
        (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(
            gzip.compress(header + images.tobytes())
        )
        header = np.array([0x801, n], dtype=">u4").tobytes()
        (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(
            gzip.compress(header + labels.tobytes())
        )
    return folder


@pytest.fixture
def cli(capsys):
    """``cli(*args) -> (exit code, stdout, stderr)``: ``chainrule ARGS`` run in-process."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


@pytest.fixture
def fake_mnist(tmp_path) -> Path:
    """A folder with tiny MNIST IDX files (120 training and 40 test images)."""
    return write_fake_mnist(tmp_path / "mnist")


@pytest.fixture
def mnist_writer():
    """``write_fake_mnist(folder, n_train, n_test)``, for tests that need their own files."""
    return write_fake_mnist
