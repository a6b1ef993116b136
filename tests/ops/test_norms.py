"""Tests of ops/norms.py: norm, linalg.norm, vector_norm, matrix_norm against PyTorch,
with gradients (gradcheck, gradgradcheck) and the Euclidean norm's gradient at 0."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from tests.opcheck import check_op, make_inputs, torch

CASES = [  # (chainrule function, torch function) on a (3, 4) input
    (lambda t: cr.norm(t), "lambda t: torch.norm(t)"),
    (lambda t: cr.norm(t, dim=1), "lambda t: torch.norm(t, dim=1)"),
    (lambda t: t.norm(p=1, dim=0, keepdim=True), "lambda t: t.norm(p=1, dim=0, keepdim=True)"),
    (lambda t: cr.norm(t, 3, dim=(0, 1)), "lambda t: torch.norm(t, 3, dim=(0, 1))"),
    (lambda t: cr.linalg.norm(t), "lambda t: torch.linalg.norm(t)"),
    (lambda t: cr.linalg.norm(t, dim=-1, keepdim=True),
     "lambda t: torch.linalg.norm(t, dim=-1, keepdim=True)"),
    (lambda t: cr.linalg.vector_norm(t, math.inf, 1), "lambda t: torch.linalg.vector_norm(t, "
     "math.inf, 1)"),
    (lambda t: cr.linalg.vector_norm(t, 0.5), "lambda t: torch.linalg.vector_norm(t, 0.5)"),
    (lambda t: cr.linalg.matrix_norm(t), "lambda t: torch.linalg.matrix_norm(t)"),
    (lambda t: cr.linalg.matrix_norm(t, 1), "lambda t: torch.linalg.matrix_norm(t, 1)"),
    (lambda t: cr.linalg.norm(t, -math.inf), "lambda t: torch.linalg.norm(t, -math.inf)"),
    (lambda t: cr.linalg.norm(t, "fro", dim=(0, 1)),
     "lambda t: torch.linalg.norm(t, 'fro', dim=(0, 1))"),
]


@pytest.mark.parametrize("k", range(len(CASES)))
def test_norms_equal_torch_with_gradients(k: int) -> None:
    fn, tsrc = CASES[k]
    (x,) = make_inputs([(3, 4)], seed=k)
    tfn = eval(tsrc, {"torch": torch, "math": math}) if torch is not None else None
    check_op(fn, [x], tfn)


def test_euclidean_norm_gradient_at_zero_is_zero_as_torch() -> None:
    x = cr.zeros(3, dtype=cr.float64, requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
    x = cr.tensor([[0.0, 0.0], [3.0, 4.0]], requires_grad=True)
    cr.linalg.vector_norm(x, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0], [0.6, 0.8]])
    assert x.grad.dtype == cr.float32


def test_norm_errors_and_integers() -> None:
    assert cr.norm(cr.tensor([3, 4])).item() == 5.0
    with pytest.raises(NotImplementedError, match="'nuc'"):
        cr.linalg.matrix_norm(cr.ones(2, 2), "nuc")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        cr.linalg.matrix_norm(cr.ones(2))
