"""``cr.nn.utils.rnn``: batching sequences of different lengths for the recurrent layers."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from chainrule.ops import shape as _shape
from chainrule.tensor import Tensor

__all__ = ["pad_sequence"]


def pad_sequence(sequences: Sequence[Tensor], batch_first: bool = False,
                 padding_value: float = 0.0, padding_side: str = "right") -> Tensor:
    """Stack tensors of shapes ``(L_i, *)`` into ``(L_max, B, *)`` (``batch_first``:
    ``(B, L_max, *)``), filling with ``padding_value`` after (``padding_side='left'``:
    before) each sequence. Differentiable in the sequences."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"pad_sequence: padding_side must be 'left' or 'right', got "
                         f"{padding_side!r}")
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    trailing = tuple(seqs[0].shape[1:])
    for s in seqs:
        if s.ndim == 0 or tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: every sequence must have shape (L, "
                               f"{', '.join(map(str, trailing))}), got {tuple(s.shape)}")
    L = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        n = L - s.shape[0]
        if n:
            fill = Tensor._make(np.full((n, *trailing), padding_value, s._data.dtype))
            parts = [s, fill] if padding_side == "right" else [fill, s]
            s = _shape.cat(parts, dim=0)
        padded.append(s)
    return _shape.stack(padded, dim=0 if batch_first else 1)
