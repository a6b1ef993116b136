"""atomic_open: the target is replaced whole or not at all."""

from __future__ import annotations

import os

import pytest

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
