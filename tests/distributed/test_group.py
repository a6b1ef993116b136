"""init_process_group and friends; a rank that fails ends the job, never hangs it."""

from __future__ import annotations

import os
import sys
import time

import pytest
from mpirun import child_env, run_command, run_mpi

import chainrule.distributed as dist


def test_queries_before_init_raise_like_pytorch():
    assert not dist.is_initialized()
    for query in (dist.get_rank, dist.get_world_size, dist.barrier):
        with pytest.raises(ValueError, match="init_process_group"):
            query()
    with pytest.raises(ValueError, match="init_process_group"):
        dist.all_reduce(None)


def test_backend_names():
    assert dist.Backend("GLOO") == "gloo" and dist.Backend("mpi") == "mpi"
    with pytest.raises(ValueError, match="nccl"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_world_size_env_without_launcher_is_refused(monkeypatch):
    for var in ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WORLD_SIZE", "4")
    with pytest.raises(ValueError, match="mpiexec -n 4"):
        dist.init_process_group("gloo")
    assert not dist.is_initialized()


def test_timeout_must_be_a_timedelta():
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("mpi", timeout=30)


SINGLETON = """
import chainrule as cr
import chainrule.distributed as dist
dist.init_process_group()
assert (dist.get_rank(), dist.get_world_size()) == (0, 1)
t = cr.tensor([1.0, 2.0])
dist.all_reduce(t, op=dist.ReduceOp.AVG)
assert t.tolist() == [1.0, 2.0]
dist.destroy_process_group()
print("OK 0")
"""


def test_a_single_process_without_mpiexec(tmp_path):
    pytest.importorskip("mpi4py")
    script = tmp_path / "single.py"
    script.write_text(SINGLETON)
    result = run_command([sys.executable, str(script)], cwd=str(tmp_path))
    assert result.returncode == 0 and "OK 0" in result.stdout, result.stderr


FAILING = """
import datetime, os, sys, time
import chainrule as cr
import chainrule.distributed as dist

mode = sys.argv[1]
dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=3))
r = dist.get_rank()
t = cr.ones(4)
dist.all_reduce(t)  # everyone is up
if r == 1:
    if mode == "raise":
        raise ValueError("rank one broke")
    if mode == "exit":
        os._exit(3)
    if mode == "sys.exit":
        sys.exit(4)
    if mode == "hang":
        time.sleep(600)
for _ in range(3):
    dist.all_reduce(t)  # the others wait here for rank 1
print(f"OK {r}", flush=True)
"""


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("mode", ["raise", "exit", "sys.exit", "hang"])
def test_a_failing_rank_ends_the_job(tmp_path, mode, n):
    pytest.importorskip("mpi4py")
    if n == 3 and mode in ("exit", "sys.exit"):
        pytest.skip("covered with 2 processes")
    start = time.monotonic()
    result = run_mpi(n, FAILING, tmp_path, mode, timeout=90)
    # every message shows all the job printed: stderr alone was empty once in CI
    shown = f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode != 0, shown
    assert time.monotonic() - start < 90
    if mode == "raise":
        assert "rank 1 raised" in result.stderr, shown
        assert "ValueError: rank one broke" in result.stderr, shown  # the traceback
        assert "Traceback" in result.stderr, shown
    if mode == "hang":  # the others time out and say so
        assert "timed out after 3 s" in result.stderr, shown
    assert "OK" not in result.stdout, shown


def test_tests_environment_has_no_mpi_job():
    assert "PMI_RANK" not in child_env()


@pytest.mark.skipif(os.name != "posix", reason="pipes and FIONREAD are POSIX")
def test_unread_output_is_measured_in_a_pipe(tmp_path):
    # a rank aborts only once the launcher has read its pipes (else its error is lost)
    from chainrule.distributed._group import _unread_bytes

    read_end, write_end = os.pipe()
    try:
        assert _unread_bytes(write_end) == 0
        os.write(write_end, b"x" * 1000)
        assert _unread_bytes(write_end) == 1000
        os.read(read_end, 600)
        assert _unread_bytes(write_end) == 400
    finally:
        os.close(read_end)
        os.close(write_end)
    with open(tmp_path / "log", "wb") as f, open(os.devnull, "wb") as null:
        f.write(b"written")
        f.flush()
        assert _unread_bytes(f.fileno()) == 0 and _unread_bytes(null.fileno()) == 0
