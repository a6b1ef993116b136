"""Tests of softmax, log_softmax, dropout, leaky_relu, one_hot and batch_norm: gradients
(gradcheck, gradgradcheck), PyTorch parity, stability at large logits, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops.activation import LogSoftmax, Softmax

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
except ImportError:  # pragma: no cover
    torch = None

SOFTMAX_CASES = [((5,), 0), ((3, 4), 1), ((3, 4), 0), ((3, 4), -1), ((2, 3, 4), 1),
                 ((2, 3, 4), -1)]


# -- softmax / log_softmax --------------------------------------------------------------


@pytest.mark.parametrize(("shape", "dim"), SOFTMAX_CASES)
def test_softmax_gradients_and_parity(shape: tuple[int, ...], dim: int) -> None:
    check_op(lambda x: F.softmax(x, dim), make_inputs([shape]),
             lambda x: torch.softmax(x, dim))


@pytest.mark.parametrize(("shape", "dim"), SOFTMAX_CASES)
def test_log_softmax_gradients_and_parity(shape: tuple[int, ...], dim: int) -> None:
    check_op(lambda x: F.log_softmax(x, dim), make_inputs([shape]),
             lambda x: torch.log_softmax(x, dim))


def test_softmax_of_a_0d_tensor_is_one() -> None:
    for fn, tfn in ((F.softmax, torch and torch.softmax), (F.log_softmax,
                                                          torch and torch.log_softmax)):
        check_op(lambda x, fn=fn: fn(x, 0), make_inputs([()]),
                 tfn and (lambda x, tfn=tfn: tfn(x, 0)), gradgrad=False)
    np.testing.assert_array_equal(F.softmax(cr.tensor(3.0), -1).numpy(), 1.0)


def test_softmax_fan_out() -> None:
    """x feeds both the softmax and the product: its gradient sums both paths."""
    check_op(lambda x: x.softmax(1) * x, make_inputs([(3, 4)], seed=2),
             lambda x: x.softmax(1) * x)
    check_op(lambda x: x.log_softmax(0) * x, make_inputs([(3, 4)], seed=3),
             lambda x: x.log_softmax(0) * x)


def test_softmax_backward_rule_by_hand() -> None:
    """dX = Y * (dY - sum(dY * Y)) and, for log_softmax, dX = dY - softmax * sum(dY)."""
    x, dy = make_inputs([(4, 5), (4, 5)], seed=4)
    e = np.exp(x - x.max(1, keepdims=True))
    y = e / e.sum(1, keepdims=True)
    xt = cr.tensor(x, requires_grad=True)
    (g,) = cr.autograd.grad(F.softmax(xt, 1), [xt], cr.tensor(dy))
    np.testing.assert_allclose(g.numpy(), y * (dy - (dy * y).sum(1, keepdims=True)), rtol=1e-12)
    (g,) = cr.autograd.grad(F.log_softmax(xt, 1), [xt], cr.tensor(dy))
    np.testing.assert_allclose(g.numpy(), dy - y * dy.sum(1, keepdims=True), rtol=1e-12,
                               atol=1e-15)
    assert "dX = Y * (dY - sum(dY * Y, dim))" in Softmax.backward.__doc__
    assert "dX = dY - exp(Y) * sum(dY, dim)" in LogSoftmax.backward.__doc__


def test_softmax_is_stable_for_huge_logits() -> None:
    x = cr.tensor([[1e4, 0.0, -1e4], [-1e4, -1e4, -1e4]], requires_grad=True)
    y = F.softmax(x, 1)
    np.testing.assert_allclose(y.detach().numpy(), [[1, 0, 0], [1 / 3, 1 / 3, 1 / 3]], atol=1e-7)
    z = F.log_softmax(x, 1)
    np.testing.assert_allclose(z.detach().numpy()[0], [0.0, -1e4, -2e4])
    np.testing.assert_allclose(z.detach().numpy()[1], np.log([1 / 3] * 3), rtol=1e-6)
    (y * cr.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]])).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    x.grad = None
    z.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[-2, 1, 1], [0, 0, 0]], atol=1e-6)


def test_softmax_keeps_float32_and_tensor_methods() -> None:
    x = cr.randn(3, 4)
    assert F.softmax(x, 1).dtype == cr.float32
    assert x.log_softmax(1).dtype == cr.float32
    np.testing.assert_allclose(x.softmax(-1).numpy().sum(-1), 1, rtol=1e-6)
    np.testing.assert_array_equal(cr.softmax(x, 1).numpy(), F.softmax(x, 1).numpy())
    assert F.softmax(x, 1, dtype=cr.float64).dtype == cr.float64


def test_softmax_errors_and_implicit_dim() -> None:
    x = cr.randn(2, 3)
    with pytest.raises(IndexError, match="softmax: dimension 2 is out of range"):
        F.softmax(x, 2)
    with pytest.raises(TypeError, match="log_softmax: expected a floating point tensor"):
        F.log_softmax(cr.tensor([1, 2]), 0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = F.softmax(x)  # PyTorch's legacy rule: dim 1 for a 2-D tensor
    assert caught and "dim" in str(caught[0].message)
    np.testing.assert_allclose(y.numpy(), F.softmax(x, 1).numpy())


# -- dropout --------------------------------------------------------------------------


def test_dropout_masks_and_scales() -> None:
    cr.manual_seed(0)
    x = cr.ones(200, 100, requires_grad=True)
    y = F.dropout(x, 0.3)
    vals = y.detach().numpy()
    assert vals.dtype == np.float32
    assert set(np.unique(vals).tolist()) <= {0.0, np.float32(1 / 0.7)}
    assert abs((vals == 0).mean() - 0.3) < 0.02
    y.sum().backward()  # gradient = mask / (1 - p): the same pattern as the output
    np.testing.assert_array_equal(x.grad.numpy(), vals)


def test_dropout_is_reproducible_with_manual_seed() -> None:
    x = cr.randn(10, 10)
    cr.manual_seed(5)
    a = F.dropout(x, 0.5).numpy()
    cr.manual_seed(5)
    b = F.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, F.dropout(x, 0.5).numpy())


def test_dropout_identity_and_extremes() -> None:
    x = cr.randn(4, 5, requires_grad=True)
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    y = F.dropout(x, 1.0)
    np.testing.assert_array_equal(y.detach().numpy(), np.zeros((4, 5)))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros((4, 5)))
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match=f"dropout: probability .* got {p}"):
            F.dropout(x, p)


def test_dropout_double_backward() -> None:
    """The backward is dY * mask: linear in dY, so the second derivative wrt x is 0."""
    cr.manual_seed(1)
    x = cr.randn(3, 4, dtype=cr.float64, requires_grad=True)
    y = F.dropout(x, 0.5)
    mask = y.detach().numpy() / x.detach().numpy()
    (g,) = cr.autograd.grad((y * y).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * mask * mask * x.detach().numpy(), rtol=1e-12)
    (gg,) = cr.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(gg.numpy(), 2 * mask * mask, rtol=1e-12)


# -- leaky_relu -------------------------------------------------------------------------


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu(slope: float) -> None:
    check_op(lambda x: F.leaky_relu(x, slope), make_inputs([(3, 5)], seed=7),
             lambda x: torch.nn.functional.leaky_relu(x, slope))


def test_leaky_relu_kink_is_the_slope() -> None:
    x = cr.tensor([-2.0, 0.0, 3.0], requires_grad=True)
    F.leaky_relu(x, 0.1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.1, 0.1, 1.0])  # PyTorch: slope at 0


# -- one_hot ----------------------------------------------------------------------------


def test_one_hot_values() -> None:
    t = cr.tensor([[0, 2], [1, 2]])
    out = F.one_hot(t, 4)
    assert out.dtype == cr.int64 and out.shape == (2, 2, 4) and not out.requires_grad
    np.testing.assert_array_equal(out.numpy()[0], [[1, 0, 0, 0], [0, 0, 1, 0]])
    assert F.one_hot(cr.tensor([0, 3])).shape == (2, 4)  # inferred from the max


def test_one_hot_errors() -> None:
    with pytest.raises(RuntimeError, match="non-negative, got -1"):
        F.one_hot(cr.tensor([0, -1]), 3)
    with pytest.raises(RuntimeError, match="class value 5 is out of range for num_classes=3"):
        F.one_hot(cr.tensor([0, 5]), 3)
    with pytest.raises(RuntimeError, match="int64"):
        F.one_hot(cr.tensor([0.0, 1.0]), 3)
    with pytest.raises(RuntimeError, match="empty"):
        F.one_hot(cr.tensor(np.zeros(0, np.int64)))


# -- batch_norm -------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batch_norm_training_gradients_and_parity(shape: tuple[int, ...]) -> None:
    x, w, b = make_inputs([shape, (3,), (3,)], seed=11)
    check_op(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), [x, w, b],
             lambda x, w, b: torch.nn.functional.batch_norm(x, None, None, w, b, training=True))
    check_op(lambda x: F.batch_norm(x, None, None, training=True), [x],
             lambda x: torch.nn.functional.batch_norm(x, None, None, training=True))


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batch_norm_eval_gradients_and_parity(shape: tuple[int, ...]) -> None:
    x, w, b, rm = make_inputs([shape, (3,), (3,), (3,)], seed=12)
    rv = np.random.default_rng(0).uniform(0.5, 2.0, 3)
    crm, crv = cr.tensor(rm), cr.tensor(rv)
    check_op(lambda x, w, b: F.batch_norm(x, crm, crv, w, b, training=False), [x, w, b],
             lambda x, w, b: torch.nn.functional.batch_norm(
                 x, torch.tensor(rm), torch.tensor(rv), w, b, training=False))


def test_batch_norm_updates_running_stats_like_torch() -> None:
    x = make_inputs([(8, 3, 2)], seed=13)[0]
    rm, rv = cr.zeros(3, dtype=cr.float64), cr.ones(3, dtype=cr.float64)
    F.batch_norm(cr.tensor(x), rm, rv, training=True, momentum=0.2)
    n = 8 * 2
    mean = x.mean(axis=(0, 2))
    var_unbiased = x.var(axis=(0, 2)) * n / (n - 1)
    np.testing.assert_allclose(rm.numpy(), 0.2 * mean, rtol=1e-12)
    np.testing.assert_allclose(rv.numpy(), 0.8 + 0.2 * var_unbiased, rtol=1e-12)


def test_batch_norm_errors() -> None:
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        F.batch_norm(cr.randn(1, 4), None, None, training=True)
    with pytest.raises(ValueError, match=r"weight of shape \(3,\) does not match .* 4 channels"):
        F.batch_norm(cr.randn(5, 4), None, None, cr.ones(3), cr.zeros(3), training=True)


def test_leaky_relu_gradient_is_differentiable_with_zero_derivative() -> None:
    x = cr.tensor([-1.0, 0.5, 2.0], dtype=cr.float64, requires_grad=True)
    (g,) = cr.autograd.grad(cr.nn.functional.leaky_relu(x, 0.1).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [0.1, 1.0, 1.0])
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.0, 0.0])
