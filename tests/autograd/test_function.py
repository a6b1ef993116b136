"""User-defined autograd.Function with PyTorch's ctx API."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


class Cube(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, dy):
        (x,) = ctx.saved_tensors
        return dy * 3.0 * x * x


class SplitSum(cr.autograd.Function):
    """Two outputs: (a + b, a * b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a + b, a * b

    @staticmethod
    def backward(ctx, d_sum, d_prod):
        a, b = ctx.saved_tensors
        return d_sum + d_prod * b, d_sum + d_prod * a


def test_function_forward_backward_and_name() -> None:
    x = cr.tensor(np.array([1.0, -2.0]), requires_grad=True)
    y = Cube.apply(x)
    assert y.grad_fn.name() == "CubeBackward"
    y.backward(cr.ones(2, dtype=cr.float64))
    np.testing.assert_allclose(x.grad.detach().numpy(), 3 * x.detach().numpy() ** 2)


def test_function_gradcheck_and_gradgradcheck() -> None:
    x = cr.tensor(np.random.default_rng(0).standard_normal(4), requires_grad=True)
    assert cr.autograd.gradcheck(Cube.apply, (x,))
    assert cr.autograd.gradgradcheck(Cube.apply, (x,))


def test_function_multiple_outputs() -> None:
    rng = np.random.default_rng(1)
    a = cr.tensor(rng.standard_normal(3), requires_grad=True)
    b = cr.tensor(rng.standard_normal(3), requires_grad=True)
    assert cr.autograd.gradcheck(lambda a, b: SplitSum.apply(a, b), (a, b))
    s, p = SplitSum.apply(a, b)
    s.backward(cr.ones(3, dtype=cr.float64))  # only one output used: the other gets zeros
    np.testing.assert_allclose(a.grad.numpy(), np.ones(3))


def test_function_saved_tensor_modified_in_place() -> None:
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * 1.0
    y = Cube.apply(h)
    with cr.no_grad():
        h.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(cr.ones(2, dtype=cr.float64))


def test_function_wrong_number_of_gradients() -> None:
    class Bad(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, dy):
            return (dy,)

    a = cr.tensor([1.0], requires_grad=True)
    b = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(a, b).backward(cr.ones(1))


def test_function_under_no_grad_records_nothing() -> None:
    x = cr.tensor([1.0], requires_grad=True)
    with cr.no_grad():
        y = Cube.apply(x)
    assert y.grad_fn is None and not y.requires_grad


class ExpSavingOutput(cr.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, dy):
        (y,) = ctx.saved_tensors
        return dy * y


def test_saved_output_is_the_recorded_output() -> None:
    # as PyTorch: a backward that reads the saved output can be differentiated again
    a = np.array([0.5, 1.0])
    x = cr.tensor(a, requires_grad=True)
    (g,) = cr.autograd.grad(ExpSavingOutput.apply(x).sum(), x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(h.numpy(), np.exp(a))
    # and changing the output in place is caught by its version counter
    y = ExpSavingOutput.apply(x)
    with cr.no_grad():
        y.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_a_function_may_change_its_root_gradient_in_place() -> None:
    """loss.backward() on a custom Function's 0-d output hands it a gradient of its own."""

    class Square(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return (x * x).sum()

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            g.mul_(2)  # in place on the incoming gradient, as PyTorch allows
            return g * x

    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    for _ in range(2):  # the second call must not see the first call's change
        x.grad = None
        Square.apply(x).backward()
        assert x.grad.tolist() == [2.0, 4.0]
