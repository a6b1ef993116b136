"""Tensor: creation rules, attributes, operators on either side, in-place ops, repr."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def test_tensor_dtype_rules() -> None:
    assert cr.tensor([1.0, 2.0]).dtype == cr.float32
    assert cr.tensor(1.5).dtype == cr.float32 and cr.tensor(1.5).shape == ()
    assert cr.tensor([1, 2]).dtype == cr.int64
    assert cr.tensor([True, False]).dtype == cr.bool
    assert cr.tensor(np.zeros(2, np.float64)).dtype == cr.float64
    assert cr.tensor(np.zeros(2, np.int32)).dtype == np.int32
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == cr.float64


def test_tensor_copies_and_from_numpy_shares() -> None:
    a = np.zeros(3, np.float32)
    t, s = cr.tensor(a), cr.from_numpy(a)
    a[0] = 5.0
    assert t.numpy()[0] == 0.0 and s.numpy()[0] == 5.0
    assert s.numpy() is a


def test_default_dtype_switch() -> None:
    try:
        cr.set_default_dtype(cr.float64)
        assert cr.tensor([1.0]).dtype == cr.float64
        assert cr.zeros(2).dtype == cr.float64
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.get_default_dtype() == cr.float32


def test_attributes_and_conversions() -> None:
    t = cr.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], requires_grad=True)
    assert t.shape == (2, 3) and t.ndim == 2 and t.dim() == 2 and t.numel() == 6
    assert t.size() == (2, 3) and t.size(1) == 3 and len(t) == 2
    assert t.is_leaf and t.grad is None and t.grad_fn is None
    assert t.tolist() == [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]
    assert cr.tensor([2.5]).item() == 2.5
    assert t.double().dtype == cr.float64 and t.long().dtype == cr.int64
    assert t.to(cr.float64).dtype == cr.float64 and t.float() is t
    d = t.detach()
    assert not d.requires_grad and d.detach().numpy() is t.detach().numpy()
    c = t.clone()
    assert c.detach().numpy() is not t.detach().numpy() and c.grad_fn is not None


def test_item_on_many_elements_raises() -> None:
    with pytest.raises(RuntimeError, match="only one-element tensors"):
        cr.tensor([1.0, 2.0]).item()


def test_requires_grad_on_integer_tensor_raises() -> None:
    with pytest.raises(RuntimeError, match="floating point"):
        cr.tensor([1, 2], requires_grad=True)
    with pytest.raises(RuntimeError, match="floating point"):
        cr.tensor([1, 2]).requires_grad_()


@pytest.mark.parametrize("other", [2.0, 2, np.float32(2.0)])
def test_scalars_do_not_upcast_float32(other) -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for y in (x + other, other + x, x - other, other - x, x * other, other * x, x / other,
              other / x, x**other):
        assert y.dtype == cr.float32, y


def test_ndarray_on_either_side() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    a = np.array([3.0, 4.0], np.float32)
    for y, expected in ((x + a, [4, 6]), (a + x, [4, 6]), (a - x, [2, 2]), (a * x, [3, 8]),
                        (a / x, [3, 2])):
        assert isinstance(y, cr.Tensor) and y.requires_grad
        np.testing.assert_allclose(y.detach().numpy(), expected)
    (a * x).backward(cr.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), a)


def test_integer_tensor_with_float_scalar_gives_default_dtype() -> None:
    assert (cr.tensor([1, 2]) * 0.5).dtype == cr.float32
    assert (cr.tensor([1, 2]) / cr.tensor([2, 2])).dtype == cr.float32
    assert (cr.tensor([1, 2]) + 1).dtype == cr.int64


def test_comparisons_return_bool_without_grad() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    for c in (x > 1.5, x >= 2, x < 2, x <= 2, x == 2, x != 2, 2 < x):
        assert c.dtype == cr.bool and not c.requires_grad
    np.testing.assert_array_equal((x > 1.5).numpy(), [False, True, True])


def test_binary_shape_mismatch_names_op_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"add: shapes \(2, 3\) and \(4,\)"):
        cr.ones(2, 3) + cr.ones(4)
    with pytest.raises(ValueError, match=r"mul: shapes \(2,\) and \(3,\)"):
        cr.ones(2) * cr.ones(3)


def test_inplace_methods_and_version_counter() -> None:
    t = cr.zeros(3)
    v0 = t._version[0]
    t.add_(1.0).mul_(3.0).sub_(1.0).div_(2.0)
    np.testing.assert_allclose(t.numpy(), [1.0, 1.0, 1.0])
    t.fill_(7.0)
    np.testing.assert_allclose(t.numpy(), [7.0] * 3)
    t.copy_(cr.tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(t.numpy(), [1.0, 2.0, 3.0])
    t.zero_()
    assert t.numpy().sum() == 0 and t._version[0] == v0 + 7
    t.add_(cr.ones(3), alpha=2.0)
    np.testing.assert_allclose(t.numpy(), [2.0] * 3)


def test_augmented_assignment_updates_in_place() -> None:
    w = cr.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (w * w).sum().backward()
    memory, version = w.detach().numpy(), w._version[0]
    with cr.no_grad():
        w -= 0.5 * w.grad  # the manual SGD step of the seeds' two-layer network
        w *= 2
        w += 1
        w /= 4
    assert w.detach().numpy() is memory and w.is_leaf and w.requires_grad
    assert w._version[0] == version + 4
    np.testing.assert_allclose(w.detach().numpy(), [0.25, 0.25, 0.25])
    with pytest.raises(RuntimeError, match="__isub__.*leaf.*no_grad"):
        w -= 1.0


def test_augmented_assignment_on_a_graph_tensor_is_recorded() -> None:
    a = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    b = a * 3
    b *= a  # b = 3 a**2: history rebased onto the in-place product
    b.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [6.0, 12.0])


def test_integer_alpha_and_rounding_division() -> None:
    x = cr.tensor([1, 2, 3])
    x.add_(1, alpha=2)
    assert x.tolist() == [3, 4, 5] and x.dtype == cr.int64
    assert cr.tensor([1.0]).sub(cr.tensor([1.0]), alpha=3).tolist() == [-2.0]
    y = cr.tensor([5.0, -7.0])
    assert y.div(2, rounding_mode="floor").tolist() == [2.0, -4.0]
    assert y.div(2, rounding_mode="trunc").tolist() == [2.0, -3.0]
    assert y.square().tolist() == [25.0, 49.0] and y.sign().tolist() == [1.0, -1.0]


def test_repr_like_pytorch() -> None:
    assert repr(cr.tensor([[1.0, 2.0]], requires_grad=True)) == (
        "tensor([[1., 2.]], requires_grad=True)"
    )
    x = cr.tensor(0.5, requires_grad=True)
    assert repr(x * 1.0) == "tensor(0.5000, grad_fn=<MulBackward>)"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(cr.tensor([1.5], dtype=cr.float64)) == "tensor([1.5000], dtype=chainrule.float64)"


def test_tensor_is_hashable_by_identity() -> None:
    a, b = cr.zeros(2), cr.zeros(2)
    assert len({a, b}) == 2


def test_numpy_array_protocol() -> None:
    t = cr.tensor([1.0, 2.0])
    np.testing.assert_allclose(np.asarray(t), [1.0, 2.0])


def test_repr_pads_to_the_widest_nonzero_finite_value_like_pytorch() -> None:
    # nan, inf and zeros don't widen the columns; the tiniest value can be the widest
    assert repr(cr.tensor([np.nan, np.inf, -np.inf, 1.0])) == "tensor([nan, inf, -inf, 1.])"
    assert repr(cr.tensor([np.nan, 0.0])) == "tensor([nan, 0.])"
    assert repr(cr.tensor(np.array([-1e-120, -5.0, 1e-121]))) == (
        "tensor([-1.0000e-120,  -5.0000e+00,  1.0000e-121], dtype=chainrule.float64)"
    )


def test_repr_summarises_and_wraps_like_pytorch() -> None:
    # above 1000 elements: 3 at each edge, " ..." between, format chosen from those shown
    assert repr(cr.tensor(np.arange(1200, dtype=np.float32) / 7)) == (
        "tensor([0.0000e+00, 1.4286e-01, 2.8571e-01,  ..., 1.7100e+02, 1.7114e+02,\n"
        "        1.7129e+02])"
    )
    # rows wrap at 80 characters; a suffix that would overflow goes on its own line
    x = cr.tensor(np.arange(30, dtype=np.float64).reshape(3, 10) * 1e5 + 0.5, requires_grad=True)
    rows = [
        "tensor([[5.0000e-01, 1.0000e+05, 2.0000e+05, 3.0000e+05, 4.0000e+05, 5.0000e+05,",
        "         6.0000e+05, 7.0000e+05, 8.0000e+05, 9.0000e+05],",
        "        [1.0000e+06, 1.1000e+06, 1.2000e+06, 1.3000e+06, 1.4000e+06, 1.5000e+06,",
        "         1.6000e+06, 1.7000e+06, 1.8000e+06, 1.9000e+06],",
        "        [2.0000e+06, 2.1000e+06, 2.2000e+06, 2.3000e+06, 2.4000e+06, 2.5000e+06,",
        "         2.6000e+06, 2.7000e+06, 2.8000e+06, 2.9000e+06]],",
        "       dtype=chainrule.float64, requires_grad=True)",
    ]
    assert repr(x) == "\n".join(rows)


def test_python_floats_overflowing_float32_become_inf_silently() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cr.tensor(1e300).item() == np.inf
        assert cr.tensor([1e300], dtype=cr.float32).tolist() == [np.inf]


def test_to_accepts_device_dtype_and_tensor_forms() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("cpu", cr.float64).dtype == cr.float64
    assert x.to(device="cpu", dtype=cr.float64).dtype == cr.float64
    assert x.to(cr.zeros(1, dtype=cr.float64)).dtype == cr.float64
    assert x.to("cpu") is x and x.to(cr.float32) is x
    y = x.to(cr.float32, copy=True)
    assert y is not x and y.requires_grad
    assert not np.shares_memory(y.detach().numpy(), x.detach().numpy())


def test_recorded_inplace_op_keeps_the_tensors_dtype_and_gradients() -> None:
    # float32 += float64 (requiring grad): computed promoted, stored as float32, and the
    # gradients reach both operands in their own dtypes (as PyTorch)
    w = cr.ones(3, requires_grad=True)
    b = cr.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x = w * 1
    x.add_(b)
    assert x.dtype == cr.float32
    (x * x).sum().backward()
    assert w.grad.dtype == cr.float32 and b.grad.dtype == cr.float64
    np.testing.assert_array_equal(b.grad.numpy(), [4.0, 6.0, 8.0])
    a = cr.ones(3)
    a.copy_(b)
    (a * a).sum().backward()
    assert a.dtype == cr.float32
    np.testing.assert_array_equal(b.grad.numpy(), [6.0, 10.0, 14.0])


def test_inplace_errors_name_the_op_shapes_and_dtypes() -> None:
    with pytest.raises(RuntimeError, match=r"add_: the result of shape \(2, 3\) cannot be "
                                           r"written in place into a tensor of shape \(3,\)"):
        cr.zeros(3).add_(cr.ones(2, 3))
    with pytest.raises(ValueError, match=r"copy_: a source of shape \(2, 3\) cannot be "
                                         r"broadcast to the tensor's shape \(3,\)"):
        cr.zeros(3).copy_(cr.ones(2, 3))
    with pytest.raises(RuntimeError, match="mul_: result type float32 can't be cast to the "
                                           "tensor's dtype int64"):
        cr.zeros(3, dtype=cr.int64).mul_(cr.ones(3))


def test_setting_requires_grad_validates_like_requires_grad_() -> None:
    x = cr.tensor([1, 2])
    with pytest.raises(RuntimeError, match="only tensors of floating point dtype"):
        x.requires_grad = True  # an int64 gradient would be silently truncated
    assert not x.requires_grad
    y = cr.tensor([1.0], requires_grad=True) * 2.0
    with pytest.raises(RuntimeError, match="only change requires_grad flags of leaf"):
        y.requires_grad = False
    z = cr.ones(2)
    z.requires_grad = True
    assert z.requires_grad and z.is_leaf
