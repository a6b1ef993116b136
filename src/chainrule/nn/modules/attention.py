"""``MultiheadAttention``: h heads of scaled dot-product attention between projections of
the query, key and value, as PyTorch (parameter names, layout, initialisation, masks)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.nn import init
from chainrule.nn.modules.linear import Linear
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import shape as _shape
from chainrule.ops._errors import ShapeError
from chainrule.ops.activation import softmax
from chainrule.ops.attention import scaled_dot_product_attention
from chainrule.ops.dropout import dropout
from chainrule.ops.getitem import chunk as _chunk
from chainrule.ops.linalg import linear
from chainrule.tensor import Tensor

__all__ = ["MultiheadAttention"]


class NonDynamicallyQuantizableLinear(Linear):
    """``out_proj``'s class: a Linear under PyTorch's name (so the reprs agree)."""


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads of size ``embed_dim // num_heads``.

    ``q = query W_q^T + b_q`` (likewise k, v), each head attends
    ``softmax(q_h k_h^T / sqrt(head_dim) + mask) v_h``, the heads are concatenated and
    projected by ``out_proj``. The three input projections are stacked in ``in_proj_weight``
    ``(3E, E)`` when key and value have ``embed_dim`` features, else kept separately in
    ``q_proj_weight (E,E)``, ``k_proj_weight (E,kdim)``, ``v_proj_weight (E,vdim)``.

    Shape (``batch_first=False``): query ``(L, N, E)``, key ``(S, N, kdim)``, value
    ``(S, N, vdim)`` -> output ``(L, N, E)`` and weights ``(N, L, S)`` (averaged over heads)
    or ``(N, h, L, S)``; ``batch_first=True`` puts ``N`` first; unbatched ``(L, E)`` works.
    Masks: ``key_padding_mask (N, S)`` and ``attn_mask (L, S)`` or ``(N*h, L, S)``, boolean
    (True: may NOT attend) or float (added to the scores). ``is_causal=True`` is a hint that
    ``attn_mask`` is the causal mask and needs it; as in PyTorch's autograd path, without a
    key padding mask and with ``need_weights=False`` the hint wins (``attn_mask`` is ignored
    and query ``i`` sees keys ``j <= i``), otherwise ``attn_mask`` is used as given.
    (PyTorch's fused inference path, taken in eval mode without autograd, reads the mask
    and ignores the hint, even a hint without a mask; chainrule has only the one path.)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: int | None = None, vdim: int | None = None, batch_first: bool = False,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"MultiheadAttention: embed_dim and num_heads must be greater "
                             f"than 0, got embed_dim={embed_dim} and num_heads={num_heads}")
        if embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                             f"num_heads ({num_heads})")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        self.add_zero_attn = add_zero_attn
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        E = embed_dim
        if self._qkv_same_embed_dim:
            self.in_proj_weight = Parameter(np.empty((3 * E, E), dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = Parameter(np.empty((E, E), dt))
            self.k_proj_weight = Parameter(np.empty((E, self.kdim), dt))
            self.v_proj_weight = Parameter(np.empty((E, self.vdim), dt))
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * E, dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(E, E, bias=bias, dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(np.empty((1, 1, E), dt))
            self.bias_v = Parameter(np.empty((1, 1, E), dt))
        else:
            self.bias_k = self.bias_v = None
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """Xavier-uniform projections, zero biases (out_proj.weight keeps Linear's init)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Tensor | None = None, need_weights: bool = True,
                attn_mask: Tensor | None = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Tensor | None]:
        kpm = _float_mask("key_padding_mask", key_padding_mask, query._data.dtype)
        mask = _float_mask("attn_mask", attn_mask, query._data.dtype)
        batched = query.ndim == 3
        if query.ndim not in (2, 3) or key.ndim != query.ndim or value.ndim != query.ndim:
            raise ShapeError(f"MultiheadAttention: expected query, key and value all 3-D "
                             f"(batched) or 2-D (unbatched), got shapes {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        if is_causal and mask is None:
            raise RuntimeError("MultiheadAttention: need attn_mask if specifying the is_causal "
                               "hint (is_causal=True says attn_mask is causal; make one with "
                               "Transformer.generate_square_subsequent_mask(L))")
        if not batched:  # (L, E) -> (L, 1, E)
            if query is key and key is value:
                query = key = value = query.unsqueeze(1)
            else:
                query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if kpm is not None:
                kpm = kpm[None]
        elif self.batch_first:  # (N, L, E) -> (L, N, E), keeping self-attention's identity
            if query is key and key is value:
                query = key = value = query.transpose(0, 1)
            else:
                query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        out, weights = self._attend(query, key, value, kpm, need_weights, mask,
                                    average_attn_weights, is_causal)
        if not batched:
            out = out.squeeze(1)
            weights = weights.squeeze(0) if weights is not None else None
        elif self.batch_first:
            out = out.transpose(0, 1)
        return out, weights

    def _project(self, query: Tensor, key: Tensor,
                 value: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """q, k, v = the inputs times the (slices of the) input projection, plus bias."""
        E = self.embed_dim
        b = self.in_proj_bias
        bq, bk, bv = (None, None, None) if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        if self._qkv_same_embed_dim:
            W = self.in_proj_weight
            if query is key and key is value:  # self-attention: one matmul, then split
                q, k, v = _chunk(linear(query, W, b), 3, dim=-1)
                return q, k, v
            return (linear(query, W[:E], bq), linear(key, W[E:2 * E], bk),
                    linear(value, W[2 * E:], bv))
        return (linear(query, self.q_proj_weight, bq), linear(key, self.k_proj_weight, bk),
                linear(value, self.v_proj_weight, bv))

    def _attend(self, query: Tensor, key: Tensor, value: Tensor, kpm: np.ndarray | None,
                need_weights: bool, mask: np.ndarray | None, average_attn_weights: bool,
                is_causal: bool) -> tuple[Tensor, Tensor | None]:
        """Attention over ``(L,N,E)`` inputs with additive masks ``kpm (N,S)`` and
        ``mask (L,S) | (N*h,L,S)``."""
        L, N, E = query.shape
        h, hd = self.num_heads, self.head_dim
        if E != self.embed_dim:
            raise ShapeError(f"MultiheadAttention: query has {E} features, expected embed_dim "
                             f"{self.embed_dim}")
        if key.shape[:2] != value.shape[:2]:
            raise ShapeError(f"MultiheadAttention: key {tuple(key.shape)} and value "
                             f"{tuple(value.shape)} must have the same sequence length and "
                             f"batch size")
        q, k, v = self._project(query, key, value)  # (L,N,E), (S,N,E), (S,N,E)
        # PyTorch trusts the is_causal hint only where attn_mask is used alone and no weights
        # are returned: then attn_mask is dropped and the kernel builds the causal mask (a
        # top-left lower triangle over all the keys, bias_k and zero-attention keys included)
        causal = is_causal and kpm is None and not need_weights
        if causal:
            mask = None
        if self.bias_k is not None:
            k = _shape.cat([k, self.bias_k.expand(1, N, E)], dim=0)
            v = _shape.cat([v, self.bias_v.expand(1, N, E)], dim=0)
            mask = None if mask is None else _pad_last(mask)
            kpm = None if kpm is None else _pad_last(kpm)
        S = k.shape[0]
        # (L,N,E) -> (L,N,h,hd) -> (N,h,L,hd): one head per slice of hd features
        q = q.reshape(L, N, h, hd).permute(1, 2, 0, 3)
        k = k.reshape(S, N, h, hd).permute(1, 2, 0, 3)
        v = v.reshape(S, N, h, hd).permute(1, 2, 0, 3)
        if self.add_zero_attn:
            zeros = Tensor._make(np.zeros((N, h, 1, hd), q._data.dtype))
            k, v = _shape.cat([k, zeros], dim=2), _shape.cat([v, zeros], dim=2)
            mask = None if mask is None else _pad_last(mask)
            kpm = None if kpm is None else _pad_last(kpm)
            S += 1
        merged = _merge_masks(mask, kpm, N, h, L, S)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:  # the weights explicitly: softmax(q k^T * scale + mask), then P v
            scores = (q * math.sqrt(1.0 / hd)) @ k.transpose(-2, -1)  # (N,h,L,hd)(N,h,hd,S)
            if merged is not None:
                scores = scores + Tensor._make(merged)
            weights = dropout(softmax(scores, dim=-1), p) if p > 0 else softmax(scores, dim=-1)
            out = weights @ v  # (N,h,L,S)(N,h,S,hd) -> (N,h,L,hd)
            weights = weights.mean(dim=1) if average_attn_weights else weights
        else:
            m = None if merged is None else Tensor._make(merged)
            out = scaled_dot_product_attention(q, k, v, attn_mask=m, dropout_p=p,
                                               is_causal=causal)
        out = out.permute(2, 0, 1, 3).reshape(L, N, E)  # (N,h,L,hd) -> (L,N,h,hd) -> (L,N,E)
        return self.out_proj(out), weights

    def extra_repr(self) -> str:
        return ""


def _float_mask(name: str, mask: Any, dtype: np.dtype) -> np.ndarray | None:
    """A boolean mask (True: masked out) as 0 / -inf; a float mask as it is."""
    if mask is None:
        return None
    a = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if a.dtype == bool:
        return np.where(a, -np.inf, 0.0).astype(dtype)
    if a.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: only bool and floating types of {name} are "
                        f"supported, got {a.dtype}")
    return a.astype(dtype)


def _pad_last(mask: np.ndarray) -> np.ndarray:
    """One more key column, not masked (for bias_k/bias_v or the zero attention key)."""
    return np.concatenate([mask, np.zeros(mask.shape[:-1] + (1,), mask.dtype)], axis=-1)


def _merge_masks(mask: np.ndarray | None, kpm: np.ndarray | None, N: int, h: int, L: int,
                 S: int) -> np.ndarray | None:
    """attn_mask ``(L,S)`` or ``(N*h,L,S)`` plus key_padding_mask ``(N,S)``: ``(N|1,h|1,L,S)``."""
    out = None
    if mask is not None:
        if mask.shape == (L, S):
            out = mask
        elif mask.shape == (N * h, L, S):
            out = mask.reshape(N, h, L, S)
        else:
            raise ShapeError(f"MultiheadAttention: attn_mask of shape {tuple(mask.shape)} should "
                             f"be {(L, S)} or {(N * h, L, S)}")
    if kpm is not None:
        if kpm.shape != (N, S):
            raise ShapeError(f"MultiheadAttention: key_padding_mask of shape "
                             f"{tuple(kpm.shape)} should be {(N, S)}")
        kpm = kpm.reshape(N, 1, 1, S)
        out = kpm if out is None else out + kpm
    return out
