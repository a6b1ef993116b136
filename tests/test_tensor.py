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
    assert not d.requires_grad and d.numpy() is t.numpy()
    c = t.clone()
    assert c.numpy() is not t.numpy() and c.grad_fn is not None


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
        np.testing.assert_allclose(y.numpy(), expected)
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
    memory, version = w.numpy(), w._version[0]
    with cr.no_grad():
        w -= 0.5 * w.grad  # the manual SGD step of the seeds' two-layer network
        w *= 2
        w += 1
        w /= 4
    assert w.numpy() is memory and w.is_leaf and w.requires_grad
    assert w._version[0] == version + 4
    np.testing.assert_allclose(w.numpy(), [0.25, 0.25, 0.25])
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
