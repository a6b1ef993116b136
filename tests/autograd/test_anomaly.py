"""NaN like NumPy by default; detect_anomaly names the op that made it."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_log_of_negative_is_nan_without_exception() -> None:
    y = cr.log(cr.tensor([-1.0, 1.0]))
    assert np.isnan(y.numpy()[0]) and y.numpy()[1] == 0.0


def test_detect_anomaly_names_forward_op() -> None:
    x = cr.tensor([-1.0, 2.0], requires_grad=True)
    with cr.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="Log"):
        cr.log(x)


def test_detect_anomaly_names_backward_op() -> None:
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    y = cr.sqrt(x)  # finite forward, infinite gradient at 0
    with cr.autograd.detect_anomaly(), pytest.raises(RuntimeError, match="SqrtBackward"):
        y.backward(cr.ones(2))


def test_anomaly_mode_is_restored() -> None:
    with cr.autograd.detect_anomaly():
        assert cr.autograd.is_anomaly_enabled()
    assert not cr.autograd.is_anomaly_enabled()


def test_anomaly_in_a_recorded_backward_names_the_backward_node() -> None:
    # under create_graph the rule runs as ops (Div, Mul ...): the report still names the
    # node whose backward made the inf, not the op it used
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="SqrtBackward returned inf"):
            cr.autograd.grad(x.sqrt().sum(), x, create_graph=True)
