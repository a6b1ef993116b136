"""The GPT and LSTM benchmark steps compute the same thing in every library (never timed):
chainrule's and PyTorch's losses equal the hand-written NumPy reference's step by step."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import workloads as W  # noqa: E402
from bench.sequence_workloads import make_seq_steps  # noqa: E402


@pytest.mark.parametrize("name", ["gpt_tiny", "lstm_lm"])
def test_chainrule_losses_equal_numpy(name: str) -> None:
    steps = make_seq_steps(W.WORKLOADS[name].quick, ["numpy", "chainrule"])
    result = W.check_mlp(steps, 3)
    assert result["match"], result
    assert result["losses"]["numpy"][0] != result["losses"]["numpy"][2]


@pytest.mark.parametrize("name", ["gpt_tiny", "lstm_lm"])
def test_torch_losses_equal_numpy(name: str) -> None:
    pytest.importorskip("torch")
    steps = make_seq_steps(W.WORKLOADS[name].quick, ["numpy", "torch"])
    assert W.check_mlp(steps, 3)["match"]


def test_titles_show_the_sizes() -> None:
    assert W.WORKLOADS["gpt_tiny"].describe() == (
        "GPT vocab 65, block 64, n_embd 128, 4 heads, 2 layers, b16, AdamW")
    assert W.WORKLOADS["lstm_lm"].describe() == "LSTM in 32, hidden 128, 35 steps, b20, SGD"
