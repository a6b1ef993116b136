"""Tests of the reductions: sum mean var std max min amax amin argmax argmin logsumexp prod.

Every reduction over dims (int, negative, tuple, all) with keepdim both ways: gradients
against finite differences (first and second order), PyTorch parity when torch is
installed, float32 preservation; then the exact rules at ties and zeros, stability at
extremes, dtypes, the NumPy-style aliases the engine relies on, and the error messages."""

from __future__ import annotations

import inspect
import re
import warnings

import numpy as np
import pytest
from opcheck import check_op, grad_of, make_inputs, t64

import chainrule as cr
from chainrule.autograd.function import Op
from chainrule.ops import minmax, reduce

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _kw(dim):
    """PyTorch spells 'all dimensions' differently per op; pass dim only when given."""
    return {} if dim is None else {"dim": dim}


DIMS = [None, 0, -1, (0, 2), (-1, 1), (1,)]
SHAPE = (2, 3, 4)


# -- every reduction over the grid of dims ---------------------------------------------


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "logsumexp"])
def test_reductions_over_dims(name: str, dim, keepdim: bool) -> None:
    (x,) = make_inputs([SHAPE], seed=1)
    tdim = dim if dim is not None else (0, 1, 2)  # torch needs explicit dims here
    check_op(lambda t: getattr(cr, name)(t, dim=tdim, keepdim=keepdim), [x],
             lambda t: getattr(torch, name)(t, dim=tdim, keepdim=keepdim))
    kw = {"dim": tdim} if name == "logsumexp" else _kw(dim)
    out = getattr(cr, name)(cr.tensor(x), **kw, keepdim=keepdim)
    np_name = {"amax": "max", "amin": "min"}.get(name, name)
    if name == "logsumexp":
        axis = None if dim is None else dim
        expected = np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdim))
    else:
        expected = getattr(np, np_name)(x, axis=dim, keepdims=keepdim)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", DIMS, ids=str)
@pytest.mark.parametrize("correction", [0, 1])
@pytest.mark.parametrize("name", ["var", "std"])
def test_var_std_over_dims(name: str, correction: int, dim, keepdim: bool) -> None:
    (x,) = make_inputs([SHAPE], seed=2)
    check_op(lambda t: getattr(cr, name)(t, **_kw(dim), correction=correction, keepdim=keepdim),
             [x], lambda t: getattr(torch, name)(t, **_kw(dim), correction=correction,
                                                 keepdim=keepdim))
    out = getattr(cr, name)(cr.tensor(x), **_kw(dim), correction=correction, keepdim=keepdim)
    expected = getattr(np, name)(x, axis=dim, ddof=correction, keepdims=keepdim)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [None, 0, -1, 1])
def test_prod_over_dims(dim, keepdim: bool) -> None:
    (x,) = make_inputs([SHAPE], seed=3, low=0.5, high=1.5)
    x = x * np.sign(make_inputs([SHAPE], seed=4)[0])  # both signs, no zeros
    if dim is None:
        def torch_fn(t):
            return torch.prod(t).reshape((1, 1, 1)) if keepdim else torch.prod(t)
    else:
        def torch_fn(t):
            return torch.prod(t, dim, keepdim=keepdim)
    check_op(lambda t: cr.prod(t, **_kw(dim), keepdim=keepdim), [x], torch_fn)
    out = cr.prod(cr.tensor(x), **_kw(dim), keepdim=keepdim)
    np.testing.assert_allclose(out.numpy(), np.prod(x, axis=dim, keepdims=keepdim), rtol=1e-12)


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_along_dim(name: str, dim: int, keepdim: bool) -> None:
    (x,) = make_inputs([SHAPE], seed=5)
    check_op(lambda t: getattr(cr, name)(t, dim, keepdim).values, [x],
             lambda t: getattr(torch, name)(t, dim, keepdim).values)
    values, indices = getattr(cr, name)(cr.tensor(x), dim=dim, keepdim=keepdim)
    np.testing.assert_array_equal(values.numpy(), getattr(np, name)(x, dim, keepdims=keepdim))
    arg = np.argmax if name == "max" else np.argmin
    np.testing.assert_array_equal(indices.numpy(), arg(x, dim, keepdims=keepdim))
    assert indices.dtype == cr.int64 and not indices.requires_grad


def test_full_max_min() -> None:
    (x,) = make_inputs([(3, 4)], seed=6)
    check_op(cr.max, [x], lambda t: torch.max(t))
    check_op(cr.min, [x], lambda t: torch.min(t))
    assert cr.max(cr.tensor(x)).item() == x.max() and cr.tensor(x).min().item() == x.min()


def test_reductions_fan_out() -> None:
    """x reaches the output through several reductions: the gradients add up (Branch)."""
    (x,) = make_inputs([(3, 4)], seed=7)
    check_op(lambda t: (t * t.sum(0, keepdim=True)).mean(1) + t.amax(1) * t.var(1),
             [x], lambda t: (t * t.sum(0, keepdim=True)).mean(1) + t.amax(1) * t.var(1))
    check_op(lambda t: cr.logsumexp(t, 1) - t.max(1).values + t.std(1) * t.prod(1),
             [x], lambda t: torch.logsumexp(t, 1) - t.max(1).values + t.std(1) * t.prod(1))


def test_fan_out_of_zero_dimensional_results() -> None:
    """Full reductions give 0-d tensors; used twice, their gradients are summed."""
    (x,) = make_inputs([(3, 4)], seed=7)
    check_op(lambda t: t.std() * t.prod(0).sum() + t.mean() * t.mean(), [x],
             lambda t: t.std() * t.prod(0).sum() + t.mean() * t.mean())


# -- exact rules: ties, zeros, degenerate slices ----------------------------------------


def test_amax_and_full_max_split_ties_evenly() -> None:
    x = t64([1.0, 3.0, 3.0, 2.0])
    np.testing.assert_array_equal(grad_of(cr.amax(x), x), [0.0, 0.5, 0.5, 0.0])
    np.testing.assert_array_equal(grad_of(cr.max(x), x), [0.0, 0.5, 0.5, 0.0])
    m = t64([[5.0, 5.0, 5.0], [1.0, 0.0, 1.0]])
    np.testing.assert_allclose(grad_of(cr.amax(m, 1), m), [[1 / 3] * 3, [0.5, 0.0, 0.5]])
    np.testing.assert_allclose(grad_of(cr.amin(m, 0), m), [[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]])


def test_max_along_dim_sends_the_gradient_to_the_returned_index() -> None:
    x = t64([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    values, indices = cr.max(x, 1)
    assert indices.tolist() == [1, 0]  # the first of tied maxima, as NumPy and PyTorch
    np.testing.assert_array_equal(grad_of(values, x, np.array([2.0, 5.0])),
                                  [[0.0, 2.0, 0.0], [5.0, 0.0, 0.0]])
    values, indices = cr.min(x, 0, keepdim=True)
    assert indices.tolist() == [[0, 1, 1]]
    np.testing.assert_array_equal(grad_of(values, x), [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])


def test_max_of_nan_like_pytorch() -> None:
    x = t64([1.0, np.nan, 3.0])
    values, indices = cr.max(x, 0)
    assert np.isnan(values.item()) and indices.item() == 1
    np.testing.assert_array_equal(grad_of(values, x), [0.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = grad_of(cr.amax(x), x)  # no element equals nan: PyTorch gives nan throughout
    assert np.isnan(g).all()


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_other_is_elementwise(name: str) -> None:
    a, b = t64([1.0, 5.0]), t64([3.0, 2.0])
    out = getattr(cr, name)(a, b)
    np.testing.assert_array_equal(out.numpy(), getattr(np, name + "imum")(a.numpy(), b.numpy()))
    assert out.grad_fn.name() == ("MaximumBackward" if name == "max" else "MinimumBackward")
    assert getattr(a, name)(b).tolist() == out.tolist()
    assert getattr(cr, name)(a, other=b).tolist() == out.tolist()


def test_prod_gradient_with_zeros() -> None:
    x = t64([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]])
    g = grad_of(cr.prod(x, 1), x)
    # one zero: only it has a gradient, the product of the others; two zeros: none
    np.testing.assert_array_equal(g, [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0], [6.0, 3.0, 2.0]])
    y = t64([2.0, 0.0, 3.0])
    np.testing.assert_array_equal(grad_of(cr.prod(y), y), [0.0, 6.0, 0.0])
    z = t64([0.0, 0.0, 5.0])
    np.testing.assert_array_equal(grad_of(cr.prod(z), z), [0.0, 0.0, 0.0])
    # and in float32, and its second derivative where a single zero sits
    f = cr.tensor([2.0, 0.0, 3.0], requires_grad=True)
    (g32,) = cr.autograd.grad(cr.prod(f), [f], cr.tensor(1.0))
    assert g32.dtype == cr.float32 and g32.tolist() == [0.0, 6.0, 0.0]
    assert cr.autograd.gradgradcheck(lambda t: cr.prod(t, 1), [t64([[2.0, 0.0, 3.0]])])
    assert cr.autograd.gradgradcheck(cr.prod, [t64([[2.0, 0.0], [-1.0, 3.0]])])


def test_prod_with_zeros_matches_torch() -> None:
    torch = pytest.importorskip("torch")
    x = np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 1.0], [1.0, 2.0, 3.0]])
    cot = np.array([1.5, -2.0, 0.5])
    t = torch.tensor(x, requires_grad=True)
    (tg,) = torch.autograd.grad(torch.prod(t, 1), [t], torch.tensor(cot))
    c = t64(x)
    np.testing.assert_allclose(grad_of(cr.prod(c, 1), c, cot), tg.numpy(), rtol=1e-12)


def test_std_of_constant_slices_has_zero_gradient() -> None:
    x = t64([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    y = cr.std(x, 1)
    np.testing.assert_allclose(y.numpy(), [0.0, 1.0])
    g = grad_of(y, x)
    np.testing.assert_allclose(g, [[0.0, 0.0, 0.0], [-0.5, 0.0, 0.5]])
    assert np.isfinite(g).all()


def test_var_and_std_argument_forms() -> None:
    (x,) = make_inputs([(3, 5)], seed=8)
    t = cr.tensor(x)
    np.testing.assert_allclose(cr.var(t).numpy(), np.var(x, ddof=1), rtol=1e-12)  # unbiased
    np.testing.assert_allclose(cr.var(t, unbiased=False).numpy(), np.var(x), rtol=1e-12)
    np.testing.assert_allclose(cr.var(t, False).numpy(), np.var(x), rtol=1e-12)
    np.testing.assert_allclose(t.std(1, False, True).numpy(), np.std(x, 1, keepdims=True),
                               rtol=1e-12)
    np.testing.assert_allclose(cr.std(t, dim=0, correction=2).numpy(), np.std(x, 0, ddof=2),
                               rtol=1e-12)
    # N - correction <= 0: inf or nan, without a warning
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(cr.var(cr.tensor([1.0])).item())
        assert cr.var(cr.tensor([1.0, 2.0, 3.0]), correction=5).item() == np.inf
    with pytest.raises(TypeError, match="var: pass either 'unbiased' or 'correction'"):
        cr.var(t, unbiased=True, correction=1)


def test_logsumexp_is_stable_at_extremes() -> None:
    x = cr.tensor([[1e4, 1e4], [-1e4, 0.0]], requires_grad=True)  # float32
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = cr.logsumexp(x, 1)
        (g,) = cr.autograd.grad(y, [x], cr.ones(2))
    assert y.dtype == cr.float32 and g.dtype == cr.float32
    np.testing.assert_allclose(y.numpy(), [1e4 + np.log(2.0), 0.0], rtol=1e-6)
    np.testing.assert_allclose(g.numpy(), [[0.5, 0.5], [0.0, 1.0]], rtol=1e-6)


def test_logsumexp_of_infinities_and_empty_slices() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = cr.logsumexp(t64([[-np.inf, -np.inf], [np.inf, 1.0], [1.0, 2.0]]), 1)
        empty = cr.logsumexp(cr.zeros((0, 3)), 0)
    np.testing.assert_allclose(y.numpy(), [-np.inf, np.inf, np.log(np.e + np.e**2)])
    np.testing.assert_array_equal(empty.numpy(), [-np.inf] * 3)
    i = cr.logsumexp(cr.tensor([1, 2]), 0)
    assert i.dtype == cr.float32
    np.testing.assert_allclose(i.item(), np.log(np.e + np.e**2), rtol=1e-6)


def test_empty_and_zero_dimensional_inputs() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cr.sum(cr.zeros(0)).item() == 0.0
        assert np.isnan(cr.mean(cr.zeros(0)).item())
        assert cr.prod(cr.zeros(0)).item() == 1.0
        assert cr.sum(cr.zeros((0, 3)), 0).tolist() == [0.0, 0.0, 0.0]
    s = t64(3.0)
    for y in (s.sum(0), s.sum(-1), s.mean(0), s.amax(0), s.max(0).values, s.logsumexp(0),
              s.prod(0), s.sum((0,))):
        assert y.shape == () and y.item() == pytest.approx(3.0)
        assert grad_of(y, s) == 1.0
    assert s.max(-1).indices.item() == 0 and s.argmax(0).item() == 0


# -- dtypes ------------------------------------------------------------------------------


def test_integer_and_bool_sums_give_int64() -> None:
    assert cr.sum(cr.tensor([True, True, False])).dtype == cr.int64
    u8 = cr.tensor(np.array([200, 200], dtype=np.uint8))
    s = cr.sum(u8, 0)
    assert s.dtype == cr.int64 and s.item() == 400  # no uint8 overflow
    assert cr.tensor(np.array([1, 2], np.int32)).sum().dtype == cr.int64
    assert cr.prod(cr.tensor(np.array([3, 4], np.int32))).dtype == cr.int64
    assert cr.tensor([[1, 5], [7, 2]]).max().dtype == cr.int64
    assert cr.tensor([True, False]).amax().dtype == cr.bool


def test_sum_and_mean_with_dtype() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = cr.sum(x, dtype=cr.float64)
    assert y.dtype == cr.float64
    (g,) = cr.autograd.grad(y, [x], cr.tensor(1.0, dtype=cr.float64))
    assert g.dtype == cr.float32 and g.tolist() == [1.0, 1.0, 1.0]
    assert cr.sum(x, 0, dtype=cr.float64).dtype == cr.float64
    assert cr.mean(cr.tensor([1, 2]), dtype=cr.float32).item() == 1.5
    assert cr.sum(cr.tensor([1.5, 2.5]), dtype=cr.int64).dtype == cr.int64


def test_mean_var_std_of_integers_raise() -> None:
    i = cr.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="mean: could not infer the output dtype.*int64"):
        cr.mean(i)
    with pytest.raises(RuntimeError, match="var: only floating point dtypes.*int64"):
        cr.var(i)
    with pytest.raises(RuntimeError, match="std: only floating point dtypes"):
        i.std()


def test_float32_stays_float32_for_every_reduction() -> None:
    x = cr.tensor([[0.5, 1.5, 2.5], [1.0, -1.0, 3.0]], requires_grad=True)
    outs = [x.sum(), x.sum(1), x.mean(0), x.var(1), x.std(), x.amax(1), x.amin(),
            x.max(), x.max(1).values, x.min(0, True).values, x.logsumexp(1), x.prod(1),
            x.prod()]
    for y in outs:
        assert y.dtype == cr.float32, y.grad_fn
        (g,) = cr.autograd.grad(y, [x], cr.ones(y.shape))
        assert g.dtype == cr.float32, y.grad_fn


def test_argmax_argmin() -> None:
    x = cr.tensor([[1.0, 3.0, 3.0], [4.0, 0.0, 4.0]])
    assert cr.argmax(x).item() == 3 and cr.argmin(x).item() == 4
    assert cr.argmax(x, 1).tolist() == [1, 0] and x.argmin(dim=0).tolist() == [0, 1, 0]
    assert cr.argmax(x, 1, keepdim=True).shape == (2, 1)
    assert cr.argmax(x, keepdim=True).shape == (1, 1)
    assert cr.argmax(x).dtype == cr.int64 and not cr.argmax(x).requires_grad
    with pytest.raises(TypeError, match="argmax: dim must be an int or None"):
        cr.argmax(x, (0, 1))


# -- arguments: aliases, tuples, keepdim ------------------------------------------------


def test_numpy_aliases_axis_and_keepdims() -> None:
    (x,) = make_inputs([SHAPE], seed=9)
    t = cr.tensor(x)
    for name in ("sum", "mean", "amax", "amin", "prod", "var", "std", "logsumexp"):
        a = getattr(cr, name)(t, dim=(0, 2), keepdim=True) if name != "prod" else \
            cr.prod(cr.prod(t, 0, keepdim=True), 2, keepdim=True)
        b = getattr(cr, name)(t, axis=(0, 2), keepdims=True)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, err_msg=name)
    np.testing.assert_array_equal(t.sum(axis=1).numpy(), x.sum(axis=1))
    assert t.max(axis=1, keepdims=True).values.shape == (2, 1, 4)
    with pytest.raises(TypeError, match="sum: got both 'dim' and its alias 'axis'"):
        t.sum(dim=0, axis=1)


def test_empty_dims_all_with_dim_none_with_axis() -> None:
    """``dim=()`` is PyTorch's "all dimensions"; ``axis=()`` is NumPy's "none", so that a
    backward rule summing over a computed (possibly empty) axis tuple means the same on
    ndarrays and on Tensors."""
    (x,) = make_inputs([(2, 3)], seed=10)
    t = t64(x)
    assert t.sum(dim=()).shape == () and t.amax(()).shape == () and t.mean(dim=[]).shape == ()
    same = t.sum(axis=(), keepdims=True)
    np.testing.assert_array_equal(same.numpy(), x.sum(axis=(), keepdims=True))
    np.testing.assert_array_equal(grad_of(same, t), np.ones((2, 3)))


def test_unbroadcast_under_create_graph_uses_tensor_sum() -> None:
    """The engine sums broadcast gradients with ``tensor.sum(axis=..., keepdims=True)``;
    second derivatives of broadcasting ops go through it."""
    a, b = make_inputs([(2, 3), (3,)], seed=11)
    assert cr.autograd.gradgradcheck(lambda p, q: p * q * q, [t64(a), t64(b)])
    assert cr.autograd.gradgradcheck(lambda p, q: (p + q).sum(axis=(0,), keepdims=True) * q,
                                     [t64(a), t64(b)])


def test_backward_gives_writable_fresh_gradients() -> None:
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x.sum().backward()
    x.mean().backward()
    assert x.grad.numpy().flags.writeable
    np.testing.assert_allclose(x.grad.numpy(), [4 / 3] * 3, rtol=1e-6)
    x.grad.zero_()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]


def test_sum_rule_is_a_repeat_not_a_loop() -> None:
    """sum over dims: each element receives dY of its slice (broadcast back)."""
    x = t64(np.arange(24.0).reshape(SHAPE))
    cot = np.arange(3.0).reshape(1, 3, 1)
    g = grad_of(cr.sum(x, (0, 2), keepdim=True), x, cot)
    np.testing.assert_array_equal(g, np.broadcast_to(cot, SHAPE))
    g = grad_of(cr.mean(x, (0, 2)), x, cot.reshape(3))
    np.testing.assert_array_equal(g, np.broadcast_to(cot / 8, SHAPE))


# -- errors ------------------------------------------------------------------------------


def test_dim_errors() -> None:
    t = cr.ones(2, 3)
    with pytest.raises(IndexError, match=r"sum: dimension out of range \(expected to be in "
                                         r"range of \[-2, 1\], but got 2\)"):
        t.sum(2)
    with pytest.raises(IndexError, match=r"amax: dimension out of range .* got -3"):
        cr.amax(t, (0, -3))
    with pytest.raises(RuntimeError, match="mean: dim 0 appears multiple times"):
        t.mean((0, -2))
    with pytest.raises(TypeError, match="max: dim must be an int, got \\(0, 1\\)"):
        t.max(dim=(0, 1))
    with pytest.raises(TypeError, match="sum: dim must be an int or a tuple of ints"):
        t.sum("a")
    with pytest.raises(TypeError, match="sum: expected a Tensor, got ndarray"):
        cr.sum(np.ones(3))


def test_empty_max_errors() -> None:
    with pytest.raises(RuntimeError, match=r"max: expected reduction dim to be specified .*"
                                           r"shape \(0,\)"):
        cr.max(cr.zeros(0))
    with pytest.raises(RuntimeError, match="argmin: expected reduction dim to be specified"):
        cr.argmin(cr.zeros(0))
    with pytest.raises(IndexError, match=r"amax: expected reduction dim 0 to have non-zero "
                                         r"size \(shape \(0, 3\)\)"):
        cr.amax(cr.zeros((0, 3)), 0)
    with pytest.raises(IndexError, match="max: expected reduction dim 0 to have non-zero"):
        cr.max(cr.zeros((0, 3)), 0)
    assert cr.amax(cr.zeros((0, 3)), 1).shape == (0,)


def test_max_result_is_a_named_tuple() -> None:
    result = cr.max(cr.tensor([[1.0, 5.0], [7.0, 2.0]]), dim=1)
    values, indices = result
    assert result.values is values and result.indices is indices
    assert values.tolist() == [5.0, 7.0] and indices.tolist() == [1, 0]
    assert repr(result).startswith("max(values=tensor(")
    assert type(cr.min(cr.ones(2), 0)).__name__ == "min"


# -- documentation ---------------------------------------------------------------------

OPS = [cls for cls in vars(reduce).values()
       if isinstance(cls, type) and issubclass(cls, Op) and cls is not Op]
RULE = re.compile(r"^d\w+ = \S.*\S  \(\S*\)( = \S+)?$")


@pytest.mark.parametrize("cls", OPS, ids=[c.__name__ for c in OPS])
def test_every_op_documents_its_rule_and_shapes(cls: type[Op]) -> None:
    assert cls.__doc__ and cls.__doc__.strip().count("\n") == 0  # one-line summary
    lines = inspect.cleandoc(cls.backward.__doc__).splitlines()
    assert len(lines) == 1 and RULE.match(lines[0]), f"{cls.__name__}: {lines}"
    assert cls.shapes == {"x": "(*x)", "Y": "(*y)"}


def test_public_names() -> None:
    assert set(reduce.__all__) == {"sum", "mean", "var", "std", "logsumexp", "prod"}
    assert set(minmax.__all__) == {"max", "min", "amax", "amin", "argmax", "argmin"}
    for module in (reduce, minmax):
        for name in module.__all__:
            assert getattr(cr, name) is getattr(module, name), name


def test_prod_second_order_with_two_zeros_in_a_slice() -> None:
    # d2(prod)/dx_i dx_j = product of the others: nonzero for the two zeros of a slice
    a = np.array([[0.0, 2.0, 0.0], [1.0, 0.0, 3.0], [0.0, 0.0, 0.0], [2.0, 3.0, 4.0]])
    x = cr.tensor(a, requires_grad=True)
    (g,) = cr.autograd.grad(x.prod(1).sum(), x, create_graph=True)
    np.testing.assert_array_equal(g.detach().numpy(), [[0, 0, 0], [0, 3, 0], [0, 0, 0],
                                                       [12, 8, 6]])
    (h,) = cr.autograd.grad(g.sum(), x)
    np.testing.assert_array_equal(h.numpy(), [[2, 0, 2], [3, 4, 1], [0, 0, 0], [7, 6, 5]])
    assert cr.autograd.gradgradcheck(lambda t: t.prod(1), (x,))
