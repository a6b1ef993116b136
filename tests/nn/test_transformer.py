"""The Transformer family's causal hints against PyTorch 2.13: ``is_causal`` on
MultiheadAttention and the encoder/decoder layers, the stacks' detection of a causal mask
(``is_causal=None``), ``Transformer``'s ``src/tgt/memory_is_causal``; outputs, input and
parameter gradients over masks (none, causal float/bool, not causal, 3-D), hints, key
padding masks, ``batch_first``, ``norm_first`` and train/eval; errors of the same type."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.modules.transformer import _detect_causal

torch = pytest.importorskip("torch")
pytestmark = [pytest.mark.filterwarnings("ignore:Support for mismatched"),  # PyTorch's own
              pytest.mark.filterwarnings("ignore:enable_nested_tensor is True")]

E, H, N = 8, 2, 3  # d_model, heads, batch
TOL = 1e-9


def _mask(spec: str | None, rows: int, cols: int, rng: np.random.Generator) -> np.ndarray | None:
    """A mask by name: None, 'causal' (float, -inf above the diagonal), 'causal_bool' (True
    above it), 'float' (random, not causal), 'bool' (random, no row fully masked), '3d'
    (the causal mask per batch and head, ``(N*H, rows, cols)``)."""
    future = np.triu(np.ones((rows, cols), bool), 1)
    if spec is None:
        return None
    if spec == "causal":
        return np.where(future, -np.inf, 0.0)
    if spec == "causal_bool":
        return future
    if spec == "float":
        return rng.standard_normal((rows, cols))
    if spec == "bool":
        m = rng.random((rows, cols)) > 0.6
        m[:, 0] = False
        return m
    if spec == "3d":
        return np.broadcast_to(np.where(future, -np.inf, 0.0), (N * H, rows, cols)).copy()
    raise ValueError(spec)


def _kpm(use: bool, length: int) -> np.ndarray | None:
    """Key padding: the last key of the second sequence is padding (never a whole row)."""
    if not use:
        return None
    m = np.zeros((N, length), bool)
    m[1, -1] = True
    return m


def _copy_state(ours, theirs, rng) -> None:
    sd = {k: rng.standard_normal(tuple(v.shape)) * 0.5 for k, v in theirs.state_dict().items()}
    theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    ours.load_state_dict({k: cr.tensor(v) for k, v in sd.items()})


def _seq(length: int, batch_first: bool, rng) -> np.ndarray:
    x = rng.standard_normal((length, N, E))
    return x.transpose(1, 0, 2).copy() if batch_first else x


def _check(ours, theirs, inputs, kwargs, train=True):
    """Run both modules on the same inputs (ndarrays) and keyword arguments (ndarray masks,
    flags); equal outputs, input gradients and parameter gradients, or the same error."""
    rng = np.random.default_rng(1)
    ours.double().train(train)
    theirs.double().train(train)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _copy_state(ours, theirs, rng)
    conv_c = {k: cr.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    conv_t = {k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    xs = [cr.tensor(a, requires_grad=True) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    try:
        ty = theirs(*ts, **conv_t)
    except Exception as e:  # PyTorch refuses: so must we, with the same exception type
        with pytest.raises(type(e), match="is_causal"):
            ours(*xs, **conv_c)
        return "error"
    y = ours(*xs, **conv_c)
    if isinstance(ty, tuple):
        y, ty = y[0], ty[0]
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=TOL, atol=TOL)
    cot = rng.standard_normal(tuple(y.shape))
    (y * cr.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=TOL, atol=TOL)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=TOL, atol=TOL,
                                   err_msg=name)
    return "ok"


SELF_MASKS = [None, "causal", "causal_bool", "float", "bool"]


# -- TransformerEncoderLayer ---------------------------------------------------------------


@pytest.mark.parametrize("norm_first, batch_first", list(itertools.product(*[[False, True]] * 2)))
@pytest.mark.parametrize("mask", SELF_MASKS)
@pytest.mark.parametrize("is_causal", [False, True])
@pytest.mark.parametrize("padding", [False, True])
def test_encoder_layer_is_causal(norm_first, batch_first, mask, is_causal, padding) -> None:
    rng = np.random.default_rng(0)
    S = 5
    kw = {"dim_feedforward": 16, "dropout": 0.0, "norm_first": norm_first,
          "batch_first": batch_first}
    args = {"src_mask": _mask(mask, S, S, rng), "src_key_padding_mask": _kpm(padding, S),
            "is_causal": is_causal}
    outcome = _check(nn.TransformerEncoderLayer(E, H, **kw),
                     torch.nn.TransformerEncoderLayer(E, H, **kw),
                     [_seq(S, batch_first, rng)], args)
    assert outcome == ("error" if is_causal and mask is None else "ok")


def test_encoder_layer_hint_replaces_the_mask_as_pytorch() -> None:
    """is_causal=True with a mask that is not causal: without key padding PyTorch applies
    the causal mask instead of src_mask; the output is that of the causal mask."""
    rng = np.random.default_rng(5)
    layer = nn.TransformerEncoderLayer(E, H, 16, 0.0).double()
    x = cr.tensor(rng.standard_normal((4, N, E)))
    hinted = layer(x, src_mask=cr.tensor(rng.standard_normal((4, 4))), is_causal=True)
    causal = layer(x, src_mask=nn.Transformer.generate_square_subsequent_mask(4).double())
    np.testing.assert_allclose(hinted.detach().numpy(), causal.detach().numpy(), atol=1e-12)


# -- TransformerDecoderLayer ---------------------------------------------------------------


DECODER_LAYER_CASES = [  # (tgt_mask, tgt_is_causal, memory_mask, memory_is_causal, padding)
    *[(m, c, "causal", False, p) for m, c, p in itertools.product(SELF_MASKS, [False, True],
                                                                  [False, True])],
    *[("causal", True, m, c, p) for m, c, p in itertools.product([None, "causal", "float"],
                                                                 [False, True], [False, True])],
]


@pytest.mark.parametrize("i", range(len(DECODER_LAYER_CASES)))
def test_decoder_layer_is_causal(i) -> None:
    tgt_mask, tgt_is_causal, memory_mask, memory_is_causal, padding = DECODER_LAYER_CASES[i]
    norm_first = batch_first = bool(i % 2)
    rng = np.random.default_rng(1)
    T, S = 4, 6  # memory_is_causal's causal mask is the top-left (T, S) triangle
    kw = {"dim_feedforward": 16, "dropout": 0.0, "norm_first": norm_first,
          "batch_first": batch_first}
    args = {"tgt_mask": _mask(tgt_mask, T, T, rng), "memory_mask": _mask(memory_mask, T, S, rng),
            "tgt_key_padding_mask": _kpm(padding, T),
            "memory_key_padding_mask": _kpm(padding, S), "tgt_is_causal": tgt_is_causal,
            "memory_is_causal": memory_is_causal}
    outcome = _check(nn.TransformerDecoderLayer(E, H, **kw),
                     torch.nn.TransformerDecoderLayer(E, H, **kw),
                     [_seq(T, batch_first, rng), _seq(S, batch_first, rng)], args)
    refused = (tgt_is_causal and tgt_mask is None) or (memory_is_causal and memory_mask is None)
    assert outcome == ("error" if refused else "ok")


# -- the stacks: is_causal=None detects a causal mask --------------------------------------


@pytest.mark.parametrize("mask", [*SELF_MASKS, "3d"])
@pytest.mark.parametrize("is_causal", [None, False, True])
@pytest.mark.parametrize("padding", [False, True])
def test_encoder_stack_is_causal(mask, is_causal, padding) -> None:
    batch_first, train = padding, mask in (None, "causal", "float")  # eval keeps autograd on
    rng = np.random.default_rng(2)
    S = 5
    kw = {"dim_feedforward": 16, "dropout": 0.0, "batch_first": batch_first}
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, **kw), 2, nn.LayerNorm(E))
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kw), 2,
                                         torch.nn.LayerNorm(E), enable_nested_tensor=False)
    args = {"mask": _mask(mask, S, S, rng), "src_key_padding_mask": _kpm(padding, S),
            "is_causal": is_causal}
    outcome = _check(ours, theirs, [_seq(S, batch_first, rng)], args, train)
    assert outcome == ("error" if is_causal and mask is None else "ok")


@pytest.mark.parametrize("tgt_mask", [*SELF_MASKS, "3d"])
@pytest.mark.parametrize("tgt_is_causal", [None, False, True])
def test_decoder_stack_is_causal(tgt_mask, tgt_is_causal) -> None:
    batch_first = memory_is_causal = tgt_is_causal is not False
    rng = np.random.default_rng(3)
    T, S = 4, 5
    kw = {"dim_feedforward": 16, "dropout": 0.0, "batch_first": batch_first}
    ours = nn.TransformerDecoder(nn.TransformerDecoderLayer(E, H, **kw), 2)
    theirs = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(E, H, **kw), 2)
    args = {"tgt_mask": _mask(tgt_mask, T, T, rng), "memory_mask": _mask("causal", T, S, rng),
            "tgt_is_causal": tgt_is_causal, "memory_is_causal": memory_is_causal}
    outcome = _check(ours, theirs, [_seq(T, batch_first, rng), _seq(S, batch_first, rng)], args)
    assert outcome == ("error" if tgt_is_causal and tgt_mask is None else "ok")


TRANSFORMER_CASES = [  # (src_mask, src_is_causal, tgt_mask, tgt_is_causal, memory_mask,
    #                        memory_is_causal): each pair of flags varied on its own
    *[(m, c, "causal", None, None, False) for m, c in
      [(None, None), ("causal", None), ("float", True), ("causal", False), (None, True)]],
    *[(None, None, m, c, None, False) for m, c in
      [(None, None), ("causal_bool", None), ("bool", True), ("causal", False), (None, True)]],
    *[("causal", True, "causal", True, m, c) for m, c in
      [(None, False), ("causal", True), ("float", True), (None, True)]],
]


@pytest.mark.parametrize("i", range(len(TRANSFORMER_CASES)))
def test_transformer_is_causal(i) -> None:
    src_mask, src_is_causal, tgt_mask, tgt_is_causal, memory_mask, memory_is_causal = (
        TRANSFORMER_CASES[i])
    norm_first = bool(i % 2)
    rng = np.random.default_rng(4)
    S, T = 6, 4
    kw = {"dim_feedforward": 16, "dropout": 0.0, "batch_first": True, "norm_first": norm_first}
    args = {"src_mask": _mask(src_mask, S, S, rng), "tgt_mask": _mask(tgt_mask, T, T, rng),
            "memory_mask": _mask(memory_mask, T, S, rng), "src_is_causal": src_is_causal,
            "tgt_is_causal": tgt_is_causal, "memory_is_causal": memory_is_causal,
            "src_key_padding_mask": _kpm(True, S)}
    outcome = _check(nn.Transformer(E, H, 1, 2, **kw), torch.nn.Transformer(E, H, 1, 2, **kw),
                     [_seq(S, True, rng), _seq(T, True, rng)], args)
    refused = any(hint and mask is None for hint, mask in [
        (src_is_causal, src_mask), (tgt_is_causal, tgt_mask), (memory_is_causal, memory_mask)])
    assert outcome == ("error" if refused else "ok")


def test_unbatched_inputs_with_hints() -> None:
    rng = np.random.default_rng(6)
    kw = {"dim_feedforward": 16, "dropout": 0.0, "batch_first": True}
    enc_c = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, **kw), 1)
    enc_t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kw), 1,
                                        enable_nested_tensor=False)
    assert _check(enc_c, enc_t, [rng.standard_normal((5, E))],
                  {"mask": _mask("causal", 5, 5, rng)}) == "ok"
    dec_c = nn.TransformerDecoderLayer(E, H, **kw)
    dec_t = torch.nn.TransformerDecoderLayer(E, H, **kw)
    assert _check(dec_c, dec_t, [rng.standard_normal((4, E)), rng.standard_normal((6, E))],
                  {"tgt_mask": _mask("float", 4, 4, rng), "tgt_is_causal": True,
                   "memory_mask": _mask("3d", 4, 6, rng)[:H], "memory_is_causal": True}) == "ok"


def test_eval_without_grad_matches_pytorchs_fast_path() -> None:
    """In eval under no_grad PyTorch takes its fused encoder path (which reads the mask, not
    the hint): with a truly causal mask the values agree."""
    rng = np.random.default_rng(7)
    kw = {"dim_feedforward": 16, "dropout": 0.0, "batch_first": True}
    ours = nn.TransformerEncoder(nn.TransformerEncoderLayer(E, H, **kw), 2).double().eval()
    theirs = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(E, H, **kw), 2,
                                         enable_nested_tensor=False).double().eval()
    _copy_state(ours, theirs, rng)
    x, m = rng.standard_normal((N, 5, E)), _mask("causal", 5, 5, rng)
    with cr.no_grad():
        y = ours(cr.tensor(x), mask=cr.tensor(m), is_causal=True)
    with torch.no_grad():
        ty = theirs(torch.tensor(x), mask=torch.tensor(m), is_causal=True)
    np.testing.assert_allclose(y.numpy(), ty.numpy(), rtol=1e-9, atol=1e-9)


# -- detection, the causal mask, errors ----------------------------------------------------


@pytest.mark.parametrize("spec", [None, *SELF_MASKS[1:], "3d", "wrong_size", "neg_large",
                                  "float32"])
@pytest.mark.parametrize("hint", [None, True, False])
def test_detect_causal_matches_pytorch(spec, hint) -> None:
    from torch.nn.modules.transformer import _detect_is_causal_mask

    rng = np.random.default_rng(8)
    if spec == "wrong_size":
        m = _mask("causal", 4, 4, rng)
    elif spec == "neg_large":
        m = np.where(_mask("causal_bool", 5, 5, rng), -1e9, 0.0)
    elif spec == "float32":
        m = _mask("causal", 5, 5, rng).astype(np.float32)
    else:
        m = _mask(spec, 5, 5, rng)
    expected = _detect_is_causal_mask(None if m is None else torch.tensor(m), hint, 5)
    assert _detect_causal(None if m is None else cr.tensor(m), hint, 5) is expected


@pytest.mark.parametrize("dtype", [None, "float32", "float64"])
def test_generate_square_subsequent_mask(dtype) -> None:
    ours = nn.Transformer.generate_square_subsequent_mask(
        5, dtype=None if dtype is None else getattr(cr, dtype))
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(
        5, dtype=None if dtype is None else getattr(torch, dtype))
    assert ours.numpy().dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert _detect_causal(ours, None, 5)


def test_hint_without_a_mask_is_refused_with_a_clear_message() -> None:
    x = cr.randn(4, N, E)
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        nn.TransformerEncoderLayer(E, H, 16)(x, is_causal=True)
    with pytest.raises(RuntimeError, match="generate_square_subsequent_mask"):
        nn.TransformerDecoderLayer(E, H, 16)(x, x, memory_is_causal=True)
    with pytest.raises(RuntimeError, match="is_causal"):
        nn.Transformer(E, H, 1, 1, 16)(x, x, src_is_causal=True)
