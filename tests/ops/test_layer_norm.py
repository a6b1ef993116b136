"""LayerNorm and RMSNorm nodes (ops/normalization.py): gradients, second order, PyTorch
parity, the modules' parameters and state dicts, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.opcheck import check_op, make_inputs, torch

TF = None if torch is None else torch.nn.functional


@pytest.mark.parametrize("shape, norm", [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)),
                                         ((6,), (6,))])
def test_layer_norm_with_weight_and_bias(shape, norm) -> None:
    x, w, b = make_inputs([shape, norm, norm], seed=1)
    torch_fn = None if TF is None else (lambda a, c, d: TF.layer_norm(a, norm, c, d))
    check_op(lambda a, c, d: F.layer_norm(a, norm, c, d), [x, w, b], torch_fn)


@pytest.mark.parametrize("shape, norm", [((4, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_layer_norm_without_affine_and_weight_only(shape, norm) -> None:
    x, w = make_inputs([shape, norm], seed=2)
    tfn = None if TF is None else (lambda a: TF.layer_norm(a, norm, eps=1e-3))
    check_op(lambda a: F.layer_norm(a, norm, eps=1e-3), [x], tfn)
    tfn2 = None if TF is None else (lambda a, c: TF.layer_norm(a, norm, c))
    check_op(lambda a, c: F.layer_norm(a, norm, c), [x, w], tfn2)


@pytest.mark.parametrize("shape, norm", [((4, 5), (5,)), ((2, 3, 4), (3, 4))])
def test_rms_norm(shape, norm) -> None:
    x, w = make_inputs([shape, norm], seed=3)
    tfn = None if TF is None else (lambda a, c: TF.rms_norm(a, norm, c, eps=1e-6))
    check_op(lambda a, c: F.rms_norm(a, norm, c, eps=1e-6), [x, w], tfn)
    tfn = None if TF is None else (lambda a: TF.rms_norm(a, norm))
    check_op(lambda a: F.rms_norm(a, norm), [x], tfn)


def test_layer_norm_output_is_normalised() -> None:
    x = cr.randn(8, 32, dtype=cr.float64) * 5 + 3
    y = F.layer_norm(x, (32,), eps=0.0).numpy()
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=1), 1, atol=1e-10)


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("cls, args", [("LayerNorm", (8,)), ("LayerNorm", ((4, 8),)),
                                       ("LayerNorm", (8, 1e-3, True, False)),
                                       ("LayerNorm", (8, 1e-5, False)), ("RMSNorm", (8,)),
                                       ("RMSNorm", ((4, 8), 1e-6))])
def test_modules_match_torch(cls, args) -> None:
    ours, theirs = getattr(nn, cls)(*args).double(), getattr(torch.nn, cls)(*args).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    rng = np.random.default_rng(0)
    sd = {k: rng.standard_normal(tuple(v.shape)) for k, v in theirs.state_dict().items()}
    theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    ours.load_state_dict({k: cr.tensor(v) for k, v in sd.items()})
    x = rng.standard_normal((3, 4, 8))
    xc, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    y, ty = ours(xc), theirs(xt)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    cot = rng.standard_normal(x.shape)
    (y * cr.tensor(cot)).sum().backward()
    (ty * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    for (name, p), (_, tp) in zip(ours.named_parameters(), theirs.named_parameters(), strict=True):
        np.testing.assert_allclose(p.grad.numpy(), tp.grad.numpy(), rtol=1e-10, atol=1e-12,
                                   err_msg=name)


def test_float32_and_errors() -> None:
    ln = nn.LayerNorm(6)
    x = cr.randn(2, 6, requires_grad=True)
    y = ln(x)
    assert y.dtype == cr.float32
    y.sum().backward()
    assert x.grad.dtype == cr.float32 and ln.weight.grad.dtype == cr.float32
    with pytest.raises(ValueError, match=r"layer_norm: input of shape \(2, 5\) does not end"):
        F.layer_norm(cr.randn(2, 5), (6,))
    with pytest.raises(ValueError, match="weight of shape"):
        F.layer_norm(cr.randn(2, 6), (6,), weight=cr.ones(5))
    with pytest.raises(ValueError, match="rms_norm"):
        nn.RMSNorm(3)(cr.randn(3, 4))


def test_explain_shows_layer_norm_rule_with_shapes() -> None:
    ln = nn.LayerNorm(16)
    x = cr.randn(4, 16, requires_grad=True)
    y = ln(x).sum()
    y.backward()
    text = str(cr.explain(y))
    assert "dgamma = sum(dY * Xhat, *)  (16,) = (4,16)(4,16)" in text
