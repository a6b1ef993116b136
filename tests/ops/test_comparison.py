"""Tests of ops/comparison.py: isclose/allclose/equal, isnan/isinf/isfinite, any/all,
count_nonzero, numel, as PyTorch (no gradient)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import torch

X = np.array([[1.0, 0.0, np.nan], [np.inf, -np.inf, 2.0]])


@pytest.mark.parametrize("name", ["isnan", "isinf", "isfinite", "isposinf", "isneginf"])
def test_floating_tests_equal_torch(name: str) -> None:
    y = getattr(cr, name)(cr.tensor(X))
    assert y.dtype == cr.bool and not y.requires_grad
    np.testing.assert_array_equal(y.numpy(), getattr(np, name)(X))
    np.testing.assert_array_equal(getattr(cr.tensor(X), name)().numpy(), y.numpy())
    if torch is not None:
        np.testing.assert_array_equal(y.numpy(), getattr(torch, name)(torch.tensor(X)).numpy())


@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 1), False),
                                         (-1, False)])
def test_any_all_count_nonzero_with_dims(dim: object, keepdim: bool) -> None:
    a = np.array([[1, 0, 2], [0, 0, 3]])
    x = cr.tensor(a)
    kw = {} if dim is None else {"dim": dim}
    for name in ("any", "all"):
        ours = getattr(cr, name)(x, **kw, keepdim=keepdim)
        assert ours.dtype == cr.bool
        if torch is not None:
            theirs = getattr(torch, name)(torch.tensor(a), **kw, keepdim=keepdim) if kw else \
                getattr(torch, name)(torch.tensor(a))
            if kw or not keepdim:
                np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    n = cr.count_nonzero(x, **kw)
    assert n.dtype == cr.int64
    np.testing.assert_array_equal(n.numpy(), np.count_nonzero(a, axis=dim))
    assert x.any(1).tolist() == [True, True] and x.all(0).tolist() == [False, False, True]


def test_isclose_allclose_equal() -> None:
    a = cr.tensor([1.0, 2.0, np.nan])
    b = cr.tensor([1.0 + 1e-7, 2.1, np.nan])
    assert cr.isclose(a, b).tolist() == [True, False, False]
    assert cr.isclose(a, b, equal_nan=True).tolist() == [True, False, True]
    assert not cr.allclose(a, b) and cr.allclose(a[:1], b[:1]) and a[:1].allclose(b[:1])
    assert cr.allclose(a, b, atol=0.2, equal_nan=True)
    assert cr.equal(a[:2], cr.tensor([1.0, 2.0])) and not cr.equal(a[:2], a[:1])
    assert a[:2].equal(cr.tensor([1.0, 2.0]))
    assert cr.numel(cr.zeros(2, 3)) == 6 and cr.zeros(2, 3).nelement() == 6
    assert cr.logical_not(cr.tensor([True, False])).tolist() == [False, True]
    assert cr.logical_and(cr.tensor([1, 0]), cr.tensor([1, 1])).tolist() == [True, False]
    with pytest.raises(TypeError, match="isnan: expected a Tensor"):
        cr.isnan("x")
