"""A character-level GPT (nanoGPT's shape) trained on the Python documentation's topics.

The text is ``pydoc_data.topics`` (about 465,000 characters of the Python reference
manual, shipped with every Python), split 90/10 into training and validation text. The
model: token and position embeddings, ``n_layer`` pre-norm blocks of causal self-attention
and a GELU MLP with residual connections, a final LayerNorm and a language-model head
whose weight is the token embedding's (weight tying). Training: AdamW (weight decay on the
matrices only), a linear warm-up then cosine decay of the learning rate, gradient-norm
clipping at 1. Finally the model writes ``--sample-chars`` characters of its own.

Every backward rule of the step is printable: ``cr.explain(loss)`` after one step lists
the attention node's chain ``dV = P.T @ dY``, ``dP = dY @ V.T``, ``dS = ...`` with shapes.

Run: ``python examples/gpt.py [--steps 600] [--n-layer 2] [--n-embd 128] ...``
(the default setting, on 2 cores, brings the validation loss from 4.6 to about 2.0 in a
few minutes).
"""

import argparse
import math
import pydoc_data.topics
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


@dataclass
class GPTConfig:
    vocab_size: int = 65
    block_size: int = 64  # the longest context the model sees
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 128
    dropout: float = 0.0


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends to positions <= t only."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd)  # q, k, v in one matmul
        self.c_proj = nn.Linear(config.n_embd, config.n_embd)
        self.dropout = config.dropout

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        B, T, C = x.shape
        h = self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)  # (B,T,3C) -> 3 x (B,T,C)
        # (B,T,C) -> (B,T,h,C/h) -> (B,h,T,C/h): each head attends on its own slice
        q = q.reshape(B, T, h, C // h).transpose(1, 2)
        k = k.reshape(B, T, h, C // h).transpose(1, 2)
        v = v.reshape(B, T, h, C // h).transpose(1, 2)
        p = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)  # (B,h,T,C/h)
        y = y.transpose(1, 2).reshape(B, T, C)  # heads side by side again
        return self.c_proj(y)


class MLP(nn.Module):
    """``Linear(C, 4C) -> GELU -> Linear(4C, C)``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, 4 * config.n_embd)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU
        self.c_proj = nn.Linear(4 * config.n_embd, config.n_embd)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """A pre-norm Transformer block: ``x + attn(ln(x))``, then ``x + mlp(ln(x))``."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd)
        self.mlp = MLP(config)

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """Token + position embeddings, ``n_layer`` blocks, LayerNorm, tied language-model head."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)
        self.wpe = nn.Embedding(config.block_size, config.n_embd)
        self.drop = nn.Dropout(config.dropout)
        self.h = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(config.n_embd)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False)
        self.lm_head.weight = self.wte.weight  # weight tying: one (vocab, C) matrix
        for name, p in self.named_parameters():  # GPT-2's initialisation
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.ndim == 2:
                std = 0.02 / math.sqrt(2 * config.n_layer) if name.endswith("c_proj.weight") \
                    else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx: cr.Tensor, targets: cr.Tensor | None = None
                ) -> tuple[cr.Tensor, cr.Tensor | None]:
        B, T = idx.shape
        pos = cr.arange(T)
        x = self.drop(self.wte(idx) + self.wpe(pos))  # (B,T,C) + (T,C)
        for block in self.h:
            x = block(x)
        logits = self.lm_head(self.ln_f(x))  # (B,T,vocab)
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.reshape(B * T, -1), targets.reshape(B * T))
        return logits, loss

    def generate(self, idx: np.ndarray, n: int, rng: np.random.Generator,
                 temperature: float = 1.0) -> np.ndarray:
        """Append ``n`` characters, each sampled from the model given the last block_size."""
        self.eval()
        with cr.no_grad():
            for _ in range(n):
                context = cr.tensor(idx[:, -self.config.block_size:])
                logits, _ = self(context)
                probs = F.softmax(logits[:, -1, :] / temperature, dim=-1).numpy()
                nxt = np.array([[rng.choice(len(p), p=p / p.sum())] for p in probs])
                idx = np.concatenate([idx, nxt], axis=1)
        self.train()
        return idx


def load_text() -> str:
    """The Python reference manual's topics (pydoc_data), in a fixed order."""
    topics = pydoc_data.topics.topics
    return "\n".join(topics[k] for k in sorted(topics))


def batches(data: np.ndarray, block: int, batch: int, rng: np.random.Generator
            ) -> tuple[cr.Tensor, cr.Tensor]:
    """``batch`` random windows of the text and the same windows shifted by one."""
    starts = rng.integers(0, len(data) - block - 1, batch)
    x = np.stack([data[s:s + block] for s in starts])
    y = np.stack([data[s + 1:s + 1 + block] for s in starts])
    return cr.tensor(x), cr.tensor(y)


def lr_at(step: int, lr: float, warmup: int, total: int, min_lr: float) -> float:
    """Linear warm-up to ``lr``, then cosine decay to ``min_lr`` at ``total`` steps."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (lr - min_lr)


def clip_grad_norm(parameters: list[nn.Parameter], max_norm: float) -> float:
    """Scale all gradients so their joint 2-norm is at most ``max_norm``; return the norm."""
    grads = [p.grad.numpy() for p in parameters if p.grad is not None]
    total = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
    if total > max_norm:
        for g in grads:
            g *= max_norm / (total + 1e-6)
    return total


def estimate_loss(model: GPT, data: np.ndarray, args: argparse.Namespace, batches_: int,
                  rng: np.random.Generator) -> float:
    model.eval()
    with cr.no_grad():
        losses = [model(*batches(data, args.block_size, args.batch_size, rng))[1].item()
                  for _ in range(batches_)]
    model.train()
    return float(np.mean(losses))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=64)
    parser.add_argument("--n-layer", type=int, default=2)
    parser.add_argument("--n-head", type=int, default=4)
    parser.add_argument("--n-embd", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--weight-decay", type=float, default=0.1)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-batches", type=int, default=10)
    parser.add_argument("--sample-chars", type=int, default=300)
    parser.add_argument("--seed", type=int, default=1337)
    args = parser.parse_args(argv)

    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    text = load_text()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    data = np.array([index[ch] for ch in text], dtype=np.int64)
    split = int(0.9 * len(data))
    train, val = data[:split], data[split:]
    config = GPTConfig(len(chars), args.block_size, args.n_layer, args.n_head, args.n_embd,
                       args.dropout)
    model = GPT(config)
    params = list(model.parameters())
    decay = [p for p in params if p.ndim >= 2]  # matrices and embeddings
    no_decay = [p for p in params if p.ndim < 2]  # biases and LayerNorm gains
    optimizer = cr.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                                {"params": no_decay, "weight_decay": 0.0}],
                               lr=args.lr, betas=(0.9, 0.99))
    print(f"text: {len(text):,} characters, vocabulary {len(chars)}; model: "
          f"{sum(p.numel() for p in params):,} parameters")
    start = time.perf_counter()
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            val_loss = estimate_loss(model, val, args, args.eval_batches, rng)
            print(f"step {step:5d}  val loss {val_loss:.4f}  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        if step == args.steps:
            break
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, args.lr, args.warmup, args.steps, args.lr / 10)
        x, y = batches(train, args.block_size, args.batch_size, rng)
        _, loss = model(x, y)
        optimizer.zero_grad()
        loss.backward()
        clip_grad_norm(params, 1.0)
        optimizer.step()
    prompt = np.array([[index["\n"]]])
    sample = model.generate(prompt, args.sample_chars, rng)[0]
    print("sample:")
    print("".join(chars[i] for i in sample))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
