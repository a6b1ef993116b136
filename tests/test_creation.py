"""Factories: shapes, dtypes, requires_grad, seeded randomness."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_shapes_and_dtypes() -> None:
    assert cr.zeros(2, 3).shape == (2, 3) and cr.zeros((2, 3)).shape == (2, 3)
    assert cr.ones(4).dtype == cr.float32
    assert cr.zeros(2, dtype=cr.float64).dtype == cr.float64
    assert cr.empty(3).shape == (3,)
    assert cr.full((2,), 3.0).numpy().tolist() == [3.0, 3.0]
    assert cr.full((2,), 3).dtype == cr.int64
    assert cr.arange(5).dtype == cr.int64 and cr.arange(0.0, 1.0, 0.5).dtype == cr.float32
    assert cr.arange(1, 7, 2).tolist() == [1, 3, 5]
    assert cr.linspace(0, 1, 5).shape == (5,)
    np.testing.assert_array_equal(cr.eye(3).numpy(), np.eye(3))
    x = cr.ones(2, 3, dtype=cr.float64)
    assert cr.zeros_like(x).dtype == cr.float64 and cr.ones_like(x).shape == (2, 3)
    assert cr.full_like(x, 2.0).numpy().sum() == 12.0


def test_requires_grad_flag() -> None:
    assert cr.zeros(2, requires_grad=True).requires_grad
    assert cr.randn(2, requires_grad=True).is_leaf


def test_manual_seed_reproduces() -> None:
    cr.manual_seed(123)
    a = cr.randn(5)
    b = cr.rand(3)
    cr.manual_seed(123)
    np.testing.assert_array_equal(a.numpy(), cr.randn(5).numpy())
    np.testing.assert_array_equal(b.numpy(), cr.rand(3).numpy())


def test_generator_streams_are_independent() -> None:
    g1, g2 = cr.Generator().manual_seed(7), cr.Generator().manual_seed(7)
    np.testing.assert_array_equal(cr.randperm(10, generator=g1).numpy(),
                                  cr.randperm(10, generator=g2).numpy())
    state = g1.get_state()
    x = cr.randn(3, generator=g1)
    g1.set_state(state)
    np.testing.assert_array_equal(x.numpy(), cr.randn(3, generator=g1).numpy())


def test_randint_and_randperm() -> None:
    r = cr.randint(0, 5, (100,))
    assert r.dtype == cr.int64 and r.numpy().min() >= 0 and r.numpy().max() < 5
    assert cr.randint(3, (4,)).shape == (4,)
    assert sorted(cr.randperm(6).tolist()) == list(range(6))
    assert cr.rand(2, 2).numpy().max() < 1.0


def test_negative_size_raises() -> None:
    with pytest.raises(ValueError, match="negative dimension"):
        cr.zeros(-1)


# -- bounds that would wrap (issue 11.6) ------------------------------------------------


@pytest.mark.parametrize(
    ("args", "match"),
    [
        ((2**63,), "overflow"),
        ((0, 2**63), "overflow"),
        ((-(2**63) - 1, 0), "overflow"),
        ((0, 1, 0), "step must be nonzero"),
        ((5, 0), "inconsistent with step sign"),
        ((float("inf"),), "unsupported range"),
        ((0.0, float("nan")), "unsupported range"),
    ],
)
def test_arange_bounds_that_would_wrap_are_errors(args, match) -> None:
    with pytest.raises(RuntimeError, match=match):
        cr.arange(*args)


def test_arange_still_counts_down_and_in_fractions() -> None:
    assert cr.arange(10, 0, -3).tolist() == [10, 7, 4, 1]
    assert cr.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert cr.arange(2**62, 2**62 + 2).tolist() == [2**62, 2**62 + 1]


def test_arange_too_long_for_memory_is_a_runtime_error() -> None:
    with pytest.raises(RuntimeError, match="too many elements"):
        cr.arange(2**62)
