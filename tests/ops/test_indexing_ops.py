"""Tests of ops/indexing.py: gather scatter scatter_add index_select index_add index_fill
take_along_dim masked_fill tril triu narrow (gradcheck, gradgradcheck, torch parity)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import check_op, make_inputs, torch

IDX = np.array([[0, 2, 2], [1, 0, 1]])  # repeated indices: gradients must add


def _t(a: np.ndarray) -> object:
    return torch.tensor(a) if torch is not None else None


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather_with_repeats_and_smaller_index(dim: int) -> None:
    (x,) = make_inputs([(3, 4)])
    idx = IDX if dim != 0 else np.array([[0, 2, 2], [1, 0, 1]])
    check_op(lambda t: cr.gather(t, dim, cr.tensor(idx)), [x],
             (lambda t: torch.gather(t, dim, _t(idx))) if torch else None)
    check_op(lambda t: t.gather(dim, cr.tensor(idx)) * 2, [x],
             (lambda t: t.gather(dim, _t(idx)) * 2) if torch else None)


@pytest.mark.parametrize("add", [False, True])
def test_scatter_and_scatter_add(add: bool) -> None:
    x, src, big = make_inputs([(3, 4), (2, 3), (2, 5)], seed=1)
    idx = np.array([[0, 1, 2], [2, 3, 0]]) if not add else IDX
    fn, tfn = (cr.scatter_add, "scatter_add") if add else (cr.scatter, "scatter")
    check_op(lambda a, b: fn(a, 1, cr.tensor(idx), b), [x, src],
             (lambda a, b: getattr(torch, tfn)(a, 1, _t(idx), b)) if torch else None)
    i0 = np.array([[0, 1], [2, 0]]) if not add else np.array([[0, 1], [0, 1]])
    check_op(lambda a, b: getattr(a, tfn)(0, cr.tensor(i0), b), [x, src[:, :2]],
             (lambda a, b: getattr(a, tfn)(0, _t(i0), b)) if torch else None)
    # a src larger than the index: only its leading block is used (and gets gradient)
    out = fn(cr.tensor(x), 1, cr.tensor(idx), cr.tensor(big))
    if torch is not None:
        ref = getattr(torch, tfn)(torch.tensor(x), 1, _t(idx), torch.tensor(big))
        np.testing.assert_allclose(out.numpy(), ref.numpy())
    check_op(lambda a, b: fn(a, 1, cr.tensor(idx), b), [x, big], None)


def test_scatter_value_and_in_place_forms() -> None:
    x = cr.zeros(2, 3)
    y = cr.scatter(x, 1, cr.tensor([[2], [0]]), value=5.0)
    np.testing.assert_array_equal(y.numpy(), [[0, 0, 5], [5, 0, 0]])
    x.scatter_(1, cr.tensor([[1], [1]]), cr.ones(2, 1))
    x.scatter_add_(0, cr.tensor([[0, 0, 0]]), cr.full((1, 3), 2.0))
    np.testing.assert_array_equal(x.numpy(), [[2, 3, 2], [0, 1, 0]])
    w = cr.ones(3, requires_grad=True)
    h = w * 1
    h.masked_fill_(cr.tensor([True, False, False]), 0.0)
    (h * cr.tensor([1.0, 2.0, 3.0])).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [0.0, 2.0, 3.0])


def test_index_select_add_fill() -> None:
    (x,) = make_inputs([(3, 4)], seed=2)
    idx = np.array([2, 0, 2])
    check_op(lambda t: cr.index_select(t, 1, cr.tensor(idx)), [x],
             (lambda t: torch.index_select(t, 1, _t(idx))) if torch else None)
    (s,) = make_inputs([(3, 3)], seed=3)
    check_op(lambda a, b: cr.index_add(a, 1, cr.tensor(idx), b, alpha=2.0), [x, s],
             (lambda a, b: torch.index_add(a, 1, _t(idx), b, alpha=2.0)) if torch else None)
    check_op(lambda a: a.index_fill(0, cr.tensor([1]), -1.0), [x],
             (lambda a: a.index_fill(0, _t(np.array([1])), -1.0)) if torch else None)
    y = cr.zeros(3).index_add_(0, cr.tensor([0, 0]), cr.ones(2))
    assert y.tolist() == [2.0, 0.0, 0.0]


@pytest.mark.parametrize("dim", [None, 0, 1])
def test_take_along_dim_broadcasts(dim: int | None) -> None:
    (x,) = make_inputs([(3, 4)], seed=4)
    idx = {None: np.array([0, 5, 11, 5]), 0: np.array([[2, 0, 1, 1]]),
           1: np.array([[3], [0], [3]])}[dim]
    check_op(lambda t: cr.take_along_dim(t, cr.tensor(idx), dim), [x],
             (lambda t: torch.take_along_dim(t, _t(idx), dim)) if torch else None)
    i2 = np.argsort(x, axis=1)
    np.testing.assert_array_equal(cr.tensor(x).take_along_dim(cr.tensor(i2), 1).numpy(),
                                  np.sort(x, axis=1))


def test_masked_fill_broadcast_mask_and_tensor_value() -> None:
    (x,) = make_inputs([(2, 3, 4)], seed=5)
    mask = np.array([True, False, True, False])
    check_op(lambda t: cr.masked_fill(t, cr.tensor(mask), -1e9), [x],
             (lambda t: t.masked_fill(_t(mask), -1e9)) if torch else None)
    causal = np.triu(np.ones((3, 4), bool), 1)
    check_op(lambda t: t.masked_fill(cr.tensor(causal), float("-inf")).softmax(-1), [x],
             (lambda t: t.masked_fill(_t(causal), float("-inf")).softmax(-1)) if torch
             else None)
    check_op(lambda t, v: cr.masked_fill(t, cr.tensor(mask), v.sum()), [x, np.array([0.5])],
             (lambda t, v: t.masked_fill(_t(mask), v.sum())) if torch else None)
    with pytest.raises(TypeError, match="boolean mask"):
        cr.masked_fill(cr.tensor(x), cr.tensor([1, 0, 1, 0]), 0.0)
    with pytest.raises(ValueError, match=r"mask of shape \(3,\) does not broadcast with"):
        cr.masked_fill(cr.tensor(x), cr.tensor([True, False, True]), 0.0)


@pytest.mark.parametrize("diagonal", [-1, 0, 2])
def test_tril_triu(diagonal: int) -> None:
    (x,) = make_inputs([(2, 3, 4)], seed=6)
    for ours, theirs in ((cr.tril, "tril"), (cr.triu, "triu")):
        tfn = getattr(torch, theirs) if torch else None
        check_op(lambda t, f=ours: f(t, diagonal), [x],
                 (lambda t, f=tfn: f(t, diagonal)) if torch else None)
    y = cr.ones(3, 3)
    y.tril_()
    assert y.sum().item() == 6.0 and cr.ones(3, 3).triu(1).sum().item() == 3.0
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        cr.tril(cr.ones(3))


def test_narrow_and_index_errors() -> None:
    (x,) = make_inputs([(3, 5)], seed=7)
    check_op(lambda t: t.narrow(1, 1, 3), [x],
             (lambda t: t.narrow(1, 1, 3)) if torch else None)
    assert cr.narrow(cr.tensor(x), 0, -2, 2).shape == (2, 5)
    with pytest.raises(IndexError, match="narrow"):
        cr.narrow(cr.tensor(x), 1, 3, 3)
    with pytest.raises(IndexError, match="gather: index 4 is out of bounds"):
        cr.gather(cr.tensor(x), 0, cr.tensor([[4]]))
    with pytest.raises(TypeError, match="int64 index"):
        cr.gather(cr.tensor(x), 0, cr.tensor([[0.0]]))
    with pytest.raises(IndexError, match="index_select: index 9"):
        cr.index_select(cr.tensor(x), 1, cr.tensor([9]))


def test_masked_fill_with_a_larger_mask_broadcasts_the_input_as_torch() -> None:
    (x,) = make_inputs([(3,)], seed=8)
    mask = np.array([[True, False, False], [False, False, True]])
    check_op(lambda t: cr.masked_fill(t, cr.tensor(mask), 1.0), [x],
             (lambda t: t.masked_fill(_t(mask), 1.0)) if torch else None)
