"""Tests for cr.onnx.export: exported models run in ONNX Runtime with chainrule's outputs.

Each model is exported on one input, then run by ONNX Runtime and compared with chainrule
in float32 (rtol 1e-5). The tests that need ``onnx`` or ``onnxruntime`` skip without them.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.onnx import OnnxExporterError, UnsupportedOperatorError

RTOL, ATOL = 1e-5, 1e-6


@pytest.fixture
def onnx() -> Any:
    return pytest.importorskip("onnx")


@pytest.fixture
def ort() -> Any:
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


def _x(*shape: int, seed: int = 0) -> cr.Tensor:
    return cr.tensor(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _export(model: Any, args: Any, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    cr.onnx.export(model, args, buf, **kwargs)
    return buf.getvalue()


def _run(ort: Any, data: bytes, *inputs: cr.Tensor) -> list[np.ndarray]:
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    feeds = {i.name: t.numpy() for i, t in zip(sess.get_inputs(), inputs, strict=True)}
    return sess.run(None, feeds)


def _reference(model: Any, *inputs: cr.Tensor) -> list[np.ndarray]:
    with cr.no_grad():
        out = model(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    return [o.numpy() for o in outs]


def _check_same(ort: Any, model: Any, *inputs: cr.Tensor, **kwargs: Any) -> bytes:
    """Export ``model`` on ``inputs``; ONNX Runtime must give chainrule's outputs."""
    data = _export(model, inputs if len(inputs) > 1 else inputs[0], **kwargs)
    got, want = _run(ort, data, *inputs), _reference(model, *inputs)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
    return data


def _ops(onnx: Any, data: bytes) -> list[str]:
    return [n.op_type for n in onnx.load_from_string(data).graph.node]


# -- models ------------------------------------------------------------------------------


class Arithmetic(nn.Module):
    """A functional model: every arithmetic op of the brief, plus a parameter."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(_x(4, 4, seed=5))

    def forward(self, x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        a = (x @ self.w - y * 2.0) / (y.abs() + 1) + (-x) ** 2
        b = cr.exp(-a.clamp(-3.0, 3.0)) + cr.log(x * x + 1).sqrt()
        c = cr.maximum(a, b) - cr.minimum(a, y) + cr.matmul(x, y.T).sum(dim=1, keepdim=True)
        d = c.mean(dim=0) + c.sum(dim=(0, 1)) + x.pow(3)
        e = cr.cat([d.transpose(0, 1), d.permute(1, 0)], dim=1)  # (4,N) cat (4,N) -> (4,2N)
        return e.unsqueeze(0).squeeze(0).sum(dim=1)


class ShapesAndReductions(nn.Module):
    """Reductions, indexing and reshapes beyond the brief's list."""

    def forward(self, x: cr.Tensor) -> tuple[cr.Tensor, cr.Tensor]:
        a = cr.var(x, dim=1, keepdim=True) + cr.std(x, dim=0) + cr.logsumexp(x, dim=-1,
                                                                               keepdim=True)
        b = cr.stack([x, 2 * x], dim=1).sum(1) + x.unsqueeze(1).expand(-1, 3, -1).mean(1)
        c = x.flip(1) + x.repeat(1, 2)[:, 1:6] + x.amax(dim=0) + x.max(dim=1).values[:, None]
        d = x[..., 1::2].sum(-1, keepdim=True) + x[:, [0, 2, 4]].mean(1, keepdim=True)
        e = cr.einsum("ij,kj->ik", x, x).sum(1, keepdim=True) + cr.outer(x[:, 0], x[0]).mean(0)
        f = F.leaky_relu(x, 0.2) + cr.log1p(x.abs()) * x.sign() + x.double().float()
        mask = cr.tensor([True, False, True, False, True])
        g = x.reshape(x.shape[0], 5, 1).flatten(1) + cr.where(mask, x, 0.5)
        parts = x.split(2, dim=1)
        return a + b + c + d + e + f + g, cr.cat(parts[::-1], dim=1).prod(dim=1)


def _trained_batchnorm(features: int, shape: tuple[int, ...]) -> nn.Module:
    """A BatchNorm1d whose running statistics are not the initial zeros and ones."""
    bn = nn.BatchNorm1d(features)
    with cr.no_grad():
        bn.weight._data[...] = np.linspace(0.5, 2.0, features)
        bn.bias._data[...] = np.linspace(-1.0, 1.0, features)
    bn.train()
    for seed in range(3):
        bn(_x(*shape, seed=seed) * 3 + 1)
    return bn.eval()


MODELS: dict[str, Callable[[], tuple[Any, tuple[cr.Tensor, ...]]]] = {
    "mlp_relu_tanh_sigmoid": lambda: (
        nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3),
                      nn.Sigmoid()),
        (_x(5, 8),),
    ),
    "softmax_head": lambda: (nn.Sequential(nn.Linear(6, 4), nn.Softmax(dim=1)), (_x(3, 6),)),
    "log_softmax_head": lambda: (
        nn.Sequential(nn.Linear(6, 4), nn.LogSoftmax(dim=-1)), (_x(3, 6),),
    ),
    "softmax_dim0": lambda: (nn.Softmax(dim=0), (_x(4, 3),)),
    "batchnorm1d_eval": lambda: (
        nn.Sequential(nn.Linear(6, 5), _trained_batchnorm(5, (16, 5)), nn.ReLU()), (_x(4, 6),),
    ),
    "batchnorm1d_eval_3d": lambda: (_trained_batchnorm(3, (8, 3, 4)), (_x(2, 3, 4),)),
    "dropout_eval": lambda: (
        nn.Sequential(nn.Linear(6, 6), nn.Dropout(0.5), nn.Identity(), nn.Linear(6, 2)).eval(),
        (_x(4, 6),),
    ),
    "flatten_digits": lambda: (
        nn.Sequential(nn.Flatten(), nn.Linear(64, 10), nn.ReLU(), nn.Linear(10, 10)),
        (_x(3, 1, 8, 8),),
    ),
    "batched_linear": lambda: (nn.Linear(4, 3), (_x(2, 5, 4),)),
    "linear_without_bias": lambda: (nn.Linear(4, 3, bias=False), (_x(2, 4),)),
    "bilinear": lambda: (nn.Bilinear(3, 4, 5), (_x(6, 3), _x(6, 4, seed=1))),
    "bilinear_batched": lambda: (nn.Bilinear(3, 4, 2), (_x(2, 6, 3), _x(2, 6, 4, seed=1))),
    "arithmetic": lambda: (Arithmetic(), (_x(3, 4), _x(3, 4, seed=1))),
    "shapes_and_reductions": lambda: (ShapesAndReductions(), (_x(4, 5),)),
}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_outputs_match_onnxruntime(ort: Any, name: str) -> None:
    cr.manual_seed(0)
    model, inputs = MODELS[name]()
    _check_same(ort, model, *inputs)


def test_float64_model(ort: Any) -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh()).double()
    _check_same(ort, model, _x(2, 4).double())


# -- the graph -----------------------------------------------------------------------------


def test_graph_is_valid_with_state_dict_initializers(onnx: Any) -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 4), nn.ReLU(), _trained_batchnorm(4, (8, 4)))
    proto = onnx.load_from_string(_export(model, _x(2, 8)))
    onnx.checker.check_model(proto, full_check=True)
    assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [17]
    assert cr.onnx.OPSET_VERSION == 17
    names = [t.name for t in proto.graph.initializer]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean",
                     "2.running_var"]
    w = onnx.numpy_helper.to_array(proto.graph.initializer[0])
    np.testing.assert_array_equal(w, model[0].weight.detach().numpy())
    assert [n.op_type for n in proto.graph.node] == ["Gemm", "Relu", "BatchNormalization"]


def test_op_choices(onnx: Any) -> None:
    assert _ops(onnx, _export(nn.Linear(4, 3), _x(2, 4))) == ["Gemm"]
    assert _ops(onnx, _export(nn.Linear(4, 3), _x(2, 5, 4))) == ["Transpose", "MatMul", "Add"]
    assert _ops(onnx, _export(nn.Bilinear(3, 4, 5), (_x(2, 3), _x(2, 4)))) == ["Einsum", "Add"]
    dropout = nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 3))  # training mode as given
    assert _ops(onnx, _export(dropout, _x(2, 4))) == ["Gemm"]
    assert _ops(onnx, _export(nn.Flatten(), _x(2, 1, 8, 8))) == ["Reshape"]


def test_modes_are_restored_and_inputs_untouched(ort: Any) -> None:
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), nn.BatchNorm1d(4))
    model.train()
    model[2].eval()
    x = _x(3, 4)
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    data = _export(model, x)
    assert model.training and model[1].training and not model[2].training
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k])
    assert not x.requires_grad and x.grad_fn is None
    model.eval()
    np.testing.assert_allclose(_run(ort, data, x)[0], _reference(model, x)[0], rtol=RTOL,
                               atol=ATOL)


def test_custom_function_and_recorded_in_place_updates(ort: Any) -> None:
    class Cube(cr.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: cr.Tensor) -> cr.Tensor:
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx: Any, dy: cr.Tensor) -> cr.Tensor:
            (x,) = ctx.saved_tensors
            return dy * 3 * x ** 2

    def model(x: cr.Tensor) -> cr.Tensor:
        y = Cube.apply(x) * 2
        y += 1  # recorded: y requires grad
        y.mul_(x)
        return y + x.detach()

    _check_same(ort, model, _x(3, 4))


def test_outputs_that_are_inputs_parameters_or_repeated(ort: Any) -> None:
    _check_same(ort, nn.Identity(), _x(2, 3))
    _check_same(ort, lambda x: (x, x + 1, x + 1), _x(2, 3))
    linear = nn.Linear(3, 2)
    _check_same(ort, lambda x: (linear(x), linear.weight * 1), _x(2, 3))


def test_integer_index_input_is_a_graph_input(ort: Any) -> None:
    table = nn.Linear(3, 6)  # its weight used as an embedding table
    _check_same(ort, lambda i: table.weight[i].sum(1), cr.tensor([0, 5, 2, 2]))


# -- names and dynamic axes -----------------------------------------------------------


def test_names_appear_in_the_graph(onnx: Any) -> None:
    model = nn.Bilinear(3, 4, 2)
    data = _export(model, (_x(2, 3), _x(2, 4)), input_names=["left", "right"],
                   output_names=["score"])
    g = onnx.load_from_string(data).graph
    assert [i.name for i in g.input] == ["left", "right"]
    assert [o.name for o in g.output] == ["score"]
    assert g.node[-1].output[0] == "score"


def test_default_names(onnx: Any) -> None:
    g = onnx.load_from_string(_export(nn.Linear(3, 2), _x(2, 3))).graph
    assert [i.name for i in g.input] == ["input"] and [o.name for o in g.output] == ["output"]
    data = _export(lambda a, b: (a + b, a - b, a * b), (_x(2, 3), _x(2, 3)),
                   output_names=["sum"])
    g = onnx.load_from_string(data).graph
    assert [i.name for i in g.input] == ["input.0", "input.1"]
    assert [o.name for o in g.output] == ["sum", "output.1", "output.2"]


def test_static_shapes_without_dynamic_axes(ort: Any, onnx: Any) -> None:
    data = _export(nn.Linear(3, 2), _x(2, 3))
    g = onnx.load_from_string(data).graph
    assert [d.dim_value for d in g.input[0].type.tensor_type.shape.dim] == [2, 3]
    assert [d.dim_value for d in g.output[0].type.tensor_type.shape.dim] == [2, 2]
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        _run(ort, data, _x(5, 3))


@pytest.mark.parametrize("axes", [{"x": {0: "batch"}, "y": {0: "batch"}}, {"x": [0], "y": [0]}])
def test_dynamic_axes_run_other_batch_sizes(ort: Any, onnx: Any, axes: dict[str, Any]) -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 10), _trained_batchnorm(10, (8, 10)),
                          nn.Dropout(0.2), nn.LogSoftmax(dim=1)).eval()
    data = _export(model, _x(2, 1, 8, 8), input_names=["x"], output_names=["y"],
                   dynamic_axes=axes)
    g = onnx.load_from_string(data).graph
    expected = "batch" if isinstance(axes["x"], dict) else "x_dynamic_axes_1"
    assert g.input[0].type.tensor_type.shape.dim[0].dim_param == expected
    assert g.input[0].type.tensor_type.shape.dim[1].dim_value == 1
    expected = "batch" if isinstance(axes["y"], dict) else "y_dynamic_axes_1"
    assert g.output[0].type.tensor_type.shape.dim[0].dim_param == expected
    for n in (1, 7):
        x = _x(n, 1, 8, 8, seed=n)
        np.testing.assert_allclose(_run(ort, data, x)[0], _reference(model, x)[0], rtol=RTOL,
                                   atol=ATOL)


def test_dynamic_batch_through_reshapes_and_reductions(ort: Any) -> None:
    model = ShapesAndReductions()
    data = _export(model, _x(4, 5), dynamic_axes={"input": {0: "n"}})
    for n in (2, 9):
        x = _x(n, 5, seed=n)
        for got, want in zip(_run(ort, data, x), _reference(model, x), strict=True):
            np.testing.assert_allclose(got, want, rtol=RTOL, atol=ATOL)


def test_dynamic_batch_of_batched_linear_and_bilinear(ort: Any) -> None:
    linear = nn.Linear(4, 3)
    data = _export(linear, _x(2, 5, 4), dynamic_axes={"input": [0, 1]})
    x = _x(3, 7, 4, seed=3)
    np.testing.assert_allclose(_run(ort, data, x)[0], _reference(linear, x)[0], rtol=RTOL,
                               atol=ATOL)
    bilinear = nn.Bilinear(3, 4, 2)
    data = _export(bilinear, (_x(2, 3), _x(2, 4)),
                   dynamic_axes={"input.0": {0: "n"}, "input.1": {0: "n"}})
    a, b = _x(6, 3, seed=1), _x(6, 4, seed=2)
    np.testing.assert_allclose(_run(ort, data, a, b)[0], _reference(bilinear, a, b)[0],
                               rtol=RTOL, atol=ATOL)


# -- files ----------------------------------------------------------------------------


def test_writes_a_path(ort: Any, onnx: Any, tmp_path: Path) -> None:
    model = nn.Sequential(nn.Linear(3, 2), nn.Sigmoid())
    x = _x(2, 3)
    for target in (tmp_path / "model.onnx", str(tmp_path / "model2.onnx")):
        cr.onnx.export(model, x, target)
        proto = onnx.load(os.fspath(target))
        onnx.checker.check_model(proto)
        sess = ort.InferenceSession(os.fspath(target), providers=["CPUExecutionProvider"])
        np.testing.assert_allclose(sess.run(None, {"input": x.numpy()})[0],
                                   _reference(model, x)[0], rtol=RTOL, atol=ATOL)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx", "model2.onnx"]


def test_existing_file_survives_a_failing_export(onnx: Any, tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous model")
    with pytest.raises(UnsupportedOperatorError):
        cr.onnx.export(lambda x: F.mse_loss(x, x * 2), _x(2, 3), target)
    assert target.read_bytes() == b"previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_existing_file_survives_a_failing_write(onnx: Any, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "model.onnx"
    target.write_bytes(b"previous model")

    def broken_fsync(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="disk full"):
        cr.onnx.export(nn.Linear(3, 2), _x(2, 3), target)
    assert target.read_bytes() == b"previous model"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


# -- errors ---------------------------------------------------------------------------


class WithLoss(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, 2), nn.MSELoss())

    def forward(self, x: cr.Tensor) -> cr.Tensor:
        return self.body[1](self.body[0](x), x[:, :2])


def test_unsupported_op_names_the_op_and_the_module(onnx: Any) -> None:
    with pytest.raises(UnsupportedOperatorError) as info:
        _export(WithLoss(), _x(4, 3))
    message = str(info.value)
    assert "MSELoss" in message and "model.body.1" in message
    assert "no ONNX translation" in message
    with pytest.raises(UnsupportedOperatorError, match="MSELoss.*no ONNX translation"):
        _export(lambda x: F.mse_loss(x, x * 2), _x(4, 3))


def test_other_unsupported_cases(onnx: Any) -> None:
    with pytest.raises(UnsupportedOperatorError, match="boolean mask"):
        _export(lambda x: x[x > 0], _x(4, 3))
    with pytest.raises(UnsupportedOperatorError, match="dropout with training=True"):
        _export(lambda x: F.dropout(x, 0.5, training=True), _x(4, 3))

    class Cbrt(cr.autograd.Function):
        @staticmethod
        def forward(ctx: Any, x: cr.Tensor) -> cr.Tensor:
            return cr.tensor(np.cbrt(x.numpy()))

        @staticmethod
        def backward(ctx: Any, dy: cr.Tensor) -> cr.Tensor:
            return dy

    with pytest.raises(UnsupportedOperatorError, match="Function Cbrt"):
        _export(lambda x: Cbrt.apply(x), _x(4, 3))


def test_values_computed_outside_ops_are_caught(onnx: Any) -> None:
    with pytest.raises(OnnxExporterError, match="depends on the values of the inputs"):
        _export(lambda x: x * (x > 0).float(), _x(4, 3))
    with pytest.raises(OnnxExporterError, match="depends on the values of the inputs"):
        _export(lambda x: x * 2 if float(x.sum()) > 0 else x * 3, _x(4, 3))


def test_bad_arguments(onnx: Any) -> None:
    model, x = nn.Linear(3, 2), _x(2, 3)
    with pytest.raises(TypeError, match="args"):
        _export(model, x.numpy())
    with pytest.raises(TypeError, match="f must be"):
        cr.onnx.export(model, x, 3)
    with pytest.raises(ValueError, match="input_names"):
        _export(model, x, input_names=["a", "b"])
    with pytest.raises(ValueError, match="output_names"):
        _export(model, x, output_names=["a", "b"])
    with pytest.raises(TypeError, match="list of strings"):
        _export(model, x, input_names="a")
    with pytest.raises(ValueError, match="distinct"):
        _export(lambda a, b: a + b, (x, x), input_names=["a", "a"])
    with pytest.raises(ValueError, match="parameter or buffer"):
        _export(model, x, input_names=["weight"])
    with pytest.raises(ValueError, match="neither an input"):
        _export(model, x, dynamic_axes={"inp": [0]})
    with pytest.raises(ValueError, match="out of range"):
        _export(model, x, dynamic_axes={"input": [2]})
    with pytest.raises(ValueError, match="out of range"):
        _export(model, x, dynamic_axes={"output": {3: "n"}})
    with pytest.raises(TypeError, match="must return Tensors"):
        _export(lambda t: 3, x)


def test_missing_onnx_raises_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx now raises ImportError
    with pytest.raises(ImportError, match=r"pip install chainrule\[onnx\]"):
        cr.onnx.export(nn.Linear(3, 2), _x(2, 3), io.BytesIO())


def test_importing_chainrule_does_not_import_onnx() -> None:
    code = "import sys, chainrule; assert 'onnx' not in sys.modules; print(chainrule.onnx)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
