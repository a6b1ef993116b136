"""Tests of the shape ops: reshape/view/flatten/squeeze/unsqueeze, transpose/permute,
expand/broadcast_to (the seeds' Repeat/Sum), cat/stack/split/chunk, flip/repeat/tile."""

from __future__ import annotations

import numpy as np
import pytest
from opcheck import check_op, make_inputs

import chainrule as cr

try:  # optional reference for parity checks (check_op skips it when absent)
    import torch
except ImportError:  # pragma: no cover
    torch = None


def _leaf(a: np.ndarray) -> cr.Tensor:
    return cr.tensor(a, requires_grad=True)


# -- reshapes -------------------------------------------------------------------------

RESHAPES = [
    ((2, 3), (3, 2)),
    ((2, 3), (6,)),
    ((2, 3), (-1,)),
    ((2, 3, 2), (2, -1)),
    ((6,), (1, 2, 1, 3)),
    ((1,), ()),
    ((), (1, 1)),
]


@pytest.mark.parametrize(("shape", "new"), RESHAPES)
def test_reshape_and_view(shape: tuple[int, ...], new: tuple[int, ...]) -> None:
    arrays = make_inputs([shape])
    check_op(lambda x: cr.reshape(x, new), arrays, lambda x: torch.reshape(x, new))
    check_op(lambda x: x.view(new), arrays, lambda x: x.view(new), gradgrad=False)
    check_op(lambda x: x.reshape(new), arrays, lambda x: x.reshape(new), gradgrad=False)


def test_reshape_varargs_and_values() -> None:
    a = np.arange(6.0)
    x = cr.tensor(a)
    np.testing.assert_array_equal(cr.reshape(x, 2, 3).numpy(), a.reshape(2, 3))
    np.testing.assert_array_equal(x.reshape(-1, 2).numpy(), a.reshape(-1, 2))
    np.testing.assert_array_equal(cr.view(x, [3, 2]).numpy(), a.reshape(3, 2))
    assert x.reshape(2, 3).grad_fn is None  # nothing recorded without requires_grad


def test_reshape_errors() -> None:
    x = cr.zeros(2, 3)
    with pytest.raises(ValueError, match=r"reshape: shape \(4,\) is invalid for a tensor of "
                       r"shape \(2, 3\) \(6 elements\)"):
        cr.reshape(x, 4)
    with pytest.raises(ValueError, match=r"view: shape \(-1, -1\) is invalid"):
        x.view(-1, -1)
    with pytest.raises(ValueError, match=r"reshape: shape \(4, -1\) is invalid"):
        x.reshape(4, -1)
    with pytest.raises(TypeError, match="reshape: expected a shape of integers"):
        x.reshape(2.0, 3)


@pytest.mark.parametrize(("shape", "start", "end"),
                         [((2, 3, 2), 0, -1), ((2, 3, 2), 1, 2), ((2, 3, 2, 1), 0, 1),
                          ((3,), 0, 0), ((), 0, -1)])
def test_flatten(shape: tuple[int, ...], start: int, end: int) -> None:
    check_op(lambda x: cr.flatten(x, start, end), make_inputs([shape]),
             lambda x: torch.flatten(x, start, end))


def test_flatten_errors() -> None:
    with pytest.raises(IndexError, match=r"flatten: dimension 3 is out of range for a tensor "
                       r"of 2 dimension\(s\)"):
        cr.flatten(cr.zeros(2, 3), 0, 3)
    with pytest.raises(ValueError, match="flatten: start_dim"):
        cr.flatten(cr.zeros(2, 3, 4), 2, 1)


@pytest.mark.parametrize("dim", [None, 0, 2, -1, (0, 2), 1])
def test_squeeze(dim: object) -> None:
    (a,) = make_inputs([(1, 3, 1)])
    check_op(lambda x: cr.squeeze(x, dim), [a],
             lambda x: torch.squeeze(x) if dim is None else torch.squeeze(x, dim))


def test_squeeze_shapes() -> None:
    x = cr.zeros(1, 3, 1, 2)
    assert cr.squeeze(x).shape == (3, 2)
    assert x.squeeze(0).shape == (3, 1, 2)
    assert x.squeeze(1).shape == (1, 3, 1, 2)  # size 3: kept, as in PyTorch
    assert x.squeeze((0, 2)).shape == (3, 2)
    assert cr.squeeze(cr.zeros(1, 1)).shape == ()
    with pytest.raises(IndexError, match="squeeze: dimension 4"):
        x.squeeze(4)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_unsqueeze(dim: int) -> None:
    check_op(lambda x: cr.unsqueeze(x, dim), make_inputs([(2, 3)]),
             lambda x: torch.unsqueeze(x, dim))


def test_unsqueeze_errors() -> None:
    with pytest.raises(IndexError, match=r"unsqueeze: dimension 3 is out of range for a tensor "
                       r"of 3 dimension\(s\) \(expected a value in \[-3, 2\]\)"):
        cr.unsqueeze(cr.zeros(2, 3), 3)


# -- permutations -------------------------------------------------------------------


@pytest.mark.parametrize(("shape", "d0", "d1"),
                         [((2, 3), 0, 1), ((2, 3, 4), 0, 2), ((2, 3, 4), -1, -2), ((3,), 0, 0)])
def test_transpose(shape: tuple[int, ...], d0: int, d1: int) -> None:
    check_op(lambda x: cr.transpose(x, d0, d1), make_inputs([shape]),
             lambda x: torch.transpose(x, d0, d1))


@pytest.mark.parametrize("dims", [(1, 0, 2), (2, 0, 1), (0, 1, 2), (-1, 0, 1)])
def test_permute(dims: tuple[int, ...]) -> None:
    arrays = make_inputs([(2, 3, 4)])
    check_op(lambda x: cr.permute(x, dims), arrays, lambda x: x.permute(dims))
    check_op(lambda x: x.permute(*dims), arrays, lambda x: x.permute(*dims), gradgrad=False)


def test_T_mT_and_fan_out() -> None:
    (a,) = make_inputs([(3, 3)])
    check_op(lambda x: x.T * x, [a], lambda x: x.T * x)
    (b,) = make_inputs([(2, 3, 4)])
    check_op(lambda x: x.mT, [b], lambda x: x.mT)


def test_permute_transpose_errors() -> None:
    x = cr.zeros(2, 3, 4)
    with pytest.raises(ValueError, match=r"permute: got 2 dimensions \(1, 0\) for a tensor of "
                       r"shape \(2, 3, 4\)"):
        x.permute(1, 0)
    with pytest.raises(ValueError, match="permute: dims .* repeat a dimension"):
        x.permute(0, 0, 1)
    with pytest.raises(IndexError, match="transpose: dimension 3 is out of range"):
        x.transpose(0, 3)


# -- expand / broadcast_to: Repeat forward, Sum backward ------------------------------

EXPANDS = [
    ((3,), (2, 3)),
    ((2, 1), (2, 4)),
    ((2, 1), (3, 2, 4)),
    ((1, 1), (2, -1)),
    ((), (2, 3)),
    ((2, 3), (2, 3)),
]


@pytest.mark.parametrize(("shape", "sizes"), EXPANDS)
def test_expand(shape: tuple[int, ...], sizes: tuple[int, ...]) -> None:
    arrays = make_inputs([shape])
    check_op(lambda x: x.expand(*sizes), arrays, lambda x: x.expand(*sizes))
    full = tuple(n if n != -1 else shape[i - len(sizes) + len(shape)]
                 for i, n in enumerate(sizes))
    check_op(lambda x: cr.broadcast_to(x, full), arrays, lambda x: torch.broadcast_to(x, full),
             gradgrad=False)


def test_expand_gradient_is_the_seeds_sum() -> None:
    """Repeat/Sum: broadcasting b (3,) to (N, 3) sums its N incoming gradients."""
    b = _leaf(np.array([1.0, 2.0, 3.0]))
    g = np.arange(12.0).reshape(4, 3)
    b.expand(4, 3).backward(cr.tensor(g))
    np.testing.assert_array_equal(b.grad.numpy(), g.sum(axis=0))


def test_expand_errors() -> None:
    x = cr.zeros(2, 3)
    with pytest.raises(ValueError, match=r"expand: cannot expand shape \(2, 3\) to \(2, 4\): "
                       r"the size 3 must match 4 at non-singleton dimension 1"):
        x.expand(2, 4)
    with pytest.raises(ValueError, match="expand: the target shape .* fewer dimensions"):
        x.expand(3)
    with pytest.raises(ValueError, match="expand: -1 is not allowed for the new leading"):
        x.expand(-1, 2, 3)
    with pytest.raises(ValueError, match=r"broadcast_to: cannot expand shape \(2, 3\)"):
        cr.broadcast_to(x, (3, 3))


# -- cat / stack ----------------------------------------------------------------------

CATS = [
    ([(2, 3), (4, 3)], 0),
    ([(2, 3), (2, 1), (2, 2)], 1),
    ([(2, 3), (2, 3)], -1),
    ([(3,), (2,)], 0),
    ([(2, 1, 3), (2, 2, 3)], 1),
]


@pytest.mark.parametrize(("shapes", "dim"), CATS)
def test_cat(shapes: list[tuple[int, ...]], dim: int) -> None:
    check_op(lambda *xs: cr.cat(xs, dim), make_inputs(shapes),
             lambda *xs: torch.cat(xs, dim))


def test_cat_aliases_fan_out_and_constants() -> None:
    (a,) = make_inputs([(2, 3)])
    check_op(lambda x: cr.concat([x, x * 2, x], 0), [a],
             lambda x: torch.concat([x, x * 2, x], 0))
    # a constant among the inputs gets no gradient, the tensors still do
    x = _leaf(a)
    y = cr.cat([x, cr.ones(1, 3, dtype=cr.float64)], dim=0)
    y.backward(cr.ones(3, 3, dtype=cr.float64))
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((2, 3)))


@pytest.mark.parametrize(("shape", "n", "dim"),
                         [((3,), 2, 0), ((2, 3), 3, 0), ((2, 3), 2, 1), ((2, 3), 4, -1),
                          ((), 3, 0)])
def test_stack(shape: tuple[int, ...], n: int, dim: int) -> None:
    shapes = [shape] * n
    check_op(lambda *xs: cr.stack(xs, dim), make_inputs(shapes),
             lambda *xs: torch.stack(xs, dim))


def test_stack_fan_out() -> None:
    (a,) = make_inputs([(2, 2)])
    check_op(lambda x: cr.stack([x, x], 1), [a], lambda x: torch.stack([x, x], 1))


def test_cat_stack_errors() -> None:
    a, b = cr.zeros(2, 3), cr.zeros(2, 4)
    with pytest.raises(ValueError, match=r"cat: tensors must have the same shape except in "
                       r"dimension 0; got shapes \(2, 3\), \(2, 4\)"):
        cr.cat([a, b])
    with pytest.raises(ValueError, match=r"cat: tensors must have the same shape"):
        cr.cat([a, cr.zeros(2, 3, 1)], 1)
    with pytest.raises(ValueError, match="cat: zero-dimensional tensors cannot be concatenated"):
        cr.cat([cr.tensor(1.0), cr.tensor(2.0)])
    with pytest.raises(ValueError, match="cat: expected a non-empty sequence"):
        cr.cat([])
    with pytest.raises(TypeError, match="cat: expected a sequence of tensors"):
        cr.cat(a)
    with pytest.raises(ValueError, match=r"stack: expects each tensor to be equal size, got "
                       r"shapes \(2, 3\), \(2, 4\)"):
        cr.stack([a, b])
    with pytest.raises(IndexError, match="stack: dimension 3 is out of range"):
        cr.stack([a, a], 3)
    assert cr.cat([a, b], 1).shape == (2, 7)


# -- split / chunk --------------------------------------------------------------------


@pytest.mark.parametrize(("n", "size", "expected"),
                         [(6, 2, [2, 2, 2]), (7, 3, [3, 3, 1]), (5, 5, [5]), (4, 10, [4]),
                          (6, [1, 2, 3], [1, 2, 3]), (4, [0, 4], [0, 4]), (0, 2, [0])])
def test_split_values_like_torch(n: int, size: object, expected: list[int]) -> None:
    a = np.arange(2.0 * n).reshape(2, n)
    pieces = cr.split(cr.tensor(a), size, dim=1)
    assert [p.shape[1] for p in pieces] == expected
    if torch is not None:
        ref = torch.split(torch.tensor(a), size, dim=1)
        assert len(pieces) == len(ref)
        for p, r in zip(pieces, ref, strict=True):
            np.testing.assert_array_equal(p.numpy(), r.numpy())
    np.testing.assert_array_equal(np.concatenate([p.numpy() for p in pieces], axis=1), a)


@pytest.mark.parametrize(("n", "chunks"), [(6, 3), (5, 4), (6, 4), (7, 3), (2, 5), (0, 3)])
def test_chunk_sizes_follow_torch(n: int, chunks: int) -> None:
    expected = {  # computed with torch.chunk
        (6, 3): [2, 2, 2], (5, 4): [2, 2, 1], (6, 4): [2, 2, 2], (7, 3): [3, 3, 1],
        (2, 5): [1, 1], (0, 3): [0, 0, 0],
    }[(n, chunks)]
    pieces = cr.chunk(cr.zeros(n, 2), chunks)
    assert [p.shape[0] for p in pieces] == expected
    if torch is not None:
        assert [p.shape[0] for p in torch.chunk(torch.zeros(n, 2), chunks)] == expected


def test_split_chunk_gradients() -> None:
    (a,) = make_inputs([(5, 2)])

    def pieces_weighted(x: cr.Tensor) -> cr.Tensor:
        p = cr.split(x, 2)
        return cr.cat([p[0] * 1.0, p[1] * 2.0, p[2] * 3.0])

    check_op(pieces_weighted, [a])
    check_op(lambda x: x.chunk(3, 1)[1], make_inputs([(2, 6)]),
             lambda x: x.chunk(3, 1)[1])
    check_op(lambda x: x.split([1, 3], -1)[1], make_inputs([(2, 4)]),
             lambda x: x.split([1, 3], -1)[1])
    # every piece used: the gradients land in their own slices
    x = _leaf(np.zeros((5, 2)))
    p = cr.chunk(x, 3)
    total = p[0] * 1.0
    total = cr.cat([total, p[1] * 2.0, p[2] * 3.0])
    total.backward(cr.ones(5, 2, dtype=cr.float64))
    np.testing.assert_array_equal(x.grad.numpy()[:, 0], [1, 1, 2, 2, 3])


def test_split_chunk_errors() -> None:
    x = cr.zeros(4, 3)
    with pytest.raises(ValueError, match=r"split: sections \[1, 2\] must be non-negative and "
                       r"sum to the size 4 of dimension 0 of shape \(4, 3\)"):
        cr.split(x, [1, 2])
    with pytest.raises(ValueError, match="split: split_size must be positive, got 0"):
        cr.split(x, 0)
    with pytest.raises(ValueError, match="chunk: chunks must be positive"):
        cr.chunk(x, 0)
    with pytest.raises(IndexError, match="split: dimension 2 is out of range"):
        cr.split(x, 1, 2)


# -- flip / repeat / tile --------------------------------------------------------------


@pytest.mark.parametrize("dims", [0, (1,), (0, 1), -1])
def test_flip(dims: object) -> None:
    d = dims if isinstance(dims, tuple) else (dims,)
    check_op(lambda x: cr.flip(x, dims), make_inputs([(2, 3)]), lambda x: torch.flip(x, d))


@pytest.mark.parametrize(("shape", "sizes"),
                         [((2, 3), (2, 1)), ((3,), (2, 2)), ((2, 1), (1, 3)), ((2,), (1, 1, 2))])
def test_repeat_and_tile(shape: tuple[int, ...], sizes: tuple[int, ...]) -> None:
    arrays = make_inputs([shape])
    check_op(lambda x: cr.repeat(x, *sizes), arrays, lambda x: x.repeat(*sizes))
    check_op(lambda x: cr.tile(x, sizes[1:]), arrays, lambda x: torch.tile(x, sizes[1:]),
             gradgrad=False)


def test_repeat_errors() -> None:
    with pytest.raises(ValueError, match="repeat: the number of repeats"):
        cr.repeat(cr.zeros(2, 3), 2)


# -- views share their base's version counter ---------------------------------------


def test_views_share_the_version_counter() -> None:
    """A view saved by a node is checked against in-place changes of its base (PyTorch)."""
    w = _leaf(np.ones((2, 3)))
    x = _leaf(np.ones((4, 3)))
    y = x @ w.T  # MatMul saves w.T, a view of w's memory
    with cr.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(cr.ones(4, 2, dtype=cr.float64))
    base = cr.tensor(np.arange(6.0).reshape(2, 3))
    assert base.reshape(3, 2)._version is base._version
    assert base[0]._version is base._version
    assert base[[0, 1]]._version is not base._version  # advanced indexing copies
    assert base.T.reshape(-1)._version is not base._version  # a copy
