"""A character-level LSTM language model on the Python documentation's topics.

The same text as ``examples/gpt.py`` (``pydoc_data.topics``, split 90/10). As in PyTorch's
word-language-model example, the training text is cut into ``--batch-size`` parallel
streams and read ``--bptt`` characters at a time; the hidden state is carried from one
chunk to the next but detached, so backpropagation through time is truncated at the chunk
boundary. Model: an embedding, an ``nn.LSTM`` and a linear decoder; Adam with gradient-norm
clipping.

Run: ``python examples/lstm_lm.py [--steps 800] [--hidden 128] [--layers 1] ...``
"""

import argparse
import math
import pydoc_data.topics
import time
from collections.abc import Sequence

import numpy as np

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F


class LSTMLanguageModel(nn.Module):
    """``Embedding -> LSTM -> Linear``: logits for the next character at every position."""

    def __init__(self, vocab: int, emb: int, hidden: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab, emb)
        self.rnn = nn.LSTM(emb, hidden, layers, dropout=dropout if layers > 1 else 0.0)
        self.decoder = nn.Linear(hidden, vocab)

    def forward(self, x: cr.Tensor, state: tuple[cr.Tensor, cr.Tensor] | None = None
                ) -> tuple[cr.Tensor, tuple[cr.Tensor, cr.Tensor]]:
        emb = self.drop(self.encoder(x))  # (T,N) -> (T,N,emb)
        out, state = self.rnn(emb, state)  # (T,N,hidden)
        return self.decoder(self.drop(out)), state  # (T,N,vocab)


def load_text() -> str:
    topics = pydoc_data.topics.topics
    return "\n".join(topics[k] for k in sorted(topics))


def batchify(data: np.ndarray, n: int) -> np.ndarray:
    """The text as ``n`` parallel streams: shape ``(len // n, n)``, column j contiguous."""
    length = len(data) // n
    return data[: length * n].reshape(n, length).T.copy()


def evaluate(model: LSTMLanguageModel, streams: np.ndarray, bptt: int, chunks: int) -> float:
    """Mean cross-entropy per character over the first ``chunks`` chunks of ``streams``."""
    model.eval()
    total, count, state = 0.0, 0, None
    with cr.no_grad():
        for k in range(min(chunks, (len(streams) - 1) // bptt)):
            i = k * bptt
            x, y = streams[i:i + bptt], streams[i + 1:i + 1 + bptt]
            logits, state = model(cr.tensor(x), state)
            total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                     cr.tensor(y.reshape(-1)), reduction="sum").item()
            count += y.size
    model.train()
    return total / count


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch-size", type=int, default=20)
    parser.add_argument("--bptt", type=int, default=35)
    parser.add_argument("--emb", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=1)
    parser.add_argument("--dropout", type=float, default=0.0)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=1.0)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--eval-chunks", type=int, default=20)
    parser.add_argument("--sample-chars", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1111)
    args = parser.parse_args(argv)

    cr.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    text = load_text()
    chars = sorted(set(text))
    index = {ch: i for i, ch in enumerate(chars)}
    data = np.array([index[ch] for ch in text], dtype=np.int64)
    split = int(0.9 * len(data))
    train = batchify(data[:split], args.batch_size)
    val = batchify(data[split:], 10)
    model = LSTMLanguageModel(len(chars), args.emb, args.hidden, args.layers, args.dropout)
    params = list(model.parameters())
    optimizer = cr.optim.Adam(params, lr=args.lr)
    print(f"text: {len(text):,} characters, vocabulary {len(chars)}; model: "
          f"{sum(p.numel() for p in params):,} parameters")
    start, state, pos = time.perf_counter(), None, 0
    for step in range(args.steps + 1):
        if step % args.eval_every == 0 or step == args.steps:
            val_loss = evaluate(model, val, args.bptt, args.eval_chunks)
            print(f"step {step:5d}  val loss {val_loss:.4f}  "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)
        if step == args.steps:
            break
        if pos + args.bptt + 1 > len(train):
            pos, state = 0, None
        x, y = train[pos:pos + args.bptt], train[pos + 1:pos + 1 + args.bptt]
        pos += args.bptt
        if state is not None:  # truncated BPTT: keep the values, drop the history
            state = (state[0].detach(), state[1].detach())
        logits, state = model(cr.tensor(x), state)
        loss = F.cross_entropy(logits.reshape(-1, len(chars)), cr.tensor(y.reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        grads = [p.grad.numpy() for p in params if p.grad is not None]
        norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
        if norm > args.clip:  # clip the gradients' joint norm
            for g in grads:
                g *= args.clip / (norm + 1e-6)
        optimizer.step()
    print("sample:")
    print(sample(model, chars, index["\n"], args.sample_chars, rng))
    return 0


def sample(model: LSTMLanguageModel, chars: list[str], first: int, n: int,
           rng: np.random.Generator) -> str:
    """``n`` characters drawn one by one from the model, feeding each back in."""
    model.eval()
    out, state, current = [], None, first
    with cr.no_grad():
        for _ in range(n):
            logits, state = model(cr.tensor([[current]]), state)
            p = F.softmax(logits[0, 0], dim=-1).numpy().astype(np.float64)
            current = int(rng.choice(len(p), p=p / p.sum()))
            out.append(chars[current])
    model.train()
    return "".join(out)


if __name__ == "__main__":
    raise SystemExit(main())
