"""Tensor.register_hook: see and replace gradients, as PyTorch's tensor hooks."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_leaf_hook_sees_and_replaces_the_gradient() -> None:
    x = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    handle = x.register_hook(lambda g: g * 10)
    (x * 3).sum().backward()
    np.testing.assert_array_equal(seen[0], [3.0, 3.0])
    np.testing.assert_array_equal(x.grad.numpy(), [30.0, 30.0])
    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_non_leaf_hook_changes_what_flows_upstream() -> None:
    x = cr.tensor([1.0, -1.0], dtype=cr.float64, requires_grad=True)
    h = x * 2
    h.register_hook(lambda g: g.clamp(0, 0.5))
    (h * cr.tensor([1.0, 4.0], dtype=cr.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])  # 2 * clamp([1, 4], 0, 0.5)


def test_hook_errors() -> None:
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cr.ones(2).register_hook(lambda g: g)
    x = cr.ones(2, requires_grad=True)
    x.register_hook(lambda g: cr.ones(3))
    with pytest.raises(RuntimeError, match=r"shape \(3,\) for a tensor of shape \(2,\)"):
        (x * 2).sum().backward()


def test_hooks_under_create_graph_stay_differentiable() -> None:
    x = cr.tensor([2.0], dtype=cr.float64, requires_grad=True)
    y = x * x
    y.register_hook(lambda g: g * x)  # dL/dy becomes x
    (gx,) = cr.autograd.grad(y.sum(), x, create_graph=True)  # x * 2x = 2x^2
    np.testing.assert_allclose(gx.detach().numpy(), [8.0])
    (ggx,) = cr.autograd.grad(gx.sum(), x)
    np.testing.assert_allclose(ggx.numpy(), [8.0])  # d(2x^2)/dx = 4x
