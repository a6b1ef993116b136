"""smooth_l1_loss, huber_loss, kl_div, poisson_nll_loss, gaussian_nll_loss: gradcheck,
gradgradcheck and PyTorch parity for every reduction, plus edge cases and errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.opcheck import check_op, make_inputs, torch

TF = None if torch is None else torch.nn.functional
RED = ["mean", "sum", "none"]


def _away_from_kinks(d: np.ndarray, beta: float) -> np.ndarray:
    """Move |d| off beta (finite differences straddling the kink are wrong)."""
    close = np.abs(np.abs(d) - beta) < 1e-2
    return np.where(close, d * 1.1 + 0.05, d)


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
def test_smooth_l1(reduction, beta):
    x, y = make_inputs([(3, 4), (3, 4)], seed=2)
    y = x - _away_from_kinks(x - y, beta)
    check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=beta), [x, y],
             None if torch is None else
             lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=beta))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("delta", [1.0, 0.3, 2.5])
def test_huber(reduction, delta):
    x, y = make_inputs([(2, 5), (2, 5)], seed=3)
    y = x - _away_from_kinks(x - y, delta)
    check_op(lambda a, b: F.huber_loss(a, b, reduction=reduction, delta=delta), [x, y],
             None if torch is None else
             lambda a, b: TF.huber_loss(a, b, reduction=reduction, delta=delta))


@pytest.mark.parametrize("reduction", RED)
def test_smooth_l1_beta0_is_l1(reduction):
    x, y = make_inputs([(4,), (4,)], seed=4)
    check_op(lambda a, b: F.smooth_l1_loss(a, b, reduction=reduction, beta=0.0), [x, y],
             None if torch is None else
             lambda a, b: TF.smooth_l1_loss(a, b, reduction=reduction, beta=0.0),
             gradgrad=False)


def test_huber_weight():
    x, y, w = make_inputs([(3, 2), (3, 2), (3, 2)], seed=5)
    y = x - _away_from_kinks(x - y, 1.0)
    check_op(lambda a, b: F.huber_loss(a, b, weight=cr.tensor(w)), [x, y],
             None if torch is None else
             lambda a, b: TF.huber_loss(a, b, weight=torch.tensor(w)),
             float32=False)  # a float64 weight promotes, as in PyTorch
    with pytest.raises(ValueError, match="same size"):
        F.huber_loss(cr.tensor(x), cr.tensor(y), weight=cr.ones(3))


def test_smooth_l1_errors_and_broadcast():
    x = cr.randn(3, 4)
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(RuntimeError, match="non-positive values for delta"):
        F.huber_loss(x, x, delta=0.0)
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        F.smooth_l1_loss(x, x, reduction="avg")
    with pytest.warns(UserWarning, match="different to the input size"):
        out = F.smooth_l1_loss(x, cr.randn(4), reduction="none")
    assert out.shape == (3, 4)
    with pytest.raises(ValueError):
        F.smooth_l1_loss(x, cr.randn(5))
    with warnings.catch_warnings():  # legacy size_average/reduce map onto reduction
        warnings.simplefilter("ignore")
        assert F.smooth_l1_loss(x, x * 2, reduce=False).shape == (3, 4)
        s = F.smooth_l1_loss(x, x * 2, size_average=False).item()
    assert np.isclose(s, F.smooth_l1_loss(x, x * 2, reduction="sum").item())


def test_smooth_l1_empty_mean_is_nan():
    x = cr.zeros(0, requires_grad=True)
    out = F.smooth_l1_loss(x, cr.zeros(0))
    assert np.isnan(out.item())


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(reduction, log_target):
    x, t = make_inputs([(3, 4), (3, 4)], seed=6)
    x = np.log(np.exp(x) / np.exp(x).sum(1, keepdims=True))
    t = np.exp(t) / np.exp(t).sum(1, keepdims=True)
    if log_target:
        t = np.log(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'mean' warns, as PyTorch
        check_op(lambda a, b: F.kl_div(a, b, reduction=reduction, log_target=log_target),
                 [x, t], None if torch is None else
                 lambda a, b: TF.kl_div(a, b, reduction=reduction, log_target=log_target))


def test_kl_div_zero_target_and_mean_warning():
    x = cr.tensor([[-1.0, -0.5, -2.0]], dtype=cr.float64, requires_grad=True)
    t = cr.tensor([[0.0, 0.7, 0.3]], dtype=cr.float64)
    with pytest.warns(UserWarning, match="batchmean"):
        out = F.kl_div(x, t)
    out.backward()
    assert np.isfinite(out.item()) and np.isfinite(x.grad.numpy()).all()
    if torch is not None:
        tx = torch.tensor(x.detach().numpy(), requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tout = TF.kl_div(tx, torch.tensor(t.numpy()))
        tout.backward()
        assert np.isclose(out.item(), tout.item())
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy())


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("log_input", [True, False])
@pytest.mark.parametrize("full", [False, True])
def test_poisson_nll(reduction, log_input, full):
    x, t = make_inputs([(3, 4), (3, 4)], seed=7, low=0.2, high=3.0)
    t = np.where(np.abs(t - 1) < 0.05, 1.5, t)  # some <= 1 (no Stirling term), off the step
    check_op(lambda a, b: F.poisson_nll_loss(a, b, log_input=log_input, full=full,
                                             reduction=reduction), [x, t],
             None if torch is None else
             lambda a, b: TF.poisson_nll_loss(a, b, log_input=log_input, full=full,
                                              reduction=reduction))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("full", [False, True])
@pytest.mark.parametrize("vshape", [(3, 4), (3, 1), (3,)])
def test_gaussian_nll(reduction, full, vshape):
    x, t = make_inputs([(3, 4), (3, 4)], seed=8)
    (v,) = make_inputs([vshape], seed=9, low=0.1, high=2.0)
    check_op(lambda a, b, c: F.gaussian_nll_loss(a, b, c, full=full, reduction=reduction),
             [x, t, v], None if torch is None else
             lambda a, b, c: TF.gaussian_nll_loss(a, b, c, full=full, reduction=reduction))


def test_gaussian_nll_clamp_and_errors():
    x, t = make_inputs([(2, 3), (2, 3)], seed=10)
    v = np.array([[1e-9, 0.5, 2.0], [0.0, 1.0, 3.0]])
    var = cr.tensor(v, requires_grad=True)
    out = F.gaussian_nll_loss(cr.tensor(x), cr.tensor(t), var)
    out.backward()
    if torch is not None:
        tv = torch.tensor(v, requires_grad=True)
        tout = TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(t), tv)
        tout.backward()
        assert np.isclose(out.item(), tout.item(), rtol=1e-12)
        np.testing.assert_allclose(var.grad.numpy(), tv.grad.numpy(), rtol=1e-12)
        assert np.isclose(F.gaussian_nll_loss(cr.tensor(x), cr.tensor(t), 0.5).item(),
                          TF.gaussian_nll_loss(torch.tensor(x), torch.tensor(t), 0.5).item())
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(cr.tensor(x), cr.tensor(t), -1.0)
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(cr.tensor(x), cr.tensor(t), cr.tensor(-v - 1))
    with pytest.raises(ValueError, match="incorrect size"):
        F.gaussian_nll_loss(cr.tensor(x), cr.tensor(t), cr.ones(2, 2))
    with pytest.raises(ValueError, match="not valid"):
        F.gaussian_nll_loss(cr.tensor(x), cr.tensor(t), 1.0, reduction="avg")


def test_float32_target_float64_promotes():
    x = cr.randn(3, dtype=cr.float32)
    t = cr.randn(3, dtype=cr.float64)
    assert F.smooth_l1_loss(x, t).dtype == cr.float64


def test_dtypes_follow_pytorch():
    x32, t64 = cr.randn(3, dtype=cr.float32), cr.randn(3, dtype=cr.float64)
    assert F.huber_loss(x32, t64).dtype == cr.float32  # huber keeps the input's dtype
    assert F.huber_loss(t64, x32).dtype == cr.float64
    assert F.poisson_nll_loss(x32, t64).dtype == cr.float64  # the others promote
    assert F.kl_div(x32, t64, reduction="sum").dtype == cr.float64


def test_kl_div_negative_target_is_nan_as_pytorch():
    out = F.kl_div(cr.tensor([-1.0, -2.0]), cr.tensor([-0.5, 0.0]), reduction="none")
    assert np.isnan(out.numpy()[0]) and out.numpy()[1] == 0.0
