"""chainrule train --nproc N: N processes through mpiexec train as one, and resume the same."""

from __future__ import annotations

import csv
import sys

import pytest
from mpirun import child_env, mpiexec, run_command

from chainrule.cli import launch
from chainrule.cli.__main__ import main

pytest.importorskip("mpi4py")

OPTIONS = ["--hidden", "32", "--batch-size", "50", "--epochs", "2", "--no-progress",
           "--optimizer", "sgd", "--lr", "0.1", "--scheduler", "none"]


def train(tmp_path, out, *extra):
    cmd = [sys.executable, "-m", "chainrule", "train", *OPTIONS, "--out", str(out), *extra]
    return run_command(cmd, timeout=180, cwd=str(tmp_path), env=child_env())


def metrics(folder):
    with open(folder / "metrics.csv") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def test_two_processes_train_as_one_and_resume_the_same(tmp_path):
    # one process, in this process; then epoch 1 on 2 processes, resumed to 2 on 3
    assert main(["train", *OPTIONS, "--out", str(tmp_path / "one")]) == 0
    first = train(tmp_path, tmp_path / "many", "--nproc", "2", "--epochs", "1")
    assert first.returncode == 0, first.stderr
    assert "batch 50 over 2 processes" in first.stdout
    assert first.stdout.count("epoch 1/1") == 1  # rank 0 alone prints
    again = train(tmp_path, tmp_path / "many", "--nproc", "3", "--resume",
                  str(tmp_path / "many" / "checkpoint.ckpt"))
    assert again.returncode == 0, again.stderr
    assert "resuming" in again.stdout and "over 3 processes" in again.stdout
    assert (tmp_path / "many" / "checkpoint.ckpt").exists()
    one, many = metrics(tmp_path / "one"), metrics(tmp_path / "many")
    assert len(one) == len(many) == 2
    for a, b in zip(one, many, strict=True):
        for key in a:
            assert b[key] == pytest.approx(a[key], rel=1e-4, abs=1e-6), key


def test_a_failing_rank_fails_the_launch(tmp_path):
    result = train(tmp_path, tmp_path / "bad", "--nproc", "2", "--dataset", "mnist",
                   "--data-root", str(tmp_path / "missing"))
    assert result.returncode != 0
    assert "chainrule: error:" in result.stderr


ONE_RANK_FAILS = """
import sys
import chainrule.distributed as dist
from chainrule.cli import launch
from chainrule.cli.__main__ import main

def train_distributed(*args, **kwargs):  # rank 0 fails; the others wait for it
    if dist.get_rank() == 0:
        raise OSError("disk full on rank 0")
    dist.barrier()

launch.train_distributed = train_distributed
sys.exit(main(sys.argv[1:]))
"""


def test_one_failing_rank_ends_the_job_at_once(tmp_path):
    # the others wait in a collective whose timeout is 30 minutes: the failing rank must
    # abort the job, not wait for them in MPI_Finalize
    script = tmp_path / "one_fails.py"
    script.write_text(ONE_RANK_FAILS)
    cmd = [mpiexec(), "-n", "2", sys.executable, str(script), "train", *OPTIONS,
           "--out", str(tmp_path / "out")]
    result = run_command(cmd, timeout=120, cwd=str(tmp_path), env=child_env())
    assert result.returncode != 0, (result.stdout, result.stderr)
    assert "chainrule: error: disk full on rank 0" in result.stderr, (result.stdout,
                                                                      result.stderr)


def test_child_command_line_repeats_the_options():
    import argparse

    from chainrule.cli import train as train_cli

    parser = argparse.ArgumentParser()
    train_cli.add_arguments(parser)
    args = parser.parse_args(["--hidden", "none", "--lr", "0.5", "--nproc", "2", "--download"])
    argv = launch._child_argv(args, {"hidden", "lr", "epochs"})
    assert argv == ["--hidden", "none", "--lr", "0.5", "--download"]
    assert parser.parse_args(argv).hidden == ()
    cmd = launch.mpiexec_command(2, argv)
    assert cmd[1:6] == ["-n", "2", sys.executable, "-m", "chainrule"]
