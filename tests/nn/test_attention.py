"""Scaled dot-product attention (ops/attention.py), MultiheadAttention and the Transformer
layers against PyTorch: values, gradients (and second order for the attention node),
masks, parameter names, state dicts both ways."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.ops.attention import ScaledDotProductAttention
from tests.opcheck import check_op, make_inputs, torch

TF = None if torch is None else torch.nn.functional


def _masks(rng):
    bool_mask = rng.random((4, 6)) > 0.4
    bool_mask[:, 0] = True
    return [
        ({}, {}),
        ({"is_causal": True}, {"is_causal": True}),
        ({"scale": 0.3}, {"scale": 0.3}),
        ("bool", bool_mask),
        ("float", rng.standard_normal((3, 4, 6))),
    ]


@pytest.mark.parametrize("case", range(5))
def test_sdpa_gradients_second_order_and_parity(case) -> None:
    rng = np.random.default_rng(case)
    q, k, v = make_inputs([(2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7)], seed=case)
    kind, arg = _masks(rng)[case]
    if isinstance(kind, dict):
        cr_kw, t_kw = kind, arg
    else:
        cr_kw = {"attn_mask": cr.tensor(arg)}
        t_kw = {"attn_mask": torch.tensor(arg)} if torch else {}
    tfn = None if TF is None else (lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, **t_kw))
    check_op(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, **cr_kw), [q, k, v], tfn,
             gradgrad=True)


def test_sdpa_three_dims_broadcast_mask_and_gqa() -> None:
    q, k, v = make_inputs([(3, 4, 5), (3, 6, 5), (3, 6, 2)], seed=7)
    m = np.tril(np.ones((4, 6), bool))
    tfn = None
    if TF is not None:
        tfn = lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, torch.tensor(m))  # noqa: E731
    check_op(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, cr.tensor(m)),
             [q, k, v], tfn, gradgrad=False)
    q, k, v = make_inputs([(2, 4, 3, 5), (2, 2, 3, 5), (2, 2, 3, 5)], seed=8)
    if TF is not None:
        tfn = lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, enable_gqa=True)  # noqa: E731
    check_op(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, enable_gqa=True),
             [q, k, v], tfn, gradgrad=False)


@pytest.mark.parametrize("causal", [False, True])
def test_sdpa_learned_float_mask_gets_a_gradient(causal) -> None:
    q, k, v, m = make_inputs([(2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 3), (2, 1, 3, 5)], seed=5)
    causal_mask = np.triu(np.full((3, 5), -np.inf), 1) if causal else np.zeros((3, 5))
    tfn = None
    if TF is not None:
        tfn = lambda a, b, c, d: TF.scaled_dot_product_attention(  # noqa: E731
            a, b, c, attn_mask=d + torch.tensor(causal_mask))
    check_op(lambda a, b, c, d: F.scaled_dot_product_attention(
        a, b, c, attn_mask=d + cr.tensor(causal_mask, dtype=d.dtype)), [q, k, v, m], tfn)


@pytest.mark.parametrize("T, S", [(3, 5), (5, 3)])
def test_sdpa_is_causal_is_the_top_left_triangle(T, S) -> None:
    q, k, v = make_inputs([(2, 2, T, 4), (2, 2, S, 4), (2, 2, S, 3)], seed=S)
    tfn = None
    if TF is not None:
        tfn = lambda a, b, c: TF.scaled_dot_product_attention(a, b, c, is_causal=True)  # noqa: E731
    check_op(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, is_causal=True),
             [q, k, v], tfn, gradgrad=False)


@pytest.mark.parametrize("mask", ["float", "bool"])
def test_sdpa_is_causal_with_a_mask_applies_both_as_torch_on_cpu(mask) -> None:
    """With equal query and value head sizes PyTorch's CPU kernel accepts both and adds
    the causal triangle to the mask; programs written against it must run the same."""
    q, k, v, m = make_inputs([(2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4), (3, 5)], seed=8)
    if mask == "bool":
        m = np.random.default_rng(8).random((3, 5)) > 0.3
        m[:, 0] = True  # every query keeps a key
    tfn = None
    if TF is not None:
        tfn = lambda a, b, c: TF.scaled_dot_product_attention(  # noqa: E731
            a, b, c, attn_mask=torch.tensor(m), is_causal=True)
    check_op(lambda a, b, c: F.scaled_dot_product_attention(
        a, b, c, attn_mask=cr.tensor(m), is_causal=True), [q, k, v], tfn)
    causal = np.tril(np.ones((3, 5), dtype=bool))
    both = np.where(causal, m, False) if mask == "bool" else np.where(causal, m, -np.inf)
    args = [cr.tensor(a) for a in (q, k, v)]
    expected = F.scaled_dot_product_attention(*args, attn_mask=cr.tensor(both))
    got = F.scaled_dot_product_attention(*args, attn_mask=cr.tensor(m), is_causal=True)
    np.testing.assert_allclose(got.detach().numpy(), expected.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("dtype", ["bool", "float64"])
def test_sdpa_is_causal_with_a_mask_is_an_error_as_torch(dtype) -> None:
    """PyTorch documents the error (its CPU flash kernel, taken when the value and query
    head sizes agree, accepts both; its reference path raises, as here with dv != d)."""
    q, k, v = (np.ones(s) for s in [(1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 3)])
    m = np.ones((3, 5), dtype=dtype)
    if TF is not None:
        with pytest.raises(RuntimeError, match="should not be set when is_causal=True"):
            TF.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)),
                                            attn_mask=torch.tensor(m), is_causal=True)
    with pytest.raises(RuntimeError, match="should not be set when is_causal=True"):
        F.scaled_dot_product_attention(*map(cr.tensor, (q, k, v)), attn_mask=cr.tensor(m),
                                       is_causal=True)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_sdpa_fully_masked_row_gives_zeros_as_torch() -> None:
    q, k, v = make_inputs([(1, 2, 3, 4), (1, 2, 5, 4), (1, 2, 5, 4)], seed=3)
    m = np.ones((3, 5), bool)
    m[1] = False
    xs = [cr.tensor(a, requires_grad=True) for a in (q, k, v)]
    ts = [torch.tensor(a, requires_grad=True) for a in (q, k, v)]
    y = F.scaled_dot_product_attention(*xs, attn_mask=cr.tensor(m))
    ty = TF.scaled_dot_product_attention(*ts, attn_mask=torch.tensor(m))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-12)
    assert np.all(y.detach().numpy()[:, :, 1] == 0)
    y.sum().backward()
    ty.sum().backward()
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), atol=1e-12)


def test_sdpa_dropout_keeps_expectation_and_errors() -> None:
    cr.manual_seed(0)
    q = cr.zeros(1, 1, 2, 4)
    k = cr.zeros(1, 1, 400, 4)
    v = cr.ones(1, 1, 400, 1)
    y = F.scaled_dot_product_attention(q, k, v, dropout_p=0.5)
    assert abs(float(y.mean().item()) - 1) < 0.2
    with pytest.raises(ValueError, match="do not fit"):
        F.scaled_dot_product_attention(cr.randn(2, 3, 4), cr.randn(2, 5, 3), cr.randn(2, 5, 4))
    with pytest.raises(ValueError, match="attn_mask of shape"):
        F.scaled_dot_product_attention(cr.randn(2, 3, 4), cr.randn(2, 5, 4), cr.randn(2, 5, 4),
                                       attn_mask=cr.ones(4, 4, dtype=cr.bool))


def test_sdpa_rule_is_the_chain_and_explain_binds_it() -> None:
    lines = inspect.cleandoc(ScaledDotProductAttention.backward.__doc__).splitlines()
    rule = re.compile(r"^d\w+ = \S.*\S  \(\S*\)( = \S+)?$")
    assert all(rule.match(line) for line in lines)
    assert [line.split(" = ")[0] for line in lines] == ["dV", "dP", "dS", "dQ", "dK", "dmask"]
    q, k, v = (cr.randn(2, 4, 8, 16, requires_grad=True) for _ in range(3))
    loss = F.scaled_dot_product_attention(q, k, v, is_causal=True).sum()
    loss.backward()
    text = str(cr.explain(loss))
    assert "dS = P * (dP - rowsum(dP * P))  (2,4,8,8) = (2,4,8,8)(2,4,8,8)" in text
    assert "dQ = dS @ K * scale  (2,4,8,16) = (2,4,8,8)(2,4,8,16)" in text


# -- MultiheadAttention -------------------------------------------------------------------


def _copy_from_torch(ours, theirs, rng):
    sd = {k: rng.standard_normal(tuple(v.shape)) * 0.5 for k, v in theirs.state_dict().items()}
    theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    ours.load_state_dict({k: cr.tensor(v) for k, v in sd.items()})


def _compare_grads(ours, theirs, tol=1e-10):
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=tol, atol=tol,
                                   err_msg=name)


MHA_CASES = [
    ({}, {}),
    ({"batch_first": True}, {"need_weights": False}),
    ({"kdim": 3, "vdim": 5}, {"average_attn_weights": False}),
    ({"bias": False}, {"attn_mask": "causal"}),
    ({"add_bias_kv": True}, {"key_padding_mask": True}),
    ({"add_zero_attn": True, "batch_first": True}, {"attn_mask": "bool", "need_weights": False}),
    ({}, {"attn_mask": "float", "key_padding_mask": True, "need_weights": False}),
    # is_causal: trusted (attn_mask dropped, the (L,S) causal triangle used) only without
    # key_padding_mask and weights; else the mask is used as given
    ({}, {"attn_mask": "float", "is_causal": True, "need_weights": False}),
    ({"batch_first": True}, {"attn_mask": "float", "is_causal": True}),
    ({}, {"attn_mask": "causal", "is_causal": True, "key_padding_mask": True,
          "need_weights": False}),
    ({"add_bias_kv": True}, {"attn_mask": "causal", "is_causal": True, "need_weights": False}),
    ({"add_zero_attn": True, "kdim": 3, "vdim": 5},
     {"attn_mask": "bool", "is_causal": True, "need_weights": False}),
]


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.filterwarnings("ignore:Support for mismatched key_padding_mask")
@pytest.mark.parametrize("ctor, call", MHA_CASES)
def test_multihead_attention_matches_torch(ctor, call) -> None:
    rng = np.random.default_rng(0)
    E, h, L, S, N = 8, 2, 4, 5, 3
    ours = nn.MultiheadAttention(E, h, **ctor).double()
    theirs = torch.nn.MultiheadAttention(E, h, **ctor).double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert repr(ours) == repr(theirs)
    _copy_from_torch(ours, theirs, rng)
    first = ctor.get("batch_first", False)
    kd, vd = ctor.get("kdim", E), ctor.get("vdim", E)
    shape = (lambda n, f: (N, n, f)) if first else (lambda n, f: (n, N, f))
    arrays = [rng.standard_normal(shape(L, E)), rng.standard_normal(shape(S, kd)),
              rng.standard_normal(shape(S, vd))]
    kw_c, kw_t = {}, {}
    for key, val in call.items():
        if key == "attn_mask":
            if val == "causal":
                m = np.triu(np.full((L, S), -np.inf), 1)
            elif val == "bool":
                m = rng.random((N * h, L, S)) > 0.7
            else:
                m = rng.standard_normal((L, S))
            kw_c[key], kw_t[key] = cr.tensor(m), torch.tensor(m)
        elif key == "key_padding_mask":
            m = np.zeros((N, S), bool)
            m[0, -2:] = True
            kw_c[key], kw_t[key] = cr.tensor(m), torch.tensor(m)
        else:
            kw_c[key] = kw_t[key] = val
    xs = [cr.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    y, w = ours(*xs, **kw_c)
    ty, tw = theirs(*ts, **kw_t)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    if tw is None:
        assert w is None
    else:
        np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
    cot = rng.standard_normal(y.shape)
    (y * cr.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)
    _compare_grads(ours, theirs)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_multihead_attention_unbatched_self_attention_and_state_dict_back() -> None:
    rng = np.random.default_rng(1)
    ours = nn.MultiheadAttention(6, 3).double()
    theirs = torch.nn.MultiheadAttention(6, 3).double()
    _copy_from_torch(ours, theirs, rng)
    x = rng.standard_normal((4, 6))
    y, w = ours(cr.tensor(x), cr.tensor(x), cr.tensor(x))
    ty, tw = theirs(*(torch.tensor(x),) * 3)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-12)
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), atol=1e-12)
    fresh = torch.nn.MultiheadAttention(6, 3).double()
    fresh.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    np.testing.assert_allclose(fresh(*(torch.tensor(x),) * 3)[0].detach().numpy(),
                               ty.detach().numpy())


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("need_weights", [False, True])
def test_multihead_attention_unbatched_is_causal_and_missing_mask(need_weights) -> None:
    rng = np.random.default_rng(2)
    ours = nn.MultiheadAttention(6, 3).double()
    theirs = torch.nn.MultiheadAttention(6, 3).double()
    _copy_from_torch(ours, theirs, rng)
    x, m = rng.standard_normal((4, 6)), rng.standard_normal((4, 4))
    kw = {"need_weights": need_weights, "is_causal": True}
    y, _ = ours(*(cr.tensor(x),) * 3, attn_mask=cr.tensor(m), **kw)
    ty, _ = theirs(*(torch.tensor(x),) * 3, attn_mask=torch.tensor(m), **kw)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), atol=1e-12)
    with pytest.raises(RuntimeError, match="is_causal"):
        theirs(*(torch.tensor(x),) * 3, **kw)
    with pytest.raises(RuntimeError, match="need attn_mask if specifying the is_causal hint"):
        ours(*(cr.tensor(x),) * 3, **kw)


def test_multihead_attention_init_and_errors() -> None:
    cr.manual_seed(0)
    m = nn.MultiheadAttention(16, 4)
    assert m.in_proj_weight.shape == (48, 16) and m.out_proj.weight.shape == (16, 16)
    bound = np.sqrt(6 / (48 + 16))  # xavier_uniform on (3E, E)
    assert np.abs(m.in_proj_weight.detach().numpy()).max() <= bound
    assert np.all(m.in_proj_bias.detach().numpy() == 0)
    assert np.all(m.out_proj.bias.detach().numpy() == 0)
    sep = nn.MultiheadAttention(16, 4, kdim=8, vdim=4)
    assert sep.in_proj_weight is None and sep.k_proj_weight.shape == (16, 8)
    with pytest.raises(ValueError, match="divisible"):
        nn.MultiheadAttention(10, 3)
    x = cr.randn(3, 2, 16)
    with pytest.raises(RuntimeError, match="need attn_mask"):
        m(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="key_padding_mask of shape"):
        m(x, x, x, key_padding_mask=cr.ones(3, 3, dtype=cr.bool))


# -- Transformer layers ---------------------------------------------------------------


def _run_pair(ours, theirs, inputs, kwargs_c=None, kwargs_t=None, tol=1e-9):
    rng = np.random.default_rng(2)
    ours.double()
    theirs.double()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _copy_from_torch(ours, theirs, rng)
    xs = [cr.tensor(a, requires_grad=True) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    y = ours(*xs, **(kwargs_c or {}))
    ty = theirs(*ts, **(kwargs_t or {}))
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    cot = rng.standard_normal(y.shape)
    (y * cr.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)
    _compare_grads(ours, theirs, tol)


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "activation": "gelu"},
                                {"batch_first": True, "bias": False}])
def test_encoder_and_decoder_layers_match_torch(kw) -> None:
    rng = np.random.default_rng(3)
    args = (8, 2, 16, 0.0)
    src, tgt = rng.standard_normal((5, 3, 8)), rng.standard_normal((4, 3, 8))
    if kw.get("batch_first"):
        src, tgt = src.transpose(1, 0, 2).copy(), tgt.transpose(1, 0, 2).copy()
    mask = np.triu(np.full((4, 4), -np.inf), 1)
    kpm = np.zeros((3, 5), bool)
    kpm[1, -1] = True
    _run_pair(nn.TransformerEncoderLayer(*args, **kw),
              torch.nn.TransformerEncoderLayer(*args, **kw),
              [src], {"src_key_padding_mask": cr.tensor(kpm)},
              {"src_key_padding_mask": torch.tensor(kpm)})
    _run_pair(nn.TransformerDecoderLayer(*args, **kw),
              torch.nn.TransformerDecoderLayer(*args, **kw),
              [tgt, src], {"tgt_mask": cr.tensor(mask), "memory_key_padding_mask": cr.tensor(kpm)},
              {"tgt_mask": torch.tensor(mask), "memory_key_padding_mask": torch.tensor(kpm)})


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_stacks_and_transformer_match_torch() -> None:
    rng = np.random.default_rng(4)
    src, tgt = rng.standard_normal((3, 5, 8)), rng.standard_normal((3, 4, 8))
    kw = {"batch_first": True, "dim_feedforward": 16, "dropout": 0.0}
    enc_c = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **kw), 2, nn.LayerNorm(8))
    enc_t = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **kw), 2,
                                        torch.nn.LayerNorm(8), enable_nested_tensor=False)
    _run_pair(enc_c, enc_t, [src])
    dec_c = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, **kw), 2)
    dec_t = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **kw), 2)
    _run_pair(dec_c, dec_t, [tgt, src])
    tr_c = nn.Transformer(8, 2, 2, 1, **kw)
    tr_t = torch.nn.Transformer(8, 2, 2, 1, **kw)
    mask = nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(mask.numpy(),
                                  torch.nn.Transformer.generate_square_subsequent_mask(4).numpy())
    _run_pair(tr_c, tr_t, [src, tgt], {"tgt_mask": mask.double()},
              {"tgt_mask": torch.tensor(mask.numpy()).double()})


def test_transformer_init_is_xavier_and_bad_activation() -> None:
    cr.manual_seed(0)
    t = nn.Transformer(16, 2, 1, 1, 32)
    w = t.encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= np.sqrt(6 / (16 + 32))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu"):
        nn.TransformerEncoderLayer(8, 2, activation="swish")
