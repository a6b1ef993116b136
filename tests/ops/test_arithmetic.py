"""Tests of the arithmetic ops: add sub mul div neg reciprocal pow rsub (and square, clone,
cast). Gradients over a grid of broadcast shapes, with Python numbers and ndarrays on
either side, under fan-out; PyTorch's type promotion; the kinks of pow; error messages."""

from __future__ import annotations

import inspect
import operator
import re
import warnings

import numpy as np
import pytest
from opcheck import BROADCAST_SHAPES, check_op, make_inputs, t64

import chainrule as cr
from chainrule.autograd.function import Op
from chainrule.ops import arithmetic

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
except ImportError:  # pragma: no cover
    torch = None


def grads(y: cr.Tensor, xs: list[cr.Tensor], cot=None) -> list[np.ndarray]:
    cot = np.ones(y.shape) if cot is None else cot
    return [g.numpy() for g in cr.autograd.grad(y, xs, cr.tensor(cot, dtype=y.dtype))]


# -- the broadcasting grid ---------------------------------------------------------------

BINARY = {
    "add": (cr.add, operator.add),
    "sub": (cr.sub, operator.sub),
    "mul": (cr.mul, operator.mul),
    "div": (cr.div, operator.truediv),
    "pow": (cr.pow, operator.pow),
    "rsub": (cr.rsub, lambda a, b: b - a),
}


@pytest.mark.parametrize(("sa", "sb"), BROADCAST_SHAPES)
@pytest.mark.parametrize("name", list(BINARY))
def test_binary_ops_broadcast_grid(name: str, sa, sb) -> None:
    a, b = make_inputs([sa, sb], seed=1)
    if name in ("div", "pow"):  # keep the denominator and the base away from 0
        a, b = make_inputs([sa, sb], seed=1, low=0.5, high=2.0)
    op, ref = BINARY[name]
    check_op(op, [a, b], ref)
    out = op(cr.tensor(a), cr.tensor(b))
    np.testing.assert_allclose(out.numpy(), ref(a, b), rtol=1e-13)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_operators_match_the_functions(name: str) -> None:
    a, b = make_inputs([(2, 3), (3,)], seed=2, low=0.5, high=2.0)
    op, ref = BINARY[name]
    ta, tb = cr.tensor(a), cr.tensor(b)
    np.testing.assert_array_equal(ref(ta, tb).numpy(), op(ta, tb).numpy())


def test_unary_ops() -> None:
    (x,) = make_inputs([(3, 4)], seed=3, low=0.5, high=2.0)
    x = x * np.sign(make_inputs([(3, 4)], seed=4)[0])
    check_op(cr.neg, [x], lambda t: torch.neg(t))
    check_op(cr.reciprocal, [x], lambda t: torch.reciprocal(t))
    check_op(cr.square, [x], lambda t: torch.square(t))
    check_op(lambda t: -t, [x], lambda t: -t)
    check_op(cr.clone, [x], lambda t: t.clone())
    np.testing.assert_allclose(cr.reciprocal(cr.tensor(x)).numpy(), 1 / x, rtol=1e-15)
    assert cr.reciprocal(cr.tensor([2, 4])).tolist() == [0.5, 0.25]  # int -> float


# -- numbers and ndarrays on either side -------------------------------------------------

SCALAR_CASES = [
    ("x + 2", lambda x: x + 2, lambda x: np.ones_like(x)),
    ("2 + x", lambda x: 2 + x, lambda x: np.ones_like(x)),
    ("x - 2.5", lambda x: x - 2.5, lambda x: np.ones_like(x)),
    ("2.5 - x", lambda x: 2.5 - x, lambda x: -np.ones_like(x)),
    ("x * 3", lambda x: x * 3, lambda x: 3 * np.ones_like(x)),
    ("3.0 * x", lambda x: 3.0 * x, lambda x: 3 * np.ones_like(x)),
    ("x / 4", lambda x: x / 4, lambda x: np.full_like(x, 0.25)),
    ("4 / x", lambda x: 4 / x, lambda x: -4 / x**2),
    ("x ** 2", lambda x: x**2, lambda x: 2 * x),
    ("x ** 0.5", lambda x: x**0.5, lambda x: 0.5 / np.sqrt(x)),
    ("2 ** x", lambda x: 2**x, lambda x: 2**x * np.log(2)),
    ("rsub(x, 1)", lambda x: cr.rsub(x, 1) if isinstance(x, cr.Tensor) else 1 - x,
     lambda x: -np.ones_like(x)),
]


@pytest.mark.parametrize(("expr", "f", "df"), SCALAR_CASES, ids=[c[0] for c in SCALAR_CASES])
@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_python_numbers_on_either_side(expr, f, df, dtype) -> None:
    x = np.array([0.5, 1.0, 2.0])
    t = cr.tensor(x, dtype=dtype, requires_grad=True)
    y = f(t)
    assert y.dtype == dtype, expr  # a number never changes the tensor's dtype
    (g,) = cr.autograd.grad(y, [t], cr.ones(3, dtype=dtype))
    assert g.dtype == dtype, expr
    rtol = 1e-6 if dtype == cr.float32 else 1e-14
    np.testing.assert_allclose(y.detach().numpy(), f(x), rtol=rtol)
    np.testing.assert_allclose(g.numpy(), df(x), rtol=rtol)


@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_numpy_scalars_and_arrays_on_either_side(dtype) -> None:
    x = cr.tensor([1.0, 2.0], dtype=dtype, requires_grad=True)
    # NumPy scalars count as Python numbers (weak), as in PyTorch
    for y in (x * np.float64(2.0), np.float64(2.0) * x, x + np.float32(1), x - np.int64(1),
              x / np.float64(2), x ** np.float64(2)):
        assert y.dtype == dtype
    # ndarrays: float arrays of the same category as tensors, int arrays promoted to float
    a = np.array([3, 4])
    for y in (x * a, a * x, x + a, a - x, x / a, a / x):
        assert y.dtype == dtype
        (g,) = cr.autograd.grad(y, [x], cr.ones(2, dtype=dtype))
        assert g.dtype == dtype
    np.testing.assert_allclose((a / x).detach().numpy(), [3.0, 2.0])
    np.testing.assert_allclose(grads(a / x, [x])[0], [-3.0, -1.0])


def test_ndarray_on_the_left_defers_to_the_tensor() -> None:
    x = t64([1.0, 2.0])
    a = np.array([10.0, 20.0])
    for y, expected in ((a + x, [11.0, 22.0]), (a - x, [9.0, 18.0]), (a * x, [10.0, 40.0]),
                        (a / x, [10.0, 10.0]), (a**x, [10.0, 400.0])):
        assert isinstance(y, cr.Tensor) and y.requires_grad
        np.testing.assert_allclose(y.detach().numpy(), expected)


# -- type promotion: PyTorch's rules -------------------------------------------------------

PROMOTION = [
    # (a, b, expected dtype) with tensors built from (values, dtype); numbers as they are
    (([1, 2], "int64"), ([1.5, 2.5], "float32"), "float32"),
    (([1, 2], "int32"), ([1.5, 2.5], "float64"), "float64"),
    (([1, 2], "int64"), ([1.5, 2.5], "float16"), "float16"),
    (([True, False], "bool"), 2.0, "float32"),
    (([True, False], "bool"), 2, "int64"),
    (([True, False], "bool"), True, "bool"),
    (([1, 2], "int64"), 2.5, "float32"),
    (([1, 2], "int32"), 2, "int32"),
    (([1, 2], "uint8"), ([1, 2], "int8"), "int16"),
    (([1.0, 2.0], "float32"), (2.0, "float64"), "float32"),  # a 0-d tensor is weaker
    (([1, 2], "int32"), (2, "int64"), "int32"),
    (([1, 2], "int64"), (2.0, "float64"), "float64"),  # ... unless of a higher category
    (([1.0, 2.0], "float32"), ([1.0, 2.0], "float64"), "float64"),
]


def _operand(spec):
    if isinstance(spec, tuple):
        values, dtype = spec
        return cr.tensor(np.array(values, dtype=dtype))
    return spec


def _torch_operand(spec):
    if isinstance(spec, tuple):
        values, dtype = spec
        return torch.tensor(np.array(values, dtype=dtype))
    return spec


@pytest.mark.parametrize(("a", "b", "expected"), PROMOTION)
def test_type_promotion_follows_pytorch(a, b, expected) -> None:
    ta, tb = _operand(a), _operand(b)
    assert cr.result_type(ta, tb) == np.dtype(expected)
    for op in (operator.add, operator.mul):
        if np.dtype(expected) == np.bool_ and op is operator.add:
            continue
        assert op(ta, tb).dtype == np.dtype(expected), op
        assert op(tb, ta).dtype == np.dtype(expected), op
    if torch is not None:
        assert str(torch.result_type(_torch_operand(a), _torch_operand(b))) == \
            "torch." + expected


def test_mixed_dtype_gradients_keep_each_input_dtype() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)  # float32
    s = cr.tensor(3.0, dtype=cr.float64, requires_grad=True)  # 0-d float64: weaker
    y = w * s
    assert y.dtype == cr.float32
    gw, gs = cr.autograd.grad(y.sum(), [w, s])
    assert gw.dtype == cr.float32 and gs.dtype == cr.float64
    np.testing.assert_allclose(gw.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(gs.numpy(), 3.0)
    i = cr.tensor([1, 2])
    z = i + w  # int64 + float32 -> float32, the gradient flows to w only
    assert z.dtype == cr.float32
    assert grads(z, [w])[0].tolist() == [1.0, 1.0]


def test_integer_division_gives_the_default_dtype() -> None:
    i = cr.tensor([1, 2, 3])
    for y in (i / 2, 2 / i, i / i, cr.div(i, cr.tensor([2, 2, 2]))):
        assert y.dtype == cr.float32
    np.testing.assert_allclose((i / 2).numpy(), [0.5, 1.0, 1.5])
    assert (i * 2).dtype == cr.int64 and (i - 1).dtype == cr.int64
    assert (i**2).dtype == cr.int64 and (i**2.0).dtype == cr.float32


def test_promote_types() -> None:
    assert cr.promote_types(cr.int64, cr.float16) == cr.float16
    assert cr.promote_types(cr.uint8, cr.int8) == cr.int16
    assert cr.promote_types(cr.bool, cr.int32) == cr.int32
    assert cr.promote_types("float32", cr.float64) == cr.float64


# -- fan-out (the seeds' Branch) -----------------------------------------------------------


def test_fan_out() -> None:
    (x,) = make_inputs([(3, 4)], seed=5, low=0.5, high=2.0)
    check_op(lambda t: t * t, [x], lambda t: t * t)
    check_op(lambda t: t + t, [x], lambda t: t + t)
    check_op(lambda t: t - t * 2, [x], lambda t: t - t * 2)
    check_op(lambda t: t / (t + 1), [x], lambda t: t / (t + 1))
    check_op(lambda t: t**t, [x], lambda t: t**t)
    check_op(lambda t: cr.rsub(t, t * t), [x], lambda t: torch.rsub(t, t * t))
    # by hand: d/dx (x*x + x*3) = 2x + 3
    t = t64(x)
    np.testing.assert_allclose(grads(t * t + t * 3.0, [t])[0], 2 * x + 3, rtol=1e-14)


def test_fan_out_with_broadcasting() -> None:
    a, b = make_inputs([(2, 3), (3,)], seed=6, low=0.5, high=2.0)
    check_op(lambda p, q: p * q + q / p - q, [a, b], lambda p, q: p * q + q / p - q)


# -- pow at its kinks ----------------------------------------------------------------------


def test_pow_gradient_at_zero_exponent_and_zero_base() -> None:
    x = t64([0.0, 2.0])
    # x ** 0 is constant: gradient 0 even at x = 0 (not 0 * inf = nan), as PyTorch
    assert grads(x**0.0, [x])[0].tolist() == [0.0, 0.0]
    e = t64([0.0, 0.0])
    gx, ge = grads(x**e, [x, e])
    assert gx.tolist() == [0.0, 0.0]
    np.testing.assert_allclose(ge, [0.0, np.log(2.0)])  # 0 ** e: defined as 0 at base 0
    assert grads(x**2.0, [x])[0].tolist() == [0.0, 4.0]
    assert grads(0.0**x, [x])[0].tolist() == [0.0, 0.0]


def test_pow_with_a_number_base_keeps_float32() -> None:
    x = cr.tensor([0.0, 2.0], requires_grad=True)
    y = 2.0**x
    assert y.dtype == cr.float32
    (g,) = cr.autograd.grad(y, [x], cr.ones(2))
    assert g.dtype == cr.float32
    np.testing.assert_allclose(g.numpy(), [np.log(2.0), 4 * np.log(2.0)], rtol=1e-6)


def test_pow_of_a_negative_base() -> None:
    a, e = t64([-1.0, 2.0]), t64([2.0, 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ga, ge = grads(a**e, [a, e])
    np.testing.assert_allclose(ga, [-2.0, 4.0])
    assert np.isnan(ge[0]) and ge[1] == pytest.approx(4 * np.log(2.0))  # log(-1): nan


def test_pow_matches_torch_at_the_kinks() -> None:
    torch = pytest.importorskip("torch")
    base, expo = np.array([0.0, 0.0, 2.0, -1.0, 0.5]), np.array([0.0, 2.0, 0.0, 2.0, 1.5])
    ta, te = (torch.tensor(v, requires_grad=True) for v in (base, expo))
    tga, tge = torch.autograd.grad((ta**te).sum(), [ta, te])
    a, e = t64(base), t64(expo)
    ga, ge = grads(a**e, [a, e])
    np.testing.assert_allclose(ga, tga.numpy(), rtol=1e-14)
    np.testing.assert_allclose(ge, tge.numpy(), rtol=1e-14)


def test_integer_to_negative_integer_power_raises() -> None:
    with pytest.raises(RuntimeError, match="pow: integers to negative integer powers are not "
                                           "allowed"):
        cr.tensor([1, 2]) ** -1
    assert (cr.tensor([1.0, 2.0]) ** -1).tolist() == [1.0, 0.5]


# -- division by zero, rounding modes, alpha -------------------------------------------------


def test_division_by_zero_is_inf_without_warnings() -> None:
    a, b = t64([1.0, 0.0, -1.0]), t64([0.0, 0.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = a / b
        ga, gb = grads(y, [a, b])
        r = cr.reciprocal(b)
        (gr,) = grads(r, [b])
    yd = y.detach().numpy()
    assert yd[0] == np.inf and np.isnan(yd[1]) and yd[2] == -np.inf
    assert (ga == np.inf).all() and r.detach().numpy()[0] == np.inf
    assert gb[0] == -np.inf and np.isnan(gb[1]) and gb[2] == np.inf  # -a / b**2
    assert (gr == -np.inf).all()  # -1 / b**2


def test_div_rounding_modes() -> None:
    i = cr.tensor([-7, 7])
    floor = cr.div(i, 2, rounding_mode="floor")
    trunc = cr.div(i, 2, rounding_mode="trunc")
    assert floor.dtype == cr.int64 and floor.tolist() == [-4, 3]
    assert trunc.dtype == cr.int64 and trunc.tolist() == [-3, 3]
    f = cr.tensor([-7.0, 7.0])
    assert cr.div(f, 2, rounding_mode="trunc").tolist() == [-3.0, 3.0]
    assert cr.div(f, 2, rounding_mode="floor").tolist() == [-4.0, 3.0]
    big = cr.tensor([2**62 + 1])
    assert cr.div(big, 1, rounding_mode="trunc").item() == 2**62 + 1  # exact for int64
    with pytest.raises(ValueError, match="div: rounding_mode must be None, 'trunc' or 'floor', "
                                         "got 'round'"):
        cr.div(f, 2, rounding_mode="round")
    with pytest.raises(ZeroDivisionError, match="div: integer division by zero"):
        cr.div(i, 0, rounding_mode="floor")


def test_add_and_sub_with_alpha() -> None:
    x, y = t64([1.0, 2.0]), t64([10.0, 20.0])
    out = cr.add(x, y, alpha=0.5)
    np.testing.assert_allclose(out.detach().numpy(), [6.0, 12.0])
    gx, gy = grads(out, [x, y])
    assert gx.tolist() == [1.0, 1.0] and gy.tolist() == [0.5, 0.5]
    np.testing.assert_allclose(cr.sub(x, y, alpha=2).detach().numpy(), [-19.0, -38.0])
    np.testing.assert_allclose(cr.add(x, 3, alpha=2).detach().numpy(), [7.0, 8.0])  # a number other
    np.testing.assert_allclose(cr.rsub(x, 10, alpha=2).detach().numpy(), [8.0, 6.0])
    with pytest.raises(RuntimeError, match="add: for integer input tensors, alpha must not be "
                                           "a floating point number, got alpha=1.5"):
        cr.add(cr.tensor([1, 2]), cr.tensor([1, 2]), alpha=1.5)


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow"])
def test_shape_mismatch_names_the_op_and_both_shapes(name: str) -> None:
    op, _ = BINARY[name]
    with pytest.raises(ValueError, match=rf"^{name}: shapes \(2, 3\) and \(4,\) cannot be "
                                         r"broadcast together"):
        op(cr.ones(2, 3), cr.ones(4))
    with pytest.raises(ValueError, match=rf"{name}: shapes \(3,\) and \(2, 1, 2\)"):
        op(cr.ones(3), np.ones((2, 1, 2)))


def test_bool_negation_and_subtraction_errors() -> None:
    b = cr.tensor([True, False])
    with pytest.raises(RuntimeError, match="neg: negation, the `-` operator, on a bool tensor"):
        _ = -b
    with pytest.raises(RuntimeError, match="sub: subtraction, the `-` operator, with two bool"):
        _ = b - b
    assert (b + b).tolist() == [True, False]  # bool + bool: logical or, as PyTorch


def test_operands_without_a_tensor_are_rejected() -> None:
    with pytest.raises(TypeError, match="add: expected at least one Tensor, got int and float"):
        cr.add(1, 2.0)
    with pytest.raises(TypeError, match="mul: expected at least one Tensor, got ndarray"):
        cr.mul(np.ones(2), 2)
    with pytest.raises(TypeError, match="mul: expected a Tensor, an ndarray or a number, "
                                        "got str"):
        cr.mul(cr.ones(2), "a")


# -- float32, casting, documentation -------------------------------------------------------


def test_float32_preserved_through_every_op() -> None:
    x = cr.tensor([0.5, 1.5], requires_grad=True)
    y = cr.tensor([2.0, 3.0], requires_grad=True)
    for out in (x + y, x - y, x * y, x / y, x**y, -x, cr.reciprocal(x), cr.square(x),
                cr.rsub(x, y), x.clone()):
        assert out.dtype == cr.float32
        for g in cr.autograd.grad(out, [x, y], cr.ones(2), allow_unused=True):
            assert g is None or g.dtype == cr.float32


def test_cast_is_differentiable_between_floats() -> None:
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    assert y.dtype == cr.float64
    (g,) = cr.autograd.grad(y, [x], cr.ones(2, dtype=cr.float64))
    assert g.dtype == cr.float32 and g.tolist() == [3.0, 3.0]
    assert x.long().dtype == cr.int64 and not x.long().requires_grad
    assert cr.cast(x, cr.float32) is x


OPS = [cls for cls in vars(arithmetic).values()
       if isinstance(cls, type) and issubclass(cls, Op) and cls is not Op]
RULE = re.compile(r"^d\w+ = \S.*\S  \(\S*\)( = \S+)?$")


@pytest.mark.parametrize("cls", OPS, ids=[c.__name__ for c in OPS])
def test_every_op_documents_its_rule_and_shapes(cls: type[Op]) -> None:
    assert cls.__doc__ and cls.__doc__.strip().count("\n") == 0
    lines = inspect.cleandoc(cls.backward.__doc__).splitlines()
    params = [p for p in inspect.signature(cls.forward).parameters if p != "self"]
    inputs = [p for p in cls.shapes if p != "Y"]
    assert inputs == params[:len(inputs)] and "Y" in cls.shapes, cls.__name__
    assert len(lines) == len(inputs), cls.__name__
    for line in lines:
        assert RULE.match(line), f"{cls.__name__}: {line!r}"


def test_pow_exponent_gradient_at_zero_base() -> None:
    # d(a**b)/db = a**b log a: PyTorch takes 0 where a == 0 and b >= 0, and keeps
    # inf * log(0) = -inf where b < 0
    b = t64([-1.0, 0.0, 2.0])
    (gb,) = cr.autograd.grad((t64([0.0, 0.0, 0.0], False) ** b).sum(), b)
    np.testing.assert_array_equal(gb.numpy(), [-np.inf, 0.0, 0.0])
    b32 = cr.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    (gb,) = cr.autograd.grad((0.0 ** b32).sum(), b32)
    assert gb.dtype == cr.float32
    np.testing.assert_array_equal(gb.numpy(), [-np.inf, 0.0, 0.0])
