"""Transformer encoder and decoder layers and stacks, and ``Transformer``, as PyTorch
(arguments, submodule names and so state-dict keys, post-norm or ``norm_first`` pre-norm)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.nn import init
from chainrule.nn.modules.attention import MultiheadAttention
from chainrule.nn.modules.container import ModuleList
from chainrule.nn.modules.dropout import Dropout
from chainrule.nn.modules.layer_norm import LayerNorm
from chainrule.nn.modules.linear import Linear
from chainrule.nn.modules.module import Module
from chainrule.ops.activations_more import gelu
from chainrule.ops.elementwise import relu
from chainrule.tensor import Tensor

__all__ = ["TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
           "TransformerDecoder", "Transformer"]


def _activation(activation: str | Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return relu
    if activation == "gelu":
        return gelu
    if callable(activation):
        return activation
    raise RuntimeError(f"activation should be relu/gelu, not {activation}")


class _TransformerLayer(Module):
    """The set-up the encoder and decoder layers share (PyTorch's constructor arguments):
    one ``MultiheadAttention(d_model, nhead)`` per name in the class's ``_attn_names``, the
    feed-forward network ``linear1`` -> ``activation`` -> ``dropout`` -> ``linear2``, and a
    LayerNorm ``norm{i}`` and Dropout ``dropout{i}`` per residual block (one per attention,
    then the feed-forward block's). Submodules are registered in PyTorch's order, so the
    state-dict keys and their order are PyTorch's.
    """

    _attn_names: tuple[str, ...] = ("self_attn",)

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: str | Callable[[Tensor], Tensor] = "relu",
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        for name in self._attn_names:
            self.add_module(name, MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                     batch_first=batch_first, dtype=dtype))
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, dtype=dtype)
        self.norm_first = norm_first
        blocks = range(1, len(self._attn_names) + 2)
        for i in blocks:
            self.add_module(f"norm{i}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias,
                                                  dtype=dtype))
        for i in blocks:
            self.add_module(f"dropout{i}", Dropout(dropout))
        self.activation = _activation(activation)

    def _sa_block(self, x: Tensor, attn_mask: Any, key_padding_mask: Any,
                  is_causal: bool) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return getattr(self, f"dropout{len(self._attn_names) + 1}")(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention then a feed-forward network, each with a residual connection and
    LayerNorm: post-norm ``x = norm(x + block(x))``, or with ``norm_first`` pre-norm
    ``x = x + block(norm(x))``.

    Shape: src ``(S, N, E)`` (``batch_first``: ``(N, S, E)``) -> the same.
    ``is_causal=True`` is a hint that ``src_mask`` is the causal mask
    (``Transformer.generate_square_subsequent_mask``), as in ``MultiheadAttention``: it needs
    ``src_mask``, and without a key padding mask PyTorch applies the causal mask in place
    of ``src_mask``.
    """

    def forward(self, src: Tensor, src_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None, is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention over the target, attention to the encoder's memory, then a
    feed-forward network; each with a residual connection and LayerNorm (post- or pre-norm).

    Shape: tgt ``(T, N, E)``, memory ``(S, N, E)`` (``batch_first``: N first) -> ``(T, N, E)``.
    ``tgt_is_causal`` / ``memory_is_causal`` are hints that ``tgt_mask`` / ``memory_mask``
    are causal, with ``MultiheadAttention``'s ``is_causal`` semantics.
    """

    _attn_names = ("self_attn", "multihead_attn")

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None, tgt_is_causal: bool = False,
                memory_is_causal: bool = False) -> Tensor:
        x = tgt
        mem = (memory, memory_mask, memory_key_padding_mask, memory_is_causal)
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask, tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), *mem)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask, tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, *mem))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Any, key_padding_mask: Any,
                   is_causal: bool) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, need_weights=False,
                                is_causal=is_causal)[0]
        return self.dropout2(x)


def _clones(layer: Module, n: int) -> ModuleList:
    return ModuleList([copy.deepcopy(layer) for _ in range(n)])


def _seq_len(x: Tensor, layers: ModuleList) -> int:
    """The sequence length of ``x``: ``(S, E)``, ``(S, N, E)`` or ``(N, S, E)`` when the
    first layer's self-attention is ``batch_first``."""
    attn = getattr(layers[0], "self_attn", None) if len(layers) else None
    batch_first = bool(getattr(attn, "batch_first", False))
    return x.shape[1 if batch_first and x.ndim == 3 else 0]


def _detect_causal(mask: Any, is_causal: bool | None, size: int) -> bool:
    """The causal hint the stacks pass to their layers: ``is_causal`` when given (True only
    for ``True`` itself, as PyTorch), else whether ``mask`` is exactly the ``(size, size)``
    causal mask: -inf (float) or True (bool) strictly above the diagonal, 0 / False elsewhere."""
    if is_causal is not None:
        return is_causal is True
    if mask is None:
        return False
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.shape != (size, size):
        return False
    future = np.triu(np.ones((size, size), dtype=bool), k=1)
    if m.dtype == bool:
        return bool(np.array_equal(m, future))
    return bool(np.all(np.where(future, np.isneginf(m), m == 0)))


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` applied in turn, then ``norm`` if given.

    ``is_causal=None`` (the default) passes the layers ``is_causal=True`` exactly when
    ``mask`` is the ``(S, S)`` causal mask (float -inf or bool True above the diagonal);
    True or False is passed on as given.
    """

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int,
                 norm: Module | None = None, enable_nested_tensor: bool = True,
                 mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _clones(encoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src: Tensor, mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                is_causal: bool | None = None) -> Tensor:
        causal = _detect_causal(mask, is_causal, _seq_len(src, self.layers))
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask,
                      is_causal=causal)
        return self.norm(x) if self.norm is not None else x


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` applied in turn, then ``norm`` if given.

    ``tgt_is_causal=None`` detects a causal ``tgt_mask`` as ``TransformerEncoder`` does;
    ``memory_is_causal`` is passed on as given.
    """

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int,
                 norm: Module | None = None) -> None:
        super().__init__()
        self.layers = _clones(decoder_layer, num_layers)
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Tensor | None = None,
                memory_mask: Tensor | None = None, tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                tgt_is_causal: bool | None = None, memory_is_causal: bool = False) -> Tensor:
        causal = _detect_causal(tgt_mask, tgt_is_causal, _seq_len(tgt, self.layers))
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask,
                      memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=causal,
                      memory_is_causal=memory_is_causal)
        return self.norm(x) if self.norm is not None else x


class Transformer(Module):
    """An encoder-decoder Transformer ("Attention Is All You Need"), as PyTorch: an
    encoder of ``num_encoder_layers`` layers and a decoder of ``num_decoder_layers``, each
    followed by a LayerNorm; every weight matrix Xavier-uniform initialised.

    Shape: src ``(S, N, E)``, tgt ``(T, N, E)`` (``batch_first``: N first) -> ``(T, N, E)``.
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str | Callable[[Tensor], Tensor] = "relu",
                 custom_encoder: Module | None = None, custom_decoder: Module | None = None,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(*args, dtype=dtype)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.encoder = TransformerEncoder(layer, num_encoder_layers, norm)
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(*args, dtype=dtype)
            norm = LayerNorm(d_model, eps=layer_norm_eps, bias=bias, dtype=dtype)
            self.decoder = TransformerDecoder(layer, num_decoder_layers, norm)
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def _reset_parameters(self) -> None:
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Tensor | None = None,
                tgt_mask: Tensor | None = None, memory_mask: Tensor | None = None,
                src_key_padding_mask: Tensor | None = None,
                tgt_key_padding_mask: Tensor | None = None,
                memory_key_padding_mask: Tensor | None = None,
                src_is_causal: bool | None = None, tgt_is_causal: bool | None = None,
                memory_is_causal: bool = False) -> Tensor:
        batch_dim = 0 if self.batch_first else 1
        if src.ndim == 3 and src.shape[batch_dim] != tgt.shape[batch_dim]:
            raise RuntimeError("Transformer: the batch number of src and tgt must be equal")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise RuntimeError("Transformer: the feature number of src and tgt must be equal "
                               "to d_model")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None,
                                        dtype: Any = None) -> Tensor:
        """A ``(sz, sz)`` float mask: 0 on and below the diagonal, -inf above (the future)."""
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        mask = np.triu(np.full((sz, sz), -np.inf, dt), k=1)
        return Tensor._make(mask)
