"""The ``chainrule`` entry point: help, version, and one clear error line for every mistake."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import chainrule as cr
from chainrule.cli import __main__ as cli_main
from chainrule.cli import train as train_command

SRC = Path(__file__).resolve().parents[2] / "src"


def assert_one_error_line(err: str, *fragments: str) -> str:
    """stderr holds one ``chainrule: error:`` line, last, after at most argparse's usage."""
    assert "Traceback" not in err
    lines = err.rstrip("\n").splitlines()
    errors = [line for line in lines if line.startswith("chainrule: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], err
    if len(lines) > 1:
        assert lines[0].startswith("usage: chainrule"), err
    for fragment in fragments:
        assert fragment in errors[0], errors[0]
    return errors[0]


def test_help_and_version(cli):
    code, out, _ = cli("--help")
    assert code == 0
    for command in ("train", "eval", "gradcheck", "graph", "bench"):
        assert command in out
    code, out, _ = cli("train", "--help")
    assert code == 0 and "--resume CHECKPOINT" in out and "--epochs" in out
    code, out, _ = cli("--version")
    assert code == 0 and out.strip() == f"chainrule {cr.__version__}"


@pytest.mark.parametrize(
    ("argv", "fragments"),
    [
        ([], ["the following arguments are required: COMMAND"]),
        (["fly"], ["invalid choice: 'fly'"]),
        (["train", "--lr", "-1"], ["argument --lr: must be a number > 0, got '-1'"]),
        (["train", "--lr", "0"], ["argument --lr: must be a number > 0"]),
        (["train", "--lr", "fast"], ["argument --lr: expected a number, got 'fast'"]),
        (["train", "--lr", "nan"], ["argument --lr: expected a finite number"]),
        (["train", "--hidden", "128,x"], ["argument --hidden: expected comma-separated"]),
        (["train", "--hidden", "0"], ["argument --hidden"]),
        (["train", "--dataset", "cifar10"], ["argument --dataset: invalid choice: 'cifar10'"]),
        (["train", "--optimizer", "lbfgs"], ["argument --optimizer: invalid choice"]),
        (["train", "--activation", "swish"], ["argument --activation: invalid choice"]),
        (["train", "--epochs", "0"], ["argument --epochs: must be an integer >= 1, got '0'"]),
        (["train", "--batch-size", "2.5"], ["argument --batch-size: expected an integer"]),
        (["train", "--seed", "-3"], ["argument --seed: must be an integer >= 0"]),
        (["train", "--scheduler", "linear"], ["argument --scheduler: invalid choice"]),
        (["train", "--frobnicate"], ["unrecognized arguments: --frobnicate"]),
        (["train", "--optimizer", "adam", "--momentum", "0.9"],
         ["--momentum applies to the optimizers sgd, rmsprop only, not to adam"]),
        (["eval"], ["the following arguments are required: --checkpoint"]),
        (["gradcheck", "--op", "frobnicate"], ["--op: unknown op 'frobnicate'; known ops: add"]),
    ],
)
def test_bad_arguments_give_one_error_line_and_exit_code_2(cli, argv, fragments):
    code, out, err = cli(*argv)
    assert code == 2
    assert_one_error_line(err, *fragments)


def test_missing_checkpoint(cli, tmp_path):
    missing = tmp_path / "nope.ckpt"
    for argv in (["eval", "--checkpoint", missing], ["train", "--resume", missing]):
        code, _, err = cli(*argv)
        assert code == 1
        assert_one_error_line(err, f"checkpoint '{missing}' does not exist")


def test_corrupt_and_truncated_checkpoints(cli, tmp_path):
    code, _, _ = cli("train", "--epochs", "1", "--hidden", "8", "--no-progress", "--out", tmp_path)
    assert code == 0
    good = (tmp_path / "checkpoint.ckpt").read_bytes()
    truncated, garbage, flipped = tmp_path / "t.ckpt", tmp_path / "g.ckpt", tmp_path / "f.ckpt"
    truncated.write_bytes(good[: len(good) // 2])
    garbage.write_bytes(b"this is not a checkpoint at all")
    flipped.write_bytes(good[:-10] + bytes([good[-10] ^ 0xFF]) + good[-9:])
    for path in (truncated, garbage, flipped):
        for argv in (["eval", "--checkpoint", path], ["train", "--resume", path]):
            code, _, err = cli(*argv)
            assert code == 1
            assert_one_error_line(err)


def test_a_checkpoint_of_something_else(cli, tmp_path):
    path = tmp_path / "weights.ckpt"
    cr.save({"weight": cr.zeros(3)}, path)
    code, _, err = cli("eval", "--checkpoint", path)
    assert code == 1
    assert_one_error_line(err, "is not a `chainrule train` checkpoint")


def test_missing_mnist_files(cli, tmp_path):
    code, _, err = cli("train", "--dataset", "mnist", "--data-root", tmp_path / "absent")
    assert code == 1
    assert_one_error_line(err, "--data-root", "is not a folder", "--download")
    code, _, err = cli("train", "--dataset", "mnist", "--data-root", tmp_path)  # empty folder
    assert code == 1
    assert_one_error_line(
        err, "MNIST: the training files train-images-idx3-ubyte[.gz]", "add --download"
    )


def test_corrupt_mnist_file(cli, tmp_path, mnist_writer):
    folder = mnist_writer(tmp_path / "mnist", n_train=20, n_test=10)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b broken")
    code, _, err = cli("train", "--dataset", "mnist", "--data-root", folder)
    assert code == 1
    assert_one_error_line(err, "cannot decompress")


def test_output_folder_that_is_a_file(cli, tmp_path):
    (tmp_path / "taken").write_text("")
    code, _, err = cli("train", "--epochs", "1", "--out", tmp_path / "taken")
    assert code == 2
    assert_one_error_line(err, "taken", "is a file, not a folder")


def test_an_internal_error_is_one_line_unless_debugging(cli, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setitem(train_command.MODELS, "mlp", broken)
    code, _, err = cli("train", "--out", tmp_path)
    assert code == 1
    assert_one_error_line(
        err, "internal error: ZeroDivisionError: division by zero", "CHAINRULE_DEBUG=1"
    )
    monkeypatch.setenv("CHAINRULE_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli_main.main(["train", "--out", str(tmp_path)])


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(SRC), env.get("PYTHONPATH", "")])
    env.pop("CHAINRULE_DEBUG", None)
    return env


def test_python_dash_m_chainrule(tmp_path):
    run = subprocess.run(
        [sys.executable, "-m", "chainrule", "train", "--epochs", "1", "--hidden", "8",
         "--out", str(tmp_path)],
        capture_output=True, text=True, env=_environment(), timeout=300, check=False,
    )
    assert run.returncode == 0, run.stderr
    assert "epoch 1/1  loss" in run.stdout
    assert (tmp_path / "metrics.csv").is_file()

    run = subprocess.run(
        [sys.executable, "-m", "chainrule", "eval", "--checkpoint", str(tmp_path / "nope")],
        capture_output=True, text=True, env=_environment(), timeout=300, check=False,
    )
    assert run.returncode == 1
    assert run.stdout == ""
    assert_one_error_line(run.stderr, "does not exist")


def test_console_script():
    script = shutil.which("chainrule", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the chainrule console script is not installed in this environment")
    run = subprocess.run(
        [script, "train", "--lr", "-1"], capture_output=True, text=True, env=_environment(),
        timeout=300, check=False,
    )
    assert run.returncode == 2
    assert_one_error_line(run.stderr, "argument --lr")


def test_ctrl_c_while_the_package_is_imported_is_one_line():
    # the console script's entry point guards the import of chainrule itself
    code = (
        "import sys, importlib.abc\n"
        "class Interrupt(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'chainrule':\n"
        "            raise KeyboardInterrupt\n"
        "sys.meta_path.insert(0, Interrupt())\n"
        "import _chainrule_main\n"
        "sys.exit(_chainrule_main.main())\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, "train"], capture_output=True, text=True,
        env=_environment(), timeout=300, check=False,
    )
    assert run.returncode == 130
    assert run.stderr == "chainrule: interrupted\n" and run.stdout == ""
