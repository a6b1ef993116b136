"""Every script in examples/ runs, on a tiny setting, and does what its docstring says."""

from __future__ import annotations

import gzip
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def load_example(name: str):
    """Import examples/<name>.py as a module (the scripts are not a package)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_tested():
    names = sorted(p.stem for p in EXAMPLES.glob("*.py"))
    assert names == ["bilinear", "gpt", "lstm_lm", "mnist_mlp", "two_layer_net"]


# ------------------------------------------------------------------------ two_layer_net


def test_two_layer_net_seed_formulas_equal_autograd():
    example = load_example("two_layer_net")
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((8, 5)), rng.standard_normal((8, 3))
    W1, W2 = rng.standard_normal((5, 6)), rng.standard_normal((6, 3))
    tensors = [cr.tensor(a, requires_grad=True) for a in (X, W1, W2, Y)]
    example.forward_loss(*tensors).backward()
    dW1, dW2 = example.seed_gradients(X, W1, W2, Y)
    np.testing.assert_allclose(tensors[1].grad.numpy(), dW1, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(tensors[2].grad.numpy(), dW2, rtol=1e-12, atol=1e-12)
    # and the formulas are right: a finite difference of the loss along a random direction
    V = rng.standard_normal(W1.shape)
    eps = 1e-6

    def loss(w1):
        return float(((np.maximum(X @ w1, 0) @ W2 - Y) ** 2).sum())

    numeric = (loss(W1 + eps * V) - loss(W1 - eps * V)) / (2 * eps)
    assert numeric == pytest.approx(float((dW1 * V).sum()), rel=1e-6)


def test_two_layer_net_runs_and_its_loss_falls(capsys):
    example = load_example("two_layer_net")
    argv = ["--n", "16", "--d-in", "20", "--hidden", "8", "--steps", "40", "--lr", "2e-3"]
    assert example.main(argv) == 0
    out = capsys.readouterr().out
    differences = [float(x) for x in re.findall(r"max \|difference\| = (\S+)", out)]
    assert len(differences) == 2 and max(differences) < 1e-10
    losses = [float(x) for x in re.findall(r"step +\d+  loss (\S+)", out)]
    assert len(losses) >= 5
    assert losses[-1] < 0.5 * losses[0]


# ------------------------------------------------------------------------------ bilinear


def test_bilinear_recovers_the_target_weights(capsys):
    example = load_example("bilinear")
    assert example.main(["--samples", "256", "--epochs", "40", "--batch-size", "16"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Bilinear(in1_features=4, in2_features=3, out_features=2, bias=True)")
    mse = [float(x) for x in re.findall(r"mse (\S+)", out)]
    assert mse[-1] < 1e-3 * mse[0]
    weight_error, bias_error = (float(x) for x in re.findall(r"= (\S+)", out.splitlines()[-1]))
    assert weight_error < 0.05 and bias_error < 0.05


def test_bilinear_data_is_the_bilinear_form():
    example = load_example("bilinear")
    data, A, b = example.make_data(5, 4, 3, 2, seed=1)
    x1, x2, y = data[2]
    expected = [x1.numpy() @ A[k] @ x2.numpy() + b[k] for k in range(2)]
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5)


# ----------------------------------------------------------------------------- mnist_mlp


def write_idx_files(folder: Path, n_train: int, n_test: int) -> None:
    """Tiny MNIST stand-in: noise plus a bright square placed by the label (learnable)."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.permutation(np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
        for k, label in enumerate(labels):
            row, col = divmod(int(label), 5)
            images[k, 4 + 12 * row : 10 + 12 * row, 2 + 5 * col : 8 + 5 * col] = 255
        for kind, magic, array in (("images-idx3", 0x803, images), ("labels-idx1", 0x801, labels)):
            header = np.array([magic, *array.shape], dtype=">u4").tobytes()
            path = folder / f"{prefix}-{kind}-ubyte.gz"
            path.write_bytes(gzip.compress(header + array.tobytes()))


def test_mnist_mlp_on_tiny_idx_files(tmp_path, capsys):
    write_idx_files(tmp_path / "data", n_train=200, n_test=50)
    example = load_example("mnist_mlp")
    argv = ["--data-root", str(tmp_path / "data"), "--epochs", "3", "--hidden", "64",
            "--batch-size", "20", "--lr", "3e-3"]
    assert example.main(argv) == 0
    out = capsys.readouterr().out
    assert "Linear(in_features=784, out_features=64, bias=True)" in out
    accuracies = [float(x) for x in re.findall(r"test acc (\S+)%", out)]
    assert len(accuracies) == 3
    assert accuracies[-1] >= 90.0


def test_mnist_mlp_default_model_shape():
    example = load_example("mnist_mlp")
    model = example.MLP()
    shapes = [tuple(p.shape) for p in model.parameters()]
    assert shapes == [(512, 784), (512,), (256, 512), (256,), (10, 256), (10,)]
    assert model(cr.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_mnist_mlp_without_files_says_where_they_go(tmp_path):
    example = load_example("mnist_mlp")
    with pytest.raises(FileNotFoundError, match="download=True"):
        example.main(["--data-root", str(tmp_path)])
