"""Tests of ops/sorting.py and ops/cumulative.py: sort argsort topk (values, indices,
gradients), roll, repeat_interleave, cumsum, cumprod, multinomial."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import check_op, make_inputs, torch


@pytest.mark.parametrize("dim,descending", [(-1, False), (0, True), (1, True)])
def test_sort_values_indices_and_gradient(dim: int, descending: bool) -> None:
    (x,) = make_inputs([(3, 4)])
    check_op(lambda t: cr.sort(t, dim, descending).values, [x],
             (lambda t: torch.sort(t, dim, descending).values) if torch else None)
    v, i = cr.tensor(x).sort(dim, descending)
    if torch is not None:
        tv, ti = torch.sort(torch.tensor(x), dim, descending)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())
        np.testing.assert_array_equal(v.numpy(), tv.numpy())
    np.testing.assert_array_equal(cr.argsort(cr.tensor(x), dim, descending).numpy(), i.numpy())


def test_stable_sort_keeps_tied_order_as_torch() -> None:
    a = np.array([2, 1, 2, 1, 3, 2])
    for descending in (False, True):
        ours = cr.sort(cr.tensor(a), descending=descending, stable=True)
        assert ours.indices.dtype == cr.int64
        if torch is not None:
            theirs = torch.sort(torch.tensor(a), descending=descending, stable=True)
            np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
    nan = cr.tensor([1.0, float("nan"), 3.0])
    assert cr.sort(nan, descending=True).indices.tolist() == [1, 2, 0]
    assert cr.sort(nan).indices.tolist() == [0, 2, 1]


@pytest.mark.parametrize("k,dim,largest", [(2, -1, True), (1, 0, False), (4, 1, True)])
def test_topk(k: int, dim: int, largest: bool) -> None:
    (x,) = make_inputs([(3, 4)], seed=2)
    check_op(lambda t: cr.topk(t, k, dim, largest).values, [x],
             (lambda t: torch.topk(t, k, dim, largest).values) if torch else None)
    values, indices = cr.tensor(x).topk(k, dim, largest)
    if torch is not None:
        np.testing.assert_array_equal(indices.numpy(),
                                      torch.topk(torch.tensor(x), k, dim, largest).indices)
    assert values.shape == indices.shape
    with pytest.raises(RuntimeError, match="topk: k"):
        cr.topk(cr.tensor(x), 9)


@pytest.mark.parametrize("shifts,dims", [(1, None), (-2, 1), ((1, 2), (0, 1))])
def test_roll(shifts: object, dims: object) -> None:
    (x,) = make_inputs([(3, 4)], seed=3)
    check_op(lambda t: cr.roll(t, shifts, dims), [x],
             (lambda t: torch.roll(t, shifts, dims)) if torch else None)


@pytest.mark.parametrize("repeats,dim", [(2, None), (3, 0), ([1, 0, 2, 1], 1)])
def test_repeat_interleave(repeats: object, dim: int | None) -> None:
    (x,) = make_inputs([(3, 4)], seed=4)
    r = cr.tensor(repeats) if isinstance(repeats, list) else repeats
    check_op(lambda t: cr.repeat_interleave(t, r, dim), [x],
             (lambda t: torch.repeat_interleave(
                 t, torch.tensor(repeats) if isinstance(repeats, list) else repeats, dim))
             if torch else None)
    assert cr.repeat_interleave(cr.tensor([2, 1])).tolist() == [0, 0, 1]
    assert cr.tensor([1, 2]).repeat_interleave(2).tolist() == [1, 1, 2, 2]


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumulative(name: str, dim: int) -> None:
    (x,) = make_inputs([(3, 4)], seed=5)
    check_op(lambda t: getattr(cr, name)(t, dim), [x],
             (lambda t: getattr(torch, name)(t, dim)) if torch else None)
    check_op(lambda t: getattr(t, name)(dim=dim) * 2, [x],
             (lambda t: getattr(t, name)(dim=dim) * 2) if torch else None)


def test_cumprod_gradient_with_zeros_equals_torch() -> None:
    x = np.array([[2.0, 0.0, 3.0, 4.0], [0.0, 0.0, 1.5, 2.0]])
    t = cr.tensor(x, requires_grad=True)
    cot = np.arange(8.0).reshape(2, 4)
    (g,) = cr.autograd.grad(cr.cumprod(t, 1), [t], cr.tensor(cot))
    if torch is not None:
        tt = torch.tensor(x, requires_grad=True)
        (tg,) = torch.autograd.grad(torch.cumprod(tt, 1), [tt], torch.tensor(cot))
        np.testing.assert_allclose(g.numpy(), tg.numpy())
    assert g.numpy()[0, 1] == 1 * 2 + 2 * (2 * 3) + 3 * (2 * 3 * 4)  # sum_j dY_j prod_k!=1


def test_cumsum_of_integers_and_bools_is_int64() -> None:
    assert cr.cumsum(cr.tensor([True, True, False]), 0).tolist() == [1, 2, 2]
    assert cr.cumsum(cr.tensor([1, 2], dtype=cr.int32), 0).dtype == cr.int64
    assert cr.cumsum(cr.tensor([1, 2]), 0, dtype=cr.float64).dtype == cr.float64
    with pytest.raises(TypeError, match="dim"):
        cr.cumsum(cr.ones(3))


def test_multinomial_seeded_with_and_without_replacement() -> None:
    p = cr.tensor([[0.0, 1.0, 3.0, 0.0], [1.0, 1.0, 1.0, 1.0]])
    cr.manual_seed(0)
    a = cr.multinomial(p, 2)
    cr.manual_seed(0)
    b = p.multinomial(2)
    assert a.dtype == cr.int64 and a.shape == (2, 2) and a.tolist() == b.tolist()
    assert sorted(a[0].tolist()) == [1, 2] and len(set(a[1].tolist())) == 2
    draws = cr.multinomial(cr.tensor([0.2, 0.8]), 4000, replacement=True)
    assert abs(draws.float().mean().item() - 0.8) < 0.03
    with pytest.raises(RuntimeError, match="without replacement"):
        cr.multinomial(p, 5)
    with pytest.raises(RuntimeError, match="element < 0"):
        cr.multinomial(cr.tensor([-1.0, 2.0]), 1)
    g = cr.Generator(3)
    assert cr.multinomial(p, 1, generator=g).shape == (2, 1)
