"""Convolutions (conv1d/2d, conv_transpose1d/2d) and im2col/col2im (unfold/fold): values,
gradients and gradients of gradients against finite differences and PyTorch, float32
preservation, and errors that name the op and the shapes as PyTorch's do."""

from __future__ import annotations

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
import chainrule.nn.functional as F
from chainrule.autograd.rules import op_rules
from chainrule.ops._errors import ShapeError

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    torch = TF = None


def _torch(name: str, **kw: object) -> object:
    return None if TF is None else (lambda *a: getattr(TF, name)(*a, **kw))


# (input, weight, kwargs): strides, paddings (ints, pairs, 'same', 'valid'), dilations,
# groups (incl. depthwise), unbatched input
CONV2D = [
    ((2, 3, 6, 5), (4, 3, 3, 3), {}),
    ((2, 4, 7, 9), (6, 2, 3, 3), {"stride": 2, "padding": 1, "dilation": (1, 2), "groups": 2}),
    ((1, 2, 8, 7), (3, 2, 2, 3), {"stride": (2, 3), "padding": (1, 2)}),
    ((2, 3, 6, 7), (4, 3, 4, 3), {"padding": "same", "dilation": 2}),
    ((2, 3, 5, 5), (2, 3, 2, 2), {"padding": "same"}),
    ((2, 3, 5, 6), (2, 3, 3, 2), {"padding": "valid", "stride": 2}),
    ((2, 3, 6, 7), (6, 1, 3, 3), {"groups": 3, "padding": 1}),  # depthwise
    ((3, 6, 7), (4, 3, 4, 3), {"padding": (0, 1)}),  # unbatched
    ((2, 1, 4, 4), (1, 1, 4, 4), {}),  # the kernel covers the input: one output pixel
]


@pytest.mark.parametrize(("xs", "ws", "kw"), CONV2D)
@pytest.mark.parametrize("bias", [True, False])
def test_conv2d(xs: tuple[int, ...], ws: tuple[int, ...], kw: dict, bias: bool) -> None:
    shapes = [xs, ws] + ([(ws[0],)] if bias else [])
    check_op(lambda *a: F.conv2d(*a, **kw), make_inputs(shapes), _torch("conv2d", **kw))


CONV1D = [
    ((2, 3, 11), (4, 3, 3), {"stride": 2, "padding": 2, "dilation": 2}),
    ((2, 4, 7), (4, 2, 2), {"groups": 2, "padding": "same"}),
    ((3, 8), (2, 3, 3), {}),  # unbatched
]


@pytest.mark.parametrize(("xs", "ws", "kw"), CONV1D)
def test_conv1d(xs: tuple[int, ...], ws: tuple[int, ...], kw: dict) -> None:
    check_op(lambda *a: F.conv1d(*a, **kw), make_inputs([xs, ws, (ws[0],)]),
             _torch("conv1d", **kw))


CONV_T2D = [
    ((2, 3, 4, 3), (3, 2, 3, 3), {}),
    ((2, 4, 3, 4), (4, 3, 3, 2), {"stride": (2, 3), "padding": (1, 0), "output_padding": (1, 2),
                                  "groups": 2, "dilation": (1, 2)}),
    ((2, 2, 3, 3), (2, 2, 2, 2), {"stride": 2, "padding": 1}),
    ((2, 3, 3), (2, 1, 3, 3), {"stride": 1, "dilation": 3, "output_padding": 2}),  # op < d
]


@pytest.mark.parametrize(("xs", "ws", "kw"), CONV_T2D)
def test_conv_transpose2d(xs: tuple[int, ...], ws: tuple[int, ...], kw: dict) -> None:
    c_out = ws[1] * kw.get("groups", 1)
    check_op(lambda *a: F.conv_transpose2d(*a, **kw), make_inputs([xs, ws, (c_out,)]),
             _torch("conv_transpose2d", **kw))


def test_conv_transpose1d() -> None:
    kw = {"stride": 3, "padding": 1, "output_padding": 2}
    check_op(lambda *a: F.conv_transpose1d(*a, **kw), make_inputs([(2, 4, 5), (4, 2, 3)]),
             _torch("conv_transpose1d", **kw))


def test_conv_transpose_is_the_adjoint_of_conv() -> None:
    """<conv(x), y> = <x, conv_transpose(y)>: the transposed convolution is conv's dX."""
    x, w, y = make_inputs([(2, 3, 7, 6), (4, 3, 3, 2), (2, 4, 4, 4)], seed=3)
    kw = {"stride": 2, "padding": 1}
    lhs = (F.conv2d(cr.tensor(x), cr.tensor(w), **kw).numpy() * y).sum()
    rhs = (x * F.conv_transpose2d(cr.tensor(y), cr.tensor(w),
                                  **kw).numpy()).sum()
    assert np.isclose(lhs, rhs, rtol=1e-12)


def test_conv2d_equals_a_direct_loop() -> None:
    """The closed form: y[n,o,i,j] = b[o] + sum_{c,p,q} x[n,c,i*s+p,j*s+q] w[o,c,p,q]."""
    x, w, b = make_inputs([(2, 3, 7, 6), (4, 3, 3, 2), (4,)], seed=4)
    y = F.conv2d(cr.tensor(x), cr.tensor(w), cr.tensor(b), stride=2).numpy()
    ref = np.empty_like(y)
    for i in range(y.shape[2]):
        for j in range(y.shape[3]):
            patch = x[:, :, 2 * i: 2 * i + 3, 2 * j: 2 * j + 2]
            ref[:, :, i, j] = np.einsum("ncpq,ocpq->no", patch, w) + b
    np.testing.assert_allclose(y, ref, rtol=1e-12)


def test_conv_frees_its_patch_matrix_after_backward() -> None:
    x = cr.randn(2, 3, 8, 8, requires_grad=True)
    w = cr.randn(4, 3, 3, 3, requires_grad=True)
    y = F.conv2d(x, w)
    node = y.grad_fn
    assert node.cols.shape == (27, 2 * 36)  # (C_in*kH*kW, N*H'*W')
    y.sum().backward()
    assert "cols" not in node.__dict__
    y2 = F.conv2d(x, w)
    y2.sum().backward(retain_graph=True)  # kept for a second backward
    y2.sum().backward()


def test_float32_stays_float32_without_upcasts() -> None:
    x = cr.randn(2, 3, 8, 8, dtype=cr.float32, requires_grad=True)
    w = cr.randn(4, 3, 3, 3, dtype=cr.float32, requires_grad=True)
    y = F.conv_transpose2d(F.conv2d(x, w, padding=1), w, stride=1)
    assert y.dtype == cr.float32
    y.sum().backward()
    assert x.grad.dtype == w.grad.dtype == cr.float32


# -- errors ---------------------------------------------------------------------------


def _err(fn: object, *args: object, **kw: object) -> str:
    with pytest.raises((RuntimeError, ValueError)) as info:
        fn(*args, **kw)
    return str(info.value)


def test_conv_errors_name_the_op_and_shapes() -> None:
    x, w = cr.randn(2, 4, 8, 8), cr.randn(6, 3, 5, 5)
    msg = _err(F.conv2d, x, w)
    assert "conv2d" in msg and "[6, 3, 5, 5]" in msg and "[2, 4, 8, 8]" in msg
    assert "to have 3 channels, but got 4 channels instead" in msg
    with pytest.raises(ShapeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input "
                       r"to conv2d, but got input of size: \[4, 8\]"):
        F.conv2d(cr.randn(4, 8), w)
    with pytest.raises(RuntimeError, match=r"padded input size per channel: \(4 x 4\). Kernel "
                       r"size: \(5 x 5\)"):
        F.conv2d(cr.randn(1, 3, 4, 4), w)
    with pytest.raises(RuntimeError, match="expected weight to be divisible by 4 at dimension 0"):
        F.conv2d(cr.randn(1, 12, 8, 8), cr.randn(6, 3, 3, 3), groups=4)
    with pytest.raises(ValueError, match="padding='same' is not supported for strided"):
        F.conv2d(cr.randn(1, 3, 8, 8), w, stride=2, padding="same")
    with pytest.raises(ValueError, match="Invalid padding string 'full'"):
        F.conv2d(cr.randn(1, 3, 8, 8), w, padding="full")
    with pytest.raises(RuntimeError, match="bias to be 1-dimensional with 6 elements"):
        F.conv2d(cr.randn(1, 3, 8, 8), w, cr.randn(5))
    with pytest.raises(RuntimeError, match="non-positive stride"):
        F.conv2d(cr.randn(1, 3, 8, 8), w, stride=0)
    with pytest.raises(RuntimeError, match="same dtype"):
        F.conv2d(cr.randn(1, 3, 8, 8, dtype=cr.float32), w.double())
    with pytest.raises(ShapeError, match="conv1d"):
        F.conv1d(cr.randn(2, 3, 4, 4), cr.randn(2, 3, 3))


def test_conv_transpose_errors() -> None:
    with pytest.raises(ShapeError, match=r"expected input\[1, 3, 4, 4\] to have 2 channels"):
        F.conv_transpose2d(cr.randn(1, 3, 4, 4), cr.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match="output padding must be smaller than either stride"):
        F.conv_transpose2d(cr.randn(1, 2, 4, 4), cr.randn(2, 3, 3, 3), output_padding=1)


# -- explain ----------------------------------------------------------------------------


def test_explain_shows_conv2d_rules_with_real_shapes() -> None:
    x = cr.randn(8, 3, 10, 10, requires_grad=True)
    w = cr.randn(16, 3, 5, 5, requires_grad=True)
    b = cr.randn(16, requires_grad=True)
    y = F.conv2d(x, w, b)
    rules = {r.grad: r for r in cr.explain(y, params={"x": x, "w": w, "b": b}).rows[0].rules}
    assert rules["dW"].shapes == "(16,75) = (16,288)(288,75)"
    assert rules["dX"].shapes == "(8,3,10,10) = (75,16)(16,288)"
    assert rules["db"].shapes == "(16,) = sum over axes (0,2,3) of (8,16,6,6)"
    assert all(r.bound for r in rules.values())


def test_every_conv_family_rule_has_an_operand_and_a_shape_equation() -> None:
    """Each backward rule of the family follows the grammar explain reads."""

    from chainrule.ops import conv, dropout_channel, fold, normalization, padding, pooling

    classes = [conv.Conv1d, conv.Conv2d, conv.ConvTranspose1d, conv.ConvTranspose2d,
               pooling.MaxPool1d, pooling.MaxPool2d, pooling.AvgPool1d, pooling.AvgPool2d,
               pooling.AdaptiveMaxPool2d, padding.AdaptiveAvgPool1d, padding.AdaptiveAvgPool2d,
               padding.UpsampleNearest2d, padding.UpsampleBilinear2d, padding.ReflectionPad[2],
               padding.ConstantPad, padding.AxisMaps, fold.Im2col, fold.Col2im,
               dropout_channel.ChannelDropout, normalization.GroupNorm]
    for cls in classes:
        info = op_rules(cls)
        assert info.rules, cls.__name__
        for rule in info.rules:
            assert rule.operand in info.names and rule.shapes, (cls.__name__, rule)


def test_explain_binds_pooling_and_transposed_conv_shapes() -> None:
    x = cr.randn(2, 3, 8, 8, requires_grad=True)
    w = cr.randn(3, 4, 3, 3, requires_grad=True)
    y = F.max_pool2d(F.conv_transpose2d(x, w, stride=2), 2)
    rows = cr.explain(y).rows
    assert rows[0].rules[0].shapes == "(2,4,17,17) = (2,4,8,8)"  # MaxPool2d: dX = scatter(dY)
    assert rows[1].rules[1].shapes == "(3,36) = (3,128)(128,36)"  # dW = X @ im2col(dY).T
