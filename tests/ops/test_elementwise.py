"""Tests of the elementwise ops: exp log log1p sqrt abs sign sin cos tanh sigmoid relu
(clamp, maximum, minimum and where: test_elementwise_select.py; their rules are checked
here too). Gradients against finite differences (first and second order), the closed
forms in NumPy, PyTorch parity when torch is installed, and exact values at the kinks and
extremes."""

from __future__ import annotations

import inspect
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from opcheck import check_op, grad_of, make_inputs, t64

import chainrule as cr
from chainrule.autograd.function import Op
from chainrule.ops import elementwise

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
except ImportError:  # pragma: no cover
    torch = None


@contextmanager
def no_warnings() -> Iterator[None]:
    """Any warning (overflow, invalid value, divide by zero) fails the test."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


# -- smooth unary functions: closed form, gradients, parity ---------------------------

# name, chainrule op, torch op name, NumPy closed form, derivative, input range (None: normal)
UNARY = [
    ("exp", cr.exp, "exp", np.exp, np.exp, None),
    ("log", cr.log, "log", np.log, lambda x: 1 / x, (0.3, 3.0)),
    ("log1p", cr.log1p, "log1p", np.log1p, lambda x: 1 / (1 + x), (-0.7, 3.0)),
    ("sqrt", cr.sqrt, "sqrt", np.sqrt, lambda x: 0.5 / np.sqrt(x), (0.3, 3.0)),
    ("sin", cr.sin, "sin", np.sin, np.cos, None),
    ("cos", cr.cos, "cos", np.cos, lambda x: -np.sin(x), None),
    ("tanh", cr.tanh, "tanh", np.tanh, lambda x: 1 - np.tanh(x) ** 2, None),
    ("sigmoid", cr.sigmoid, "sigmoid", lambda x: 1 / (1 + np.exp(-x)),
     lambda x: np.exp(-x) / (1 + np.exp(-x)) ** 2, None),
    ("relu", cr.relu, "relu", lambda x: np.maximum(x, 0), lambda x: (x > 0) * 1.0, None),
    ("abs", cr.abs, "abs", np.abs, np.sign, None),
]
UNARY_IDS = [u[0] for u in UNARY]


def _unary_input(shape: tuple[int, ...], domain, seed: int = 0) -> np.ndarray:
    if domain is None:
        return make_inputs([shape], seed=seed)[0]
    return make_inputs([shape], seed=seed, low=domain[0], high=domain[1])[0]


@pytest.mark.parametrize(("name", "op", "tname", "f", "df", "domain"), UNARY, ids=UNARY_IDS)
@pytest.mark.parametrize("shape", [(5,), (2, 3, 2)])
def test_unary_gradients_and_parity(name, op, tname, f, df, domain, shape) -> None:
    x = _unary_input(shape, domain)
    check_op(op, [x], lambda t: getattr(torch, tname)(t))


@pytest.mark.parametrize(("name", "op", "tname", "f", "df", "domain"), UNARY, ids=UNARY_IDS)
def test_unary_on_zero_dimensional_tensors(name, op, tname, f, df, domain) -> None:
    """0-d inputs; tanh's and sigmoid's second-order graphs use Y twice (a 0-d fan-out)."""
    x = _unary_input((), domain)
    check_op(op, [x], lambda t: getattr(torch, tname)(t))


@pytest.mark.parametrize(("name", "op", "tname", "f", "df", "domain"), UNARY, ids=UNARY_IDS)
def test_unary_closed_form(name, op, tname, f, df, domain) -> None:
    x = _unary_input((4, 3), domain, seed=7)
    t = t64(x)
    y = op(t)
    np.testing.assert_allclose(y.detach().numpy(), f(x), rtol=1e-13, atol=1e-15)
    cot = np.random.default_rng(2).standard_normal(x.shape)
    np.testing.assert_allclose(grad_of(y, t, cot), cot * df(x), rtol=1e-12, atol=1e-15)
    # PyTorch's grad_fn names, without its counter (ReluBackward0 -> ReluBackward)
    assert y.grad_fn.name().lower() == type(y.grad_fn).__name__.lower() + "backward"


@pytest.mark.parametrize(("name", "op", "tname", "f", "df", "domain"), UNARY, ids=UNARY_IDS)
def test_unary_as_tensor_method(name, op, tname, f, df, domain) -> None:
    x = _unary_input((3,), domain, seed=3)
    t = cr.tensor(x)
    if hasattr(cr.Tensor, name):
        np.testing.assert_array_equal(getattr(t, name)().numpy(), op(t).numpy())


def test_unary_fan_out() -> None:
    """x feeds two ops and a product: its gradient is the sum of all paths (Branch)."""
    (x,) = make_inputs([(3, 4)], seed=11)
    check_op(lambda t: cr.exp(t) * cr.sin(t) + cr.sigmoid(t) * t,
             [x], lambda t: torch.exp(t) * torch.sin(t) + torch.sigmoid(t) * t)
    check_op(lambda t: cr.tanh(cr.tanh(t)) * cr.relu(t), [x],
             lambda t: torch.tanh(torch.tanh(t)) * torch.relu(t))


def test_floating_ops_promote_integers_to_the_default_dtype() -> None:
    i = cr.tensor([1, 2, 4])
    for op in (cr.exp, cr.log, cr.log1p, cr.sqrt, cr.sin, cr.cos, cr.tanh, cr.sigmoid):
        out = op(i)
        assert out.dtype == cr.float32, op
        np.testing.assert_allclose(out.numpy(), op(cr.tensor([1.0, 2.0, 4.0])).numpy())
    # piecewise ops keep integer dtypes, as in PyTorch
    j = cr.tensor([-2, 0, 3])
    assert cr.relu(j).dtype == cr.int64 and cr.relu(j).tolist() == [0, 0, 3]
    assert cr.abs(j).dtype == cr.int64 and cr.abs(j).tolist() == [2, 0, 3]
    assert cr.sign(j).tolist() == [-1, 0, 1]


def test_unary_ops_reject_non_tensors() -> None:
    with pytest.raises(TypeError, match="exp: expected a Tensor, got list"):
        cr.exp([1.0, 2.0])
    with pytest.raises(TypeError, match="relu: expected a Tensor, got float"):
        cr.relu(1.0)


# -- kinks and extremes ----------------------------------------------------------------


def test_relu_gradient_is_zero_at_zero() -> None:
    x = t64([-1.0, 0.0, 2.0])
    y = cr.relu(x)
    np.testing.assert_array_equal(grad_of(y, x), [0.0, 0.0, 1.0])
    assert y.grad_fn.name() == "ReluBackward"  # PyTorch's name, without its counter


def test_relu_gradient_ignores_inf_where_inactive() -> None:
    # the mask selects the gradient (as PyTorch's threshold_backward): no 0 * inf = nan
    x = t64([-1.0, 2.0])
    np.testing.assert_array_equal(grad_of(cr.relu(x), x, np.array([np.inf, 1.0])), [0.0, 1.0])


def test_abs_gradient_is_sign_with_zero_at_zero() -> None:
    x = t64([-3.0, 0.0, 0.5])
    np.testing.assert_array_equal(grad_of(cr.abs(x), x), [-1.0, 0.0, 1.0])
    assert abs(x).grad_fn.name() == "AbsBackward"  # the operator goes through cr.abs


def test_sign_values_and_zero_gradient() -> None:
    x = t64([-3.0, 0.0, 0.5])
    y = cr.sign(x)
    np.testing.assert_array_equal(y.detach().numpy(), [-1.0, 0.0, 1.0])
    np.testing.assert_array_equal(grad_of(y, x), [0.0, 0.0, 0.0])
    assert cr.sign(cr.tensor([True, False])).tolist() == [True, False]


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_sigmoid_is_finite_and_warning_free_at_extremes(dtype) -> None:
    x = cr.tensor([-1e4, -300.0, -30.0, 0.0, 30.0, 300.0, 1e4], dtype=dtype, requires_grad=True)
    with no_warnings():
        y = cr.sigmoid(x)
        (g,) = cr.autograd.grad(y, [x], cr.ones(7, dtype=dtype))
    assert y.dtype == dtype and g.dtype == dtype
    assert np.all(np.isfinite(y.detach().numpy())) and np.all(np.isfinite(g.detach().numpy()))
    yd = y.detach().numpy()
    assert yd[0] == 0.0 and yd[-1] == 1.0 and yd[3] == 0.5
    assert g.numpy()[0] == 0.0 and g.numpy()[-1] == 0.0 and g.numpy()[3] == 0.25
    # small outputs keep their relative precision (1 + exp(-x), not 1 - something)
    np.testing.assert_allclose(y.detach().numpy()[2], np.exp(-30.0), rtol=1e-6)


def test_sigmoid_matches_torch_at_extremes() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([-800.0, -300.0, -40.0, -1.0, 0.0, 1.0, 40.0, 300.0, 800.0])
    np.testing.assert_allclose(cr.sigmoid(cr.tensor(x)).numpy(),
                               torch.sigmoid(torch.tensor(x)).numpy(), rtol=1e-15, atol=0)


def test_tanh_saturates_without_warnings() -> None:
    x = cr.tensor([-1e4, 1e4], requires_grad=True)
    with no_warnings():
        y = cr.tanh(x)
        g = grad_of(y, x)
    np.testing.assert_array_equal(y.detach().numpy(), [-1.0, 1.0])
    np.testing.assert_array_equal(g, [0.0, 0.0])


def test_exp_overflows_to_inf_silently() -> None:
    x = cr.tensor([1e4, -1e4, 0.0])
    with no_warnings():
        y = cr.exp(x)
    np.testing.assert_array_equal(y.numpy(), [np.inf, 0.0, 1.0])
    assert y.dtype == cr.float32


def test_log_of_negative_and_zero_like_numpy_without_warnings() -> None:
    x = t64([-1.0, 0.0, 1.0])
    with no_warnings():
        y = cr.log(x)
        g = grad_of(y, x)
        s = cr.sqrt(x)
        gs = grad_of(s, x)
        lp = cr.log1p(t64([-2.0, -1.0]))
    yd = y.detach().numpy()
    assert np.isnan(yd[0]) and yd[1] == -np.inf and yd[2] == 0.0
    np.testing.assert_array_equal(g, [-1.0, np.inf, 1.0])  # 1/x, as PyTorch
    assert np.isnan(s.detach().numpy()[0]) and s.detach().numpy()[1] == 0.0
    assert np.isnan(gs[0]) and gs[1] == np.inf and gs[2] == 0.5
    assert np.isnan(lp.detach().numpy()[0]) and lp.detach().numpy()[1] == -np.inf


def test_log_only_suppresses_warnings_inside_the_op() -> None:
    cr.log(cr.tensor([-1.0]))
    with pytest.warns(RuntimeWarning):  # NumPy's own setting is left as it was
        np.log(np.array([-1.0]))


# -- higher order through the masks, float32, documentation ------------------------------


def test_second_derivatives_of_piecewise_ops() -> None:
    (x,) = make_inputs([(5,)], seed=12)
    # relu(x)^2 has second derivative 2 (x > 0); the masks are constants under create_graph
    t = t64(x)
    (g,) = cr.autograd.grad(cr.relu(t) * cr.relu(t), [t], cr.ones(5, dtype=cr.float64),
                            create_graph=True)
    (h,) = cr.autograd.grad(g, [t], cr.ones(5, dtype=cr.float64))
    np.testing.assert_array_equal(h.numpy(), 2.0 * (x > 0))
    assert cr.autograd.gradgradcheck(lambda p: cr.abs(p) * p, [t64(x)])
    assert cr.autograd.gradgradcheck(lambda p: cr.clamp(p, -0.3, 0.3) * p, [t64(x)])


def test_float32_stays_float32_for_every_op() -> None:
    x = cr.tensor([0.5, 1.5, 2.5], requires_grad=True)
    outs = [u[1](x) for u in UNARY]
    outs += [cr.clamp(x, 1.0, 2.0), cr.clamp(x, cr.tensor(1.0), cr.tensor([2.0])),
             cr.maximum(x, 1.0), cr.minimum(x, cr.ones(3)), cr.where(x > 1, x, 0.0),
             cr.sign(x)]
    for y in outs:
        assert y.dtype == cr.float32, y.grad_fn
        (g,) = cr.autograd.grad(y, [x], cr.ones(3))
        assert g.dtype == cr.float32, y.grad_fn


OPS = [cls for cls in vars(elementwise).values()
       if isinstance(cls, type) and issubclass(cls, Op) and cls is not Op]
RULE = re.compile(r"^d\w+ = \S.*\S  \(\S*\)( = \S+)?$")


@pytest.mark.parametrize("cls", OPS, ids=[c.__name__ for c in OPS])
def test_every_op_documents_its_rule_and_shapes(cls: type[Op]) -> None:
    assert cls.__doc__ and cls.__doc__.strip().count("\n") == 0  # one-line summary
    lines = inspect.cleandoc(cls.backward.__doc__).splitlines()
    for line in lines:
        assert RULE.match(line), f"{cls.__name__}: {line!r}"
    params = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
    assert "Y" in cls.shapes
    differentiable = set(cls.shapes) - {"Y"}
    assert differentiable <= set(params), cls.__name__
    assert len(lines) == len([p for p in differentiable if p != "condition"]), cls.__name__


def test_public_names() -> None:
    for name in elementwise.__all__:
        assert getattr(cr, name) is getattr(elementwise, name), name
    assert set(elementwise.__all__) >= {
        "exp", "log", "sqrt", "abs", "sin", "cos", "tanh", "sigmoid", "relu", "clamp",
        "maximum", "minimum", "where", "log1p", "sign",
    }


@pytest.mark.parametrize("name", ["relu", "abs"])
def test_piecewise_linear_gradients_are_differentiable_with_zero_derivative(name: str) -> None:
    # As PyTorch's threshold_backward and sgn: under create_graph the gradient depends on
    # x (with derivative 0), so differentiating it again gives zeros, not an error
    x = cr.tensor([-1.0, 0.5, 2.0], dtype=cr.float64, requires_grad=True)
    (g,) = cr.autograd.grad(getattr(cr, name)(x).sum(), x, create_graph=True)
    assert g.requires_grad
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), [0.0, 0.0, 0.0])
    # and through a product the usual second derivatives come out
    (g,) = cr.autograd.grad((getattr(cr, name)(x) * x).sum(), x, create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), [-2.0 if name == "abs" else 0.0, 2.0, 2.0])


def test_relu_passes_the_gradient_at_nan_as_pytorch() -> None:
    # PyTorch masks where the output is <= 0; NaN is not, so its gradient passes
    x = cr.tensor([np.nan, -1.0, 0.0, 2.0], requires_grad=True)
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0, 1.0])
