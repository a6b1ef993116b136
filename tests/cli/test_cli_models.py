"""``chainrule train --model cnn``: the small CNN, on digits, MNIST and CIFAR-10 files."""

from __future__ import annotations

import csv

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli.models import build_cnn, describe_cnn, image_shape


@pytest.fixture(autouse=True)
def restore_blas_threads():
    """Building the CNN limits BLAS to one thread in this process; undo it afterwards."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=None):  # restores the limits found on entry
        yield


def read_metrics(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_default_cnn_run_reaches_98_5_percent_on_digits(cli, tmp_path):
    code, stdout, err = cli("train", "--model", "cnn", "--no-progress", "--out", tmp_path)
    assert code == 0, err
    assert "CNN" in stdout and "on digits" in stdout
    rows = read_metrics(tmp_path / "metrics.csv")
    assert len(rows) == 20
    assert float(rows[-1]["test_acc"]) >= 0.985  # the MLP's default run: 97.75%
    state = cr.load(tmp_path / "checkpoint.ckpt")
    assert state["config"]["model"] == "cnn"
    assert state["model"]["0.weight"].shape == (16, 1, 3, 3)
    assert "1.running_mean" in state["model"]
    # eval reads the checkpoint back into the same architecture
    code, stdout, err = cli("eval", "--checkpoint", tmp_path / "checkpoint.ckpt")
    assert code == 0, err
    assert "CNN" in stdout and "on digits" in stdout


def test_cnn_on_mnist_files(cli, fake_mnist, tmp_path):
    argv = ["train", "--model", "cnn", "--dataset", "mnist", "--data-root", fake_mnist]
    code, stdout, err = cli(*argv, "--epochs", "2", "--no-progress", "--out", tmp_path)
    assert code == 0, err
    assert "CNN" in stdout and "on mnist" in stdout
    assert cr.load(tmp_path / "checkpoint.ckpt")["model"]["10.weight"].shape == (10, 32 * 7 * 7)


def write_cifar(folder, n=20, seed=0):
    """Tiny CIFAR-10 binary files: noise plus a bright square placed by the label."""
    rng = np.random.default_rng(seed)
    (folder / "cifar-10-batches-bin").mkdir(parents=True)
    names = [f"data_batch_{k}.bin" for k in range(1, 6)] + ["test_batch.bin"]
    for name in names:
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 60, (n, 3, 32, 32), dtype=np.uint8)
        for k, label in enumerate(labels):
            row, col = divmod(int(label), 5)
            images[k, :, 4 + 14 * row : 12 + 14 * row, 1 + 6 * col : 7 + 6 * col] = 255
        raw = np.concatenate([labels[:, None], images.reshape(n, -1)], axis=1).tobytes()
        (folder / "cifar-10-batches-bin" / name).write_bytes(raw)
    return folder


def test_cnn_and_mlp_on_cifar10_files(cli, tmp_path):
    root = write_cifar(tmp_path / "data")
    for model in ("cnn", "mlp"):
        argv = ["train", "--model", model, "--dataset", "cifar10", "--data-root", root]
        code, stdout, err = cli(*argv, "--epochs", "1", "--no-progress", "--out", tmp_path / model)
        assert code == 0, err
        assert "on cifar10 (100 train / 20 test)" in stdout
        assert ("CNN" if model == "cnn" else "MLP") in stdout
    code, _, err = cli("train", "--dataset", "cifar10", "--data-root", tmp_path / "nowhere")
    assert code == 1 and "is not a folder" in err


def test_cnn_on_points_is_a_usage_error(cli, tmp_path):
    code, _, err = cli("train", "--model", "cnn", "--dataset", "spiral", "--out", tmp_path)
    assert code == 2
    assert "--model cnn needs images of shape (C, H, W)" in err and "(2,)" in err
    code, _, err = cli("train", "--model", "resnet152")
    assert code == 2 and "argument --model: invalid choice" in err


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 28, 28), (3, 32, 32)])
def test_cnn_equals_the_same_network_in_torch(shape):
    torch = pytest.importorskip("torch")
    tnn = torch.nn

    def block(c_in, c_out):
        return [
            tnn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
            tnn.BatchNorm2d(c_out),
            tnn.ReLU(),
            tnn.MaxPool2d(2),
        ]

    c, h, w = shape
    reference = tnn.Sequential(
        *block(c, 16), *block(16, 32), tnn.Flatten(), tnn.Dropout(0.25),
        tnn.Linear(32 * (h // 4) * (w // 4), 10),
    ).double()  # fmt: skip
    ours = build_cnn(shape, 10).double()
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.load_state_dict({k: cr.from_numpy(v.numpy()) for k, v in reference.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((4, *shape))
    ours.eval()
    reference.eval()
    np.testing.assert_allclose(
        ours(cr.from_numpy(x)).detach().numpy(),
        reference(torch.from_numpy(x)).detach().numpy(),
        atol=1e-10,
    )
    assert describe_cnn(shape, 10) == f"CNN {c}x{h}x{w} -> 16-32 -> 10"
    assert image_shape([(cr.zeros(*shape), 0)]) == shape
