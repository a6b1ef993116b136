"""Tests of ops/composite.py (unbind diag diagonal trace masked_select addmm var_mean
meshgrid broadcast_tensors unique nonzero) against PyTorch, and cr.set_printoptions."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import check_op, make_inputs, torch


def _tt(a: np.ndarray) -> object:
    return torch.tensor(a) if torch is not None else None


CASES = [  # (chainrule function, torch function) of one (3, 4) input
    (lambda t: cr.stack(cr.unbind(t, 1)[::-1]), lambda t: torch.stack(torch.unbind(t, 1)[::-1])),
    (lambda t: cr.diag(t, 1), lambda t: torch.diag(t, 1)),
    (lambda t: cr.diag(cr.diag(t, -1), 1), lambda t: torch.diag(torch.diag(t, -1), 1)),
    (lambda t: t.diagonal(0, 1, 0), lambda t: t.diagonal(0, 1, 0)),
    (lambda t: cr.trace(t), lambda t: torch.trace(t)),
    (lambda t: cr.masked_select(t, cr.tensor([True, False, True, True])),
     lambda t: torch.masked_select(t, torch.tensor([True, False, True, True]))),
    (lambda t: cr.addmm(t, t, t.T @ t, beta=0.5, alpha=2.0),
     lambda t: torch.addmm(t, t, t.T @ t, beta=0.5, alpha=2.0)),
    (lambda t: cr.var_mean(t, 1)[0] * cr.var_mean(t, 1)[1],
     lambda t: torch.var_mean(t, 1)[0] * torch.var_mean(t, 1)[1]),
    (lambda t: cr.std_mean(t, 0, keepdim=True)[0],
     lambda t: torch.std_mean(t, 0, keepdim=True)[0]),
    (lambda t: cr.meshgrid(t[0], t[1, :3], indexing="xy")[1] * 2,
     lambda t: torch.meshgrid(t[0], t[1, :3], indexing="xy")[1] * 2),
    (lambda t: sum(cr.meshgrid(t[0], t[1, :3], indexing="ij")),
     lambda t: sum(torch.meshgrid(t[0], t[1, :3], indexing="ij"))),
    (lambda t: cr.broadcast_tensors(t[:1], t[:, :1])[0] * cr.broadcast_tensors(t[:1], t)[0],
     lambda t: torch.broadcast_tensors(t[:1], t[:, :1])[0]
     * torch.broadcast_tensors(t[:1], t)[0]),
]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_composites_equal_torch_with_gradients(k: int) -> None:
    (x,) = make_inputs([(3, 4)], seed=k)
    fn, tfn = CASES[k]
    check_op(fn, [x], tfn if torch is not None else None)


def test_unique_nonzero_and_errors() -> None:
    a = np.array([[3, 1, 3], [0, 1, 2]])
    x = cr.tensor(a)
    vals, inv, counts = cr.unique(x, return_inverse=True, return_counts=True)
    assert vals.tolist() == [0, 1, 2, 3] and counts.tolist() == [1, 2, 1, 2]
    assert inv.shape == (2, 3) and (vals.numpy()[inv.numpy()] == a).all()
    assert x.nonzero().tolist() == [[0, 0], [0, 1], [0, 2], [1, 1], [1, 2]]
    rows, cols = cr.nonzero(x, as_tuple=True)
    assert rows.tolist() == [0, 0, 0, 1, 1] and cols.dtype == cr.int64
    if torch is not None:
        np.testing.assert_array_equal(x.nonzero().numpy(), torch.tensor(a).nonzero().numpy())
        np.testing.assert_array_equal(cr.unique(x, dim=0).numpy(),
                                      torch.unique(torch.tensor(a), dim=0).numpy())
    with pytest.raises(ValueError, match="trace: expected a matrix"):
        cr.trace(cr.ones(3))
    with pytest.raises(TypeError, match="masked_select: expected a boolean mask"):
        cr.masked_select(cr.ones(3), cr.ones(3))


def test_apply_and_is_contiguous() -> None:
    x = cr.tensor([1.0, 2.0])
    assert x.apply_(lambda v: v * 10).tolist() == [10.0, 20.0] and x.is_contiguous()
    with pytest.raises(RuntimeError, match="apply_"):
        cr.ones(2, requires_grad=True).apply_(lambda v: v)


def test_legacy_tensor_constructor_is_float_as_torch() -> None:
    assert cr.Tensor([1, 2]).dtype == cr.float32 and cr.Tensor(2, 3).shape == (2, 3)
    assert cr.Tensor().shape == (0,) and cr.Tensor(cr.Size([4])).shape == (4,)
    if torch is not None:
        assert torch.Tensor([1, 2]).dtype == torch.float32


def test_set_printoptions_changes_precision_and_summary() -> None:
    x = cr.tensor([1.23456, 2.0])
    try:
        cr.set_printoptions(precision=2)
        assert repr(x) == "tensor([1.23, 2.00])"
        cr.set_printoptions(threshold=5, edgeitems=1)
        assert "..." in repr(cr.arange(10))
        assert cr.get_printoptions()["edgeitems"] == 1
    finally:
        cr.set_printoptions(profile="default")
    assert repr(x) == "tensor([1.2346, 2.0000])" and "..." not in repr(cr.arange(10))
    if torch is not None:
        try:
            torch.set_printoptions(precision=2)
            assert repr(torch.tensor([1.23456, 2.0])) == "tensor([1.23, 2.00])"
        finally:
            torch.set_printoptions(profile="default")


MORE = [  # (chainrule function, torch function) of two (3, 4) inputs
    (lambda a, b: cr.addcmul(a, a, b, value=0.5), lambda a, b: torch.addcmul(a, a, b, value=0.5)),
    (lambda a, b: a.addcdiv(a, b * b + 1, value=2.0),
     lambda a, b: a.addcdiv(a, b * b + 1, value=2.0)),
    (lambda a, b: a.lerp(b, 0.3), lambda a, b: a.lerp(b, 0.3)),
    (lambda a, b: cr.logaddexp(a, b[0]), lambda a, b: torch.logaddexp(a, b[0])),
    (lambda a, b: cr.hypot(a, b), lambda a, b: torch.hypot(a, b)),
    (lambda a, b: a.clamp_min(0.1) + b.clamp_max(-0.1), lambda a, b: a.clamp_min(0.1)
     + b.clamp_max(-0.1)),
    (lambda a, b: cr.mv(a, b[0]), lambda a, b: torch.mv(a, b[0])),
    (lambda a, b: a.select(1, 2) * b.select(0, -1)[:3],
     lambda a, b: a.select(1, 2) * b.select(0, -1)[:3]),
    (lambda a, b: cr.movedim(cr.stack([a, b]), (0, 1), (2, 0)),
     lambda a, b: torch.movedim(torch.stack([a, b]), (0, 1), (2, 0))),
    (lambda a, b: cr.hstack([a, b]) + 0, lambda a, b: torch.hstack([a, b]) + 0),
    (lambda a, b: cr.vstack([a[0], b]), lambda a, b: torch.vstack([a[0], b])),
]


@pytest.mark.parametrize("k", range(len(MORE)))
def test_more_composites_equal_torch(k: int) -> None:
    a, b = make_inputs([(3, 4), (3, 4)], seed=k)
    fn, tfn = MORE[k]
    check_op(fn, [a, b], tfn if torch is not None else None)


def test_in_place_forms_and_casts() -> None:
    x = cr.tensor([[-1.0, 4.0]])
    assert x.clone().relu_().tolist() == [[0.0, 4.0]] and x.clone().abs_().tolist() == [[1, 4]]
    assert x.clone().sqrt_()[0, 1].item() == 2.0 and x.clone().neg_().tolist() == [[1.0, -4.0]]
    y = x.clone()
    y.addcmul_(x, x, value=2.0).lerp_(cr.zeros(1, 2), 0.5)
    assert y.tolist() == [[0.5, 18.0]]
    assert x.clone().unsqueeze_(0).shape == (1, 1, 2) and x.clone().squeeze_().shape == (2,)
    assert x.clone().t_().shape == (2, 1)
    assert x.type_as(cr.tensor([1])).dtype == cr.int64 and x.byte().dtype == cr.uint8
    assert x.short().dtype == cr.int16 and x.char().dtype == cr.int8
    cr.manual_seed(0)
    draws = cr.zeros(2000).bernoulli_(0.25)
    assert set(draws.tolist()) <= {0.0, 1.0} and abs(draws.mean().item() - 0.25) < 0.04
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="unsqueeze_"):
        w.unsqueeze_(0)
    h = w * 1
    h.exp_()
    h.sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), np.e, rtol=1e-6)
