"""ShapeError: what every op raises for operands whose shapes don't fit."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops._errors import ShapeError

BAD = {
    "add": lambda: cr.zeros(2, 3) + cr.zeros(4, 5),
    "add ndarray": lambda: np.zeros((4, 5)) + cr.zeros(2, 3),
    "matmul": lambda: cr.zeros(2, 3) @ cr.zeros(4, 5),
    "bmm": lambda: cr.bmm(cr.zeros(2, 2, 3), cr.zeros(3, 3, 2)),
    "linear": lambda: F.linear(cr.zeros(4, 3), cr.zeros(5, 2)),
    "bilinear": lambda: F.bilinear(cr.zeros(4, 3), cr.zeros(4, 2), cr.zeros(5, 3, 3)),
    "maximum": lambda: cr.maximum(cr.zeros(2), cr.zeros(3)),
    "where": lambda: cr.where(cr.zeros(2) > 0, cr.zeros(2), cr.zeros(3)),
    "cat": lambda: cr.cat([cr.zeros(2, 3), cr.zeros(2, 4)]),
    "view": lambda: cr.zeros(2, 3).view(5),
    "expand": lambda: cr.zeros(2, 3).expand(4, 3),
    "einsum": lambda: cr.einsum("ij,jk", cr.zeros(2, 3), cr.zeros(4, 5)),
    "mse_loss": lambda: F.mse_loss(cr.zeros(3, 4), cr.zeros(3, 5)),
    "cross_entropy": lambda: F.cross_entropy(cr.zeros(3, 4), cr.tensor([0, 1])),
    "zeros": lambda: cr.zeros(-1),
}


@pytest.mark.parametrize("name", list(BAD))
def test_shape_errors_are_value_and_runtime_errors(name: str) -> None:
    # NumPy raises ValueError for such input, PyTorch RuntimeError: code written for
    # either catches chainrule's
    with pytest.raises(ShapeError) as err:
        BAD[name]()
    assert isinstance(err.value, ValueError) and isinstance(err.value, RuntimeError)
    assert name.split()[0] in str(err.value)
