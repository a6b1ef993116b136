"""cosine_similarity and pairwise_distance: gradcheck, gradgradcheck, PyTorch parity,
broadcasting and the clamps at zero norm."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from tests.opcheck import check_op, make_inputs, torch

TF = None if torch is None else torch.nn.functional


@pytest.mark.parametrize(("s1", "s2", "dim"), [((4, 3), (4, 3), 1), ((2, 3, 1), (1, 3, 5), 1),
                                               ((3,), (3,), 0), ((2, 4), (4,), -1)])
def test_cosine_similarity(s1, s2, dim):
    a, b = make_inputs([s1, s2], seed=1)
    check_op(lambda x, y: F.cosine_similarity(x, y, dim=dim), [a, b],
             None if torch is None else lambda x, y: TF.cosine_similarity(x, y, dim=dim))


def test_cosine_similarity_tiny_and_zero_norm():
    a = np.array([[1e-10, 2e-10], [0.0, 0.0], [1.0, -2.0]])
    b = np.array([[1.0, 3.0], [1.0, 1.0], [0.5, 0.5]])
    x, y = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    out = cr.cosine_similarity(x, y)
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    if torch is not None:
        tx = torch.tensor(a, requires_grad=True)
        ty = torch.tensor(b, requires_grad=True)
        tout = torch.cosine_similarity(tx, ty)
        tout.sum().backward()
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), rtol=1e-12)
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(y.grad.numpy(), ty.grad.numpy(), rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, 1.5, math.inf])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize(("s1", "s2"), [((4, 3), (4, 3)), ((4, 3), (3,)), ((5,), (5,))])
def test_pairwise_distance(p, keepdim, s1, s2):
    a, b = make_inputs([s1, s2], seed=2)
    check_op(lambda x, y: F.pairwise_distance(x, y, p=p, keepdim=keepdim), [a, b],
             None if torch is None else
             lambda x, y: TF.pairwise_distance(x, y, p=p, keepdim=keepdim))


def test_pairwise_distance_p0_and_errors():
    a, b = make_inputs([(3, 4), (3, 4)], seed=3)
    out = F.pairwise_distance(cr.tensor(a), cr.tensor(b), p=0)
    np.testing.assert_array_equal(out.numpy(), [4, 4, 4])
    with pytest.raises(ValueError):
        F.pairwise_distance(cr.randn(3, 4), cr.randn(3, 5))
    with pytest.raises(ValueError):
        F.cosine_similarity(cr.randn(3, 4), cr.randn(2, 4))


def test_pairwise_distance_0d():
    out = F.pairwise_distance(cr.tensor(1.0), cr.tensor(3.0), keepdim=True)
    assert out.shape == () and np.isclose(out.item(), 2.0 - 1e-6)
