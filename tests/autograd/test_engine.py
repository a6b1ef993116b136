"""The backward engine: ordering, Branch (fan-out), freeing, retain_graph, higher order."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from opcheck import t64

import chainrule as cr


def test_branch_fan_out_sums_gradients() -> None:
    # y = x*x + x*3 uses x three times: dy/dx = 2x + 3 (the seeds' Branch node)
    x = t64([1.0, -2.0, 0.5])
    y = x * x + x * 3.0
    y.backward(cr.ones(3, dtype=cr.float64))
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy() + 3)


def test_diamond_graph_runs_each_node_once() -> None:
    x = t64([2.0])
    a = x * 3.0
    b = a * a  # a feeds b twice
    c = a + b  # and c once more
    c.backward(cr.ones(1, dtype=cr.float64))
    # c = 3x + 9x^2 -> 3 + 18x
    np.testing.assert_allclose(x.grad.numpy(), [3 + 18 * 2.0])


def test_deep_chain_is_iterative() -> None:
    depth = 100_000
    assert depth > sys.getrecursionlimit() * 10
    x = cr.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(depth):
        y = y * 1.0
    y.backward(cr.ones(1))
    np.testing.assert_allclose(x.grad.numpy(), [1.0])


def test_gradients_accumulate_across_backward_calls() -> None:
    x = t64([1.0, 2.0])
    (x * x).backward(cr.ones(2, dtype=cr.float64))
    (x * x).backward(cr.ones(2, dtype=cr.float64))
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 8.0])


def test_shared_gradient_buffers_do_not_alias() -> None:
    # Add passes the same gradient to both inputs; accumulating into one leaf's .grad
    # must not change the other's.
    a, b = t64([1.0]), t64([2.0])
    (a + b).backward(cr.ones(1, dtype=cr.float64))
    (a * 5.0).backward(cr.ones(1, dtype=cr.float64))
    np.testing.assert_allclose(a.grad.numpy(), [6.0])
    np.testing.assert_allclose(b.grad.numpy(), [1.0])


def test_second_backward_through_freed_graph_raises() -> None:
    x = t64([1.0, 2.0])
    y = x * x
    y.backward(cr.ones(2, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward(cr.ones(2, dtype=cr.float64))


def test_retain_graph_allows_second_backward() -> None:
    x = t64([3.0])
    y = x * x
    y.backward(cr.ones(1, dtype=cr.float64), retain_graph=True)
    y.backward(cr.ones(1, dtype=cr.float64))
    np.testing.assert_allclose(x.grad.numpy(), [12.0])


def test_backward_on_non_scalar_needs_gradient() -> None:
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2.0).backward()


def test_backward_gradient_shape_is_checked() -> None:
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"shape \(3,\) does not match"):
        (x * 2.0).backward(cr.ones(3, dtype=cr.float64))


def test_backward_without_grad_raises() -> None:
    x = t64([1.0], requires_grad=False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2.0).backward(cr.ones(1, dtype=cr.float64))


def test_create_graph_gives_second_derivative() -> None:
    x = t64([1.5, -0.5])
    y = x * x * x
    (g,) = cr.autograd.grad(y, x, cr.ones(2, dtype=cr.float64), create_graph=True)
    np.testing.assert_allclose(g.numpy(), 3 * x.numpy() ** 2)
    assert g.requires_grad
    (h,) = cr.autograd.grad(g, x, cr.ones(2, dtype=cr.float64))
    np.testing.assert_allclose(h.numpy(), 6 * x.numpy())


def test_hessian_vector_product_via_backward() -> None:
    x = t64([1.0, 2.0])
    y = x * x * x
    (g,) = cr.autograd.grad(y, x, cr.ones(2, dtype=cr.float64), create_graph=True)
    v = t64([1.0, -1.0], requires_grad=False)
    (g * v).backward(cr.ones(2, dtype=cr.float64))
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.numpy() * v.numpy())


def test_grad_does_not_touch_leaf_grads() -> None:
    x, w = t64([1.0]), t64([2.0])
    (gx,) = cr.autograd.grad(x * w, [x], cr.ones(1, dtype=cr.float64))
    np.testing.assert_allclose(gx.numpy(), [2.0])
    assert x.grad is None and w.grad is None


def test_grad_of_unused_input() -> None:
    x, unused = t64([1.0]), t64([2.0])
    with pytest.raises(RuntimeError, match="not used"):
        cr.autograd.grad(x * 2.0, [x, unused], cr.ones(1, dtype=cr.float64))
    gx, gu = cr.autograd.grad(
        x * 2.0, [x, unused], cr.ones(1, dtype=cr.float64), allow_unused=True
    )
    assert gu is None and gx is not None


def test_grad_with_respect_to_intermediate() -> None:
    x = t64([3.0])
    h = x * 2.0
    y = h * h
    (gh,) = cr.autograd.grad(y, h, cr.ones(1, dtype=cr.float64))
    np.testing.assert_allclose(gh.numpy(), [12.0])


def test_retain_grad_on_non_leaf() -> None:
    x = t64([1.0, 2.0])
    h = x * 3.0
    h.retain_grad()
    (h * h).backward(cr.ones(2, dtype=cr.float64))
    np.testing.assert_allclose(h.grad.numpy(), 2 * h.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.numpy())


def test_inplace_change_of_saved_tensor_is_detected() -> None:
    x = t64([1.0, 2.0])
    a = t64([3.0, 4.0], requires_grad=False)
    y = x * a  # Mul saves a
    a.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(cr.ones(2, dtype=cr.float64))


def test_inplace_change_of_saved_output_is_detected() -> None:
    x = t64([1.0, 2.0])
    y = cr.reciprocal(x)  # saves its output
    with cr.no_grad():
        y.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(cr.ones(2, dtype=cr.float64))


def test_inplace_on_leaf_requiring_grad_raises_at_once() -> None:
    x = t64([1.0])
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        x.add_(1.0)
    with cr.no_grad():
        x.add_(1.0)
    np.testing.assert_allclose(x.numpy(), [2.0])


def test_inplace_on_non_leaf_is_recorded() -> None:
    x = t64([1.0, 2.0])
    y = x * 2.0
    y.mul_(3.0)
    y.backward(cr.ones(2, dtype=cr.float64))
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_graph_buffers_are_released_after_backward() -> None:
    x = t64([1.0, 2.0])
    y = x * x
    node = y.grad_fn
    assert node._saved_inputs is not None
    y.backward(cr.ones(2, dtype=cr.float64))
    assert node.freed and node._saved_inputs is None
    assert node.input_shapes == ((2,), (2,))  # shapes stay for explain


def test_no_gradient_computed_for_inputs_that_need_none() -> None:
    calls = []

    class Spy(cr.autograd.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * b

        @staticmethod
        def backward(ctx, dy):
            calls.append(ctx.needs_input_grad)
            return dy, dy

    a = t64([1.0])
    b = t64([2.0], requires_grad=False)
    Spy.apply(a, b).backward(cr.ones(1, dtype=cr.float64))
    assert calls == [(True, False)]
    assert b.grad is None


def test_leaf_gradients_never_share_memory() -> None:
    # Add hands the same gradient to both leaves; each .grad must be its own buffer
    a, b = t64([1.0, 2.0]), t64([3.0, 4.0])
    (a + b).backward(cr.ones(2, dtype=cr.float64))
    assert not np.shares_memory(a.grad.numpy(), b.grad.numpy())
    a.grad.mul_(10.0)
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0])


def test_leaf_gradient_does_not_alias_user_gradient() -> None:
    x = t64([1.0, 2.0])
    seed = np.ones(2)
    x.backward(seed)
    assert not np.shares_memory(x.grad.numpy(), seed)


def test_broadcast_gradient_is_writable() -> None:
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    x.sum().backward()  # the Sum rule broadcasts dY back
    x.grad.zero_()
    np.testing.assert_allclose(x.grad.numpy(), 0.0)


def test_fresh_gradient_is_adopted_without_copy() -> None:
    x = t64(np.ones((3, 4)), requires_grad=False)
    w = t64(np.ones((5, 4)))
    out = cr.nn.functional.linear(x, w)
    out.backward(cr.ones(3, 5, dtype=cr.float64))
    assert w.grad.numpy().base is None and w.grad.numpy().flags.owndata


def test_a_wrong_gradient_dtype_is_blamed_on_the_node_that_returned_it() -> None:
    # every edge is checked: the custom op's float64 gradient is reported at the custom
    # op, not at the Mul that would have passed it on to the leaf
    class Double(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return (g * 2).double()

    x = cr.ones(3, requires_grad=True)
    y = Double.apply(x * 3.0)
    with pytest.raises(RuntimeError, match=r"DoubleBackward returned a float64 gradient "
                                           r"for input 0 of dtype float32"):
        y.sum().backward()


def test_a_wrong_gradient_shape_is_blamed_on_the_node_that_returned_it() -> None:
    class Wide(cr.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return cr.ones(4)

    x = cr.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"WideBackward returned a gradient of shape "
                                           r"\(4,\) for input 0, expected \(3,\)"):
        Wide.apply(x * 3.0).sum().backward()


def test_backward_order_is_the_order_the_engine_runs() -> None:
    from chainrule.autograd.engine import backward_order

    ran = []
    x = cr.ones(2, requires_grad=True)
    a = x * 2.0
    b = a.exp()
    c = (a + b).sum()
    order = backward_order(c.grad_fn)
    for node in order:
        node.hooks = [(0, lambda g, n=node: ran.append(n))]
    c.backward()
    assert ran == order
    assert [type(n).__name__ for n in order] == ["Sum", "Add", "Exp", "Mul"]
