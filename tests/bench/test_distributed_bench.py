"""bench/distributed.py runs, and its three implementations compute the same (never timed)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import distributed as bench_distributed  # noqa: E402

pytest.importorskip("mpi4py")


def test_tiny_run_agrees_between_implementations_and_process_counts(tmp_path, capsys):
    libs = "chainrule,numpy"  # (PyTorch's gloo run takes long to start; the bench runs it)
    out = tmp_path / "d.json"
    code = bench_distributed.main(["--libs", libs, "--rounds", "1", "--steps", "3",
                                   "--warmup", "2", "--sizes", "12,16,16,4", "--batch", "8",
                                   "--json", str(out), "--timeout", "120"])
    assert code == 0
    report = json.loads(out.read_text())
    losses = [s["last_loss"] for s in report["samples"]]
    assert max(losses) - min(losses) < 1e-5 * max(losses), losses
    assert set(report["summary"]) == set(libs.split(","))
    assert "speed-up" in capsys.readouterr().out
