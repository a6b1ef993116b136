"""``chainrule train``: outputs, accuracy of the default run, exact resume, datasets."""

from __future__ import annotations

import csv
import importlib.util
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule.cli import train as train_command
from chainrule.serialization import load

SMALL = ("--hidden", "16", "--no-progress")  # a small, fast model for the mechanics tests


def read_metrics(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def model_arrays(checkpoint_path):
    state = load(checkpoint_path)["model"]
    return {name: np.asarray(t.numpy()) for name, t in state.items()}


def test_train_writes_checkpoint_metrics_and_curves(cli, tmp_path):
    out = tmp_path / "run"
    code, stdout, err = cli("train", "--epochs", "2", *SMALL, "--out", out)
    assert code == 0, err
    lines = re.findall(r"^epoch (\d)/2  loss (\d+\.\d{4})  test acc (\d+\.\d\d)%$", stdout, re.M)
    assert [epoch for epoch, _, _ in lines] == ["1", "2"]
    assert "MLP 64-16-10 (relu) on digits" in stdout
    assert str(out / "checkpoint.ckpt") in stdout.splitlines()[-1]  # "wrote ..." names files

    rows = read_metrics(out / "metrics.csv")
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert list(rows[0]) == ["epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc"]
    for row, (_, loss, acc) in zip(rows, lines, strict=True):
        assert f"{float(row['train_loss']):.4f}" == loss
        assert f"{100 * float(row['test_acc']):.2f}" == acc
    assert float(rows[1]["train_loss"]) < float(rows[0]["train_loss"])

    if importlib.util.find_spec("matplotlib") is not None:  # part of the [cli] extra
        assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    state = cr.load(out / "checkpoint.ckpt")
    assert state["epoch"] == 2
    assert state["config"]["hidden"] == (16,)
    assert state["config"]["lr"] == 3e-3  # the resolved default of adam
    assert len(state["metrics"]) == 2
    assert set(state["model"]) == {"1.weight", "1.bias", "3.weight", "3.bias"}
    assert state["model"]["1.weight"].shape == (16, 64)
    for key in ("optimizer", "rng", "generator"):
        assert state[key] is not None
    assert state["scheduler"] is None  # the default schedule: a constant learning rate


def test_default_run_reaches_97_percent_on_digits(cli, tmp_path):
    """`make run` is `chainrule train` with the defaults: it must reach >= 97% test accuracy."""
    code, stdout, err = cli("train", "--no-progress", "--out", tmp_path)
    assert code == 0, err
    rows = read_metrics(tmp_path / "metrics.csv")
    assert len(rows) == train_command.TrainConfig().epochs
    assert float(rows[-1]["test_acc"]) >= 0.97
    assert "MLP 64-128-10 (relu)" in stdout


def test_default_output_folder_is_runs_dataset(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, _, err = cli("train", "--epochs", "1", *SMALL)
    assert code == 0, err
    assert (tmp_path / "runs" / "digits" / "checkpoint.ckpt").is_file()


@pytest.mark.parametrize(
    "options",
    [
        ("--optimizer", "adam", "--scheduler", "cosine"),
        ("--optimizer", "sgd", "--scheduler", "step", "--step-size", "1", "--gamma", "0.5"),
        ("--optimizer", "rmsprop", "--momentum", "0.5", "--scheduler", "none"),
        ("--optimizer", "adamw", "--activation", "tanh", "--hidden", "12,8"),
    ],
)
def test_resume_from_epoch_2_gives_the_metrics_of_an_uninterrupted_run(cli, tmp_path, options):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    args = ("train", "--epochs", "4", *SMALL, *options)
    assert cli(*args, "--out", straight, "--save-every", "1")[0] == 0
    code, stdout, err = cli(
        "train", "--resume", straight / "checkpoint-epoch2.ckpt", "--out", resumed, "--no-progress"
    )
    assert code == 0, err
    assert "2 of 4 epochs done" in stdout.splitlines()[0]
    assert re.findall(r"^epoch (\d)/4 ", stdout, re.M) == ["3", "4"]
    assert (resumed / "metrics.csv").read_text() == (straight / "metrics.csv").read_text()
    final = model_arrays(straight / "checkpoint.ckpt")
    again = model_arrays(resumed / "checkpoint.ckpt")
    for name in final:
        np.testing.assert_array_equal(again[name], final[name])
    assert load(resumed / "checkpoint.ckpt")["optimizer"]["state"].keys() == load(
        straight / "checkpoint.ckpt"
    )["optimizer"]["state"].keys()


def test_resume_after_ctrl_c_continues_to_the_same_result(cli, tmp_path, monkeypatch):
    straight, interrupted = tmp_path / "straight", tmp_path / "interrupted"
    assert cli("train", "--epochs", "3", *SMALL, "--out", straight)[0] == 0

    evaluate = train_command.evaluate
    calls = []

    def evaluate_then_interrupt(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:  # Ctrl-C during epoch 2's evaluation
            raise KeyboardInterrupt
        return evaluate(*args, **kwargs)

    monkeypatch.setattr(train_command, "evaluate", evaluate_then_interrupt)
    code, out, err = cli("train", "--epochs", "3", *SMALL, "--out", interrupted)
    assert code == 130
    assert err.strip() == "chainrule: interrupted"
    hint = f"interrupted in epoch 2; continue with: chainrule train --resume {interrupted}"
    assert out.splitlines()[-1] == hint + "/checkpoint.ckpt"
    assert cr.load(interrupted / "checkpoint.ckpt")["epoch"] == 1
    monkeypatch.setattr(train_command, "evaluate", evaluate)

    code, _, err = cli("train", "--resume", interrupted / "checkpoint.ckpt", "--no-progress")
    assert code == 0, err  # no --out: the checkpoint's folder
    assert (interrupted / "metrics.csv").read_text() == (straight / "metrics.csv").read_text()


def test_resume_can_raise_the_total_number_of_epochs(cli, tmp_path):
    three, extended = tmp_path / "three", tmp_path / "extended"
    options = ("--scheduler", "none", *SMALL)
    assert cli("train", "--epochs", "3", *options, "--out", three)[0] == 0
    assert cli("train", "--epochs", "2", *options, "--out", extended)[0] == 0
    code, _, err = cli("train", "--resume", extended, "--epochs", "3", "--no-progress")
    assert code == 0, err
    assert (extended / "metrics.csv").read_text() == (three / "metrics.csv").read_text()


def test_resume_of_a_cosine_run_with_more_epochs_refuses(cli, tmp_path):
    # cosine anneals over --epochs: extending it cannot give the longer run, so it refuses
    assert cli("train", "--epochs", "1", "--scheduler", "cosine", *SMALL, "--out", tmp_path)[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, _, err = cli("train", "--resume", tmp_path, "--epochs", "2", "--no-progress")
    assert code == 2
    assert err.count("\n") == 1 and "cosine schedule" in err and "over its 1 epoch," in err
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_resume_at_the_total_trains_nothing(cli, tmp_path):
    assert cli("train", "--epochs", "1", *SMALL, "--out", tmp_path)[0] == 0
    before = (tmp_path / "checkpoint.ckpt").read_bytes()
    code, stdout, _ = cli("train", "--resume", tmp_path, "--epochs", "1", "--no-progress")
    assert code == 0
    assert "nothing to train" in stdout
    assert (tmp_path / "checkpoint.ckpt").read_bytes() == before


def test_resume_refuses_settings_that_differ_from_the_checkpoint(cli, tmp_path):
    assert cli("train", "--epochs", "1", *SMALL, "--out", tmp_path)[0] == 0
    code, stdout, err = cli("train", "--resume", tmp_path, "--lr", "0.5", "--hidden", "16")
    assert code == 2
    assert err.count("\n") == 1
    assert err.startswith("chainrule: error: --resume")
    assert "--lr 0.5 (checkpoint: 0.003)" in err and "--hidden" not in err  # 16 is unchanged


@pytest.mark.parametrize("scheduler_state", [None, {"step_size": 3}])
def test_resume_refuses_a_checkpoint_without_its_scheduler_state(
    cli, tmp_path, scheduler_state
):
    # resuming without the schedule's state would silently restart it: not the same run
    assert cli("train", "--epochs", "1", "--scheduler", "step", *SMALL, "--out", tmp_path)[0] == 0
    state = load(tmp_path / "checkpoint.ckpt")
    state["scheduler"] = scheduler_state
    cr.save(state, tmp_path / "edited.ckpt")
    code, _, err = cli("train", "--resume", tmp_path / "edited.ckpt", "--epochs", "2", *SMALL)
    assert code == 1
    assert err.count("\n") == 1
    assert "is inconsistent" in err and "StepLR" in err


def test_spiral(cli, tmp_path):
    code, stdout, err = cli(
        "train", "--dataset", "spiral", "--epochs", "30", "--hidden", "32,32", "--lr", "0.02",
        "--batch-size", "32", "--no-progress", "--out", tmp_path,
    )
    assert code == 0, err
    assert "MLP 2-32-32-3 (relu) on spiral" in stdout
    assert float(read_metrics(tmp_path / "metrics.csv")[-1]["test_acc"]) > 0.8  # linear: ~0.5


def test_mnist_from_idx_files(cli, tmp_path, fake_mnist):
    code, stdout, err = cli(
        "train", "--dataset", "mnist", "--data-root", fake_mnist, "--epochs", "3",
        "--hidden", "32", "--batch-size", "16", "--no-progress", "--out", tmp_path / "run",
    )
    assert code == 0, err
    assert "MLP 784-32-10 (relu) on mnist (120 train / 40 test)" in stdout
    assert float(read_metrics(tmp_path / "run" / "metrics.csv")[-1]["test_acc"]) >= 0.9


def test_fashion_mnist_in_torchvisions_folder_layout(cli, tmp_path, mnist_writer):
    mnist_writer(tmp_path / "data" / "FashionMNIST" / "raw", n_train=30, n_test=10)
    code, stdout, err = cli(
        "train", "--dataset", "fashion-mnist", "--data-root", tmp_path / "data", "--epochs", "1",
        *SMALL, "--out", tmp_path / "run",
    )
    assert code == 0, err
    assert "on fashion-mnist (30 train / 10 test)" in stdout


def test_linear_model_with_hidden_none(cli, tmp_path):
    code, stdout, err = cli("train", "--hidden", "none", "--epochs", "1", "--no-progress",
                            "--out", tmp_path)
    assert code == 0, err
    assert "MLP 64-10 (relu)" in stdout
    assert set(cr.load(tmp_path / "checkpoint.ckpt")["model"]) == {"1.weight", "1.bias"}


def test_missing_matplotlib_skips_the_plot_with_one_line(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    code, stdout, _ = cli("train", "--epochs", "1", *SMALL, "--out", tmp_path)
    assert code == 0
    skipped = "curves.png skipped: matplotlib is not installed (pip install 'chainrule[cli]')"
    assert skipped in stdout
    assert not (tmp_path / "curves.png").exists()


def test_progress_bar_is_shown_on_a_terminal(cli, tmp_path, monkeypatch):
    pytest.importorskip("tqdm")
    import sys

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    code, _, err = cli("train", "--epochs", "1", "--hidden", "16", "--out", tmp_path)
    assert code == 0
    assert "epoch 1/1" in err and "batch" in err  # tqdm's bar: "epoch 1/1: 100%|...| 46/46"


def test_config_validation_names_the_option():
    with pytest.raises(train_command.CLIError, match=r"--lr must be a finite number > 0, got 0"):
        train_command.TrainConfig(lr=0)
    with pytest.raises(train_command.CLIError, match=r"--hidden must be an integer >= 1"):
        train_command.TrainConfig(hidden=(16, 0))
    with pytest.raises(train_command.CLIError, match=r"--momentum applies to the optimizers"):
        train_command.TrainConfig(optimizer="adagrad", momentum=0.9)
    config = train_command.TrainConfig(optimizer="sgd", epochs=9)
    # no default depends on --epochs (a finished run extends exactly)
    assert (config.lr, config.momentum, config.weight_decay, config.step_size) == (0.1, 0.9, 0, 10)
    assert train_command.TrainConfig(optimizer="adamw").weight_decay == 1e-2
    assert train_command.TrainConfig(optimizer="adam").momentum is None
