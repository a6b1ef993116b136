"""Tests of the elementwise selection ops (ops/elementwise_select.py): clamp with number
and tensor bounds, maximum, minimum and where. Gradients against finite differences
(first and second order), PyTorch parity when torch is installed, the values and
gradients at the bounds and ties, dtypes and errors."""

from __future__ import annotations

import numpy as np
import pytest
from opcheck import BROADCAST_SHAPES, check_op, grad_of, make_inputs, t64

import chainrule as cr

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
except ImportError:  # pragma: no cover
    torch = None


# -- clamp -----------------------------------------------------------------------------


def test_clamp_values_and_gradient_pass_at_the_bounds() -> None:
    x = t64([-2.0, -1.0, 0.0, 1.0, 2.0, np.nan])
    y = cr.clamp(x, -1.0, 1.0)
    np.testing.assert_array_equal(y.detach().numpy(), [-1.0, -1.0, 0.0, 1.0, 1.0, np.nan])
    # PyTorch's convention: min <= x <= max passes the gradient, bounds included; NaN: 0
    np.testing.assert_array_equal(grad_of(y, x), [0.0, 1.0, 1.0, 1.0, 0.0, 0.0])


def test_clamp_one_sided_and_min_above_max() -> None:
    x = t64([-2.0, 0.0, 2.0])
    np.testing.assert_array_equal(grad_of(cr.clamp(x, min=0.0), x), [0.0, 1.0, 1.0])
    np.testing.assert_array_equal(grad_of(cr.clamp(x, max=0.0), x), [1.0, 1.0, 0.0])
    y = cr.clamp(x, min=1.0, max=-1.0)  # min > max: everything becomes max
    np.testing.assert_array_equal(y.detach().numpy(), [-1.0, -1.0, -1.0])
    np.testing.assert_array_equal(grad_of(y, x), [0.0, 0.0, 0.0])


@pytest.mark.parametrize(("lo", "hi"), [(-0.5, 0.5), (None, 0.3), (-0.3, None), (0, 1)])
def test_clamp_with_numbers_gradients_and_parity(lo, hi) -> None:
    (x,) = make_inputs([(3, 4)], seed=4)
    check_op(lambda t: cr.clamp(t, lo, hi), [x], lambda t: torch.clamp(t, lo, hi))


@pytest.mark.parametrize(("sx", "slo", "shi"), [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 4), (4,), (3, 1)),
    ((4,), (3, 1), ()),
    ((2, 1, 3), (4, 1), (3,)),
])
def test_clamp_with_tensor_bounds_broadcasts_and_differentiates_all(sx, slo, shi) -> None:
    x, lo, hi = make_inputs([sx, slo, shi], seed=5)
    lo, hi = lo - 0.6, hi + 0.6  # mostly lo < hi, some elements clipped by each
    # PyTorch's own clamp backward fails when the bounds broadcast x to a larger shape
    full = np.broadcast_shapes(sx, slo, shi) == sx
    check_op(cr.clamp, [x, lo, hi], torch.clamp if torch is not None and full else None)
    y = cr.clamp(cr.tensor(x), cr.tensor(lo), cr.tensor(hi))
    np.testing.assert_array_equal(y.numpy(), np.minimum(np.maximum(x, lo), hi))


def test_clamp_tensor_bounds_exact_rules() -> None:
    # PyTorch's rule: x gets it inside [min, max], min where x < min < max, max where
    # x > max or max < min
    x, lo, hi = t64([0.0, 1.0, 5.0, 2.0]), t64([1.0, 1.0, 1.0, 4.0]), t64([3.0, 3.0, 3.0, 3.0])
    y = cr.clamp(x, lo, hi)
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 1.0, 3.0, 3.0])
    gx, glo, ghi = (g.numpy() for g in cr.autograd.grad(y, [x, lo, hi], cr.ones(4)))
    np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0, 0.0])
    np.testing.assert_array_equal(glo, [1.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(ghi, [0.0, 0.0, 1.0, 1.0])
    # one-sided tensor bounds
    y = cr.clamp(x, min=lo)
    np.testing.assert_array_equal(grad_of(y, lo), [1.0, 0.0, 0.0, 1.0])


def test_clamp_dtypes_and_methods() -> None:
    i = cr.tensor([1, 2, 3])
    assert cr.clamp(i, min=2).dtype == cr.int64
    half = cr.clamp(i, min=1.5)
    assert half.dtype == cr.float32 and half.tolist() == [1.5, 2.0, 3.0]
    x = cr.tensor([-2.0, 0.5, 2.0])
    assert cr.clamp(x, np.float64(-1), 1).dtype == cr.float32
    np.testing.assert_array_equal(x.clamp(-1, 1).numpy(), [-1.0, 0.5, 1.0])
    np.testing.assert_array_equal(x.clip(max=0).numpy(), [-2.0, 0.0, 0.0])
    np.testing.assert_array_equal(cr.clip(x, 0, 1).numpy(), [0.0, 0.5, 1.0])


def test_clamp_errors() -> None:
    x = cr.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="clamp: at least one of 'min' or 'max'"):
        cr.clamp(x)
    with pytest.raises(ValueError, match=r"clamp: .*\(2,\).*\(3,\).*cannot be broadcast"):
        cr.clamp(x, cr.zeros(3))


# -- maximum / minimum -------------------------------------------------------------------


@pytest.mark.parametrize(("sa", "sb"), BROADCAST_SHAPES)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_broadcast_grid(name, sa, sb) -> None:
    a, b = make_inputs([sa, sb], seed=8)
    check_op(getattr(cr, name), [a, b], lambda p, q: getattr(torch, name)(p, q))


def test_maximum_minimum_split_ties_half_and_half() -> None:
    a, b = t64([1.0, 2.0, 3.0]), t64([1.0, 3.0, 2.0])
    ga, gb = cr.autograd.grad(cr.maximum(a, b), [a, b], cr.ones(3, dtype=cr.float64))
    np.testing.assert_array_equal(ga.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(gb.numpy(), [0.5, 1.0, 0.0])
    ga, gb = cr.autograd.grad(cr.minimum(a, b), [a, b], cr.ones(3, dtype=cr.float64))
    np.testing.assert_array_equal(ga.numpy(), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(gb.numpy(), [0.5, 0.0, 1.0])


def test_maximum_ties_under_broadcasting_sum_back() -> None:
    a, b = t64([[1.0, 2.0], [2.0, 1.0]]), t64([2.0])
    ga, gb = cr.autograd.grad(cr.maximum(a, b), [a, b], cr.ones((2, 2), dtype=cr.float64))
    np.testing.assert_array_equal(ga.numpy(), [[0.0, 0.5], [0.5, 0.0]])
    np.testing.assert_array_equal(gb.numpy(), [1.0 + 0.5 + 0.5 + 1.0])


def test_maximum_fan_out_and_nan() -> None:
    (x,) = make_inputs([(3, 4)], seed=9)
    check_op(lambda t: cr.maximum(t, t * 0.5), [x], lambda t: torch.maximum(t, t * 0.5))
    # maximum(x, x): every element is a tie, the halves add up to the whole gradient
    t = t64(x)
    np.testing.assert_array_equal(grad_of(cr.maximum(t, t), t), np.ones((3, 4)))
    a, b = t64([np.nan, 1.0]), t64([0.0, np.nan])
    y = cr.maximum(a, b)
    assert np.isnan(y.detach().numpy()).all()  # NaN propagates, as in NumPy and PyTorch
    ga, gb = cr.autograd.grad(y, [a, b], cr.ones(2, dtype=cr.float64))
    np.testing.assert_array_equal(ga.numpy(), [1.0, 1.0])  # PyTorch's masks: no tie, no loss
    np.testing.assert_array_equal(gb.numpy(), [1.0, 1.0])


def test_maximum_dtypes_and_errors() -> None:
    i, f = cr.tensor([1, 5]), cr.tensor([1.5, 0.5])
    out = cr.maximum(i, f)
    assert out.dtype == cr.float32 and out.tolist() == [1.5, 5.0]
    assert cr.minimum(i, cr.tensor([3, 3])).dtype == cr.int64
    assert cr.maximum(f, 1.0).tolist() == [1.5, 1.0]  # a number is accepted too
    assert f.maximum(cr.tensor([2.0, 0.0])).tolist() == [2.0, 0.5]
    with pytest.raises(ValueError, match=r"maximum: shapes \(2,\) and \(3,\) cannot be"):
        cr.maximum(f, cr.ones(3))
    with pytest.raises(ValueError, match=r"minimum: shapes \(2,\) and \(3,\) cannot be"):
        cr.minimum(f, cr.ones(3))


# -- where -------------------------------------------------------------------------------


@pytest.mark.parametrize(("sc", "sa", "sb"), [
    ((3, 4), (3, 4), (3, 4)),
    ((3, 4), (4,), (3, 1)),
    ((4,), (3, 4), ()),
    ((2, 1, 4), (3, 1), (4,)),
    ((), (2, 3), (2, 3)),
])
def test_where_broadcasts_among_all_three(sc, sa, sb) -> None:
    cond = np.random.default_rng(1).standard_normal(sc) > 0
    a, b = make_inputs([sa, sb], seed=10)
    check_op(lambda p, q: cr.where(cr.tensor(cond), p, q), [a, b],
             lambda p, q: torch.where(torch.tensor(cond), p, q))
    expected = np.where(cond, a, b)
    np.testing.assert_array_equal(cr.where(cond, cr.tensor(a), cr.tensor(b)).numpy(), expected)


def test_where_gradient_goes_to_the_selected_side() -> None:
    cond = cr.tensor([True, False, True])
    a, b = t64([1.0, 2.0, 3.0]), t64([4.0, 5.0, 6.0])
    y = cr.where(cond, a, b)
    np.testing.assert_array_equal(y.detach().numpy(), [1.0, 5.0, 3.0])
    ga, gb = cr.autograd.grad(y, [a, b], cr.tensor([1.0, 2.0, 3.0], dtype=cr.float64))
    np.testing.assert_array_equal(ga.numpy(), [1.0, 0.0, 3.0])
    np.testing.assert_array_equal(gb.numpy(), [0.0, 2.0, 0.0])
    # fan-out: both sides are the same tensor
    np.testing.assert_array_equal(grad_of(cr.where(cond, a, a * 2), a), [1.0, 2.0, 1.0])
    # a safe log: the unselected branch's inf/nan does not leak into the gradient
    x = t64([1.0, 4.0])
    np.testing.assert_array_equal(grad_of(cr.where(x > 2, x, 2.0), x), [0.0, 1.0])


def test_where_numbers_dtypes_and_method() -> None:
    cond = cr.tensor([True, False])
    out = cr.where(cond, 1.0, 0.0)
    assert out.dtype == cr.float32 and out.tolist() == [1.0, 0.0]
    mixed = cr.where(cond, cr.tensor([1, 2]), 1.5)
    assert mixed.dtype == cr.float32 and mixed.tolist() == [1.0, 1.5]
    f = cr.tensor([1.0, 2.0])
    assert cr.where(cond, f, 0).dtype == cr.float32
    assert f.where(cond, cr.tensor([7.0, 8.0])).tolist() == [1.0, 8.0]
    rows, cols = cr.where(cr.tensor([[True, False], [False, True]]))
    assert rows.tolist() == [0, 1] and cols.tolist() == [0, 1] and rows.dtype == cr.int64


def test_where_errors() -> None:
    with pytest.raises(TypeError, match="where: expected condition to be a boolean tensor.*"
                                        "int64"):
        cr.where(cr.tensor([1, 0]), cr.ones(2), cr.zeros(2))
    with pytest.raises(ValueError, match=r"where: .*\(2,\).*\(3,\).*cannot be broadcast"):
        cr.where(cr.tensor([True, False]), cr.ones(3), cr.zeros(3))
