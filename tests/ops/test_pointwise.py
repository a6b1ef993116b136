"""Tests of ops/pointwise.py: rounding (zero gradient), frac, remainder/fmod, atan2,
log2/log10, expm1, erf, rsqrt, nan_to_num: gradcheck, gradgradcheck, torch parity."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import BROADCAST_SHAPES, check_op, make_inputs, t64, torch

SMOOTH = [  # (name, low, high): inputs drawn away from each function's singularities
    ("log2", 0.5, 3.0), ("log10", 0.5, 3.0), ("expm1", -2.0, 2.0), ("erf", -2.0, 2.0),
    ("rsqrt", 0.5, 3.0), ("frac", 0.1, 0.9), ("tan", -1.2, 1.2), ("asin", -0.9, 0.9),
    ("acos", -0.9, 0.9), ("atan", -3.0, 3.0), ("sinh", -2.0, 2.0), ("cosh", -2.0, 2.0),
]


@pytest.mark.parametrize("name,low,high", SMOOTH)
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_smooth_unary_functions(name: str, low: float, high: float, shape: tuple) -> None:
    (x,) = make_inputs([shape], seed=3, low=low, high=high)
    check_op(getattr(cr, name), [x], getattr(torch, name) if torch else None)
    t = cr.tensor(x)
    np.testing.assert_allclose(getattr(t, name)().numpy(), getattr(cr, name)(t).numpy())


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "round"])
def test_rounding_has_zero_gradient_and_torch_values(name: str) -> None:
    x = np.array([-2.5, -1.7, -0.5, 0.0, 0.4, 0.5, 1.5, 2.5, 3.49])
    check_op(getattr(cr, name), [x + 0.013], getattr(torch, name) if torch else None)
    y = getattr(cr, name)(t64(x))
    if torch is not None:
        np.testing.assert_array_equal(y.detach().numpy(),
                                      getattr(torch, name)(torch.tensor(x)).numpy())
    xt = t64(x)
    (g,) = cr.autograd.grad(getattr(cr, name)(xt).sum(), [xt])
    np.testing.assert_array_equal(g.numpy(), 0.0)


def test_round_decimals_and_integers() -> None:
    x = cr.tensor([1.2345, 2.5, -0.125], dtype=cr.float64)
    np.testing.assert_allclose(cr.round(x, decimals=2).numpy(), [1.23, 2.5, -0.12])
    assert x.round(decimals=1).dtype == cr.float64
    i = cr.tensor([1, -2])
    assert cr.floor(i).dtype == cr.int64 and cr.round(i).tolist() == [1, -2]
    if torch is not None:
        tx = torch.tensor([1.2345, 2.5, -0.125, 0.05], dtype=torch.float64)
        np.testing.assert_array_equal(cr.round(cr.tensor(tx.numpy()), decimals=1).numpy(),
                                      torch.round(tx, decimals=1).numpy())


@pytest.mark.parametrize("name", ["remainder", "fmod"])
@pytest.mark.parametrize("sa,sb", BROADCAST_SHAPES)
def test_remainders_broadcast(name: str, sa: tuple, sb: tuple) -> None:
    a, b = make_inputs([sa, sb], seed=5, low=0.3, high=2.0)
    a = a * np.where(np.arange(a.size).reshape(a.shape) % 2, 3.1, -3.1)  # both signs
    check_op(getattr(cr, name), [a, b], getattr(torch, name) if torch else None)


def test_remainder_signs_scalars_and_integers() -> None:
    a = cr.tensor([-3.0, 3.0, -3.5])
    np.testing.assert_allclose(cr.remainder(a, 2).numpy(), [1.0, 1.0, 0.5])
    np.testing.assert_allclose(cr.fmod(a, 2).numpy(), [-1.0, 1.0, -1.5])
    np.testing.assert_allclose(a.remainder(-2).numpy(), [-1.0, -1.0, -1.5])
    i = cr.tensor([-7, 7])
    assert cr.remainder(i, 3).tolist() == [2, 1] and cr.fmod(i, 3).tolist() == [-1, 1]
    with pytest.raises(ZeroDivisionError, match="remainder"):
        cr.remainder(i, 0)


@pytest.mark.parametrize("sa,sb", BROADCAST_SHAPES)
def test_atan2_broadcasts(sa: tuple, sb: tuple) -> None:
    a, b = make_inputs([sa, sb], seed=7)
    check_op(cr.atan2, [a, b], torch.atan2 if torch else None)


def test_atan2_quadrants() -> None:
    y = cr.tensor([1.0, 1.0, -1.0, -1.0])
    x = cr.tensor([1.0, -1.0, -1.0, 1.0])
    np.testing.assert_allclose(y.atan2(x).numpy(),
                               [math.pi / 4, 3 * math.pi / 4, -3 * math.pi / 4, -math.pi / 4],
                               rtol=1e-6)


def test_nan_to_num_values_and_gradient() -> None:
    x = t64([np.nan, np.inf, -np.inf, 1.5])
    y = cr.nan_to_num(x, nan=0.0, posinf=10.0, neginf=-10.0)
    np.testing.assert_array_equal(y.detach().numpy(), [0.0, 10.0, -10.0, 1.5])
    (g,) = cr.autograd.grad(y.sum(), [x])
    np.testing.assert_array_equal(g.numpy(), [0.0, 0.0, 0.0, 1.0])
    big = cr.nan_to_num(cr.tensor([np.inf], dtype=cr.float32))
    assert big.item() == np.finfo(np.float32).max
    check_op(lambda t: cr.nan_to_num(t * 2), [np.array([0.5, -1.0])],
             (lambda t: torch.nan_to_num(t * 2)) if torch else None)


def test_integer_inputs_of_floating_functions_give_the_default_dtype() -> None:
    i = cr.tensor([1, 4])
    for fn in (cr.log2, cr.log10, cr.expm1, cr.erf, cr.rsqrt):
        assert fn(i).dtype == cr.float32
    np.testing.assert_allclose(cr.log2(i).numpy(), [0.0, 2.0])
    with pytest.raises(TypeError, match="log2: expected a Tensor"):
        cr.log2([1.0])
