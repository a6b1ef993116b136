"""examples/gpt.py and examples/lstm_lm.py run on a tiny setting and learn: the validation
loss falls, a sample is printed; the GPT's head is tied to its token embedding."""

from __future__ import annotations

import re

import numpy as np

import chainrule as cr
from tests.examples.test_examples import load_example


def _val_losses(out: str) -> list[float]:
    return [float(x) for x in re.findall(r"val loss (\S+)", out)]


def test_gpt_learns_and_samples(capsys) -> None:
    gpt = load_example("gpt")
    argv = ["--steps", "30", "--n-layer", "1", "--n-embd", "32", "--n-head", "2",
            "--block-size", "16", "--batch-size", "8", "--warmup", "5", "--eval-every", "15",
            "--eval-batches", "4", "--sample-chars", "20"]
    assert gpt.main(argv) == 0
    out = capsys.readouterr().out
    losses = _val_losses(out)
    assert len(losses) == 3 and losses[-1] < losses[0] - 0.5
    assert "sample:" in out


def test_gpt_ties_weights_and_matches_its_shapes() -> None:
    gpt = load_example("gpt")
    cr.manual_seed(0)
    model = gpt.GPT(gpt.GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=8))
    assert model.lm_head.weight is model.wte.weight
    names = [n for n, _ in model.named_parameters()]
    assert "lm_head.weight" not in names and "wte.weight" in names
    idx = cr.tensor(np.zeros((2, 8), dtype=np.int64))
    logits, loss = model(idx, idx)
    assert logits.shape == (2, 8, 11) and loss.shape == ()
    loss.backward()
    assert "dS = P * (dP - rowsum(dP * P))  (2,2,8,8)" in str(cr.explain(loss))
    assert gpt.lr_at(0, 1.0, 10, 100, 0.1) == 0.1 and gpt.lr_at(100, 1.0, 10, 100, 0.1) == 0.1


def test_lstm_lm_learns_and_samples(capsys) -> None:
    lm = load_example("lstm_lm")
    argv = ["--steps", "40", "--batch-size", "8", "--bptt", "16", "--emb", "16", "--hidden",
            "32", "--eval-every", "20", "--eval-chunks", "5", "--sample-chars", "20"]
    assert lm.main(argv) == 0
    out = capsys.readouterr().out
    losses = _val_losses(out)
    assert len(losses) == 3 and losses[-1] < losses[0] - 0.5
    assert "sample:" in out
