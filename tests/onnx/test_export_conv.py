"""ONNX export of the convolutional layers (issue 12.5): each model runs in ONNX Runtime
with chainrule's outputs (float32, rtol 1e-5)."""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.onnx import UnsupportedOperatorError

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _x(*shape: int, seed: int = 0) -> cr.Tensor:
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _trained_bn2d(c: int) -> nn.Module:
    bn = nn.BatchNorm2d(c)
    with cr.no_grad():
        bn.weight._data[...] = np.linspace(0.5, 2.0, c)
        bn.bias._data[...] = np.linspace(-1.0, 1.0, c)
    for seed in range(3):
        bn(_x(4, c, 5, 5, seed=seed) * 2 + 1)
    return bn.eval()


class Functional(nn.Module):
    """The functional forms with their options."""

    def __init__(self, fn: Callable[[cr.Tensor], cr.Tensor]) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.fn(x)


MODELS: dict[str, Callable[[], tuple[nn.Module, cr.Tensor]]] = {
    "lenet": lambda: (nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5),
        _trained_bn2d(16), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(400, 10)),
        _x(2, 1, 28, 28)),
    "conv_options": lambda: (nn.Sequential(
        nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2),
        nn.Conv2d(6, 6, 4, padding="same", groups=6, bias=False),
        nn.Conv2d(6, 3, 3, padding=1, padding_mode="reflect"),
        nn.Conv2d(3, 3, 3, padding=1, padding_mode="circular"),
        nn.Conv2d(3, 2, 3, padding=2, padding_mode="replicate")), _x(2, 4, 9, 8)),
    "conv1d": lambda: (nn.Sequential(nn.Conv1d(3, 4, 3, stride=2, padding=1), nn.ReLU(),
                                     nn.MaxPool1d(2), nn.AvgPool1d(2, ceil_mode=True),
                                     nn.ConvTranspose1d(4, 2, 3, stride=2)), _x(2, 3, 17)),
    "conv_transpose": lambda: (nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1,
                                                  output_padding=1, groups=2, dilation=2),
                               _x(2, 4, 5, 4)),
    "pooling_ceil_dilation": lambda: (Functional(lambda x: F.max_pool2d(
        x, 3, 2, 1, ceil_mode=True) + F.avg_pool2d(x, 3, 2, 1, ceil_mode=True,
                                                   count_include_pad=False)), _x(2, 3, 8, 7)),
    "pooling_dilation_divisor": lambda: (Functional(lambda x: F.max_pool2d(
        x, (2, 3), 1, 1, dilation=(2, 1))[..., :5, :5] + F.avg_pool2d(
        x, 2, 1, divisor_override=3)[..., :5, :5]), _x(2, 3, 8, 7)),
    "adaptive_avg": lambda: (nn.Sequential(nn.AdaptiveAvgPool2d((3, 5)), nn.Flatten()),
                             _x(2, 3, 8, 7)),
    "upsample": lambda: (nn.Sequential(nn.Upsample(scale_factor=2),
                                       nn.Upsample(size=(7, 9), mode="bilinear"),
                                       nn.Upsample(scale_factor=1.5, mode="bilinear",
                                                   align_corners=True)), _x(2, 3, 4, 5)),
    "pads": lambda: (Functional(lambda x: F.pad(x, (1, 2, 0, 1), value=0.5)
                                + F.pad(x, (1, 2, 0, 1), mode="reflect")
                                + F.pad(x, (1, 2, 0, 1), mode="replicate")
                                + F.pad(x, (1, 2, 0, 1), mode="circular")), _x(2, 3, 4, 5)),
    "dropout2d_eval": lambda: (nn.Sequential(nn.Conv2d(2, 2, 1), nn.Dropout2d()).eval(),
                               _x(2, 2, 3, 3)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_conv_models_match_onnxruntime(name: str) -> None:
    cr.manual_seed(0)
    model, x = MODELS[name]()
    buf = io.BytesIO()
    cr.onnx.export(model, x, buf)
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
    with cr.no_grad():
        want = model(x).numpy()
    assert got.shape == want.shape and got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_dropout2d_with_training_true_is_refused() -> None:
    model = Functional(lambda x: F.dropout2d(x, 0.5, training=True))
    with pytest.raises(UnsupportedOperatorError, match="random mask"):
        cr.onnx.export(model, _x(2, 2, 3, 3), io.BytesIO())


def test_export_uses_native_conv_and_pool_nodes() -> None:
    import onnx

    model, x = MODELS["lenet"]()
    buf = io.BytesIO()
    cr.onnx.export(model, x, buf)
    ops = [n.op_type for n in onnx.load_from_string(buf.getvalue()).graph.node]
    assert {"Conv", "MaxPool", "BatchNormalization"} <= set(ops)
    assert any(i.name == "0.weight" for i in onnx.load_from_string(
        buf.getvalue()).graph.initializer)


