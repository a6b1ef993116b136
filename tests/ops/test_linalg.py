"""Tests of matmul/mm/bmm/outer/dot/einsum and the fused Linear and Bilinear nodes,
including the seeds' affine and bilinear rules computed by hand in NumPy."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr
from chainrule.ops.linalg import Bilinear, Linear, MatMul

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _grads(out: cr.Tensor, xs: list[cr.Tensor], cot: np.ndarray) -> list[np.ndarray]:
    return [g.numpy() for g in cr.autograd.grad(out, xs, cr.tensor(cot))]


def _leaf(a: np.ndarray) -> cr.Tensor:
    return cr.tensor(a, requires_grad=True)


# -- matmul ---------------------------------------------------------------------------

MATMUL_SHAPES = [
    ((3, 4), (4, 2)),  # the seeds' case
    ((4,), (4,)),  # dot product -> scalar
    ((4,), (4, 3)),  # vector @ matrix
    ((3, 4), (4,)),  # matrix @ vector
    ((2, 3, 4), (4, 2)),  # batch @ matrix
    ((3, 4), (2, 4, 2)),  # matrix @ batch
    ((2, 1, 3, 2), (3, 2, 2)),  # broadcast batch dims
    ((4,), (2, 4, 3)),  # vector @ batch
    ((2, 3, 4), (4,)),  # batch @ vector
    ((2, 3, 2), (2, 2, 3)),  # equal batches
]


@pytest.mark.parametrize(("sa", "sb"), MATMUL_SHAPES)
def test_matmul_gradients_and_parity(sa: tuple[int, ...], sb: tuple[int, ...]) -> None:
    check_op(cr.matmul, make_inputs([sa, sb]), lambda a, b: torch.matmul(a, b))


def test_matmul_operator_and_values() -> None:
    a, b = make_inputs([(2, 3, 4), (4, 5)], seed=3)
    out = cr.tensor(a) @ cr.tensor(b)
    np.testing.assert_allclose(out.numpy(), a @ b, rtol=1e-12)
    # an ndarray on the left goes through __rmatmul__
    np.testing.assert_allclose((b.T @ cr.tensor(a[0].T)).numpy(), b.T @ a[0].T, rtol=1e-12)


def test_matmul_fan_out() -> None:
    """x @ x.T uses x twice: its gradient is the sum of both (the seeds' Branch)."""
    (x,) = make_inputs([(3, 4)], seed=5)
    check_op(lambda t: t @ t.T, [x], lambda t: t @ t.T)
    (s,) = make_inputs([(3, 3)], seed=6)
    check_op(lambda t: cr.matmul(t, t), [s], lambda t: t @ t)
    # by hand: d(sum(C * (X X^T)))/dX = (C + C^T) X
    c = np.random.default_rng(0).standard_normal((3, 3))
    t = _leaf(x)
    (g,) = _grads(t @ t.T, [t], c)
    np.testing.assert_allclose(g, (c + c.T) @ x, rtol=1e-12)


def test_matmul_node_and_docstring() -> None:
    a, b = (_leaf(v) for v in make_inputs([(2, 3), (3, 4)]))
    y = a @ b
    assert isinstance(y.grad_fn, MatMul) and y.grad_fn.name() == "MatMulBackward"
    doc = inspect.cleandoc(MatMul.backward.__doc__)
    assert doc.splitlines() == ["dA = dY @ B.T  (N,K) = (N,M)(M,K)",
                                "dB = A.T @ dY  (K,M) = (K,N)(N,M)"]
    assert MatMul.shapes == {"A": "(N,K)", "B": "(K,M)", "Y": "(N,M)"}


def test_matmul_skips_unneeded_gradient() -> None:
    a = cr.tensor(np.ones((2, 3)))
    b = _leaf(np.ones((3, 4)))
    (a @ b).backward(cr.ones(2, 4, dtype=cr.float64))
    assert a.grad is None and b.grad.shape == (3, 4)
    np.testing.assert_allclose(b.grad.numpy(), np.full((3, 4), 2.0))


def test_matmul_float32_stays_float32() -> None:
    a = cr.tensor(np.ones((8, 3), np.float32), requires_grad=True)
    b = cr.tensor(np.ones((3, 2), np.float32), requires_grad=True)
    y = a @ b
    y.backward(cr.ones(8, 2))
    assert y.dtype == cr.float32 and a.grad.dtype == cr.float32 and b.grad.dtype == cr.float32


def test_matmul_errors() -> None:
    a, b = cr.zeros(2, 3), cr.zeros(4, 5)
    msg = r"matmul: shapes \(2, 3\) and \(4, 5\) are not aligned: 3 \(dim 1 of the first\) " \
          r"!= 4 \(dim 0 of the second\)"
    with pytest.raises(ValueError, match=msg):
        cr.matmul(a, b)
    with pytest.raises(ValueError, match=r"matmul: shapes \(2, 3, 4\) and \(5, 2\) are not "
                       r"aligned: 4 \(dim 2 of the first\) != 5 \(dim 0 of the second\)"):
        cr.zeros(2, 3, 4) @ cr.zeros(5, 2)
    with pytest.raises(ValueError, match=r"matmul: the batch dimensions \(2,\) and \(3,\)"):
        cr.zeros(2, 3, 4) @ cr.zeros(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1-D"):
        cr.matmul(cr.tensor(1.0), cr.zeros(3))
    with pytest.raises(RuntimeError, match="matmul: expected all operands to have the same "
                       "dtype, got float32, float64"):
        cr.matmul(cr.zeros(2, 2), cr.zeros(2, 2, dtype=cr.float64))


def test_mm_bmm_outer_dot() -> None:
    a, b = make_inputs([(3, 4), (4, 2)], seed=1)
    check_op(cr.mm, [a, b], lambda x, y: torch.mm(x, y))
    a, b = make_inputs([(2, 3, 4), (2, 4, 2)], seed=2)
    check_op(cr.bmm, [a, b], lambda x, y: torch.bmm(x, y))
    a, b = make_inputs([(3,), (4,)], seed=3)
    check_op(cr.outer, [a, b], lambda x, y: torch.outer(x, y))
    (v,) = make_inputs([(3,)], seed=4)
    check_op(lambda x: cr.outer(x, x), [v], lambda x: torch.outer(x, x))
    a, b = make_inputs([(5,), (5,)], seed=5)
    check_op(cr.dot, [a, b], lambda x, y: torch.dot(x, y))


def test_mm_bmm_outer_errors() -> None:
    with pytest.raises(ValueError, match=r"mm: expected two 2-D tensors, got shapes \(3,\) and"):
        cr.mm(cr.zeros(3), cr.zeros(3, 2))
    with pytest.raises(ValueError, match=r"mm: shapes \(2, 3\) and \(2, 3\) are not aligned"):
        cr.mm(cr.zeros(2, 3), cr.zeros(2, 3))
    with pytest.raises(ValueError, match=r"bmm: expected two 3-D tensors"):
        cr.bmm(cr.zeros(2, 3), cr.zeros(3, 2))
    with pytest.raises(ValueError, match=r"bmm: batch sizes differ: shapes \(2, 3, 4\) and "
                       r"\(1, 4, 2\)"):
        cr.bmm(cr.zeros(2, 3, 4), cr.zeros(1, 4, 2))
    with pytest.raises(ValueError, match=r"outer: expected two 1-D tensors"):
        cr.outer(cr.zeros(2, 2), cr.zeros(2))
    with pytest.raises(ValueError, match=r"dot: expected two 1-D tensors"):
        cr.dot(cr.zeros(2, 2), cr.zeros(2))


# -- einsum ---------------------------------------------------------------------------

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 2)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 2)]),
    ("ij->ji", [(3, 4)]),
    ("ij->j", [(3, 4)]),  # label only in the operand: restored by ones
    ("ij->", [(3, 4)]),
    ("i,i->", [(4,), (4,)]),
    ("i,j->ij", [(3,), (4,)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ij,jk", [(3, 4), (4, 2)]),  # implicit output 'ik'
    ("ba", [(3, 4)]),  # implicit output 'ab': a transpose
    ("...ij,...jk->...ik", [(2, 3, 4), (4, 2)]),  # ellipsis, broadcast batch
    ("b...i,i->b...", [(2, 3, 4), (4,)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),  # a size-1 dimension broadcast
    ("ii->i", [(3, 3)]),  # diagonal
    ("ii->", [(3, 3)]),  # trace
    ("bii->bi", [(2, 3, 3)]),  # batched diagonal
    ("iij,j->i", [(3, 3, 2), (2,)]),  # diagonal inside a contraction
    ("iii->i", [(2, 2, 2)]),  # a label three times
    ("i i , i j -> j", [(3, 3), (3, 2)]),  # spaces are ignored
]


@pytest.mark.parametrize(("eq", "shapes"), EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum(eq: str, shapes: list[tuple[int, ...]]) -> None:
    arrays = make_inputs(shapes, seed=len(eq))
    check_op(lambda *xs: cr.einsum(eq, *xs), arrays, lambda *xs: torch.einsum(eq, *xs))
    out = cr.einsum(eq, *[cr.tensor(a) for a in arrays])
    np.testing.assert_allclose(out.numpy(), np.einsum(eq, *arrays), rtol=1e-12)


def test_einsum_list_form_and_fan_out() -> None:
    (x,) = make_inputs([(3, 4)], seed=2)
    check_op(lambda t: cr.einsum("ij,ij->", t, t), [x], lambda t: torch.einsum("ij,ij->", t, t))
    t = cr.tensor(x)
    np.testing.assert_allclose(cr.einsum("ij,jk", [t, t.T]).numpy(), x @ x.T, rtol=1e-12)


def test_einsum_errors() -> None:
    a = cr.zeros(2, 3)
    with pytest.raises(ValueError, match=r"einsum: equation 'ij,jk->ik' has 2 operand\(s\) "
                       "but 1 were given"):
        cr.einsum("ij,jk->ik", a)
    with pytest.raises(ValueError, match=r"einsum: the subscripts 'ijk' do not match an "
                       r"operand of shape \(2, 3\)"):
        cr.einsum("ijk->i", a)
    with pytest.raises(ValueError, match=r"einsum: cannot evaluate 'ij->k' on shapes \(2, 3\)"):
        cr.einsum("ij->k", a)
    with pytest.raises(ValueError, match="einsum: invalid equation"):
        cr.einsum("i1->i", a)
    with pytest.raises(RuntimeError, match="einsum: expected all operands to have the same "
                       "dtype, got float32, float64"):
        cr.einsum("ij,jk", a, cr.zeros(3, 2, dtype=cr.float64))


# -- Linear ---------------------------------------------------------------------------


def _torch_linear(x: object, w: object, b: object = None) -> object:
    return torch.nn.functional.linear(x, w, b)


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 3, 3), (3,), (2, 1, 2, 3)])
def test_linear_with_bias(x_shape: tuple[int, ...]) -> None:
    arrays = make_inputs([x_shape, (4, 3), (4,)], seed=len(x_shape))
    check_op(cr.linear, arrays, _torch_linear)


@pytest.mark.parametrize("x_shape", [(5, 3), (2, 3, 3)])
def test_linear_without_bias(x_shape: tuple[int, ...]) -> None:
    arrays = make_inputs([x_shape, (2, 3)], seed=7)
    check_op(cr.linear, arrays, _torch_linear)


def test_linear_fan_out() -> None:
    """The same tensor as input and weight: both gradients add up."""
    (w,) = make_inputs([(3, 3)], seed=8)
    check_op(lambda t: cr.linear(t, t), [w], lambda t: _torch_linear(t, t))


def test_linear_is_one_node_with_the_seeds_rules() -> None:
    x, w, b = (_leaf(a) for a in make_inputs([(5, 3), (4, 3), (4,)]))
    y = cr.linear(x, w, b)
    assert type(y.grad_fn) is Linear and y.grad_fn.name() == "LinearBackward"
    assert all(t is leaf for (t, _), leaf in zip(y.grad_fn.next_functions, (x, w, b),
                                                  strict=True))
    doc = inspect.cleandoc(Linear.backward.__doc__)
    assert doc.splitlines() == [
        "dX = dY @ W  (N,in) = (N,out)(out,in)",
        "dW = dY.T @ X  (out,in) = (out,N)(N,in)",
        "db = dY.sum(0)  (out,)",
    ]
    assert Linear.shapes == {"X": "(N,in)", "W": "(out,in)", "b": "(out,)", "Y": "(N,out)"}


def test_linear_rules_by_hand() -> None:
    """dX = dY W, dW = dY^T X, db = dY^T 1 (seeds 001, PyTorch's layout Y = X W^T + b)."""
    X, W, b, dY = make_inputs([(6, 3), (4, 3), (4,), (6, 4)], seed=11)
    xs = [_leaf(X), _leaf(W), _leaf(b)]
    y = cr.linear(*xs)
    np.testing.assert_allclose(y.detach().numpy(), X @ W.T + b, rtol=1e-12)
    dX, dW, db = _grads(y, xs, dY)
    np.testing.assert_allclose(dX, dY @ W, rtol=1e-12)
    np.testing.assert_allclose(dW, dY.T @ X, rtol=1e-12)
    np.testing.assert_allclose(db, dY.T @ np.ones(6), rtol=1e-12)


def test_linear_first_layer_skips_input_gradient() -> None:
    x = cr.tensor(np.ones((4, 3), np.float32))  # data: no gradient wanted
    w = cr.tensor(np.ones((2, 3), np.float32), requires_grad=True)
    b = cr.tensor(np.zeros(2, np.float32), requires_grad=True)
    y = cr.linear(x, w, b)
    assert y.grad_fn.needs_input_grad == (False, True, True)
    y.backward(cr.ones(4, 2))
    assert x.grad is None and w.grad.dtype == cr.float32 and b.grad.dtype == cr.float32
    np.testing.assert_allclose(w.grad.numpy(), np.full((2, 3), 4.0))
    np.testing.assert_allclose(b.grad.numpy(), np.full(2, 4.0))


def test_linear_float32_forward_is_exact_numpy() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((16, 8)).astype(np.float32)
    W = rng.standard_normal((5, 8)).astype(np.float32)
    b = rng.standard_normal(5).astype(np.float32)
    y = cr.linear(cr.tensor(X), cr.tensor(W), cr.tensor(b))
    assert y.dtype == cr.float32
    np.testing.assert_array_equal(y.numpy(), X @ W.T + b)


def test_linear_errors() -> None:
    with pytest.raises(ValueError, match=r"linear: input \(2, 3\) does not match weight "
                       r"\(out=4, in=5\)"):
        cr.linear(cr.zeros(2, 3), cr.zeros(4, 5))
    with pytest.raises(ValueError, match=r"linear: weight must be 2-D"):
        cr.linear(cr.zeros(2, 3), cr.zeros(3))
    with pytest.raises(ValueError, match=r"linear: bias of shape \(3,\) does not match weight "
                       r"\(out=4, in=3\)"):
        cr.linear(cr.zeros(2, 3), cr.zeros(4, 3), cr.zeros(3))
    with pytest.raises(RuntimeError, match="linear: expected all operands to have the same "
                       "dtype, got float64, float32"):
        cr.linear(cr.zeros(2, 3, dtype=cr.float64), cr.zeros(4, 3))


# -- the seeds' affine layer Y = X W + B (W of shape (in, out)) -------------------------


def test_seeds_affine_rules_batch() -> None:
    """Seeds 000/002: Y = X.W + B gives dX = dY.W^T, dW = X^T.dY, dB = sum over N of dY."""
    X, W, B, dY = make_inputs([(5, 3), (3, 4), (4,), (5, 4)], seed=21)
    xs = [_leaf(X), _leaf(W), _leaf(B)]
    y = xs[0] @ xs[1] + xs[2]
    np.testing.assert_allclose(y.detach().numpy(), X @ W + B, rtol=1e-12)
    dX, dW, dB = _grads(y, xs, dY)
    np.testing.assert_allclose(dX, dY @ W.T, rtol=1e-12)
    np.testing.assert_allclose(dW, X.T @ dY, rtol=1e-12)
    np.testing.assert_allclose(dB, dY.sum(axis=0), rtol=1e-12)


def test_seeds_affine_rules_one_sample() -> None:
    """Seed 000 for one sample: x (in,), dx = dy W^T, dW = x^T dy (an outer product)."""
    x, W, b, dy = make_inputs([(3,), (3, 4), (4,), (4,)], seed=22)
    xs = [_leaf(x), _leaf(W), _leaf(b)]
    dx, dW, db = _grads(xs[0] @ xs[1] + xs[2], xs, dy)
    np.testing.assert_allclose(dx, W @ dy, rtol=1e-12)
    np.testing.assert_allclose(dW, np.outer(x, dy), rtol=1e-12)
    np.testing.assert_allclose(db, dy, rtol=1e-12)


# -- Bilinear -------------------------------------------------------------------------


def _torch_bilinear(x1: object, x2: object, w: object, b: object = None) -> object:
    return torch.nn.functional.bilinear(x1, x2, w, b)


@pytest.mark.parametrize("batch", [(4,), (2, 3), ()])
def test_bilinear_with_bias(batch: tuple[int, ...]) -> None:
    arrays = make_inputs([(*batch, 3), (*batch, 2), (2, 3, 2), (2,)], seed=len(batch))
    check_op(cr.bilinear, arrays, _torch_bilinear if batch else None)


def test_bilinear_without_bias() -> None:
    arrays = make_inputs([(4, 2), (4, 3), (3, 2, 3)], seed=9)
    check_op(cr.bilinear, arrays, _torch_bilinear)


def test_bilinear_fan_out() -> None:
    """x1 and x2 the same tensor: z_k = x^T A_k x."""
    x, a = make_inputs([(3, 2), (2, 2, 2)], seed=10)
    check_op(lambda t, w: cr.bilinear(t, t, w), [x, a], lambda t, w: _torch_bilinear(t, t, w))


def test_bilinear_matches_torch_module_semantics() -> None:
    torch = pytest.importorskip("torch")
    x1, x2, w, b = make_inputs([(6, 4), (6, 5), (3, 4, 5), (3,)], seed=12)
    out = cr.bilinear(*(cr.tensor(v) for v in (x1, x2, w, b)))
    ref = torch.nn.functional.bilinear(*(torch.tensor(v) for v in (x1, x2, w, b)))
    np.testing.assert_allclose(out.numpy(), ref.numpy(), rtol=1e-12, atol=1e-12)


def test_bilinear_rules_by_hand() -> None:
    """Seed 001: z_k = x1^T A_k x2 + b_k; dx1 = sum_k dz_k A_k x2, dx2 = sum_k dz_k A_k^T x1,
    dA_k = sum_n dz_nk x1_n x2_n^T, db = sum_n dz_n."""
    x1, x2, A, b, dZ = make_inputs([(5, 3), (5, 4), (2, 3, 4), (2,), (5, 2)], seed=13)
    xs = [_leaf(v) for v in (x1, x2, A, b)]
    z = cr.bilinear(*xs)
    L, N = A.shape[0], x1.shape[0]
    z_hand = np.array([[x1[n] @ A[k] @ x2[n] + b[k] for k in range(L)] for n in range(N)])
    np.testing.assert_allclose(z.detach().numpy(), z_hand, rtol=1e-12)
    dx1 = np.stack([sum(dZ[n, k] * A[k] @ x2[n] for k in range(L)) for n in range(N)])
    dx2 = np.stack([sum(dZ[n, k] * A[k].T @ x1[n] for k in range(L)) for n in range(N)])
    dA = np.stack([sum(dZ[n, k] * np.outer(x1[n], x2[n]) for n in range(N)) for k in range(L)])
    db = dZ.sum(axis=0)
    for got, want in zip(_grads(z, xs, dZ), (dx1, dx2, dA, db), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_bilinear_is_one_node_with_the_seeds_rules() -> None:
    xs = [_leaf(v) for v in make_inputs([(2, 3), (2, 2), (4, 3, 2), (4,)])]
    z = cr.bilinear(*xs)
    assert type(z.grad_fn) is Bilinear and z.grad_fn.name() == "BilinearBackward"
    doc = inspect.cleandoc(Bilinear.backward.__doc__).splitlines()
    assert [line.split("  ")[0] for line in doc] == [
        "dx1 = sum_k dy_k A_k x2",
        "dx2 = sum_k dy_k A_k^T x1",
        "dA_k = sum_n dy_nk x1_n x2_n^T",
        "db = dY.sum(0)",
    ]


def test_bilinear_skips_unneeded_and_keeps_float32() -> None:
    rng = np.random.default_rng(3)
    x1 = cr.tensor(rng.standard_normal((4, 3)).astype(np.float32))
    x2 = cr.tensor(rng.standard_normal((4, 2)).astype(np.float32))
    w = cr.tensor(rng.standard_normal((5, 3, 2)).astype(np.float32), requires_grad=True)
    z = cr.bilinear(x1, x2, w)
    assert z.dtype == cr.float32
    z.backward(cr.ones(4, 5))
    assert x1.grad is None and x2.grad is None and w.grad.dtype == cr.float32


def test_bilinear_errors() -> None:
    w = cr.zeros(4, 3, 2)
    with pytest.raises(ValueError, match=r"bilinear: input1 \(5, 2\) does not match weight "
                       r"\(out=4, in1=3, in2=2\)"):
        cr.bilinear(cr.zeros(5, 2), cr.zeros(5, 2), w)
    with pytest.raises(ValueError, match=r"bilinear: input2 \(5, 3\) does not match weight "
                       r"\(out=4, in1=3, in2=2\)"):
        cr.bilinear(cr.zeros(5, 3), cr.zeros(5, 3), w)
    with pytest.raises(ValueError, match=r"bilinear: input1 \(5, 3\) and input2 \(4, 2\) must "
                       "have the same batch dimensions"):
        cr.bilinear(cr.zeros(5, 3), cr.zeros(4, 2), w)
    with pytest.raises(ValueError, match=r"bilinear: weight must be 3-D"):
        cr.bilinear(cr.zeros(5, 3), cr.zeros(5, 2), cr.zeros(3, 2))
    with pytest.raises(ValueError, match=r"bilinear: bias of shape \(2,\)"):
        cr.bilinear(cr.zeros(5, 3), cr.zeros(5, 2), w, cr.zeros(2))


def test_linear_and_bilinear_errors_name_every_shape() -> None:
    with pytest.raises(ValueError) as err:
        cr.linear(cr.zeros(4, 3), cr.zeros(5, 2))
    assert "(4, 3)" in str(err.value) and "of shape (5, 2)" in str(err.value)
    with pytest.raises(ValueError) as err:
        cr.bilinear(cr.zeros(4, 3), cr.zeros(4, 2), cr.zeros(5, 3, 3))
    msg = str(err.value)
    assert all(s in msg for s in ("(4, 3)", "(4, 2)", "(5, 3, 3)")), msg
