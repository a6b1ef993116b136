"""The sequence benchmarks: a tiny GPT step and an LSTM language-model step, each built
three ways (hand-written NumPy in ``bench/reference_sequences.py``, chainrule, PyTorch)
from the same float32 weights and batches, so that their losses agree step by step.

The chainrule and PyTorch models are one piece of code with the library passed in (their
APIs are the same), as a user would write them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bench.reference_sequences import NumpyGPT, NumpyLSTMLM
from bench.steps import library_step, numpy_step

__all__ = ["GPTSpec", "LSTMSpec", "make_seq_steps", "SEQUENCE_WORKLOADS"]


@dataclass(frozen=True)
class GPTSpec:
    """A pre-norm GPT (tied head, causal attention, tanh-GELU MLP) trained with AdamW."""

    vocab: int = 65
    block: int = 64
    n_embd: int = 128
    n_head: int = 4
    n_layer: int = 2
    batch: int = 16
    lr: float = 1e-3
    n_batches: int = 4


@dataclass(frozen=True)
class LSTMSpec:
    """Embedding -> one-layer LSTM -> Linear, cross-entropy, SGD, one truncated-BPTT chunk."""

    vocab: int = 65
    input: int = 32
    hidden: int = 128
    steps: int = 35
    batch: int = 20
    lr: float = 0.5
    n_batches: int = 4


# -- the problems: weights and batches --------------------------------------------------


def _gpt_problem(spec: GPTSpec, seed: int) -> tuple[dict[str, np.ndarray], list[Any]]:
    rng = np.random.default_rng(seed)
    C = spec.n_embd

    def normal(*shape: int, std: float = 0.02) -> np.ndarray:
        return (rng.standard_normal(shape) * std).astype(np.float32)

    w = {"wte.weight": normal(spec.vocab, C), "wpe.weight": normal(spec.block, C)}
    for i in range(spec.n_layer):
        p = f"h.{i}."
        w[p + "ln_1.weight"], w[p + "ln_1.bias"] = np.ones(C, np.float32), normal(C)
        w[p + "attn.c_attn.weight"], w[p + "attn.c_attn.bias"] = normal(3 * C, C), normal(3 * C)
        w[p + "attn.c_proj.weight"], w[p + "attn.c_proj.bias"] = normal(C, C), normal(C)
        w[p + "ln_2.weight"], w[p + "ln_2.bias"] = np.ones(C, np.float32), normal(C)
        w[p + "mlp.c_fc.weight"], w[p + "mlp.c_fc.bias"] = normal(4 * C, C), normal(4 * C)
        w[p + "mlp.c_proj.weight"], w[p + "mlp.c_proj.bias"] = normal(C, 4 * C), normal(C)
    w["ln_f.weight"], w["ln_f.bias"] = np.ones(C, np.float32), normal(C)
    batches = []
    for _ in range(spec.n_batches):
        tokens = rng.integers(0, spec.vocab, (spec.batch, spec.block + 1), dtype=np.int64)
        batches.append((tokens[:, :-1].copy(), tokens[:, 1:].copy()))
    return w, batches


def _lstm_problem(spec: LSTMSpec, seed: int) -> tuple[dict[str, np.ndarray], list[Any]]:
    rng = np.random.default_rng(seed)
    G, H = 4 * spec.hidden, spec.hidden
    bound = 1 / math.sqrt(H)

    def uniform(*shape: int, b: float = bound) -> np.ndarray:
        return rng.uniform(-b, b, shape).astype(np.float32)

    w = {"encoder.weight": rng.standard_normal((spec.vocab, spec.input)).astype(np.float32),
         "rnn.weight_ih_l0": uniform(G, spec.input), "rnn.weight_hh_l0": uniform(G, H),
         "rnn.bias_ih_l0": uniform(G), "rnn.bias_hh_l0": uniform(G),
         "decoder.weight": uniform(spec.vocab, H), "decoder.bias": uniform(spec.vocab)}
    batches = []
    for _ in range(spec.n_batches):
        tokens = rng.integers(0, spec.vocab, (spec.steps + 1, spec.batch), dtype=np.int64)
        batches.append((tokens[:-1].copy(), tokens[1:].copy()))
    return w, batches


# -- the models, for chainrule and PyTorch alike ----------------------------------------


def _gpt_model(lib: Any, spec: GPTSpec) -> Any:
    nn, F = lib.nn, lib.nn.functional
    C, h = spec.n_embd, spec.n_head

    class Attention(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_attn = nn.Linear(C, 3 * C)
            self.c_proj = nn.Linear(C, C)

        def forward(self, x: Any) -> Any:
            B, T, _ = x.shape
            q, k, v = self.c_attn(x).split(C, dim=2)
            q = q.reshape(B, T, h, C // h).transpose(1, 2)  # (B,h,T,hd)
            k = k.reshape(B, T, h, C // h).transpose(1, 2)
            v = v.reshape(B, T, h, C // h).transpose(1, 2)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.c_proj(y.transpose(1, 2).reshape(B, T, C))

    class MLP(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c_fc = nn.Linear(C, 4 * C)
            self.c_proj = nn.Linear(4 * C, C)

        def forward(self, x: Any) -> Any:
            return self.c_proj(F.gelu(self.c_fc(x), approximate="tanh"))

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln_1, self.attn = nn.LayerNorm(C), Attention()
            self.ln_2, self.mlp = nn.LayerNorm(C), MLP()

        def forward(self, x: Any) -> Any:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.wte = nn.Embedding(spec.vocab, C)
            self.wpe = nn.Embedding(spec.block, C)
            self.h = nn.ModuleList([Block() for _ in range(spec.n_layer)])
            self.ln_f = nn.LayerNorm(C)
            self.lm_head = nn.Linear(C, spec.vocab, bias=False)
            self.lm_head.weight = self.wte.weight  # tied

        def forward(self, idx: Any, targets: Any) -> Any:
            B, T = idx.shape
            x = self.wte(idx) + self.wpe(lib.arange(T))
            for block in self.h:
                x = block(x)
            logits = self.lm_head(self.ln_f(x))
            return F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))

    return GPT()


def _lstm_model(lib: Any, spec: LSTMSpec) -> Any:
    nn, F = lib.nn, lib.nn.functional

    class LM(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = nn.Embedding(spec.vocab, spec.input)
            self.rnn = nn.LSTM(spec.input, spec.hidden)
            self.decoder = nn.Linear(spec.hidden, spec.vocab)

        def forward(self, idx: Any, targets: Any) -> Any:
            out, _ = self.rnn(self.encoder(idx))  # (T,N,H)
            logits = self.decoder(out)
            return F.cross_entropy(logits.reshape(-1, spec.vocab), targets.reshape(-1))

    return LM()


def _library_step(lib: Any, spec: Any, weights: dict[str, np.ndarray],
                  batches: list[Any]) -> Callable[[], Any]:
    if isinstance(spec, GPTSpec):
        model = _gpt_model(lib, spec)
        optimizer_of = lambda params: lib.optim.AdamW(params, lr=spec.lr)  # noqa: E731
    else:
        model = _lstm_model(lib, spec)
        optimizer_of = lambda params: lib.optim.SGD(params, lr=spec.lr)  # noqa: E731
    model.load_state_dict({k: lib.from_numpy(v.copy()) for k, v in weights.items()},
                          strict=False)
    params = [p for _, p in model.named_parameters()]
    return library_step(lib, model, optimizer_of(params), batches)


def _numpy_step(spec: Any, weights: dict[str, np.ndarray], batches: list[Any]
                ) -> Callable[[], Any]:
    if isinstance(spec, GPTSpec):
        model: Any = NumpyGPT(weights, spec.n_layer, spec.n_head, spec.lr, (0.9, 0.999), 0.01)
    else:
        model = NumpyLSTMLM(weights, spec.lr)
    return numpy_step(model, batches)


def make_seq_steps(spec: GPTSpec | LSTMSpec, libs: Sequence[str], seed: int = 0
                   ) -> dict[str, Callable[[], Any]]:
    """One training-step closure per library from the same weights and batches; each call
    trains one step and returns the loss."""
    problem = _gpt_problem if isinstance(spec, GPTSpec) else _lstm_problem
    weights, batches = problem(spec, seed)
    out: dict[str, Callable[[], Any]] = {}
    for lib in libs:
        if lib == "numpy":
            out[lib] = _numpy_step(spec, weights, batches)
        else:
            module = __import__(lib)
            out[lib] = _library_step(module, spec, weights, batches)
    return out


def _workloads() -> dict[str, Any]:
    from bench.workloads import Workload

    return {w.name: w for w in [
        Workload("gpt_tiny", "seq",
                 "GPT vocab {vocab}, block {block}, n_embd {n_embd}, {n_head} heads, "
                 "{n_layer} layers, b{batch}, AdamW",
                 GPTSpec(), GPTSpec(block=16, n_embd=32, n_head=2, n_layer=1, batch=4,
                                    n_batches=2)),
        Workload("lstm_lm", "seq",
                 "LSTM in {input}, hidden {hidden}, {steps} steps, b{batch}, SGD",
                 LSTMSpec(), LSTMSpec(input=8, hidden=16, steps=5, batch=4, n_batches=2)),
    ]}


SEQUENCE_WORKLOADS = _workloads()
