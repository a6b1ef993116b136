"""F.pad (four modes) and F.interpolate (nearest, bilinear) against finite differences
(first and second order) and PyTorch, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
import chainrule.nn.functional as F

try:
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    TF = None


def _torch(name: str, *args: object, **kw: object) -> object:
    return None if TF is None else (lambda x: getattr(TF, name)(x, *args, **kw))


PADS = [
    ("constant", (2, 3, 4, 5), (1, 2, 2, 1)),
    ("constant", (2, 3, 4, 5), (-1, 2, 0, 1)),  # a negative pad crops
    ("constant", (3, 4), (1, 1, 1, 1)),
    ("reflect", (2, 3, 4, 5), (1, 2, 3, 1)),
    ("reflect", (3, 6), (2, 5)),
    ("replicate", (2, 3, 4, 5), (1, 2, 2, 1)),
    ("replicate", (2, 2, 3, 3, 2), (1, 0, 1, 1, 2, 0)),
    ("circular", (2, 3, 4, 5), (1, 2, 4, 1)),
]


@pytest.mark.parametrize(("mode", "xs", "pad"), PADS)
def test_pad(mode: str, xs: tuple[int, ...], pad: tuple[int, ...]) -> None:
    check_op(lambda x: F.pad(x, pad, mode=mode), make_inputs([xs]), _torch("pad", pad, mode))


def test_pad_constant_value() -> None:
    y = F.pad(cr.ones(1, 2), (1, 1), value=-3.5)
    np.testing.assert_array_equal(y.numpy(), [[-3.5, 1, 1, -3.5]])


def test_pad_errors() -> None:
    with pytest.raises(ValueError, match="divisible by 2"):
        F.pad(cr.ones(2, 2), (1, 2, 3))
    with pytest.raises(ValueError, match="padding size should be less than"):
        F.pad(cr.ones(1, 2, 3), (3, 0), mode="reflect")
    with pytest.raises(NotImplementedError, match="padding mode 'mirror'"):
        F.pad(cr.ones(1, 2, 3), (1, 1), mode="mirror")
    with pytest.raises(ValueError, match="wrapping around more than once"):
        F.pad(cr.ones(1, 2, 3), (4, 0), mode="circular")


INTERP = [
    ((2, 3, 4, 5), {"size": (7, 3)}),
    ((2, 3, 4, 5), {"scale_factor": 1.7}),
    ((2, 3, 4, 5), {"scale_factor": (2, 3)}),
    ((2, 3, 4, 5), {"size": (7, 3), "mode": "bilinear"}),
    ((2, 3, 4, 5), {"scale_factor": 2, "mode": "bilinear", "align_corners": True}),
    ((2, 3, 4, 5), {"scale_factor": 1.5, "mode": "bilinear"}),
    ((2, 3, 5, 4), {"size": 2, "mode": "bilinear"}),  # downsampling
    ((2, 3, 5), {"size": 8, "mode": "linear"}),
    ((2, 3, 5), {"scale_factor": 3}),
]


@pytest.mark.parametrize(("xs", "kw"), INTERP)
def test_interpolate(xs: tuple[int, ...], kw: dict) -> None:
    check_op(lambda x: F.interpolate(x, **kw), make_inputs([xs]), _torch("interpolate", **kw))


def test_interpolate_errors() -> None:
    x = cr.ones(1, 1, 2, 2)
    with pytest.raises(ValueError, match="only one of size or scale_factor"):
        F.interpolate(x)
    with pytest.raises(ValueError, match="align_corners option can only be set"):
        F.interpolate(x, scale_factor=2, align_corners=True)
    with pytest.raises(NotImplementedError, match="bilinear mode needs 4D input"):
        F.interpolate(cr.ones(1, 1, 2), scale_factor=2, mode="bilinear")
    with pytest.raises(NotImplementedError, match="'bicubic' is not supported"):
        F.interpolate(x, scale_factor=2, mode="bicubic")
