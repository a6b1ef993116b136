"""Tests of the loss nodes: cross_entropy (class indices and probabilities, weights,
ignore_index, label smoothing, any number of dims), nll_loss, mse_loss, l1_loss,
binary_cross_entropy(_with_logits). Gradients by gradcheck/gradgradcheck, values and
gradients against PyTorch, the seeds' rules by hand, stability at 1e4, errors."""

from __future__ import annotations

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops.cross_entropy import SoftmaxCrossEntropy

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = TF = None

REDUCTIONS = ["mean", "sum", "none"]


def _targets(shape: tuple[int, ...], C: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, C, shape)


def _probs(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Random class distributions along dim 1 (or dim 0 of a 1-D shape)."""
    a = np.random.default_rng(seed).uniform(0.1, 1.0, shape)
    axis = 0 if len(shape) == 1 else 1
    return a / a.sum(axis=axis, keepdims=True)


def _tt(a: np.ndarray | None) -> torch.Tensor | None:
    return None if a is None else torch.tensor(a)


# -- cross entropy with class indices ---------------------------------------------------

# (input shape, target shape)
CE_SHAPES = [((5, 4), (5,)), ((4,), ()), ((3, 4, 2), (3, 2)), ((2, 3, 2, 2), (2, 2, 2))]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("xs", "ts"), CE_SHAPES)
def test_cross_entropy_class_indices(xs: tuple[int, ...], ts: tuple[int, ...],
                                     reduction: str) -> None:
    C = xs[0] if len(xs) == 1 else xs[1]
    t = _targets(ts, C, seed=1)
    check_op(lambda z: F.cross_entropy(z, cr.tensor(t), reduction=reduction),
             make_inputs([xs], seed=2),
             lambda z: TF.cross_entropy(z, torch.tensor(t), reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
def test_cross_entropy_options(reduction: str, smoothing: float, weighted: bool,
                               ignore: bool) -> None:
    """Weights, ignore_index and label smoothing in every combination, as PyTorch."""
    N, C = 6, 4
    t = _targets((N,), C, seed=3)
    if ignore:
        t[[1, 4]] = -100
    w = np.random.default_rng(4).uniform(0.5, 2.0, C) if weighted else None
    check_op(lambda z: F.cross_entropy(z, cr.tensor(t), weight=None if w is None else
                                       cr.tensor(w), reduction=reduction,
                                       label_smoothing=smoothing),
             make_inputs([(N, C)], seed=5),
             lambda z: TF.cross_entropy(z, torch.tensor(t), weight=_tt(w), reduction=reduction,
                                        label_smoothing=smoothing))


def test_cross_entropy_options_on_3d_input() -> None:
    t = _targets((2, 3), 4, seed=6)
    t[0, 1] = 2
    w = np.array([0.5, 1.0, 2.0, 1.5])
    check_op(lambda z: F.cross_entropy(z, cr.tensor(t), weight=cr.tensor(w), ignore_index=2,
                                       label_smoothing=0.2),
             make_inputs([(2, 4, 3)], seed=7),
             lambda z: TF.cross_entropy(z, torch.tensor(t), weight=torch.tensor(w),
                                        ignore_index=2, label_smoothing=0.2))


def test_cross_entropy_zero_weight_class_still_smooths() -> None:
    """A target whose class weight is 0 still receives the smoothing term, as PyTorch."""
    t = np.array([0, 1, 2])
    w = np.array([0.0, 1.0, 2.0])
    check_op(lambda z: F.cross_entropy(z, cr.tensor(t), weight=cr.tensor(w),
                                       label_smoothing=0.3, reduction="sum"),
             make_inputs([(3, 3)], seed=8),
             lambda z: TF.cross_entropy(z, torch.tensor(t), weight=torch.tensor(w),
                                        label_smoothing=0.3, reduction="sum"))


def test_cross_entropy_fan_out() -> None:
    t = _targets((4,), 3, seed=9)
    check_op(lambda z: F.cross_entropy(z * z, cr.tensor(t)) + z.sum(),
             make_inputs([(4, 3)], seed=10),
             lambda z: TF.cross_entropy(z * z, torch.tensor(t)) + z.sum())


def test_cross_entropy_all_ignored_mean_is_nan() -> None:
    z = cr.randn(3, 4, requires_grad=True)
    loss = F.cross_entropy(z, cr.tensor([-100, -100, -100]))
    assert np.isnan(loss.item())  # 0 / 0, as PyTorch
    assert F.cross_entropy(z, cr.tensor([-100, -100, -100]), reduction="sum").item() == 0


# -- cross entropy with class probabilities ---------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5, 4), (4,), (2, 3, 2)])
def test_cross_entropy_class_probabilities(shape: tuple[int, ...], reduction: str) -> None:
    """Gradients flow to the logits and to the target distribution, as in PyTorch."""
    z = make_inputs([shape], seed=11)[0]
    check_op(lambda z, p: F.cross_entropy(z, p, reduction=reduction), [z, _probs(shape, 12)],
             lambda z, p: TF.cross_entropy(z, p, reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_probabilities_weight_and_smoothing(reduction: str) -> None:
    w = np.array([0.3, 1.0, 2.0, 0.7])
    check_op(lambda z, p: F.cross_entropy(z, p, weight=cr.tensor(w), reduction=reduction,
                                          label_smoothing=0.25),
             [make_inputs([(5, 4)], seed=13)[0], _probs((5, 4), 14)],
             lambda z, p: TF.cross_entropy(z, p, weight=torch.tensor(w), reduction=reduction,
                                           label_smoothing=0.25))


def test_cross_entropy_probability_target_without_grad() -> None:
    z = cr.randn(4, 3, requires_grad=True)
    p = cr.tensor(_probs((4, 3), 15))  # float64 target, float32 logits: cast to float32
    loss = F.cross_entropy(z, p)
    assert loss.dtype == cr.float32
    loss.backward()
    zn = z.detach().numpy().astype(np.float64)
    e = np.exp(zn - zn.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    np.testing.assert_allclose(z.grad.numpy(), (sm - p.numpy()) / 4, rtol=1e-5, atol=1e-7)


# -- the seeds' Softmax-with-Loss and the hot path -------------------------------------


def test_softmax_with_loss_gradient_is_softmax_minus_onehot_over_n() -> None:
    """The seeds (004): dZ = (softmax(Z) - onehot(t)) / N, computed by hand."""
    rng = np.random.default_rng(16)
    N, C = 8, 5
    z = rng.standard_normal((N, C))
    t = rng.integers(0, C, N)
    zt = cr.tensor(z, requires_grad=True)
    loss = F.cross_entropy(zt, cr.tensor(t))
    loss.backward()
    e = np.exp(z - z.max(1, keepdims=True))
    sm = e / e.sum(1, keepdims=True)
    onehot = np.eye(C)[t]
    np.testing.assert_allclose(loss.item(), -np.log(sm[np.arange(N), t]).mean(), rtol=1e-12)
    np.testing.assert_allclose(zt.grad.numpy(), (sm - onehot) / N, rtol=1e-12, atol=1e-15)
    assert "dZ = (softmax(Z) - onehot(t)) * dL / N  (N,C)" in SoftmaxCrossEntropy.backward.__doc__


def test_cross_entropy_hot_path_is_one_float32_node() -> None:
    z = cr.randn(16, 10, requires_grad=True)
    t = cr.randint(0, 10, (16,))
    loss = F.cross_entropy(z, t)
    assert loss.dtype == cr.float32 and loss.shape == ()
    assert isinstance(loss.grad_fn, SoftmaxCrossEntropy)
    assert loss.grad_fn.next_functions[0][0] is z  # straight to the leaf: a single node
    loss.backward(cr.tensor(2.0))
    assert z.grad.dtype == cr.float32
    zn = z.detach().numpy().astype(np.float64)
    e = np.exp(zn - zn.max(1, keepdims=True))
    expected = (e / e.sum(1, keepdims=True) - np.eye(10)[t.numpy()]) * 2 / 16
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-5, atol=1e-7)


def test_cross_entropy_is_stable_for_huge_logits() -> None:
    z = cr.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], requires_grad=True)
    loss = F.cross_entropy(z, cr.tensor([0, 0]), reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, 1e4 + np.log(2)], rtol=1e-7)
    loss.sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), [[0, 0, 0], [-1, 0.5, 0.5]], atol=1e-6)
    p = F.cross_entropy(z, cr.tensor([[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]]), reduction="none")
    np.testing.assert_allclose(p.numpy(), [1.5e4, 1e4 + np.log(2)], rtol=1e-7)
    assert np.isfinite(F.log_softmax(z, 1).numpy()).all()


def test_cross_entropy_create_graph_double_backward() -> None:
    """Hessian-vector product of the loss: the backward rule is itself differentiable."""
    t = _targets((4,), 3, seed=17)
    z0 = make_inputs([(4, 3)], seed=18)[0]
    v = make_inputs([(4, 3)], seed=19)[0]
    z = cr.tensor(z0, requires_grad=True)
    (g,) = cr.autograd.grad(F.cross_entropy(z, cr.tensor(t)), [z], create_graph=True)
    (hv,) = cr.autograd.grad((g * cr.tensor(v)).sum(), [z])
    e = np.exp(z0 - z0.max(1, keepdims=True))
    p = e / e.sum(1, keepdims=True)
    # H_n = (diag(p_n) - p_n p_n^T) / N  for each sample n
    expected = (p * v - p * (p * v).sum(1, keepdims=True)) / 4
    np.testing.assert_allclose(hv.numpy(), expected, rtol=1e-10, atol=1e-14)


# -- errors -----------------------------------------------------------------------------


def test_cross_entropy_errors() -> None:
    z = cr.randn(3, 5)
    with pytest.raises(IndexError, match="cross_entropy: target 7 is out of bounds for 5 classes"):
        F.cross_entropy(z, cr.tensor([0, 7, 1]))
    with pytest.raises(IndexError, match="cross_entropy: target -3 is out of bounds for 5"):
        F.cross_entropy(z, cr.tensor([0, -3, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy: input of shape \(3, 5\) expects a "
                                         r"target .* \(3,\), got target of shape \(4,\)"):
        F.cross_entropy(z, cr.tensor([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"class probabilities of shape \(3, 5\), got .*"
                                         r"\(3, 4\)"):
        F.cross_entropy(z, cr.rand(3, 4))
    with pytest.raises(ValueError, match="cross_entropy: reduction must be 'mean', 'sum' or "
                                         "'none', got 'avg'"):
        F.cross_entropy(z, cr.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0, got 1.5"):
        F.cross_entropy(z, cr.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"cross_entropy: weight of shape \(4,\) .* \(5,\)"):
        F.cross_entropy(z, cr.tensor([0, 1, 2]), weight=cr.ones(4))
    with pytest.raises(TypeError, match="cross_entropy: target must hold class indices"):
        F.cross_entropy(z, cr.tensor([True, False, True]))


@pytest.mark.parametrize("fn", [F.mse_loss, F.l1_loss])
def test_regression_losses_broadcast_differing_shapes_with_a_warning(fn: object) -> None:
    """As PyTorch: (4,1) against (4,) broadcasts to (4,4) and warns; (4,) vs (3,) fails."""
    x = cr.rand(4, 1, dtype=cr.float64, requires_grad=True)
    y = cr.rand(4, dtype=cr.float64)
    with pytest.warns(UserWarning, match="different to the input size"):
        loss = fn(x, y)
    d = x.detach().numpy() - y.numpy()  # (4,4)
    expected = (d**2).mean() if fn is F.mse_loss else np.abs(d).mean()
    np.testing.assert_allclose(loss.item(), expected)
    loss.backward()
    assert x.grad.shape == (4, 1)
    with pytest.raises(RuntimeError, match=rf"{fn.__name__}: input of shape \(4,\) and "
                                           r"target of shape \(3,\) differ"):
        fn(cr.rand(4), cr.rand(3))


@pytest.mark.parametrize("fn", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_elementwise_losses_reject_shape_mismatch_and_bad_reduction(fn: object) -> None:
    x = cr.rand(4, 1)
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"{name}: input of shape \(4, 1\) and target of "
                                         r"shape \(4,\) differ"):
        fn(x, cr.rand(4))
    with pytest.raises(ValueError, match=f"{name}: reduction must be .* got 'total'"):
        fn(x, cr.rand(4, 1), reduction="total")


# -- nll_loss ---------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize(("xs", "ts"), CE_SHAPES[:3])
def test_nll_loss(xs: tuple[int, ...], ts: tuple[int, ...], reduction: str) -> None:
    C = xs[0] if len(xs) == 1 else xs[1]
    t = _targets(ts, C, seed=20)
    check_op(lambda x: F.nll_loss(x, cr.tensor(t), reduction=reduction),
             make_inputs([xs], seed=21),
             lambda x: TF.nll_loss(x, torch.tensor(t), reduction=reduction))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss_weight_and_ignore_index(reduction: str) -> None:
    t = np.array([0, 2, 1, 2, 3])
    w = np.array([1.0, 0.5, 2.0, 3.0])
    check_op(lambda x: F.nll_loss(x, cr.tensor(t), weight=cr.tensor(w), ignore_index=1,
                                  reduction=reduction),
             make_inputs([(5, 4)], seed=22),
             lambda x: TF.nll_loss(x, torch.tensor(t), weight=torch.tensor(w), ignore_index=1,
                                   reduction=reduction))


def test_nll_of_log_softmax_equals_cross_entropy() -> None:
    z = cr.randn(6, 5, dtype=cr.float64)
    t = cr.randint(0, 5, (6,))
    np.testing.assert_allclose(F.nll_loss(F.log_softmax(z, 1), t).item(),
                               F.cross_entropy(z, t).item(), rtol=1e-12)
    with pytest.raises(IndexError, match="nll_loss: target 5 is out of bounds for 5 classes"):
        F.nll_loss(z, cr.tensor([0, 1, 5, 0, 0, 0]))


# -- mse_loss: the seeds' squared error -------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 2), ()])
def test_mse_loss(shape: tuple[int, ...], reduction: str) -> None:
    check_op(lambda x, y: F.mse_loss(x, y, reduction=reduction), make_inputs([shape, shape]),
             lambda x, y: TF.mse_loss(x, y, reduction=reduction))


def test_mse_loss_gradient_is_two_diff_over_n() -> None:
    x, y = make_inputs([(3, 4), (3, 4)], seed=23)
    xt, yt = cr.tensor(x, requires_grad=True), cr.tensor(y, requires_grad=True)
    F.mse_loss(xt, yt).backward()
    np.testing.assert_allclose(xt.grad.numpy(), 2 * (x - y) / 12, rtol=1e-12)
    np.testing.assert_allclose(yt.grad.numpy(), -2 * (x - y) / 12, rtol=1e-12)


def test_seeds_squared_error_layer_by_hand() -> None:
    """Seed 002: z = x@W + b, y = f(z), e = 1/2 ||y - y*||^2 (f = sigmoid):
    grad_y = y - y*, grad_z = grad_y * f'(z), grad_W = x^T grad_z, grad_b = grad_z,
    grad_x = grad_z @ W^T, computed by hand, equal autograd."""
    rng = np.random.default_rng(24)
    x, W, b, y_star = (rng.standard_normal(s) for s in [(1, 3), (3, 4), (4,), (1, 4)])
    xt, Wt, bt = (cr.tensor(a, requires_grad=True) for a in (x, W, b))
    yt = cr.sigmoid(xt @ Wt + bt)
    e = 0.5 * F.mse_loss(yt, cr.tensor(y_star), reduction="sum")
    e.backward()
    z = x @ W + b
    y = 1 / (1 + np.exp(-z))
    grad_y = y - y_star
    grad_z = grad_y * y * (1 - y)
    np.testing.assert_allclose(e.item(), 0.5 * ((y - y_star) ** 2).sum(), rtol=1e-12)
    np.testing.assert_allclose(Wt.grad.numpy(), x.T @ grad_z, rtol=1e-10)
    np.testing.assert_allclose(bt.grad.numpy(), grad_z[0], rtol=1e-10)
    np.testing.assert_allclose(xt.grad.numpy(), grad_z @ W.T, rtol=1e-10)


# -- l1_loss ----------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_l1_loss(reduction: str) -> None:
    check_op(lambda x, y: F.l1_loss(x, y, reduction=reduction),
             make_inputs([(3, 4), (3, 4)], seed=25),
             lambda x, y: TF.l1_loss(x, y, reduction=reduction))


# -- binary cross entropy ---------------------------------------------------------------


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_cross_entropy(reduction: str, weighted: bool) -> None:
    x, y = make_inputs([(3, 4), (3, 4)], seed=26, low=0.05, high=0.95)
    w = np.random.default_rng(27).uniform(0.5, 2.0, (4,)) if weighted else None
    check_op(lambda x, y: F.binary_cross_entropy(x, y, weight=None if w is None else
                                                 cr.tensor(w), reduction=reduction),
             [x, y],
             lambda x, y: TF.binary_cross_entropy(x, y, weight=_tt(w), reduction=reduction))


def test_binary_cross_entropy_clamps_log_at_minus_100() -> None:
    x = cr.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    y = cr.tensor([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy(x, y, reduction="none")
    np.testing.assert_array_equal(loss.numpy(), [100, 100, 0, 0])
    loss.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    if torch is not None:
        tx = torch.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
        TF.binary_cross_entropy(tx, torch.tensor([1.0, 0.0, 0.0, 1.0]), reduction="sum").backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-6)


def test_binary_cross_entropy_rejects_values_outside_0_1() -> None:
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input should "
                                         "be between 0 and 1"):
        F.binary_cross_entropy(cr.tensor([0.5, 1.5]), cr.tensor([0.0, 1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos", [False, True])
def test_binary_cross_entropy_with_logits(reduction: str, weighted: bool, pos: bool) -> None:
    x = make_inputs([(3, 4)], seed=28)[0] * 3
    y = make_inputs([(3, 4)], seed=29, low=0.0, high=1.0)[0]
    w = np.random.default_rng(30).uniform(0.5, 2.0, (3, 1)) if weighted else None
    pw = np.random.default_rng(31).uniform(0.5, 3.0, (4,)) if pos else None
    check_op(lambda x, y: F.binary_cross_entropy_with_logits(
                 x, y, weight=None if w is None else cr.tensor(w), reduction=reduction,
                 pos_weight=None if pw is None else cr.tensor(pw)),
             [x, y],
             lambda x, y: TF.binary_cross_entropy_with_logits(
                 x, y, weight=_tt(w), reduction=reduction, pos_weight=_tt(pw)))


def test_binary_cross_entropy_with_logits_is_stable_for_huge_logits() -> None:
    x = cr.tensor([1e4, -1e4, 1e4, -1e4], requires_grad=True)
    y = cr.tensor([1.0, 0.0, 0.0, 1.0])
    loss = F.binary_cross_entropy_with_logits(x, y, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0, 0, 1e4, 1e4])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 0, 1, -1])
    loss = F.binary_cross_entropy_with_logits(x, y, pos_weight=cr.tensor([2.0]),
                                              reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0, 0, 1e4, 2e4])
    # the double backward (which recomputes softplus on Tensors) is stable too
    xd = cr.tensor([1e4, -1e4], dtype=cr.float64, requires_grad=True)
    yd = cr.tensor([0.3, 0.6], dtype=cr.float64, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(xd, yd, pos_weight=cr.tensor([2.0]).double())
    gx, gy = cr.autograd.grad(loss, [xd, yd], create_graph=True)
    assert np.isfinite(gy.numpy()).all()
    (ggx,) = cr.autograd.grad(gy.sum(), [xd])
    assert np.isfinite(ggx.numpy()).all()


@pytest.mark.parametrize("name", ["l1_loss", "nll_loss"])
def test_piecewise_losses_gradients_are_differentiable(name: str) -> None:
    # as PyTorch: the gradient is recorded as a function of the input (derivative 0)
    x = cr.tensor([[-1.0, 0.5, 2.0], [0.3, -0.2, 1.5]], dtype=cr.float64, requires_grad=True)
    target = cr.tensor([0, 2]) if name == "nll_loss" else cr.zeros(2, 3, dtype=cr.float64)
    (g,) = cr.autograd.grad(getattr(F, name)(x, target), x, create_graph=True)
    assert g.requires_grad
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), np.zeros((2, 3)))


@pytest.mark.parametrize("fn", [F.cross_entropy, F.nll_loss])
def test_targets_weighing_nothing_give_nan_and_no_gradient_to_ignored_rows(fn) -> None:
    import warnings

    z = np.arange(6.0).reshape(2, 3) / 3
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy warnings about 0/0
        # every target ignored: the mean is NaN, the gradient 0 (PyTorch's values)
        x = cr.tensor(z, requires_grad=True)
        loss = fn(x, cr.tensor([-100, -100]))
        loss.backward()
        assert np.isnan(loss.item())
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))
        # the kept target weighs 0: NaN, and NaN gradient for its row only
        x = cr.tensor(z, requires_grad=True)
        loss = fn(x, cr.tensor([0, -100]), weight=cr.tensor([0.0, 1.0, 1.0], dtype=cr.float64))
        loss.backward()
        assert np.isnan(loss.item())
        assert np.isnan(x.grad.numpy()[0]).any() and not x.grad.numpy()[1].any()


def test_mean_over_an_empty_batch_is_nan_without_warnings() -> None:
    import warnings

    x = cr.zeros(0, 3, dtype=cr.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for loss in (F.cross_entropy(x, cr.zeros(0, dtype=cr.int64)), F.mse_loss(x, x.detach()),
                     F.binary_cross_entropy_with_logits(x, x.detach())):
            assert np.isnan(loss.item())
            loss.backward()
            assert x.grad.shape == (0, 3)
