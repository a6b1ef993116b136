"""Tests of ``x[index]`` (getitem), ``x[index] = value`` (index_put) and index_add_zeros:
every kind of index, repeated indices (gradients accumulate), boolean masks, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
from chainrule.ops.indexing import GetItem, IndexPut

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _leaf(a: np.ndarray) -> cr.Tensor:
    return cr.tensor(a, requires_grad=True)


def _torch_index(index: Any) -> Any:
    """The same index for torch: ndarrays become tensors."""
    def one(i: Any) -> Any:
        return torch.from_numpy(i) if isinstance(i, np.ndarray) else i
    return tuple(one(i) for i in index) if isinstance(index, tuple) else one(index)


MASK_ROWS = np.array([True, False, True])
MASK_2D = np.array([[True, False, True, False], [False, False, True, True],
                    [True, True, False, False]])

INDICES = {
    "int": 1,
    "negative int": -1,
    "slice": slice(1, 3),
    "step slice": slice(None, None, 2),
    "int and slice": (slice(None), 1),
    "ellipsis": (Ellipsis, 0),
    "None": (None, slice(None), None),
    "None mixed": (slice(None), None, slice(1, None)),
    "two ints": (2, 3),
    "int list": [0, 2],
    "repeated list": [0, 0, 2, 0],
    "int array 2-D": np.array([[0, 1], [1, 0]]),
    "int array pairs": (np.array([0, 1, 2]), np.array([3, 3, 0])),
    "repeated column": (slice(None), [2, 0, 2]),
    "array and slice": ([1, 1], slice(1, 3)),
    "int and array": (1, np.array([0, 0, 3])),
    "bool rows": MASK_ROWS,
    "bool 2-D mask": MASK_2D,
    "bool columns": (slice(None), np.array([True, False, False, True])),
    "bool and int array": (MASK_ROWS, np.array([1, 1])),
    "empty list": [],
}


@pytest.mark.parametrize("index", list(INDICES.values()), ids=list(INDICES))
def test_getitem(index: Any) -> None:
    (a,) = make_inputs([(3, 4)])
    check_op(lambda x: x[index], [a], lambda x: x[_torch_index(index)])
    np.testing.assert_array_equal(cr.tensor(a)[index].numpy(), a[index])


def test_getitem_3d_mixed() -> None:
    (a,) = make_inputs([(2, 3, 4)])
    idx = (slice(None), np.array([2, 0, 2]), slice(None, None, 3))
    check_op(lambda x: x[idx], [a], lambda x: x[_torch_index(idx)])
    check_op(lambda x: x[..., [1, 1]], [a], lambda x: x[..., [1, 1]])


def test_getitem_negative_step() -> None:
    """NumPy allows a negative step (PyTorch does not): still differentiable."""
    (a,) = make_inputs([(3, 4)])
    check_op(lambda x: x[::-1, 1::-2], [a])


def test_tensor_indices() -> None:
    """Integer and boolean Tensors inside the index are used as arrays."""
    (a,) = make_inputs([(3, 4)])
    idx = cr.tensor([2, 0, 2])
    mask = cr.tensor(a) > 0
    check_op(lambda x: x[idx], [a], lambda x: x[torch.tensor([2, 0, 2])])
    check_op(lambda x: x[mask], [a], lambda x: x[torch.from_numpy(a > 0)])
    check_op(lambda x: x[cr.tensor(1), idx], [a], lambda x: x[1, torch.tensor([2, 0, 2])])
    check_op(lambda x: x[idx, cr.tensor([1, 1, 1])], [a],
             lambda x: x[torch.tensor([2, 0, 2]), torch.tensor([1, 1, 1])])


def test_repeated_indices_accumulate() -> None:
    """An element read k times receives k gradients (np.add.at, the seeds' Branch)."""
    x = _leaf(np.arange(4.0))
    x[[0, 0, 3, 0]].backward(cr.tensor([1.0, 2.0, 3.0, 4.0], dtype=cr.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 0.0, 0.0, 3.0])
    y = _leaf(np.zeros((2, 3)))
    y[np.array([1, 1]), np.array([2, 2])].backward(cr.ones(2, dtype=cr.float64))
    np.testing.assert_array_equal(y.grad.numpy(), [[0, 0, 0], [0, 0, 2]])


def test_boolean_mask_gradient_by_hand() -> None:
    a = np.array([[1.0, -2.0], [-3.0, 4.0]])
    x = _leaf(a)
    x[x > 0].backward(cr.tensor([10.0, 20.0], dtype=cr.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [[10.0, 0.0], [0.0, 20.0]])


def test_getitem_fan_out() -> None:
    (a,) = make_inputs([(3, 4)])
    check_op(lambda x: x[0] * x[[2]] + x[1:2], [a], lambda x: x[0] * x[[2]] + x[1:2])
    check_op(lambda x: x[:, :2] * x[:, 2:], [a], lambda x: x[:, :2] * x[:, 2:])


def test_iteration_uses_getitem() -> None:
    x = _leaf(np.arange(6.0).reshape(3, 2))
    rows = list(x)
    assert all(type(r.grad_fn) is GetItem for r in rows)
    (rows[0] * 1.0 + rows[2] * 3.0).backward(cr.ones(2, dtype=cr.float64))
    np.testing.assert_array_equal(x.grad.numpy(), [[1, 1], [0, 0], [3, 3]])


def test_getitem_float32_and_no_graph() -> None:
    x = cr.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    y = x[[0, 0]]
    y.backward(cr.ones(2, 2))
    assert y.dtype == cr.float32 and x.grad.dtype == cr.float32
    assert cr.tensor(np.ones(3))[1:].grad_fn is None


def test_getitem_errors() -> None:
    x = cr.zeros(3, 4)
    with pytest.raises(IndexError, match=r"getitem: index \[5\] is invalid for a tensor of "
                       r"shape \(3, 4\): index 5 is out of bounds for axis 0 with size 3"):
        x[5]
    with pytest.raises(IndexError, match=r"getitem: index \[:, array\(\[0, 4\]\)\] is invalid "
                       r"for a tensor of shape \(3, 4\)"):
        x[:, cr.tensor([0, 4])]
    with pytest.raises(IndexError, match=r"getitem: index \[array\(\[True, False\]\)\] is "
                       r"invalid for a tensor of shape \(3, 4\)"):
        x[np.array([True, False])]
    with pytest.raises(IndexError, match=r"getitem: index \[0, 0, 0\] is invalid for a tensor "
                       r"of shape \(3, 4\)"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="getitem: index .* is invalid"):
        x[cr.tensor([0.5])]
    big = np.arange(20) + 100
    with pytest.raises(IndexError, match=r"array\(shape=\(20,\), dtype=int64\)"):
        x[big]


# -- index_put / setitem --------------------------------------------------------------

PUTS = [
    (1, (4,)),
    ((slice(None), 1), (3,)),
    (slice(0, 2), (4,)),  # value broadcast over the rows: its gradient is summed
    (slice(0, 2), (1, 4)),
    ((0, slice(None)), (1, 4)),  # a leading 1 that NumPy drops
    ([0, 2], (2, 4)),
    ((np.array([0, 2]), np.array([1, 3])), (2,)),
    (MASK_2D, (6,)),
    (MASK_ROWS, ()),
]


@pytest.mark.parametrize(("index", "vshape"), PUTS)
def test_index_put(index: Any, vshape: tuple[int, ...]) -> None:
    x, v = make_inputs([(3, 4), vshape])

    def torch_put(t: Any, val: Any) -> Any:
        out = t.clone()
        out[_torch_index(index)] = val
        return out

    check_op(lambda t, val: cr.index_put(t, index, val), [x, v], torch_put)
    expected = x.copy()
    expected[index] = v
    np.testing.assert_array_equal(cr.index_put(cr.tensor(x), index, cr.tensor(v)).numpy(),
                                  expected)


def test_index_put_gradients_by_hand() -> None:
    x, v = _leaf(np.ones((2, 3))), _leaf(np.array([5.0, 6.0]))
    y = cr.index_put(x, (slice(None), 1), v)
    assert type(y.grad_fn) is IndexPut
    np.testing.assert_array_equal(x.numpy(), np.ones((2, 3)))  # out of place
    g = np.arange(6.0).reshape(2, 3)
    gx, gv = cr.autograd.grad(y, [x, v], cr.tensor(g))
    np.testing.assert_array_equal(gx.numpy(), [[0, 0, 2], [3, 0, 5]])
    np.testing.assert_array_equal(gv.numpy(), [1, 4])


def test_setitem_is_recorded() -> None:
    """``y[idx] = v`` on a non-leaf: x gets zero gradient where overwritten, v its slice."""
    (a, b) = make_inputs([(3, 4), (2, 4)])

    def cr_fn(x: cr.Tensor, v: cr.Tensor) -> cr.Tensor:
        y = x * 1.0
        y[[0, 2]] = v * 2.0
        y[y < 0] = 0.0
        return y

    def torch_fn(x: Any, v: Any) -> Any:
        y = x * 1.0
        y[[0, 2]] = v * 2.0
        y[y < 0] = 0.0
        return y

    check_op(cr_fn, [a, b], torch_fn)


def test_setitem_without_graph() -> None:
    x = cr.zeros(2, 3)
    x[1] = 5.0
    x[0, [0, 2]] = cr.tensor([1.0, 2.0])
    x[x == 0] = -1.0
    np.testing.assert_array_equal(x.numpy(), [[1, -1, 2], [5, 5, 5]])
    assert x.dtype == cr.float32


def test_index_put_value_dtype_and_number() -> None:
    x = cr.tensor(np.zeros(3, np.float32), requires_grad=True) * 1.0
    v = cr.tensor(np.array([2.0]), requires_grad=True)  # float64 into float32
    y = cr.index_put(x, 1, v)
    assert y.dtype == cr.float32
    (gv,) = cr.autograd.grad(y, [v], cr.ones(3))
    assert gv.dtype == cr.float64 and gv.numpy().tolist() == [1.0]
    z = cr.index_put(cr.zeros(3), [0, 1], [7.0, 8.0])
    np.testing.assert_array_equal(z.numpy(), [7, 8, 0])


@pytest.mark.parametrize("index", [np.array([0, 2, 0]), (slice(None), 1), MASK_ROWS],
                         ids=["repeated", "slice", "mask"])
def test_index_put_accumulate(index: Any) -> None:
    """accumulate=True adds the value (repeated positions add up), as torch.index_put."""
    x = make_inputs([(3, 2)])[0]
    vshape = np.zeros((3, 2))[index].shape
    (v,) = make_inputs([vshape], seed=4)

    def torch_put(t: Any, val: Any) -> Any:
        idx = _torch_index(index)
        if isinstance(idx, tuple):  # a slice: no repeats, an in-place add on a clone does
            out = t.clone()
            out[idx] += val
            return out
        return t.index_put((idx,), val, accumulate=True)

    check_op(lambda t, val: cr.index_put(t, index, val, accumulate=True), [x, v], torch_put)
    expected = x.copy()
    np.add.at(expected, index, v)
    got = cr.index_put(cr.tensor(x), index, cr.tensor(v), accumulate=True)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)


def test_index_put_errors() -> None:
    x = cr.zeros(3, 4)
    with pytest.raises(IndexError, match=r"index_put: index \[3\] is invalid for a tensor of "
                       r"shape \(3, 4\)"):
        cr.index_put(x, 3, 1.0)
    with pytest.raises(RuntimeError, match=r"index_put: value of shape \(3,\) cannot be "
                       r"broadcast to x\[0\] for a tensor of shape \(3, 4\)"):
        cr.index_put(x, 0, cr.zeros(3))
    with pytest.raises(IndexError, match="index_put"):
        x[0, 9] = 1.0


# -- index_add_zeros: the adjoint of getitem, differentiable -------------------------


@pytest.mark.parametrize("index", [np.array([0, 0, 2]), (slice(None), 1), MASK_ROWS],
                         ids=["repeated", "slice", "mask"])
def test_index_add_zeros(index: Any) -> None:
    shape = (3, 2)
    gshape = np.zeros(shape)[index].shape
    (g,) = make_inputs([gshape])
    check_op(lambda t: cr.index_add_zeros(shape, index, t), [g])
    expected = np.zeros(shape)
    np.add.at(expected, index, g)
    np.testing.assert_array_equal(cr.index_add_zeros(shape, index, cr.tensor(g)).numpy(),
                                  expected)


def test_index_add_matches_math_helper() -> None:
    from chainrule.ops import _math

    g = np.arange(3.0)
    idx = np.array([1, 1, 0])
    np.testing.assert_array_equal(_math.index_add((2,), idx, g), [2.0, 1.0])
    np.testing.assert_array_equal(_math.index_add((2,), idx, cr.tensor(g)).numpy(), [2.0, 1.0])
