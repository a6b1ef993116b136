"""The masking helpers behind ReLU's backward: exact ``where`` semantics on both paths."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops import _math


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 4), (64, 64)])  # np.where path, bitwise path (>= 2048)
def test_keep_and_drop_equal_where(dtype: type, shape: tuple[int, int]) -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    x.flat[:4] = [np.inf, -np.inf, np.nan, -0.0]
    mask = rng.random(shape) < 0.5
    mask.flat[:4] = False  # inf, nan and -0 where the mask drops them: exactly +0
    kept = _math.keep(x, mask)
    dropped = _math.drop(x, ~mask)
    expected = np.where(mask, x, dtype(0))
    for got in (kept, dropped):
        assert got.dtype == dtype and got.shape == shape
        np.testing.assert_array_equal(got, expected)
        assert not np.signbit(got[~mask]).any()  # +0, not -0


def test_relu_backward_on_a_large_array_matches_pytorch_semantics() -> None:
    """The bitwise path: inf in dY where x <= 0 gives 0, NaN in x passes the gradient."""
    x = np.linspace(-1, 1, 4096).reshape(64, 64)
    x[0, 0] = np.nan
    t = cr.tensor(x, requires_grad=True)
    g = np.ones_like(x)
    g[0, 1] = np.inf  # x[0, 1] < 0: dropped
    cr.relu(t).backward(cr.tensor(g))
    expected = np.where(x > 0, g, 0.0)
    expected[0, 0] = 1.0  # NaN input: the gradient passes, as in PyTorch
    np.testing.assert_array_equal(t.grad.numpy(), expected)


def test_constants_are_shared_and_read_only() -> None:
    z = _math.constant(0, (), np.dtype(np.float32))
    assert z.shape == () and z.dtype == np.float32 and z == 0
    assert z is _math.constant(0, (), np.dtype(np.float32)) and not z.flags.writeable
    ones = _math.constant(1, (3,), np.dtype(np.float64))
    assert ones.tolist() == [1.0, 1.0, 1.0] and not ones.flags.writeable
