"""F.group_norm (ops/normalization.py: GroupNorm): values, gradients and second order
against finite differences and PyTorch, and errors."""

from __future__ import annotations

import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops._errors import ShapeError

try:
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    TF = None


@pytest.mark.parametrize(("xs", "groups"), [((3, 4, 5, 2), 2), ((2, 6, 5), 3), ((2, 4), 4),
                                            ((2, 4, 3, 3), 1)])
def test_group_norm(xs: tuple[int, ...], groups: int) -> None:
    C = xs[1]
    tf = None if TF is None else (lambda x, w, b: TF.group_norm(x, groups, w, b))
    check_op(lambda x, w, b: F.group_norm(x, groups, w, b), make_inputs([xs, (C,), (C,)]), tf)
    tf1 = None if TF is None else (lambda x: TF.group_norm(x, groups))
    check_op(lambda x: F.group_norm(x, groups), make_inputs([xs]), tf1)


def test_group_norm_errors() -> None:
    with pytest.raises(ShapeError, match="divisible by num_groups"):
        F.group_norm(cr.randn(2, 3, 4), 2)
    with pytest.raises(ShapeError, match="weight to be a vector of size equal"):
        F.group_norm(cr.randn(2, 4, 4), 2, cr.ones(3))
