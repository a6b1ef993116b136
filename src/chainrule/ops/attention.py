"""Scaled dot-product attention as one graph node whose backward is the chain of its parts.

Forward, for queries ``Q (B,h,T,d)``, keys ``K (B,h,S,d)`` and values ``V (B,h,S,dv)``::

    S = Q K^T * scale + mask        (B,h,T,S)   scores
    P = softmax(S) along the keys   (B,h,T,S)   attention weights
    Y = P V                         (B,h,T,dv)

Backward, the seeds' nodes run in reverse (matmul, softmax, matmul)::

    dV = P^T dY,  dP = dY V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = dS K * scale,
    dK = dS^T Q * scale

``dS`` is softmax's Jacobian-vector product (``ops/activation.py: Softmax``) applied row by
row, without forming a ``(S, S)`` Jacobian per row. A row whose keys are all masked gives
zero weights, a zero output and zero gradients, as PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops._broadcast import unbroadcast
from chainrule.ops._errors import ShapeError
from chainrule.random import _np_generator
from chainrule.tensor import Tensor

# nn.functional's only, as in PyTorch
__all__: list[str] = []


class ScaledDotProductAttention(Op):
    """Y = softmax(Q K^T * scale + mask) V, the softmax P taken along the keys."""

    save_inputs = (0, 1, 2, 3)
    shapes = {"Q": "(B,h,T,d)", "K": "(B,h,S,d)", "V": "(B,h,S,dv)", "mask": "(*m)",
              "Y": "(B,h,T,dv)"}

    def forward(self, Q: np.ndarray, K: np.ndarray, V: np.ndarray,
                mask: np.ndarray | None = None, *, scale: float,
                keep: np.ndarray | None) -> np.ndarray:
        self.mask, self.scale, self.keep = mask, scale, keep
        S = Q @ np.swapaxes(K, -1, -2)  # (B,h,T,d)(B,h,d,S) -> (B,h,T,S)
        S *= Q.dtype.type(scale)
        if mask is not None:
            S = S + mask if S.shape != np.broadcast_shapes(S.shape, mask.shape) else _iadd(S, mask)
        self.P = _safe_softmax(S)  # (B,h,T,S)
        self.Pd = self.P if keep is None else self.P * keep  # after dropout
        return self.Pd @ V  # (B,h,T,S)(B,h,S,dv) -> (B,h,T,dv)

    def backward(self, dY: Any) -> tuple[Any, Any, Any]:
        """dV = P.T @ dY  (B,h,S,dv) = (B,h,S,T)(B,h,T,dv)
        dP = dY @ V.T  (B,h,T,S) = (B,h,T,dv)(B,h,dv,S)
        dS = P * (dP - rowsum(dP * P))  (B,h,T,S) = (B,h,T,S)(B,h,T,S)
        dQ = dS @ K * scale  (B,h,T,d) = (B,h,T,S)(B,h,S,d)
        dK = dS.T @ Q * scale  (B,h,S,d) = (B,h,S,T)(B,h,T,d)
        dmask = sum_to(dS, mask.shape)  (*m) = (B,h,T,S)"""
        need = self.needs_input_grad
        need_mask = need[3]
        Q, K, V = self.input(0), self.input(1), self.input(2)
        P, Pd = self._weights(Q, K)
        dQ = dK = dV = dmask = None
        if need[2]:
            dV = unbroadcast(_math.matmul(_math.swapaxes(Pd, -1, -2), dY), self.input_shapes[2])
        if need[0] or need[1] or need_mask:
            dP = _math.matmul(dY, _math.swapaxes(V, -1, -2))  # (B,h,T,dv)(B,h,dv,S)
            if self.keep is not None:
                dP = dP * self.keep
            if isinstance(dP, np.ndarray):  # the same rule, in place on the fresh dP
                dP -= (dP * P).sum(axis=-1, keepdims=True)
                dP *= P
                dS = dP
            else:
                dS = P * (dP - (dP * P).sum(axis=-1, keepdims=True))  # softmax's JVP, per row
            if need[0]:
                dQ = unbroadcast(_scaled(_math.matmul(dS, K), self.scale), self.input_shapes[0])
            if need[1]:
                dK = _scaled(_math.matmul(_math.swapaxes(dS, -1, -2), Q), self.scale)
                dK = unbroadcast(dK, self.input_shapes[1])
            if need_mask:  # a learned additive bias: its gradient is the scores'
                dmask = unbroadcast(dS, self.input_shapes[3])
        return dQ, dK, dV, dmask

    def _weights(self, Q: Any, K: Any) -> tuple[Any, Any]:
        """P and P after dropout: saved arrays, or recomputed from Q and K under create_graph."""
        if not self.create_graph:
            return self.P, self.Pd
        from chainrule.ops.activation import softmax

        S = _math.matmul(Q, _math.swapaxes(K, -1, -2)) * self.scale
        valid = None
        if isinstance(self._saved_inputs[3], Tensor):  # a mask that requires grad, recorded
            S = S + self.input(3)
        elif self.mask is not None:
            finite = np.where(np.isneginf(self.mask), -1e30, self.mask).astype(self.mask.dtype)
            S = S + finite
            valid = np.isfinite(self.mask).any(axis=-1, keepdims=True)
        P = softmax(S, dim=-1)
        if valid is not None and not valid.all():
            P = P * valid.astype(self.mask.dtype)  # fully masked rows: zero weights
        return P, (P if self.keep is None else P * self.keep)


def _iadd(S: np.ndarray, mask: np.ndarray) -> np.ndarray:
    S += mask
    return S


def _scaled(x: Any, scale: float) -> Any:
    """x * scale (in place for a fresh array)."""
    if isinstance(x, np.ndarray):
        x *= x.dtype.type(scale)
        return x
    return x * scale


def _safe_softmax(S: np.ndarray) -> np.ndarray:
    """Softmax along the last axis, in place on the fresh scores ``S``; a row of -inf gives
    zeros instead of NaN."""
    m = S.max(axis=-1, keepdims=True)
    if not np.isfinite(m).all():
        m = np.where(np.isneginf(m), 0, m)
    S -= m
    E = np.exp(S, out=S)
    Z = E.sum(axis=-1, keepdims=True)
    if not Z.all():
        Z[Z == 0] = 1
    E /= Z
    return E


def _additive_mask(attn_mask: Any, is_causal: bool, T: int, S: int,
                   dtype: np.dtype) -> np.ndarray | None:
    """The additive mask: 0 or -inf for a boolean ``attn_mask``, its values for a float one,
    plus, for ``is_causal``, -inf above the top-left ``(T, S)`` lower triangle; or None."""
    causal = None
    if is_causal:
        causal = np.where(np.tril(np.ones((T, S), dtype=bool)), 0.0, -np.inf).astype(dtype)
    if attn_mask is None:
        return causal
    m = attn_mask._data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
    m = np.where(m, 0.0, -np.inf).astype(dtype) if m.dtype == bool else m.astype(dtype)
    return m if causal is None else m + causal


def _repeat_heads(x: Tensor, groups: int) -> Tensor:
    """(B,hk,S,d) -> (B,hk*groups,S,d), each head repeated ``groups`` times in a row."""
    *lead, hk, S, d = x.shape
    x = x.unsqueeze(-3).expand(*lead, hk, groups, S, d)
    return x.reshape(*lead, hk * groups, S, d)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(Q K^T * scale + mask) V`` for ``Q (*,T,d)``, ``K (*,S,d)``, ``V (*,S,dv)``.

    ``attn_mask`` (broadcast to ``(*,T,S)``): boolean, True where a query may attend, or
    float, added to the scores. ``is_causal`` lets query ``i`` see keys ``j <= i`` (the
    top-left triangle when ``T != S``); with an ``attn_mask`` too, both apply, as in
    PyTorch's CPU kernels (which raise, as its documentation says, when ``dv != d``).
    ``scale`` defaults to ``1/sqrt(d)``. ``dropout_p > 0`` drops attention weights (the
    caller passes 0 in evaluation, as PyTorch's modules do). ``enable_gqa`` lets ``K, V``
    have fewer heads (dim -3) than ``Q``, each serving a group of query heads.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, Tensor):
            raise TypeError(f"scaled_dot_product_attention: {name} must be a Tensor, got "
                            f"{type(t).__name__}")
        if t.ndim < 2 or t._data.dtype.kind != "f":
            raise ShapeError(f"scaled_dot_product_attention: {name} must be a floating tensor "
                             f"of at least 2 dims (*, L, E), got shape {tuple(t.shape)}, dtype "
                             f"{t.dtype}")
    T, d = query.shape[-2:]
    S = key.shape[-2]
    if key.shape[-1] != d or value.shape[-2] != S:
        raise ShapeError(f"scaled_dot_product_attention: query {tuple(query.shape)}, key "
                         f"{tuple(key.shape)} and value {tuple(value.shape)} do not fit: "
                         f"expected query (*,T,d), key (*,S,d), value (*,S,dv)")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        hq, hk = query.shape[-3], key.shape[-3]
        if hq % hk or value.shape[-3] != hk:
            raise ShapeError(f"scaled_dot_product_attention: with enable_gqa the query heads "
                             f"({hq}) must be a multiple of the key/value heads ({hk}, "
                             f"{value.shape[-3]})")
        key, value = _repeat_heads(key, hq // hk), _repeat_heads(value, hq // hk)
    if is_causal and attn_mask is not None and value.shape[-1] != d:
        # PyTorch documents both together as an error; its CPU kernels raise it only here
        # and otherwise apply both (the mask plus the causal triangle), as below
        raise RuntimeError(f"scaled_dot_product_attention: explicit attn_mask (shape "
                           f"{tuple(np.shape(attn_mask))}) should not be set when "
                           f"is_causal=True; add the causal mask into attn_mask instead")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"scaled_dot_product_attention: dropout_p must be in [0, 1], got "
                         f"{dropout_p}")
    dtype = query._data.dtype
    mask = _additive_mask(attn_mask, is_causal, T, S, dtype)
    if mask is not None:
        try:
            np.broadcast_shapes(mask.shape, query.shape[:-2] + (T, S))
        except ValueError:
            raise ShapeError(f"scaled_dot_product_attention: attn_mask of shape "
                             f"{tuple(mask.shape)} does not broadcast to the scores' shape "
                             f"{tuple(query.shape[:-2]) + (T, S)}") from None
    keep = None
    if dropout_p > 0:
        shape = np.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + (T, S)
        kept = _np_generator(None).random(shape, dtype=np.float32) >= dropout_p
        keep = kept * np.asarray(0 if dropout_p == 1 else 1 / (1 - dropout_p), dtype)
    scale = 1 / math.sqrt(d) if scale is None else float(scale)
    if (isinstance(attn_mask, Tensor) and attn_mask.requires_grad
            and attn_mask._data.dtype.kind == "f"):  # a learned additive bias: recorded
        learned = attn_mask.to(dtype) if attn_mask._data.dtype != dtype else attn_mask
        return ScaledDotProductAttention.apply(query, key, value, learned, scale=scale,
                                               keep=keep)
    return ScaledDotProductAttention.apply(query, key, value, mask, scale=scale, keep=keep)
