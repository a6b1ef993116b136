"""gradcheck / gradgradcheck pass correct rules and report the worst wrong one."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.gradcheck import GradcheckError


class WrongGrad(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * x

    @staticmethod
    def backward(ctx, dy):
        return dy * 3.0  # wrong on purpose: should be 2x


def test_gradcheck_passes_correct_rule() -> None:
    x = cr.tensor(np.linspace(-1, 1, 5), requires_grad=True)
    assert cr.autograd.gradcheck(lambda x: x * x * 2.0, (x,))


def test_gradcheck_reports_input_index_and_values() -> None:
    x = cr.tensor(np.array([[0.1, 0.2], [0.3, 4.0]]), requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        cr.autograd.gradcheck(WrongGrad.apply, (x,))
    msg = str(info.value)
    # the worst mismatch is at x = 4.0: analytical 3 (dy * 3) against numerical 8 (2x)
    assert "input 0" in msg and "index (1, 1)" in msg
    assert "analytical 3 " in msg and "numerical 8 " in msg


def test_gradcheck_raise_exception_false_returns_false() -> None:
    x = cr.tensor(np.array([0.5]), requires_grad=True)
    assert cr.autograd.gradcheck(WrongGrad.apply, (x,), raise_exception=False) is False


def test_gradgradcheck_detects_wrong_second_derivative() -> None:
    class WrongSecond(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x * x

        @staticmethod
        def backward(ctx, dy):
            (x,) = ctx.saved_tensors
            # first derivative right (3x^2) but built from a detached x: no second order
            xd = x.detach()
            return dy * 3.0 * xd * xd

    x = cr.tensor(np.array([0.7, -1.2]), requires_grad=True)
    assert cr.autograd.gradcheck(WrongSecond.apply, (x,))
    with pytest.raises(GradcheckError):
        cr.autograd.gradgradcheck(WrongSecond.apply, (x,))


def test_gradcheck_needs_an_input_requiring_grad() -> None:
    with pytest.raises(ValueError, match="no input requires grad"):
        cr.autograd.gradcheck(lambda x: x * 2.0, (cr.tensor([1.0]),))


def test_gradcheck_tolerances_positional_and_error_exported() -> None:
    x = cr.tensor(np.array([0.5, 1.5]), requires_grad=True)
    assert cr.autograd.gradcheck(lambda t: t.sin(), (x,), 1e-6, 1e-5, 1e-3)
    assert cr.autograd.GradcheckError is GradcheckError
    assert issubclass(GradcheckError, RuntimeError)
