"""The seeds as tests: every closed-form rule derived in ../shared/seeds/, computed by hand
in NumPy, equals what chainrule's autograd returns (float64, tight tolerance)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F

RNG = np.random.default_rng(2024)


def leaf(a: np.ndarray) -> cr.Tensor:
    return cr.tensor(a, dtype=cr.float64, requires_grad=True)


def grads_of(y: cr.Tensor, dy: np.ndarray, *xs: cr.Tensor) -> list[np.ndarray]:
    return [g.numpy() for g in cr.autograd.grad(y, list(xs), cr.tensor(dy))]


# -- 004: computational-graph nodes ------------------------------------------------------
def test_add_node_passes_gradient_to_both_inputs() -> None:
    x, y = leaf(RNG.standard_normal(4)), leaf(RNG.standard_normal(4))
    dz = RNG.standard_normal(4)
    gx, gy = grads_of(x + y, dz, x, y)
    np.testing.assert_allclose(gx, dz)
    np.testing.assert_allclose(gy, dz)


def test_multiply_node_swaps_inputs() -> None:
    x, y = leaf(RNG.standard_normal(4)), leaf(RNG.standard_normal(4))
    dz = RNG.standard_normal(4)
    gx, gy = grads_of(x * y, dz, x, y)
    np.testing.assert_allclose(gx, dz * y.detach().numpy())
    np.testing.assert_allclose(gy, dz * x.detach().numpy())


def test_reciprocal_node_is_minus_y_squared() -> None:
    x = leaf(RNG.uniform(0.5, 2.0, 5))
    dy = RNG.standard_normal(5)
    y = 1.0 / x
    (gx,) = grads_of(y, dy, x)
    np.testing.assert_allclose(gx, -dy * y.detach().numpy() ** 2)
    (gx2,) = grads_of(cr.reciprocal(x), dy, x)
    np.testing.assert_allclose(gx2, -dy / x.detach().numpy() ** 2)


def test_log_node_is_one_over_x() -> None:
    x = leaf(RNG.uniform(0.5, 2.0, 5))
    dy = RNG.standard_normal(5)
    (gx,) = grads_of(cr.log(x), dy, x)
    np.testing.assert_allclose(gx, dy / x.detach().numpy())


def test_exp_node_is_its_own_output() -> None:
    x = leaf(RNG.standard_normal(5))
    dy = RNG.standard_normal(5)
    y = cr.exp(x)
    (gx,) = grads_of(y, dy, x)
    np.testing.assert_allclose(gx, dy * y.detach().numpy())


def test_sigmoid_node_is_y_times_one_minus_y() -> None:
    x = leaf(RNG.standard_normal(6))
    dy = RNG.standard_normal(6)
    y = cr.sigmoid(x)
    (gx,) = grads_of(y, dy, x)
    yv = 1 / (1 + np.exp(-x.detach().numpy()))
    np.testing.assert_allclose(y.detach().numpy(), yv)
    np.testing.assert_allclose(gx, dy * yv * (1 - yv))


def test_relu_node_passes_where_positive_and_zero_at_zero() -> None:
    x = leaf(np.array([-1.0, 0.0, 2.0, 3.5]))
    dy = np.array([1.0, 1.0, 1.0, 2.0])
    (gx,) = grads_of(cr.relu(x), dy, x)
    np.testing.assert_array_equal(gx, [0.0, 0.0, 1.0, 2.0])


def test_branch_node_adds_gradients() -> None:
    x = leaf(RNG.standard_normal(3))
    dy = RNG.standard_normal(3)
    # x branches into three uses: y = x*2 + x*x + exp(x)
    (gx,) = grads_of(x * 2.0 + x * x + cr.exp(x), dy, x)
    np.testing.assert_allclose(gx, dy * (2 + 2 * x.detach().numpy() + np.exp(x.detach().numpy())))


def test_repeat_sum_node_sums_the_repeated_gradient() -> None:
    # Repeat: b (3,) is repeated over N = 4 rows; Sum: its gradient sums the 4 rows
    x, b = leaf(RNG.standard_normal((4, 3))), leaf(RNG.standard_normal(3))
    dy = RNG.standard_normal((4, 3))
    gx, gb = grads_of(x + b, dy, x, b)
    np.testing.assert_allclose(gb, dy.sum(axis=0))
    # and the transpose: sum(x, axis=0) repeats its gradient over the rows
    (gx2,) = grads_of(x.sum(0), dy[0], x)
    np.testing.assert_allclose(gx2, np.repeat(dy[:1], 4, axis=0))


def test_y_equals_x_w_element_by_element() -> None:
    x, w = leaf(RNG.standard_normal(2)), leaf(RNG.standard_normal((2, 3)))
    dy = RNG.standard_normal(3)
    gx, gw = grads_of(x @ w, dy, x, w)
    # dL/dx_i = sum_j dL/dy_j w_ij ; dL/dw_ij = x_i dL/dy_j
    np.testing.assert_allclose(gx, [sum(dy[j] * w.detach().numpy()[i, j] for j in range(3))
                                    for i in range(2)])
    np.testing.assert_allclose(gw, np.outer(x.detach().numpy(), dy))


def test_softmax_with_loss_is_softmax_minus_onehot_over_n() -> None:
    n, c = 5, 4
    z = leaf(RNG.standard_normal((n, c)))
    t = RNG.integers(0, c, n)
    loss = F.cross_entropy(z, cr.tensor(t))
    (gz,) = grads_of(loss, np.array(1.0), z)
    p = np.exp(z.detach().numpy() - z.detach().numpy().max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(gz, (p - np.eye(c)[t]) / n, atol=1e-15)


# -- 000: the affine layer Y = X.W + B, one sample and a batch -----------------------------
@pytest.mark.parametrize("batch", [None, 7])
def test_affine_layer_rules(batch: int | None) -> None:
    shape = (2,) if batch is None else (batch, 2)
    x, w, b = leaf(RNG.standard_normal(shape)), leaf(RNG.standard_normal((2, 3))), leaf(
        RNG.standard_normal(3))
    y = x @ w + b
    dy = RNG.standard_normal(y.shape)
    gx, gw, gb = grads_of(y, dy, x, w, b)
    np.testing.assert_allclose(gx, dy @ w.detach().numpy().T)  # dX = dY . W^T
    xm, dym = np.atleast_2d(x.detach().numpy()), np.atleast_2d(dy)
    np.testing.assert_allclose(gw, xm.T @ dym)  # dW = X^T . dY
    np.testing.assert_allclose(gb, dym.sum(axis=0))  # dB = sum over the batch of dY


# -- 001: the linear layer Y = X A^T + b (PyTorch's layout) --------------------------------
def test_linear_layer_rules() -> None:
    x, a, b = leaf(RNG.standard_normal((6, 4))), leaf(RNG.standard_normal((3, 4))), leaf(
        RNG.standard_normal(3))
    y = F.linear(x, a, b)
    dy = RNG.standard_normal((6, 3))
    gx, ga, gb = grads_of(y, dy, x, a, b)
    np.testing.assert_allclose(gx, dy @ a.detach().numpy())  # dX = dY . A
    np.testing.assert_allclose(ga, dy.T @ x.detach().numpy())  # dA = dY^T . X
    np.testing.assert_allclose(gb, dy.T @ np.ones(6))  # db = dY^T . 1


def test_quadratic_form_z_equals_x_a_y() -> None:
    x, a, y = leaf(RNG.standard_normal(4)), leaf(RNG.standard_normal((4, 5))), leaf(
        RNG.standard_normal(5))
    z = x @ a @ y
    gx, ga, gy = grads_of(z, np.array(1.0), x, a, y)
    np.testing.assert_allclose(gx, a.detach().numpy() @ y.detach().numpy())  # dz/dx = A y
    np.testing.assert_allclose(gy, a.detach().numpy().T @ x.detach().numpy())  # dz/dy = A^T x
    np.testing.assert_allclose(ga, np.outer(x.detach().numpy(),
                                            y.detach().numpy()))  # dz/dA = x y^T


def test_bilinear_layer_rules() -> None:
    n, m, k, l_out = 5, 3, 4, 2
    x, y = leaf(RNG.standard_normal((n, m))), leaf(RNG.standard_normal((n, k)))
    a, b = leaf(RNG.standard_normal((l_out, m, k))), leaf(RNG.standard_normal(l_out))
    z = F.bilinear(x, y, a, b)
    dz = RNG.standard_normal((n, l_out))
    np.testing.assert_allclose(
        z.detach().numpy(),
        np.stack([((x.detach().numpy() @ a.detach().numpy()[i]) * y.detach().numpy()).sum(1)
                  for i in range(l_out)], 1)
        + b.detach().numpy(),
    )
    gx, gy, ga, gb = grads_of(z, dz, x, y, a, b)
    av, xv, yv = a.detach().numpy(), x.detach().numpy(), y.detach().numpy()
    np.testing.assert_allclose(gx, sum(dz[:, [i]] * (yv @ av[i].T) for i in range(l_out)))
    np.testing.assert_allclose(gy, sum(dz[:, [i]] * (xv @ av[i]) for i in range(l_out)))
    np.testing.assert_allclose(ga, np.stack([(dz[:, [i]] * xv).T @ yv for i in range(l_out)]))
    np.testing.assert_allclose(gb, dz.sum(0))


# -- 002: one layer z = x@W + b, y = f(z), e = 1/2 ||y - y*||^2, layer by layer ------------
def test_layerwise_nabla_rules() -> None:
    x, w, b = leaf(RNG.standard_normal((1, 4))), leaf(RNG.standard_normal((4, 3))), leaf(
        RNG.standard_normal(3))
    target = RNG.standard_normal((1, 3))
    z = x @ w + b
    y = cr.sigmoid(z)
    e = 0.5 * ((y - cr.tensor(target)) ** 2).sum()
    gx, gw, gb = grads_of(e, np.array(1.0), x, w, b)
    yv = y.detach().numpy()
    grad_y = yv - target  # at the last layer
    grad_z = grad_y * yv * (1 - yv)  # grad_y (.) f'(z)
    np.testing.assert_allclose(gw, x.detach().numpy().T @ grad_z)  # grad_W = x^T grad_z
    np.testing.assert_allclose(gb, grad_z[0])  # grad_b = grad_z
    np.testing.assert_allclose(gx, grad_z @ w.detach().numpy().T)  # grad_x = grad_z @ W^T


# -- 003: the two-layer ReLU network, Frobenius loss --------------------------------------
def test_two_layer_network_trace_method_rules() -> None:
    n, d_in, h, d_out = 8, 5, 6, 3
    x = RNG.standard_normal((n, d_in))
    y = RNG.standard_normal((n, d_out))
    w1, w2 = leaf(RNG.standard_normal((d_in, h))), leaf(RNG.standard_normal((h, d_out)))
    hidden = cr.tensor(x) @ w1
    h_relu = cr.relu(hidden)
    y_pred = h_relu @ w2
    loss = ((y_pred - cr.tensor(y)) ** 2).sum()
    loss.backward()
    hv = x @ w1.detach().numpy()
    hr = np.maximum(hv, 0)
    d_ypred = 2 * (hr @ w2.detach().numpy() - y)  # d loss / d Y_pred
    d_w2 = hr.T @ d_ypred  # = H_relu^T dY_pred
    d_hrelu = d_ypred @ w2.detach().numpy().T  # = dY_pred W2^T
    d_h = d_hrelu * (hv > 0)  # zero where H <= 0
    d_w1 = x.T @ d_h  # = X^T dH
    np.testing.assert_allclose(loss.item(), np.sum((hr @ w2.detach().numpy() - y) ** 2))
    np.testing.assert_allclose(w2.grad.numpy(), d_w2)
    np.testing.assert_allclose(w1.grad.numpy(), d_w1)
