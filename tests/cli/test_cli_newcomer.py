"""``chainrule train`` tried as a new user would (issue 10.5): each mistake, one clear line."""

from __future__ import annotations

import os

import pytest

import chainrule as cr
from chainrule import nn
from chainrule.cli import common, outputs
from chainrule.cli import train as train_command
from chainrule.cli.__main__ import build_parser

SMALL = ("--hidden", "16", "--no-progress")


def one_error_line(err: str) -> str:
    lines = err.rstrip("\n").splitlines()
    assert len(lines) == 1 and lines[0].startswith("chainrule: error: "), err
    assert "Traceback" not in err and ".tmp-" not in err
    return lines[0]


def test_extending_a_finished_default_run_is_the_longer_run(cli, tmp_path):
    # README: `chainrule train --epochs 30 --resume runs/digits/checkpoint.ckpt`
    long, short = tmp_path / "long", tmp_path / "short"
    assert cli("train", "--epochs", "3", *SMALL, "--out", long)[0] == 0
    assert cli("train", "--epochs", "2", *SMALL, "--out", short)[0] == 0
    code, _, err = cli("train", "--epochs", "3", "--resume", short / "checkpoint.ckpt",
                       "--no-progress")
    assert code == 0, err
    assert (short / "metrics.csv").read_text() == (long / "metrics.csv").read_text()


def test_a_step_schedule_extends_exactly_too(cli, tmp_path):
    long, short = tmp_path / "long", tmp_path / "short"
    options = ("--scheduler", "step", "--step-size", "1", "--gamma", "0.5", *SMALL)
    assert cli("train", "--epochs", "3", *options, "--out", long)[0] == 0
    assert cli("train", "--epochs", "2", *options, "--out", short)[0] == 0
    assert cli("train", "--epochs", "3", "--resume", short, "--no-progress")[0] == 0
    assert (short / "metrics.csv").read_text() == (long / "metrics.csv").read_text()


def test_resuming_with_fewer_epochs_refuses_and_leaves_the_outputs(cli, tmp_path):
    assert cli("train", "--epochs", "2", *SMALL, "--out", tmp_path)[0] == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    code, out, err = cli("train", "--resume", tmp_path, "--epochs", "1")
    assert code == 2 and out == ""
    assert "--epochs 1 is fewer than the 2 epochs" in one_error_line(err)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    ("out", "words"),
    [("", "--out is empty"), ("afile", "is a file, not a folder"),
     ("afile/run", "cannot write into the output folder")],
)
def test_a_bad_out_fails_in_words_before_training(cli, tmp_path, monkeypatch, out, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("mine")
    code, stdout, err = cli("train", "--epochs", "1", *SMALL, "--out", out)
    assert code in (1, 2)
    assert words in one_error_line(err)
    assert "epoch" not in stdout  # nothing was trained
    assert (tmp_path / "afile").read_text() == "mine"


def test_an_unwritable_out_fails_before_any_data_is_loaded(cli, tmp_path, monkeypatch):
    def no_write(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    loaded = []
    monkeypatch.setattr(outputs.tempfile, "TemporaryFile", no_write)
    monkeypatch.setattr(train_command, "load_datasets", lambda *a: loaded.append(a))
    code, stdout, err = cli("train", "--out", tmp_path / "ro")
    assert code == 1 and not loaded and stdout == ""
    line = one_error_line(err)
    assert "cannot write into the output folder" in line and "Permission denied" in line


def test_a_reused_out_keeps_no_epoch_checkpoints_of_another_model(cli, tmp_path):
    assert cli("train", "--epochs", "3", "--save-every", "1", *SMALL, "--out", tmp_path)[0] == 0
    assert {p.name for p in tmp_path.glob("checkpoint-epoch*")} == {
        "checkpoint-epoch1.ckpt", "checkpoint-epoch2.ckpt", "checkpoint-epoch3.ckpt"
    }
    code, stdout, _ = cli("train", "--epochs", "1", "--hidden", "8", "--save-every", "1",
                          "--no-progress", "--out", tmp_path)
    assert code == 0
    assert "removed 3 per-epoch checkpoints of an earlier run" in stdout
    assert [p.name for p in tmp_path.glob("checkpoint-epoch*")] == ["checkpoint-epoch1.ckpt"]
    assert cr.load(tmp_path / "checkpoint-epoch1.ckpt")["config"]["hidden"] == (8,)


def test_data_root_is_stored_absolute_and_eval_works_elsewhere(
    cli, tmp_path, monkeypatch, mnist_writer
):
    mnist_writer(tmp_path / "work" / "data", n_train=30, n_test=10)
    monkeypatch.chdir(tmp_path / "work")
    code, _, err = cli("train", "--dataset", "mnist", "--data-root", "data", "--epochs", "1",
                       *SMALL, "--out", "run")
    assert code == 0, err
    stored = cr.load(tmp_path / "work" / "run" / "checkpoint.ckpt")["config"]["data_root"]
    assert stored == str(tmp_path / "work" / "data")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    code, stdout, err = cli("eval", "--checkpoint", tmp_path / "work" / "run")
    assert code == 0, err
    assert "(10 samples)" in stdout


def test_ctrl_c_during_a_checkpoint_write_prints_the_resume_command(cli, tmp_path, monkeypatch):
    save = train_command.save
    calls = []

    def save_then_interrupt(obj, path):
        calls.append(path)
        if len(calls) == 2:  # the second epoch's checkpoint, mid-write
            raise KeyboardInterrupt
        save(obj, path)

    monkeypatch.setattr(train_command, "save", save_then_interrupt)
    code, out, err = cli("train", "--epochs", "3", *SMALL, "--out", tmp_path)
    assert code == 130 and err.strip() == "chainrule: interrupted"
    command = f"chainrule train --resume {tmp_path / 'checkpoint.ckpt'}"
    assert out.splitlines()[-1] == f"interrupted in epoch 2; continue with: {command}"
    assert cr.load(tmp_path / "checkpoint.ckpt")["epoch"] == 1  # the previous one, intact


def test_ctrl_c_before_the_first_checkpoint_says_there_is_nothing_to_resume(
    cli, tmp_path, monkeypatch
):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "evaluate", interrupt)
    code, out, err = cli("train", "--epochs", "2", *SMALL, "--out", tmp_path)
    assert code == 130 and err.strip() == "chainrule: interrupted"
    assert out.splitlines()[-1] == (
        "interrupted in epoch 1, before the first checkpoint: nothing to resume"
    )


def test_ctrl_c_during_start_up_is_one_line(cli, tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_command, "load_datasets", interrupt)
    code, out, err = cli("train", "--out", tmp_path)
    assert code == 130 and out == "" and err == "chainrule: interrupted\n"


@pytest.mark.parametrize(
    ("content", "kind"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(30), "PNG image"),
        (b"epoch,lr,train_loss\n1,0.1,0.5\n", "text file"),
        (b"hi\n", "text file"),
    ],
)
def test_a_file_that_is_not_a_checkpoint_says_so(cli, tmp_path, content, kind):
    path = tmp_path / "thing"
    path.write_bytes(content)
    for argv in (["eval", "--checkpoint", path], ["train", "--resume", path]):
        code, _, err = cli(*argv)
        line = one_error_line(err)
        assert code == 1
        assert "not a chainrule checkpoint" in line and kind in line
        assert "727905341920923785" not in line


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["train", "--optimiser", "adam"], "did you mean --optimizer?"),
        (["train", "--epoch", "3", "--lrate", "0.1"], "did you mean --lr?"),
        (["train", "--dataset", "spiarl"], "did you mean 'spiral'?"),
        (["train", "--optimizer", "adma"], "did you mean 'adam'?"),
    ],
)
def test_near_misses_get_one_line_with_a_suggestion(cli, argv, hint):
    code, _, err = cli(*argv)
    assert code == 2
    line = one_error_line(err)
    assert hint in line and "chainrule train --help" in line


def test_every_option_has_help_text():
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    for name, sub in commands.items():
        for action in sub._actions:  # noqa: SLF001
            if not action.option_strings or action.help == "==SUPPRESS==":
                continue
            text = action.help or ""
            assert text and not text.startswith("("), f"{name} {action.option_strings}: {text!r}"


def test_one_epoch_is_singular(cli, tmp_path):
    code, stdout, _ = cli("train", "--epochs", "1", *SMALL, "--out", tmp_path)
    assert code == 0
    assert "after 1 epoch (" in stdout and "1 epochs" not in stdout


def test_spiral_reaches_95_percent_with_its_own_defaults(cli, tmp_path):
    code, stdout, err = cli("train", "--dataset", "spiral", "--no-progress", "--out", tmp_path)
    assert code == 0, err
    state = cr.load(tmp_path / "checkpoint.ckpt")
    assert state["config"]["epochs"] == 100 and state["config"]["lr"] == 0.01
    assert state["metrics"][-1]["test_acc"] >= 0.95


def test_curves_have_end_ticks_a_log_loss_axis_and_the_run_in_the_title():
    pytest.importorskip("matplotlib")
    rows = [
        {"epoch": e, "lr": 0.1, "train_loss": 1.0 / e, "train_acc": 0.5, "test_loss": 1.2 / e,
         "test_acc": 0.5}
        for e in range(1, 21)
    ]
    figure = outputs.curves_figure(rows, "MLP 64-128-10 (relu) on digits: adam lr 0.003")
    loss_ax, acc_ax = figure.axes
    assert loss_ax.get_yscale() == "log"
    for ax in (loss_ax, acc_ax):
        ticks = list(ax.get_xticks())
        assert ticks[0] == 1 and ticks[-1] == 20
    assert "adam lr 0.003" in figure._suptitle.get_text()  # noqa: SLF001
    assert outputs._epoch_ticks(4, 4) == [4]  # noqa: SLF001


def test_curves_title_names_the_optimizer_and_lr(cli, tmp_path, monkeypatch):
    titles = []
    monkeypatch.setattr(train_command, "plot_curves", lambda m, p, t: titles.append(t) or False)
    assert cli("train", "--epochs", "1", "--optimizer", "sgd", *SMALL, "--out", tmp_path)[0] == 0
    assert "sgd lr 0.1" in titles[0]


def test_activation_choices_follow_what_nn_has():
    for name, cls in common._ACTIVATION_CLASSES.items():  # noqa: SLF001
        assert (name in common.ACTIVATIONS) == hasattr(nn, cls)
    assert {"relu", "tanh", "sigmoid"} <= set(common.ACTIVATIONS)


def test_the_model_option_picks_from_a_table(cli, tmp_path):
    assert list(train_command.MODELS) == ["mlp"]
    code, _, _ = cli("train", "--model", "mlp", "--epochs", "1", *SMALL, "--out", tmp_path)
    assert code == 0
    assert cr.load(tmp_path / "checkpoint.ckpt")["config"]["model"] == "mlp"
    code, _, err = cli("train", "--model", "resnet")
    assert code == 2 and "invalid choice: 'resnet'" in one_error_line(err)


def test_out_is_created_when_missing(cli, tmp_path):
    out = tmp_path / "a" / "b"
    assert cli("train", "--epochs", "1", *SMALL, "--out", out)[0] == 0
    assert os.path.isfile(out / "checkpoint.ckpt")
