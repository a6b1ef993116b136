"""Tests of nn.init: gains as PyTorch's, distribution bounds and statistics, in-place
behaviour on parameters, generators and errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn import init

try:  # optional reference for parity checks
    import torch
except ImportError:  # pragma: no cover
    torch = None

GAINS = [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None), ("relu", None),
         ("leaky_relu", None), ("leaky_relu", 0.2), ("leaky_relu", math.sqrt(5)), ("selu", None)]


@pytest.mark.parametrize(("name", "param"), GAINS)
def test_calculate_gain(name: str, param: float | None) -> None:
    expected = {"linear": 1, "conv2d": 1, "sigmoid": 1, "tanh": 5 / 3, "relu": math.sqrt(2),
                "selu": 0.75}.get(name)
    if name == "leaky_relu":
        expected = math.sqrt(2 / (1 + (0.01 if param is None else param) ** 2))
    assert init.calculate_gain(name, param) == pytest.approx(expected, rel=1e-15)
    if torch is not None:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-15)


def test_calculate_gain_errors() -> None:
    with pytest.raises(ValueError, match="unsupported nonlinearity 'swish'"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "x")


def _param(*shape: int) -> nn.Parameter:
    return nn.Parameter(cr.zeros(*shape))


def test_fill_initialisers_work_in_place_on_parameters() -> None:
    p = _param(3, 4)
    data = p.detach().numpy()
    version = p._version[0]
    assert init.ones_(p) is p
    np.testing.assert_array_equal(p.detach().numpy(), np.ones((3, 4)))
    assert p.detach().numpy() is data and p._version[0] > version  # same memory, new version
    init.constant_(p, 0.25)
    np.testing.assert_array_equal(p.detach().numpy(), np.full((3, 4), 0.25))
    init.zeros_(p)
    np.testing.assert_array_equal(p.detach().numpy(), 0)
    init.eye_(p)
    np.testing.assert_array_equal(p.detach().numpy(), np.eye(3, 4))
    assert p.requires_grad and p.grad_fn is None and p.dtype == cr.float32


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_uniform_bounds_and_statistics(mode: str) -> None:
    cr.manual_seed(0)
    p = init.kaiming_uniform_(_param(300, 200), a=0, mode=mode, nonlinearity="relu")
    fan = 200 if mode == "fan_in" else 300
    bound = math.sqrt(2) * math.sqrt(3 / fan)
    w = p.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_kaiming_normal_xavier_statistics() -> None:
    cr.manual_seed(1)
    w = init.kaiming_normal_(_param(400, 250), mode="fan_out", nonlinearity="relu").detach().numpy()
    assert w.std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    w = init.xavier_uniform_(_param(400, 250), gain=2.0).detach().numpy()
    a = 2.0 * math.sqrt(6 / 650)
    assert np.abs(w).max() <= a and w.std() == pytest.approx(a / math.sqrt(3), rel=0.02)
    w = init.xavier_normal_(_param(400, 250)).detach().numpy()
    assert w.std() == pytest.approx(math.sqrt(2 / 650), rel=0.02)
    w = init.normal_(_param(200, 200), mean=3.0, std=0.5).detach().numpy()
    assert w.mean() == pytest.approx(3.0, abs=0.01) and w.std() == pytest.approx(0.5, rel=0.02)
    w = init.uniform_(_param(200, 200), -2.0, 1.0).detach().numpy()
    assert w.min() >= -2.0 and w.max() <= 1.0 and w.mean() == pytest.approx(-0.5, abs=0.02)
    w = init.trunc_normal_(_param(100, 100), std=1.0, a=-0.5, b=0.5).detach().numpy()
    assert w.min() >= -0.5 and w.max() <= 0.5


def test_receptive_field_counts_in_fans() -> None:
    cr.manual_seed(2)
    w = init.kaiming_uniform_(_param(8, 4, 3, 3), nonlinearity="linear").detach().numpy()
    assert np.abs(w).max() <= math.sqrt(3 / 36)  # fan_in = 4 * 3 * 3


def test_generators_make_initialisation_reproducible() -> None:
    a = init.xavier_uniform_(_param(5, 5), generator=cr.Generator(7)).detach().numpy().copy()
    cr.manual_seed(123)  # the default generator does not matter when one is given
    b = init.xavier_uniform_(_param(5, 5), generator=cr.Generator(7)).detach().numpy()
    np.testing.assert_array_equal(a, b)
    cr.manual_seed(3)
    c = init.normal_(_param(5, 5)).detach().numpy().copy()
    cr.manual_seed(3)
    np.testing.assert_array_equal(init.normal_(_param(5, 5)).detach().numpy(), c)


def test_init_errors() -> None:
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(_param(5))
    with pytest.raises(ValueError, match="mode must be 'fan_in' or 'fan_out', got 'fan'"):
        init.kaiming_normal_(_param(3, 3), mode="fan")
    with pytest.raises(TypeError, match="init.uniform_: expected a Tensor"):
        init.uniform_(np.zeros(3))
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(_param(0, 3))
