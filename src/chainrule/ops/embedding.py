"""Embedding lookup as a graph node: ``Y = weight[indices]``, the gradient scattered back.

The lookup copies row ``indices[i]`` of the table into row ``i`` of the output, so its
backward adds row ``i`` of ``dY`` into row ``indices[i]`` of ``dweight``: a token seen k
times receives k gradients (a scatter-add), and the row ``padding_idx`` receives none.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.autograd.grad_mode import no_grad
from chainrule.ops import _math
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

# nn.functional's only, as in PyTorch
__all__: list[str] = []


class Embedding(Op):
    """Y = weight[indices]: row i of Y is the embedding of token indices[i]."""

    shapes = {"weight": "(V,E)", "Y": "(*,E)"}

    def forward(self, weight: np.ndarray, *, indices: np.ndarray, padding_idx: int | None,
                scale: np.ndarray | None = None) -> np.ndarray:
        self.indices, self.padding_idx, self.scale = indices, padding_idx, scale
        return weight[indices]

    def backward(self, dY: Any) -> Any:
        """dweight = index_add(zeros(V,E), indices, dY), row padding_idx kept 0  (V,E) = (*,E)"""
        V, E = self.input_shapes[0]
        flat = self.indices.reshape(-1)
        g = dY.reshape((flat.size, E))  # one gradient row per looked-up token
        keep = None if self.padding_idx is None else flat != self.padding_idx
        if self.scale is not None:  # scale_grad_by_freq: 1 / (count of the token)
            g = g * self.scale.reshape(-1, 1).astype(_math.data(g).dtype)
        if keep is not None:
            g = _math.keep(g, np.broadcast_to(keep[:, None], (flat.size, E)))
        if isinstance(g, Tensor):
            return _math.index_add((V, E), flat, g)
        out = np.zeros((V, E), g.dtype)
        np.add.at(out, flat, g)  # repeated tokens accumulate
        return out


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (``(num_embeddings, embedding_dim)``) picked by integer ``input``.

    Output shape ``(*input.shape, embedding_dim)``. ``padding_idx``'s row gets no gradient;
    ``max_norm`` renormalises, in place, looked-up rows whose norm exceeds it.
    """
    idx = input._data if isinstance(input, Tensor) else np.asarray(input)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"embedding: expected indices of an integer dtype (Long or Int), "
                           f"got {idx.dtype}")
    if weight.ndim != 2:
        raise ShapeError(f"embedding: weight must be 2-D (num_embeddings, embedding_dim), got "
                         f"shape {tuple(weight.shape)}")
    V = weight.shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise IndexError(f"embedding: index {bad} is out of range for a table of {V} rows")
    if sparse:
        raise NotImplementedError("embedding: sparse gradients are not supported; use "
                                  "sparse=False")
    if padding_idx is not None:
        if not -V <= padding_idx < V:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within "
                             f"num_embeddings ({V})")
        padding_idx = padding_idx % V
    if max_norm is not None:
        _renorm(weight, idx, float(max_norm), float(norm_type))
    scale = None
    if scale_grad_by_freq:
        counts = np.bincount(idx.reshape(-1), minlength=V)
        scale = 1.0 / counts[idx.reshape(-1)]
    return Embedding.apply(weight, indices=idx, padding_idx=padding_idx, scale=scale)


def _renorm(weight: Tensor, idx: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Scale the looked-up rows of ``weight`` whose norm exceeds ``max_norm`` (in place)."""
    with no_grad():
        rows = np.unique(idx)
        norms = np.linalg.norm(weight._data[rows], ord=norm_type, axis=1)
        big = norms > max_norm
        if big.any():
            factor = max_norm / (norms[big] + 1e-7)
            weight._data[rows[big]] *= factor[:, None].astype(weight._data.dtype)
            weight._version[0] += 1
