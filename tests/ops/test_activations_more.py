"""GELU, SiLU, ELU, softplus and the other activations of ops/activations_more.py: values,
first and second derivatives, PyTorch parity (values, gradients, kinks), float32 and the
modules' reprs."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd.function import Op
from chainrule.ops import _erf, activations_more
from tests.opcheck import check_op, make_inputs, torch

# (name, chainrule function, torch function name and kwargs)
CASES = [
    ("gelu", lambda x: F.gelu(x), "gelu", {}),
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"), "gelu", {"approximate": "tanh"}),
    ("silu", lambda x: F.silu(x), "silu", {}),
    ("elu", lambda x: F.elu(x), "elu", {}),
    ("elu_alpha", lambda x: F.elu(x, alpha=0.7), "elu", {"alpha": 0.7}),
    ("selu", lambda x: F.selu(x), "selu", {}),
    ("celu", lambda x: F.celu(x, alpha=1.5), "celu", {"alpha": 1.5}),
    ("softplus", lambda x: F.softplus(x), "softplus", {}),
    ("softplus_beta", lambda x: F.softplus(x, beta=2.0, threshold=1.5), "softplus",
     {"beta": 2.0, "threshold": 1.5}),
    ("logsigmoid", lambda x: F.logsigmoid(x), "logsigmoid", {}),
    ("mish", lambda x: F.mish(x), "mish", {}),
    ("softsign", lambda x: F.softsign(x), "softsign", {}),
    ("tanhshrink", lambda x: F.tanhshrink(x), "tanhshrink", {}),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 1.0), "hardtanh",
     {"min_val": -0.5, "max_val": 1.0}),
    ("relu6", lambda x: F.relu6(x * 4), None, {}),
    ("hardsigmoid", lambda x: F.hardsigmoid(x * 3), None, {}),
    ("hardswish", lambda x: F.hardswish(x * 3), None, {}),
    ("softmin", lambda x: F.softmin(x, dim=-1), "softmin", {"dim": -1}),
]


def _torch_fn(name, kwargs):
    if name is None or torch is None:
        return None
    fn = getattr(torch.nn.functional, name)
    return lambda x: fn(x, **kwargs)


@pytest.mark.parametrize("name, fn, tname, kwargs", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 5), ()])
def test_activation_gradients_and_parity(name, fn, tname, kwargs, shape) -> None:
    (x,) = make_inputs([shape], seed=len(name))
    x = x * 2.5 + 0.01  # away from the kinks at 0 for the finite differences
    torch_fn = _torch_fn(tname, kwargs)
    if torch_fn is None and torch is not None and name in ("relu6", "hardsigmoid", "hardswish"):
        tf = getattr(torch.nn.functional, name)
        scale = 4 if name == "relu6" else 3
        torch_fn = lambda t: tf(t * scale)  # noqa: E731
    piecewise = name in ("hardtanh", "relu6", "hardsigmoid", "hardswish")
    check_op(fn, [x], torch_fn, gradgrad=not piecewise or name == "hardswish")


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("name", ["relu6", "hardtanh", "hardsigmoid", "hardswish", "elu",
                                  "celu", "selu", "softplus", "gelu", "silu", "mish"])
def test_kinks_and_extremes_match_torch(name: str) -> None:
    values = [-1e4, -300.0, -30.0, -6.0, -3.0, -1.0, 0.0, 1.0, 3.0, 6.0, 20.0, 30.0, 300.0]
    x = cr.tensor(values, dtype=cr.float64, requires_grad=True)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    y = getattr(F, name)(x)
    ty = getattr(torch.nn.functional, name)(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12, atol=1e-12)
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape, wshape", [((4, 3, 5), (3,)), ((4, 3), (1,)), ((2, 3, 2, 2), (3,))])
def test_prelu(shape, wshape) -> None:
    x, w = make_inputs([shape, wshape], seed=3)
    x = x + 0.05
    torch_fn = None if torch is None else torch.nn.functional.prelu
    check_op(lambda a, b: F.prelu(a, b), [x, w], torch_fn)


def test_prelu_rejects_a_weight_of_the_wrong_size() -> None:
    with pytest.raises(ValueError, match="prelu: weight of shape"):
        F.prelu(cr.randn(4, 3), cr.randn(2))


def test_float32_stays_float32() -> None:
    x = cr.randn(4, 5, dtype=cr.float32, requires_grad=True)
    for name in ["gelu", "silu", "elu", "selu", "celu", "softplus", "logsigmoid", "mish",
                 "softsign", "tanhshrink", "hardtanh", "relu6", "hardsigmoid", "hardswish"]:
        y = getattr(F, name)(x)
        assert y.dtype == cr.float32, name
        (g,) = cr.autograd.grad(y.sum(), [x])
        assert g.dtype == cr.float32, name
    assert F.gelu(x, approximate="tanh").dtype == cr.float32


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="approximate must be 'none' or 'tanh'"):
        F.gelu(cr.randn(3), approximate="fast")
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")
    with pytest.raises(TypeError, match="gelu: expected a floating point tensor"):
        F.gelu(cr.tensor([1, 2]))
    with pytest.raises(ValueError, match="min_val"):
        F.hardtanh(cr.randn(3), 1.0, -1.0)


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_module_reprs_and_outputs_match_torch() -> None:
    pairs = [("GELU", ()), ("GELU", ("tanh",)), ("SiLU", ()), ("ELU", (0.5,)), ("CELU", ()),
             ("SELU", ()), ("Softplus", (2.0, 10.0)), ("LogSigmoid", ()), ("Hardtanh", ()),
             ("ReLU6", ()), ("Mish", ()), ("Softsign", ()), ("Hardsigmoid", ()),
             ("Hardswish", ()), ("PReLU", ()), ("PReLU", (3, 0.1)), ("Tanhshrink", ()),
             ("Softmin", (1,))]
    x = np.random.default_rng(0).standard_normal((2, 3, 4)) * 3
    for name, args in pairs:
        ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
        assert repr(ours) == repr(theirs)
        y = ours.double()(cr.tensor(x))
        ty = theirs.double()(torch.tensor(x))
        np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-12)
    assert list(nn.PReLU(3).state_dict()) == ["weight"]


OPS = [cls for cls in vars(activations_more).values()
       if isinstance(cls, type) and issubclass(cls, Op) and cls is not Op]
RULE = re.compile(r"^d\w+ = \S.*\S  \(\S*\)( = \S+)?$")


@pytest.mark.parametrize("cls", OPS, ids=[c.__name__ for c in OPS])
def test_every_op_documents_its_rule_and_shapes(cls: type[Op]) -> None:
    assert cls.__doc__ and cls.__doc__.strip().count("\n") == 0
    lines = inspect.cleandoc(cls.backward.__doc__).splitlines()
    for line in lines:
        assert RULE.match(line), f"{cls.__name__}: {line!r}"
    params = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
    assert "Y" in cls.shapes and set(cls.shapes) - {"Y"} <= set(params)
    assert len(lines) == len(set(cls.shapes) - {"Y"})


def test_explain_shows_gelu_with_real_shapes() -> None:
    x = cr.randn(8, 16, requires_grad=True)
    y = F.gelu(x, approximate="tanh").sum()
    y.backward()
    assert "(8,16) = (8,16)(8,16)" in str(cr.explain(y))


def test_vectorised_erf_matches_math_erf() -> None:
    import math

    x = np.concatenate([np.linspace(-9, 9, 20001), [0.0, -0.0, 1.9999999, 2.0, 6.0, 1e-300]])
    exact = np.array([math.erf(v) for v in x])
    np.testing.assert_allclose(_erf.erf(x), exact, rtol=0, atol=5e-15)
    y32 = _erf.erf(x.astype(np.float32))
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, exact, rtol=0, atol=3e-7)
    assert _erf.erf(np.array(0.5)) == pytest.approx(math.erf(0.5), abs=1e-16)
    assert _erf.erf(np.array([-30.0, 30.0])).tolist() == [-1.0, 1.0]


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_exact_gelu_float32_matches_torch() -> None:
    x = np.random.default_rng(0).standard_normal((64, 50)).astype(np.float32) * 3
    y = F.gelu(cr.tensor(x, requires_grad=True))
    ty = torch.nn.functional.gelu(torch.tensor(x))
    np.testing.assert_allclose(y.detach().numpy(), ty.numpy(), rtol=1e-5, atol=1e-6)
