"""The embedding lookup (ops/embedding.py) and nn.Embedding: scatter-add gradients
(repeated tokens accumulate), padding_idx, max_norm, scale_grad_by_freq, PyTorch parity."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from tests.opcheck import check_op, make_inputs, torch

IDX = np.array([[1, 3, 3], [0, 3, 4]])


def test_embedding_gradients_and_parity() -> None:
    (w,) = make_inputs([(5, 4)])
    tfn = None
    if torch is not None:
        tfn = lambda t: torch.nn.functional.embedding(torch.tensor(IDX), t)  # noqa: E731
    check_op(lambda t: F.embedding(cr.tensor(IDX), t), [w], tfn)


@pytest.mark.skipif(torch is None, reason="needs torch")
@pytest.mark.parametrize("padding_idx", [3, -2])
def test_padding_idx_gradient_matches_torch(padding_idx) -> None:
    # the padding row gets no gradient although it is read: not a derivative, a convention
    (w,) = make_inputs([(5, 4)])
    cot = np.random.default_rng(1).standard_normal((2, 3, 4))
    x = cr.tensor(w, requires_grad=True)
    tx = torch.tensor(w, requires_grad=True)
    (F.embedding(cr.tensor(IDX), x, padding_idx) * cr.tensor(cot)).sum().backward()
    (torch.nn.functional.embedding(torch.tensor(IDX), tx, padding_idx)
     * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-12, atol=0)
    (g,) = cr.autograd.grad((F.embedding(cr.tensor(IDX), x, padding_idx) ** 2).sum(), [x],
                            create_graph=True)
    (h,) = cr.autograd.grad(g.sum(), [x])
    assert g.requires_grad and h.shape == (5, 4)


def test_repeated_indices_accumulate_and_padding_gets_nothing() -> None:
    w = cr.randn(5, 2, requires_grad=True)
    F.embedding(cr.tensor([3, 3, 3, 1, 0]), w, padding_idx=0).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy(), [[0, 0], [1, 1], [0, 0], [3, 3], [0, 0]])


@pytest.mark.skipif(torch is None, reason="needs torch")
def test_scale_grad_by_freq_and_max_norm_match_torch() -> None:
    rng = np.random.default_rng(0)
    w = rng.standard_normal((6, 3)) * 2
    idx = np.array([[0, 2, 2], [5, 2, 1]])
    ours = nn.Embedding(6, 3, max_norm=1.5, scale_grad_by_freq=True).double()
    theirs = torch.nn.Embedding(6, 3, max_norm=1.5, scale_grad_by_freq=True).double()
    assert repr(ours) == repr(theirs)
    ours.load_state_dict({"weight": cr.tensor(w)})
    theirs.load_state_dict({"weight": torch.tensor(w)})
    cot = rng.standard_normal((2, 3, 3))
    (ours(cr.tensor(idx)) * cr.tensor(cot)).sum().backward()
    (theirs(torch.tensor(idx)) * torch.tensor(cot)).sum().backward()
    np.testing.assert_allclose(ours.weight.detach().numpy(), theirs.weight.detach().numpy(),
                               rtol=1e-6)
    np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(), rtol=1e-12)


def test_module_init_padding_and_from_pretrained() -> None:
    cr.manual_seed(0)
    emb = nn.Embedding(10, 4, padding_idx=2)
    assert emb.weight.shape == (10, 4) and emb.weight.dtype == cr.float32
    np.testing.assert_array_equal(emb.weight.detach().numpy()[2], 0)
    assert abs(float(emb.weight.detach().numpy().std()) - 1) < 0.5
    assert repr(emb) == "Embedding(10, 4, padding_idx=2)"
    assert list(emb.state_dict()) == ["weight"]
    y = emb(cr.tensor([[1, 2], [3, 4]]))
    assert y.shape == (2, 2, 4)
    table = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    frozen = nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    np.testing.assert_array_equal(frozen(cr.tensor([1])).numpy(), [[3.0, 4.0]])
    assert nn.Embedding.from_pretrained(table, freeze=False).weight.requires_grad


def test_errors() -> None:
    w = cr.randn(5, 2)
    with pytest.raises(IndexError, match="index 5 is out of range for a table of 5 rows"):
        F.embedding(cr.tensor([5]), w)
    with pytest.raises(RuntimeError, match="integer dtype"):
        F.embedding(cr.tensor([1.0]), w)
    with pytest.raises(ValueError, match="padding_idx"):
        nn.Embedding(3, 2, padding_idx=3)


def test_explain_shows_the_scatter_rule() -> None:
    emb = nn.Embedding(65, 8)
    y = emb(cr.tensor(np.zeros((4, 16), dtype=np.int64))).sum()
    y.backward()
    assert "(65,8) = (4,16,8)" in str(cr.explain(y))
