"""Max, average and adaptive pooling against finite differences (first and second order)
and PyTorch: values, gradients, return_indices, divisor rules, ceil mode, errors."""

from __future__ import annotations

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops._errors import ShapeError

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = TF = None


def _torch(name: str, *args: object, **kw: object) -> object:
    return None if TF is None else (lambda x: getattr(TF, name)(x, *args, **kw))


MAX2D = [
    ((2, 3, 8, 7), (2,), {}),
    ((2, 3, 8, 7), (3, 2, 1), {"ceil_mode": True}),
    ((2, 3, 8, 7), ((2, 3), (1, 2), (1, 1)), {"dilation": (2, 1)}),
    ((2, 3, 9, 9), (3,), {"stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True}),
    ((3, 5, 5), (2,), {"ceil_mode": True}),  # unbatched
]


@pytest.mark.parametrize(("xs", "args", "kw"), MAX2D)
def test_max_pool2d(xs: tuple[int, ...], args: tuple, kw: dict) -> None:
    check_op(lambda x: F.max_pool2d(x, *args, **kw), make_inputs([xs]),
             _torch("max_pool2d", *args, **kw))


@pytest.mark.parametrize(("xs", "args", "kw"), MAX2D)
def test_max_pool2d_indices_equal_pytorchs(xs: tuple[int, ...], args: tuple, kw: dict) -> None:
    if torch is None:
        pytest.skip("needs torch")
    x = make_inputs([xs], seed=2)[0]
    y, i = F.max_pool2d(cr.tensor(x), *args, return_indices=True, **kw)
    ty, ti = TF.max_pool2d(torch.tensor(x), *args, return_indices=True, **kw)
    np.testing.assert_array_equal(y.numpy(), ty.numpy())
    np.testing.assert_array_equal(i.numpy(), ti.numpy())
    assert i.dtype == cr.int64


def test_max_pool_ties_go_to_the_first_maximum() -> None:
    x = cr.tensor(np.zeros((1, 1, 2, 4)), requires_grad=True)
    y, idx = F.max_pool2d(x, 2, return_indices=True)
    y.sum().backward()
    np.testing.assert_array_equal(idx.numpy(), [[[[0, 2]]]])
    np.testing.assert_array_equal(x.grad.numpy(), [[[[1, 0, 1, 0], [0, 0, 0, 0]]]])


def test_max_pool_nan_rule_is_pytorchs() -> None:
    """A NaN in a window wins (the last NaN, as PyTorch's kernel); -inf is a value."""
    if torch is None:
        pytest.skip("needs torch")
    x = make_inputs([(2, 2, 6, 6)])[0]
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[1, 1, 2, 3] = np.nan
    x[0, 1, 4, 4] = -np.inf
    for args in ((2,), (3, 2, 1), (3, 1, 1)):
        y, i = F.max_pool2d(cr.tensor(x), *args, return_indices=True)
        ty, ti = TF.max_pool2d(torch.tensor(x), *args, return_indices=True)
        np.testing.assert_array_equal(y.numpy(), ty.numpy())
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_max_pool1d() -> None:
    for args, kw in (((3,), {"ceil_mode": True}), ((3, 2, 1), {"dilation": 2})):
        check_op(lambda x, a=args, k=kw: F.max_pool1d(x, *a, **k), make_inputs([(2, 3, 11)]),
                 _torch("max_pool1d", *args, **kw))
    if torch is not None:
        x = make_inputs([(2, 3, 11)])[0]
        _, i = F.max_pool1d(cr.tensor(x), 3, 2, 1, return_indices=True)
        _, ti = TF.max_pool1d(torch.tensor(x), 3, 2, 1, return_indices=True)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


AVG2D = [
    ((2, 3, 8, 7), (2,), {}),
    ((2, 3, 8, 7), (3, 2, 1), {"ceil_mode": True}),
    ((2, 3, 8, 7), (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}),
    ((2, 3, 8, 7), ((2, 3), 1, (1, 0)), {"divisor_override": 5}),
    ((3, 5, 5), (2,), {"ceil_mode": True}),
]


@pytest.mark.parametrize(("xs", "args", "kw"), AVG2D)
def test_avg_pool2d(xs: tuple[int, ...], args: tuple, kw: dict) -> None:
    check_op(lambda x: F.avg_pool2d(x, *args, **kw), make_inputs([xs]),
             _torch("avg_pool2d", *args, **kw))


def test_avg_pool1d() -> None:
    kw = {"stride": 2, "padding": 1, "ceil_mode": True, "count_include_pad": False}
    check_op(lambda x: F.avg_pool1d(x, 3, **kw), make_inputs([(2, 3, 8)]),
             _torch("avg_pool1d", 3, **kw))


ADAPTIVE = [((2, 3, 8, 7), (3, 5)), ((2, 3, 8, 7), (3, None)), ((3, 5, 5), 2),
            ((2, 1, 4, 4), (1, 1)), ((2, 2, 3, 3), (5, 4))]


@pytest.mark.parametrize(("xs", "size"), ADAPTIVE)
def test_adaptive_avg_pool2d(xs: tuple[int, ...], size: object) -> None:
    check_op(lambda x: F.adaptive_avg_pool2d(x, size), make_inputs([xs]),
             _torch("adaptive_avg_pool2d", size))


@pytest.mark.parametrize(("xs", "size"), ADAPTIVE)
def test_adaptive_max_pool2d(xs: tuple[int, ...], size: object) -> None:
    check_op(lambda x: F.adaptive_max_pool2d(x, size), make_inputs([xs]),
             _torch("adaptive_max_pool2d", size))
    if torch is not None:
        x = make_inputs([xs], seed=3)[0]
        _, i = F.adaptive_max_pool2d(cr.tensor(x), size, return_indices=True)
        _, ti = TF.adaptive_max_pool2d(torch.tensor(x), size, return_indices=True)
        np.testing.assert_array_equal(i.numpy(), ti.numpy())


def test_adaptive_avg_pool1d() -> None:
    check_op(lambda x: F.adaptive_avg_pool1d(x, 5), make_inputs([(2, 3, 7)]),
             _torch("adaptive_avg_pool1d", 5))


def test_pooling_errors() -> None:
    with pytest.raises(ShapeError, match=r"Calculated output size: \(3x0x0\). Output size is "
                       "too small"):
        F.max_pool2d(cr.randn(1, 3, 1, 1), 2)
    with pytest.raises(ValueError, match="pad should be at most half of effective kernel"):
        F.max_pool2d(cr.randn(1, 3, 8, 8), 2, padding=2)
    with pytest.raises(ShapeError, match=r"max_pool2d: Expected 3D or 4D.*size: \[8, 8\]"):
        F.max_pool2d(cr.randn(8, 8), 2)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool2d(cr.randn(1, 1, 4, 4), 2, divisor_override=0)
    with pytest.raises(ShapeError, match="adaptive_avg_pool2d: Expected 3D or 4D"):
        F.adaptive_avg_pool2d(cr.randn(4, 4), 2)
    with pytest.raises(ValueError, match="kernel_size must be greater than zero"):
        F.avg_pool2d(cr.randn(1, 1, 4, 4), 0)
