"""Regression tests for the conformance defects of issue 10 item 4, each against PyTorch:
dtype promotion of mixed-precision losses, logsumexp's float32 gradient at large
magnitudes, and a Function whose backward returns too many gradients."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

torch = pytest.importorskip("torch")


def _pair(a: np.ndarray, dtype: str) -> tuple[cr.Tensor, torch.Tensor]:
    return (cr.tensor(a.astype(dtype), requires_grad=True),
            torch.tensor(a.astype(dtype), requires_grad=True))


@pytest.mark.parametrize("which", ["bce_with_logits", "cross_entropy_probs"])
def test_float32_logits_with_float64_target_promote_to_float64(which: str) -> None:
    rng = np.random.default_rng(0)
    logits, target = rng.standard_normal((3, 4)), rng.uniform(size=(3, 4))
    if which == "cross_entropy_probs":
        target = target / target.sum(1, keepdims=True)
    x, tx = _pair(logits, "float32")
    y, ty = _pair(target, "float64")
    fn = {"bce_with_logits": (F.binary_cross_entropy_with_logits,
                              torch.nn.functional.binary_cross_entropy_with_logits),
          "cross_entropy_probs": (F.cross_entropy, torch.nn.functional.cross_entropy)}[which]
    loss, tloss = fn[0](x, y), fn[1](tx, ty)
    assert tloss.dtype == torch.float64 and loss.dtype == cr.float64
    np.testing.assert_allclose(loss.item(), tloss.item(), rtol=1e-7)
    loss.backward()
    tloss.backward()
    assert x.grad.dtype == cr.float32 and y.grad.dtype == cr.float64  # as torch's
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-7)


def test_same_dtype_losses_stay_float32() -> None:
    x = cr.zeros(2, 3, requires_grad=True)
    assert F.binary_cross_entropy_with_logits(x, cr.ones(2, 3)).dtype == cr.float32
    assert F.cross_entropy(x, cr.full((2, 3), 1 / 3)).dtype == cr.float32
    # a narrower target does not narrow the loss
    assert F.binary_cross_entropy_with_logits(x, cr.ones(2, 3, dtype=cr.float16)).dtype \
        == cr.float32


def test_logsumexp_float32_gradient_at_large_magnitudes_equals_torch() -> None:
    rows = np.array([[1e4, 1e4, -3, 2], [1, 2, 3, 4], [-1e4, 5e3, 5e3, 0]], np.float32)
    x, tx = _pair(rows, "float32")
    cr.logsumexp(x, 1).sum().backward()
    torch.logsumexp(tx, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(x.grad.numpy()[0, 0], 0.4998939, rtol=1e-6)


class _TooMany(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2, g


class _ExtraNone(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2, None


class _TooFew(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, g):
        return (g,)


def test_function_returning_too_many_gradients_raises_as_torch() -> None:
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"function _TooManyBackward returned an incorrect "
                                           r"number of gradients \(expected 1, got 2\)"):
        _TooMany.apply(x).sum().backward()
    with pytest.raises(RuntimeError, match=r"expected 2, got 1"):
        _TooFew.apply(x, x).sum().backward()
    _ExtraNone.apply(x).sum().backward()  # trailing Nones are fine, as in torch
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 2.0])
