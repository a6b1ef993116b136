"""clip_grad_norm_, clip_grad_value_ and get_total_norm against torch.nn.utils."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn.utils import clip_grad_norm_, clip_grad_value_, get_total_norm

SHAPES = [(3, 4), (4,), (2, 2, 2)]


def _params(lib, scale=1.0, dtype=np.float64, none_at=None):
    rng = np.random.default_rng(0)
    ps = []
    for i, s in enumerate(SHAPES):
        p = lib.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
        if i != none_at:
            p.grad = lib.tensor((rng.standard_normal(s) * scale).astype(dtype))
        ps.append(p)
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1, 3.0, math.inf, 0.5, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    ours, theirs = _params(cr, none_at=1), _params(torch, none_at=1)
    total = clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    ttotal = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, cr.Tensor) and total.shape == ()
    np.testing.assert_allclose(total.item(), ttotal.item(), rtol=1e-13)
    for p, t in zip(ours, theirs, strict=True):
        assert (p.grad is None) == (t.grad is None)
        if p.grad is not None:
            np.testing.assert_allclose(p.grad.numpy(), t.grad.numpy(), rtol=1e-13)


def test_clip_grad_norm_float32_single_tensor_and_empty():
    ps = _params(cr, dtype=np.float32)
    total = clip_grad_norm_(ps[0], 0.1)
    assert total.dtype == cr.float32 and ps[0].grad.dtype == cr.float32
    assert np.isclose(np.linalg.norm(ps[0].grad.numpy()), 0.1, rtol=1e-4)
    empty = clip_grad_norm_([cr.zeros(2, requires_grad=True)], 1.0)
    assert empty.item() == 0.0
    gen = (p for p in _params(cr))  # a generator is consumed once, as in PyTorch
    assert clip_grad_norm_(gen, 1.0).item() > 0


def test_clip_grad_norm_nonfinite():
    ps = _params(cr)
    ps[0].grad._data[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert np.isnan(clip_grad_norm_(ps, 1.0).item())


def test_clip_grad_norm_after_backward_and_version():
    w = cr.randn(3, 4, requires_grad=True)
    (w.sum() * 10).backward()  # the gradient may be a read-only broadcast view
    total = clip_grad_norm_([w], 1.0)
    np.testing.assert_allclose(total.item(), 10 * np.sqrt(12))
    np.testing.assert_allclose(np.linalg.norm(w.grad.numpy()), 1.0, rtol=1e-6)


@pytest.mark.parametrize("clip", [0.3, 1.5])
def test_clip_grad_value_matches_torch(clip):
    torch = pytest.importorskip("torch")
    ours, theirs = _params(cr, 2.0, none_at=2), _params(torch, 2.0, none_at=2)
    assert clip_grad_value_(ours, clip) is None
    torch.nn.utils.clip_grad_value_(theirs, clip)
    for p, t in zip(ours, theirs, strict=True):
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad.numpy(), t.grad.numpy())
    w = cr.randn(3, requires_grad=True)
    (w.sum() * 5).backward()
    clip_grad_value_(w, 1.0)
    np.testing.assert_array_equal(w.grad.numpy(), [1.0, 1.0, 1.0])


def test_get_total_norm():
    gs = [cr.tensor([3.0]), cr.tensor([4.0])]
    assert get_total_norm(gs).item() == 5.0
    assert get_total_norm(gs, 1).item() == 7.0
    assert get_total_norm(gs, math.inf).item() == 4.0
