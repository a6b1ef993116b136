"""Run a Python script under ``mpiexec -n N`` with a hard timeout, leaving no process behind.

The job runs in a session of its own; on timeout the whole process group is killed and
the test fails (a hang is a failure, never a stuck suite). Tests that use this call
``pytest.importorskip("mpi4py")`` first, so they skip visibly without the extra.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

TIMEOUT = 120.0  # seconds for one job (a loaded 2-core machine starts Python slowly)


def mpiexec() -> str:
    """The mpich wheel's mpiexec beside this Python, else one on PATH (or skip)."""
    here = Path(sys.executable).parent / "mpiexec"
    if here.exists():
        return str(here)
    found = shutil.which("mpiexec")
    if found is None:
        pytest.skip("mpiexec not found (pip install 'chainrule[distributed]')")
    return found


def child_env(**extra: str) -> dict[str, str]:
    """This environment without an enclosing MPI job's variables, one thread per process
    and a traceback from any process that crashes."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PMI_", "PMIX_", "OMPI_", "MPI_LOCAL", "HYDRA_"))}
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.update(PYTHONFAULTHANDLER="1")  # a rank that crashes shows where, on stderr
    env.update(extra)
    return env


def run_command(cmd: list[str], timeout: float = TIMEOUT, cwd: str | None = None,
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``cmd`` in its own session; kill its process group if it outlives ``timeout``."""
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=cwd,
                            env=env if env is not None else child_env(),
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"{' '.join(cmd)} did not finish within {timeout} s (killed)\n"
                    f"stdout:\n{out}\nstderr:\n{err}")
    finally:
        try:  # anything the job left in its group (there should be nothing)
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def run_mpi(n: int, source: str, tmp_path: Path, *args: str, timeout: float = TIMEOUT,
            name: str = "job.py") -> subprocess.CompletedProcess[str]:
    """Write ``source`` to a script and run it on ``n`` processes."""
    script = tmp_path / name
    script.write_text(textwrap.dedent(source))
    return run_command([mpiexec(), "-n", str(n), sys.executable, str(script), *args],
                       timeout=timeout, cwd=str(tmp_path))


def check_ok(result: subprocess.CompletedProcess[str], n: int) -> None:
    """The job exited 0 and every rank printed its ``OK <rank>`` line."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    ranks = {int(m) for m in re.findall(r"OK (\d+)", result.stdout)}
    assert ranks == set(range(n)), (result.stdout, result.stderr)
