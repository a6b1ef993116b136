"""Tests of the layers: Linear, Bilinear, BatchNorm1d, activations, Dropout, Flatten,
Identity and the loss modules, against PyTorch given the same weights, plus Parameter."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
import chainrule.nn.functional as F

try:  # optional reference for parity checks
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _leaf(a: np.ndarray) -> cr.Tensor:
    return cr.tensor(a, dtype=cr.float64, requires_grad=True)


# -- Parameter ------------------------------------------------------------------------


def test_parameter_basics() -> None:
    t = cr.zeros(2, 3)
    p = nn.Parameter(t)
    assert isinstance(p, cr.Tensor) and p.requires_grad and p.is_leaf
    assert np.shares_memory(p.detach().numpy(), t.detach().numpy())  # as torch.nn.Parameter
    assert repr(p) == ("Parameter containing:\ntensor([[0., 0., 0.],\n        [0., 0., 0.]], "
                       "requires_grad=True)")
    assert not nn.Parameter(t, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,) and nn.Parameter().dtype == cr.float32
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(cr.tensor([1, 2]))
    with pytest.raises(TypeError, match="Parameter: expected a Tensor"):
        nn.Parameter([1.0, 2.0])
    y = (p * 2).sum()
    assert type(y) is cr.Tensor


# -- Linear -------------------------------------------------------------------------------


def test_linear_init_is_torch_reset_parameters() -> None:
    cr.manual_seed(0)
    fc = nn.Linear(400, 300)
    assert fc.weight.shape == (300, 400) and fc.bias.shape == (300,)
    assert fc.weight.dtype == cr.float32 and fc.bias.dtype == cr.float32
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) gives U(-1/sqrt(in), 1/sqrt(in))
    w, b = fc.weight.detach().numpy(), fc.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound  # std of U(-a, a) = a/sqrt(3)
    assert abs(w.mean()) < 0.01 * bound and np.abs(w).max() > 0.99 * bound
    cr.manual_seed(0)
    np.testing.assert_array_equal(nn.Linear(400, 300).weight.detach().numpy(), w)  # reproducible
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=cr.float64).weight.dtype == cr.float64


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_forward_backward_equals_torch(shape: tuple[int, ...], bias: bool) -> None:
    torch_ = pytest.importorskip("torch")
    fc = nn.Linear(4, 3, bias=bias).double()
    tfc = torch_.nn.Linear(4, 3, bias=bias).double()
    tfc.load_state_dict({k: torch_.tensor(v.numpy()) for k, v in fc.state_dict().items()})
    x = np.random.default_rng(0).standard_normal(shape)
    cx, tx = _leaf(x), torch_.tensor(x, requires_grad=True)
    cy, ty = fc(cx), tfc(tx)
    np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    cot = np.random.default_rng(1).standard_normal(cy.shape)
    (cy * cr.tensor(cot)).sum().backward()
    (ty * torch_.tensor(cot)).sum().backward()
    np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(fc.weight.grad.numpy(), tfc.weight.grad.numpy(), rtol=1e-12)
    if bias:
        np.testing.assert_allclose(fc.bias.grad.numpy(), tfc.bias.grad.numpy(), rtol=1e-12)


def test_linear_gradcheck() -> None:
    fc = nn.Linear(3, 2).double()
    x = _leaf(np.random.default_rng(2).standard_normal((4, 3)))
    assert cr.autograd.gradcheck(lambda x, w, b: F.linear(x, w, b), [x, fc.weight, fc.bias])
    assert cr.autograd.gradgradcheck(lambda x: fc(x) * fc(x), [x])


# -- Bilinear -----------------------------------------------------------------------------


def test_bilinear_init_and_forward_equal_torch() -> None:
    cr.manual_seed(1)
    bl = nn.Bilinear(50, 3, 20)
    bound = 1 / math.sqrt(50)
    assert bl.weight.shape == (20, 50, 3) and bl.bias.shape == (20,)
    assert np.abs(bl.weight.detach().numpy()).max() <= bound
    assert np.abs(bl.bias.detach().numpy()).max() <= bound
    assert np.abs(bl.weight.detach().numpy()).max() > 0.95 * bound
    if torch is None:
        return
    tbl = torch.nn.Bilinear(50, 3, 20)
    tbl.load_state_dict({k: torch.tensor(v.numpy()) for k, v in bl.state_dict().items()})
    x1, x2 = cr.randn(4, 50), cr.randn(4, 3)
    np.testing.assert_allclose(bl(x1, x2).detach().numpy(),
                               tbl(torch.tensor(x1.numpy()), torch.tensor(x2.numpy()))
                               .detach().numpy(), rtol=1e-4, atol=1e-5)


# -- BatchNorm1d --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(8, 3), (4, 3, 5)])
@pytest.mark.parametrize("momentum", [0.1, None])
def test_batchnorm_train_and_eval_equal_torch(shape: tuple[int, ...],
                                              momentum: float | None) -> None:
    torch_ = pytest.importorskip("torch")
    bn = nn.BatchNorm1d(3, momentum=momentum).double()
    tbn = torch_.nn.BatchNorm1d(3, momentum=momentum).double()
    rng = np.random.default_rng(3)
    with cr.no_grad():
        bn.weight.copy_(cr.tensor(rng.uniform(0.5, 1.5, 3)))
        bn.bias.copy_(cr.tensor(rng.standard_normal(3)))
    tbn.load_state_dict({k: torch_.tensor(v.numpy()) for k, v in bn.state_dict().items()})
    for step in range(3):  # training steps update the running statistics
        x = rng.standard_normal(shape) * 2 + 1
        cx, tx = _leaf(x), torch_.tensor(x, requires_grad=True)
        cy, ty = bn(cx), tbn(tx)
        np.testing.assert_allclose(cy.detach().numpy(), ty.detach().numpy(), rtol=1e-10,
                                   atol=1e-12)
        cot = rng.standard_normal(shape)
        (cy * cr.tensor(cot)).sum().backward()
        (ty * torch_.tensor(cot)).sum().backward()
        np.testing.assert_allclose(cx.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-12)
        for k, v in bn.state_dict().items():
            np.testing.assert_allclose(v.numpy(), tbn.state_dict()[k].numpy(), rtol=1e-12,
                                       err_msg=f"{k} after step {step}")
    np.testing.assert_allclose(bn.weight.grad.numpy(), tbn.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(bn.bias.grad.numpy(), tbn.bias.grad.numpy(), rtol=1e-10)
    bn.eval()
    tbn.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(bn(cr.tensor(x)).detach().numpy(),
                               tbn(torch_.tensor(x)).detach().numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("train", [True, False])
def test_batchnorm_gradcheck_and_gradgradcheck(train: bool) -> None:
    bn = nn.BatchNorm1d(3).double()
    with cr.no_grad():
        bn.weight.copy_(cr.tensor([0.5, 1.5, -1.0]).double())
        bn.running_var.copy_(cr.tensor([0.5, 2.0, 1.0]).double())
    bn.train(train)
    x = _leaf(np.random.default_rng(4).standard_normal((5, 3, 2)))
    # with batch statistics the output sums to a constant per channel: weigh it
    wts = cr.tensor(np.random.default_rng(5).standard_normal((5, 3, 2)))

    def f(x: cr.Tensor, w: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return F.batch_norm(x, None, None, w, b, training=True) * wts if train else \
            F.batch_norm(x, bn.running_mean, bn.running_var, w, b) * wts

    assert cr.autograd.gradcheck(f, [x, bn.weight, bn.bias])
    assert cr.autograd.gradgradcheck(f, [x, bn.weight, bn.bias])


def test_batchnorm_options_and_errors() -> None:
    bn = nn.BatchNorm1d(4, affine=False, track_running_stats=False)
    assert list(bn.state_dict()) == [] and bn.weight is None
    y = bn(cr.randn(6, 4) * 3 + 2)
    np.testing.assert_allclose(y.numpy().mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.numpy().var(0), 1, rtol=1e-3)
    bn.eval()  # without running statistics, eval still normalises with the batch's
    np.testing.assert_allclose(bn(cr.randn(6, 4) + 5).numpy().mean(0), 0, atol=1e-5)
    nobias = nn.BatchNorm1d(4, bias=False)
    assert [n for n, _ in nobias.named_parameters()] == ["weight"]
    assert nobias(cr.randn(3, 4)).shape == (3, 4)
    full = nn.BatchNorm1d(4)
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input"):
        full(cr.randn(2, 4, 3, 3))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        full(cr.randn(1, 4))
    full.eval()
    assert full(cr.randn(1, 4)).shape == (1, 4)  # fine in eval mode
    assert full(cr.randn(1, 4)).dtype == cr.float32


def test_batchnorm_reset_running_stats() -> None:
    bn = nn.BatchNorm1d(2)
    bn(cr.randn(5, 2) + 3)
    assert int(bn.num_batches_tracked.item()) == 1 and bn.running_mean.numpy().max() > 0.1
    bn.reset_running_stats()
    np.testing.assert_array_equal(bn.running_mean.numpy(), [0, 0])
    assert int(bn.num_batches_tracked.item()) == 0


def test_batchnorm_wrong_feature_count_is_a_runtime_error_as_in_torch() -> None:
    bn = nn.BatchNorm1d(3)
    with pytest.raises(RuntimeError, match=r"has 5 features \(dim 1\), expected 3"):
        bn(cr.randn(4, 5))
    with pytest.raises(ValueError, match="expected 2D or 3D input"):  # also ValueError in torch
        bn(cr.randn(3))


# -- activations, dropout, flatten, identity ---------------------------------------------


def test_activation_modules_call_their_functions() -> None:
    x = cr.randn(3, 4)
    cases = [
        (nn.ReLU(), F.relu(x)), (nn.Sigmoid(), cr.sigmoid(x)), (nn.Tanh(), cr.tanh(x)),
        (nn.Softmax(dim=0), F.softmax(x, 0)), (nn.LogSoftmax(dim=1), F.log_softmax(x, 1)),
        (nn.LeakyReLU(0.2), F.leaky_relu(x, 0.2)), (nn.Identity(54, unused=1), x),
        (nn.Flatten(0), x.reshape(12)),
    ]
    for module, expected in cases:
        np.testing.assert_array_equal(module(x).numpy(), expected.numpy())
    assert nn.Identity()(x) is x
    assert nn.Flatten()(cr.randn(2, 3, 4, 5)).shape == (2, 60)
    assert nn.Flatten(1, 2)(cr.randn(2, 3, 4, 5)).shape == (2, 12, 5)
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    assert repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"


def test_dropout_module_follows_training_mode() -> None:
    drop = nn.Dropout(0.5)
    x = cr.ones(100, 100)
    assert (drop(x).numpy() == 0).mean() > 0.4
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError, match="Dropout: probability has to be between 0 and 1"):
        nn.Dropout(1.2)


# -- loss modules -----------------------------------------------------------------------


def test_loss_modules_equal_functional() -> None:
    z, t = cr.randn(6, 4), cr.randint(0, 4, (6,))
    w = cr.tensor([1.0, 2.0, 0.5, 1.0])
    pairs = [
        (nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)(z, t),
         F.cross_entropy(z, t, weight=w, label_smoothing=0.1)),
        (nn.CrossEntropyLoss(ignore_index=2, reduction="sum")(z, t),
         F.cross_entropy(z, t, ignore_index=2, reduction="sum")),
        (nn.NLLLoss(weight=w)(F.log_softmax(z, 1), t), F.nll_loss(F.log_softmax(z, 1), t, w)),
        (nn.MSELoss(reduction="none")(z, z * 2), F.mse_loss(z, z * 2, reduction="none")),
        (nn.L1Loss()(z, z * 0), F.l1_loss(z, z * 0)),
        (nn.BCELoss()(cr.sigmoid(z), cr.sigmoid(z * 2)),
         F.binary_cross_entropy(cr.sigmoid(z), cr.sigmoid(z * 2))),
        (nn.BCEWithLogitsLoss(pos_weight=w)(z, cr.sigmoid(z)),
         F.binary_cross_entropy_with_logits(z, cr.sigmoid(z), pos_weight=w)),
    ]
    for got, expected in pairs:
        np.testing.assert_array_equal(got.numpy(), expected.numpy())
    assert list(nn.CrossEntropyLoss(weight=w).state_dict()) == ["weight"]  # a buffer, as torch
    assert list(nn.BCEWithLogitsLoss(pos_weight=w).state_dict()) == ["pos_weight"]
    assert list(nn.MSELoss().state_dict()) == []
    with pytest.raises(ValueError, match="MSELoss: reduction must be 'mean', 'sum' or 'none', "
                                         "got 'avg'"):
        nn.MSELoss(reduction="avg")


def test_training_a_small_model_reduces_the_loss() -> None:
    cr.manual_seed(0)
    x = cr.randn(64, 2)
    y = (x[:, 0] * x[:, 1] > 0).long()
    model = nn.Sequential(nn.Linear(2, 16), nn.BatchNorm1d(16), nn.Tanh(), nn.Linear(16, 2))
    loss_fn = nn.CrossEntropyLoss()
    first = None
    for _ in range(60):
        loss = loss_fn(model(x), y)
        first = first if first is not None else loss.item()
        model.zero_grad()
        loss.backward()
        with cr.no_grad():
            for p in model.parameters():
                p.sub_(p.grad * 0.5)
    assert loss.item() < 0.5 * first
