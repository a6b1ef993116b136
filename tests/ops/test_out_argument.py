"""PyTorch's ``out=`` on add, sub, mul and matmul: the result written into a given tensor."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


@pytest.mark.parametrize("fn", [cr.add, cr.sub, cr.mul, cr.matmul])
def test_out_receives_the_result_and_is_returned(fn):
    a, b = cr.rand(3, 3), cr.rand(3, 3)
    out = cr.empty(3, 3)
    version = out._version[0]
    assert fn(a, b, out=out) is out
    np.testing.assert_array_equal(out.numpy(), fn(a, b).numpy())
    assert out._version[0] == version + 1  # an in-place write, seen by autograd's checks


def test_out_of_another_shape_is_resized_and_wrong_dtypes_refused():
    out = cr.zeros(5)
    cr.matmul(cr.ones(2, 3), cr.ones(3, 4), out=out)
    assert out.shape == (2, 4) and float(out.sum()) == 24
    with pytest.raises(RuntimeError, match="can't be cast"):
        cr.mul(cr.rand(2), cr.rand(2), out=cr.zeros(2, dtype=cr.int64))


def test_out_refuses_inputs_that_require_grad():
    a = cr.rand(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        cr.add(a, a, out=cr.empty(2))
    with cr.no_grad():
        out = cr.add(a, a, out=cr.empty(2))
    np.testing.assert_allclose(out.numpy(), 2 * a.detach().numpy())
