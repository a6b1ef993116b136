"""Margin and embedding losses: gradcheck, gradgradcheck and PyTorch parity for every
reduction, plus their errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.opcheck import check_op, make_inputs, torch

TF = None if torch is None else torch.nn.functional
RED = ["mean", "sum", "none"]
SIGNS = np.array([1.0, -1.0, -1.0, 1.0, 1.0])


def _tf(fn):
    return None if torch is None else fn


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("margin", [0.0, 0.5])
def test_margin_ranking(reduction, margin):
    a, b = make_inputs([(5,), (5,)], seed=1)
    b = np.where(np.abs(-SIGNS * (a - b) + margin) < 0.05, b + 0.2, b)  # off the kink
    check_op(lambda x, y, t: F.margin_ranking_loss(x, y, t, margin, reduction=reduction),
             [a, b, SIGNS],
             _tf(lambda x, y, t: TF.margin_ranking_loss(x, y, t, margin,
                                                         reduction=reduction)))


def test_margin_ranking_dims():
    with pytest.raises(RuntimeError, match="same dimension"):
        F.margin_ranking_loss(cr.randn(3), cr.randn(3), cr.ones(1, 3))


@pytest.mark.parametrize("reduction", RED)
def test_hinge_embedding(reduction):
    (x,) = make_inputs([(5,)], seed=2, low=0.1, high=2.0)
    x = np.where(np.abs(x - 1) < 0.05, 0.5, x)
    t = SIGNS
    check_op(lambda a: F.hinge_embedding_loss(a, cr.tensor(t), reduction=reduction), [x],
             _tf(lambda a: TF.hinge_embedding_loss(a, torch.tensor(t), reduction=reduction)))


@pytest.mark.parametrize("reduction", RED)
def test_soft_margin(reduction):
    x, y = make_inputs([(5,), (5,)], seed=3)
    for t in (y, SIGNS):
        check_op(lambda a, t=t: F.soft_margin_loss(a, cr.tensor(t, dtype=a.dtype),
                                                   reduction=reduction), [x],
                 _tf(lambda a, t=t: TF.soft_margin_loss(a, torch.tensor(t),
                                                        reduction=reduction)))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("shape", [(4, 3), (3,)])
def test_multi_margin(reduction, p, weighted, shape):
    (x,) = make_inputs([shape], seed=4)
    t = np.array([0, 2, 1, 2])[: shape[0]] if len(shape) == 2 else np.array(1)
    w = np.array([0.5, 1.0, 2.0]) if weighted else None

    def crf(a):
        return F.multi_margin_loss(a, cr.tensor(t), p, 0.9,
                                   None if w is None else cr.tensor(w), reduction=reduction)

    def tf(a):
        return TF.multi_margin_loss(a, torch.tensor(t), p, 0.9,
                                    None if w is None else torch.tensor(w),
                                    reduction=reduction)

    check_op(crf, [x], _tf(tf))


def test_multi_margin_errors():
    x = cr.randn(2, 3)
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        F.multi_margin_loss(x, cr.tensor([0, 1]), p=3)
    with pytest.raises(ValueError, match="one-dimensional"):
        F.multi_margin_loss(x, cr.tensor([0, 1]), weight=cr.ones(1, 3))
    with pytest.raises(RuntimeError, match="out of range"):
        F.multi_margin_loss(x, cr.tensor([0, 3]))
    with pytest.raises(ValueError, match="target tensor should be 1-D"):
        F.multi_margin_loss(x, cr.tensor([0, 1, 2]))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("margin", [0.0, -0.3])
def test_cosine_embedding(reduction, margin):
    a, b = make_inputs([(5, 3), (5, 3)], seed=5)
    check_op(lambda x, y: F.cosine_embedding_loss(x, y, cr.tensor(SIGNS), margin,
                                                  reduction=reduction), [a, b],
             _tf(lambda x, y: TF.cosine_embedding_loss(x, y, torch.tensor(SIGNS), margin,
                                                       reduction=reduction)))
    check_op(lambda x, y: F.cosine_embedding_loss(x, y, cr.tensor(-1.0), margin,
                                                  reduction=reduction), [a[0], b[0]],
             _tf(lambda x, y: TF.cosine_embedding_loss(x, y, torch.tensor(-1.0), margin,
                                                       reduction=reduction)))


def test_cosine_embedding_errors():
    with pytest.raises(RuntimeError, match="1D target tensor expects 2D"):
        F.cosine_embedding_loss(cr.randn(3), cr.randn(3), cr.ones(3))
    with pytest.raises(RuntimeError, match="multi-target"):
        F.cosine_embedding_loss(cr.randn(3, 2), cr.randn(3, 2), cr.ones(3, 2))


@pytest.mark.parametrize("reduction", RED)
@pytest.mark.parametrize("p", [2.0, 1.0, 3.0])
@pytest.mark.parametrize("swap", [False, True])
def test_triplet(reduction, p, swap):
    a, pos, neg = make_inputs([(4, 3), (4, 3), (4, 3)], seed=6)
    check_op(lambda x, y, z: F.triplet_margin_loss(x, y, z, margin=1.5, p=p, swap=swap,
                                                   reduction=reduction), [a, pos, neg],
             _tf(lambda x, y, z: TF.triplet_margin_loss(x, y, z, margin=1.5, p=p, swap=swap,
                                                        reduction=reduction)))


def test_triplet_with_distance():
    a, pos, neg = make_inputs([(4, 3), (4, 3), (4, 3)], seed=7)

    def cr_d(x, y):
        return 1 - F.cosine_similarity(x, y)

    def t_d(x, y):
        return 1 - TF.cosine_similarity(x, y)

    check_op(lambda x, y, z: F.triplet_margin_with_distance_loss(
        x, y, z, distance_function=cr_d, margin=0.8, swap=True), [a, pos, neg],
        _tf(lambda x, y, z: TF.triplet_margin_with_distance_loss(
            x, y, z, distance_function=t_d, margin=0.8, swap=True)))
    check_op(lambda x, y, z: F.triplet_margin_with_distance_loss(x, y, z), [a, pos, neg],
             _tf(lambda x, y, z: TF.triplet_margin_with_distance_loss(x, y, z)))


def test_triplet_errors():
    x = cr.randn(2, 3)
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        F.triplet_margin_loss(x, x, x, margin=0)
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        F.triplet_margin_loss(x, x, cr.randn(3))


def test_soft_margin_target_not_differentiable():
    with pytest.raises(RuntimeError, match="not differentiable with respect to argument"):
        F.soft_margin_loss(cr.randn(3), cr.randn(3, requires_grad=True))


def test_soft_margin_dtype_and_broadcast_error():
    x32 = cr.randn(3, dtype=cr.float32)
    assert F.soft_margin_loss(x32, cr.randn(3, dtype=cr.float64)).dtype == cr.float32
    with pytest.raises(RuntimeError, match="doesn't match the broadcast shape"):
        F.soft_margin_loss(cr.randn(2, 1), cr.randn(1, 3))


def test_multi_margin_shapes():
    x = cr.randn(3)
    assert F.multi_margin_loss(x, cr.tensor([1]), reduction="none").shape == (1,)
    assert F.multi_margin_loss(x, cr.tensor(1), reduction="none").shape == ()
    empty = F.multi_margin_loss(cr.randn(0, 3), cr.zeros(0, dtype=cr.int64), reduction="none")
    assert empty.shape == (0,)
    assert F.multi_margin_loss(cr.randn(0, 3), cr.zeros(0, dtype=cr.int64),
                               reduction="sum").item() == 0.0
    with pytest.raises(ValueError, match="non-empty vector or matrix"):
        F.multi_margin_loss(cr.randn(2, 3, 4), cr.tensor([1, 2]))
