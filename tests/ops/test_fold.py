"""im2col and col2im as PyTorch's F.unfold and F.fold: values, gradients, second order,
the adjoint identity, and errors."""

from __future__ import annotations

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.ops._errors import ShapeError

try:
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    TF = None


def _torch(name: str, **kw: object) -> object:
    return None if TF is None else (lambda *a: getattr(TF, name)(*a, **kw))


# -- unfold and fold --------------------------------------------------------------------

UNFOLD = [
    ((2, 3, 5, 6), {"kernel_size": (2, 3), "dilation": (1, 2), "padding": 1, "stride": (2, 1)}),
    ((3, 4, 4), {"kernel_size": 2}),
]


@pytest.mark.parametrize(("xs", "kw"), UNFOLD)
def test_unfold(xs: tuple[int, ...], kw: dict) -> None:
    check_op(lambda x: F.unfold(x, **kw), make_inputs([xs]), _torch("unfold", **kw))


def test_fold() -> None:
    kw = {"output_size": (5, 6), "kernel_size": (2, 3), "dilation": (1, 2), "padding": 1,
          "stride": (2, 1)}
    check_op(lambda x: F.fold(x, **kw), make_inputs([(2, 18, 12)]), _torch("fold", **kw))
    check_op(lambda x: F.fold(x, (3, 3), 2), make_inputs([(8, 4)]), _torch("fold",
             output_size=(3, 3), kernel_size=2))


def test_fold_is_the_adjoint_of_unfold() -> None:
    x, c = make_inputs([(2, 3, 5, 6), (2, 12, 24)], seed=2)
    u = F.unfold(cr.tensor(x), 2, padding=1, stride=(1, 2))
    f = F.fold(cr.tensor(c), (5, 6), 2, padding=1, stride=(1, 2))
    assert np.isclose((u.numpy() * c).sum(), (x * f.numpy()).sum(), rtol=1e-12)



def test_unfold_fold_errors() -> None:
    with pytest.raises(ShapeError, match="unfold: expected a 3-D"):
        F.unfold(cr.randn(2, 3), 2)
    with pytest.raises(ShapeError, match="does not fit"):
        F.unfold(cr.randn(1, 1, 2, 2), 3)
    with pytest.raises(ShapeError, match="divisible by the product of kernel_size"):
        F.fold(cr.randn(1, 5, 4), (3, 3), 2)
    with pytest.raises(ShapeError, match="calculated number of sliding blocks 2 \\* 2 = 4"):
        F.fold(cr.randn(1, 4, 5), (3, 3), 2)
