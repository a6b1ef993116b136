"""atomic_open: the target is replaced whole or not at all."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys

import pytest

from chainrule import _atomic
from chainrule._atomic import atomic_open


def test_success_replaces_and_leaves_no_temporary(tmp_path) -> None:
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with atomic_open(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_error_mid_write_keeps_the_previous_file(tmp_path) -> None:
    path = tmp_path / "metrics.csv"
    path.write_text("epoch\n1\n")
    with pytest.raises(RuntimeError, match="disk on fire"), atomic_open(path, "w") as f:
        f.write("epoch\n")
        raise RuntimeError("disk on fire")
    assert path.read_text() == "epoch\n1\n"
    assert os.listdir(tmp_path) == ["metrics.csv"]


def test_a_symlink_is_followed(tmp_path) -> None:
    real = tmp_path / "real.ckpt"
    real.write_bytes(b"old")
    link = tmp_path / "latest.ckpt"
    link.symlink_to(real)
    with atomic_open(link) as f:
        f.write(b"new")
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_bad_mode() -> None:
    with pytest.raises(ValueError, match="mode must be"), atomic_open("x", "a"):
        pass


# -- writers that die, targets that are not files (issue 11.2-3) ------------------------

WRITER = """
import signal, sys, time
from chainrule._atomic import atomic_open
mode = sys.argv[2]
if mode == "handler":
    def on_term(signum, frame):
        raise SystemExit(3)
    signal.signal(signal.SIGTERM, on_term)
elif mode == "ignore":
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
with atomic_open(sys.argv[1], "wb") as f:
    f.write(b"new" * 1000)
    f.flush()
    print("ready", flush=True)
    for _ in range(20 if mode == "ignore" else 600):
        time.sleep(0.1)
print("finished", signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL, flush=True)
"""


def _start_writer(path, mode: str = "plain"):
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path), mode],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": _src_path()},
    )
    line = child.stdout.readline()
    assert line.strip() == "ready", line
    return child


def _src_path() -> str:
    import chainrule

    return os.path.dirname(os.path.dirname(chainrule.__file__))


def _temporaries(folder) -> list[str]:
    return [name for name in os.listdir(folder) if ".tmp-" in name]


@pytest.mark.skipif(os.name != "posix", reason="signals and kill -9 are POSIX")
def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(b"old")
    for _ in range(3):
        child = _start_writer(path)
        child.kill()  # kill -9: nothing in the child can react
        child.communicate(timeout=30)
    assert len(_temporaries(tmp_path)) == 1  # each writer removed its dead predecessors
    assert path.read_bytes() == b"old"
    with atomic_open(path) as f:
        f.write(b"next")
    assert path.read_bytes() == b"next"
    assert _temporaries(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_sigterm_removes_the_temporary_and_still_terminates(tmp_path) -> None:
    path = tmp_path / "model.ckpt"
    path.write_bytes(b"old")
    child = _start_writer(path)
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGTERM
    assert "finished" not in out
    assert _temporaries(tmp_path) == []
    assert path.read_bytes() == b"old"


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_sigterm_chains_to_the_programs_own_handler(tmp_path) -> None:
    path = tmp_path / "model.ckpt"
    child = _start_writer(path, "handler")
    child.send_signal(signal.SIGTERM)
    child.communicate(timeout=30)
    assert child.returncode == 3  # the program's handler ran (SystemExit(3))
    assert _temporaries(tmp_path) == [] and not path.exists()


@pytest.mark.skipif(os.name != "posix", reason="signals are POSIX")
def test_an_ignored_sigterm_stays_ignored(tmp_path) -> None:
    path = tmp_path / "model.ckpt"
    child = _start_writer(path, "ignore")
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0 and "finished True" in out  # still SIG_IGN afterwards
    assert path.read_bytes() == b"new" * 1000


def test_the_signal_handlers_are_restored_after_a_write(tmp_path) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with atomic_open(tmp_path / "a") as f:
        f.write(b"x")
    assert signal.getsignal(signal.SIGTERM) is before


def test_temporaries_of_live_processes_and_foreign_names_are_kept(tmp_path) -> None:
    path = tmp_path / "m.ckpt"
    mine = tmp_path / f".m.ckpt.tmp-{_atomic._HOST}-{os.getpid()}-abcdef"
    foreign = tmp_path / ".m.ckpt.tmp-0123456789ab"  # no pid in it: not ours to judge
    other_host = tmp_path / ".m.ckpt.tmp-elsewhere-999999999-abcdef"
    for p in (mine, foreign, other_host):
        p.write_bytes(b"x")
    with atomic_open(path) as f:
        f.write(b"y")
    assert mine.exists() and foreign.exists() and other_host.exists()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs are POSIX")
def test_a_fifo_is_refused_not_replaced(tmp_path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OSError, match="FIFO") as info, atomic_open(fifo) as f:
        f.write(b"x")
    assert info.value.filename == str(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert _temporaries(tmp_path) == []


def test_a_directory_is_refused(tmp_path) -> None:
    with pytest.raises(IsADirectoryError, match="directory") as info, atomic_open(tmp_path):
        pass
    assert info.value.filename == str(tmp_path)


@pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
def test_an_existing_files_mode_is_kept(tmp_path) -> None:
    path = tmp_path / "secret.ckpt"
    path.write_bytes(b"old")
    path.chmod(0o600)
    with atomic_open(path) as f:
        f.write(b"new")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_errors_name_the_target_not_the_temporary(tmp_path) -> None:
    target = tmp_path / "missing-folder" / "out.ckpt"
    with pytest.raises(FileNotFoundError) as info, atomic_open(target):
        pass
    assert str(target) in str(info.value) and ".tmp-" not in str(info.value)


@pytest.mark.skipif(not os.path.exists("/dev/stdout"), reason="needs /dev/stdout")
def test_dev_stdout_on_a_pipe_is_refused_by_its_name() -> None:
    code = (
        "from chainrule._atomic import atomic_open\n"
        "try:\n"
        "    with atomic_open('/dev/stdout') as f: f.write(b'x')\n"
        "except OSError as e:\n"
        "    import sys; print(e, file=sys.stderr)\n"
    )
    child = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": _src_path()},
    )
    assert "/dev/stdout" in child.stderr and "FIFO" in child.stderr
    assert ".tmp-" not in child.stderr and "/proc/" not in child.stderr
