"""cholesky, solve_triangular and cholesky_inverse: gradcheck, gradgradcheck and PyTorch
parity (batched, broadcast, upper/left/unitriangular), and their errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.ops.linalg_decomp import cholesky, cholesky_inverse, solve_triangular
from tests.opcheck import check_op, make_inputs, torch


def _spd(shape, seed=0):
    (a,) = make_inputs([shape], seed=seed)
    n = shape[-1]
    return a @ np.swapaxes(a, -1, -2) + n * np.eye(n)


def _sym(f):
    """f of the symmetrised input, so that finite differences stay symmetric."""
    return lambda a: f((a + a.mT) * 0.5)


@pytest.mark.parametrize("shape", [(3, 3), (2, 4, 4), (1, 1)])
@pytest.mark.parametrize("upper", [False, True])
def test_cholesky(shape, upper):
    a = _spd(shape)
    check_op(_sym(lambda x: cholesky(x, upper=upper)), [a],
             None if torch is None else _sym(lambda x: torch.linalg.cholesky(x, upper=upper)))


@pytest.mark.parametrize(("sa", "sb"), [((3, 3), (3, 2)), ((2, 3, 3), (3, 1)),
                                        ((3, 3), (2, 3, 4))])
@pytest.mark.parametrize("upper", [False, True])
@pytest.mark.parametrize("left", [True, False])
@pytest.mark.parametrize("unit", [False, True])
def test_solve_triangular(sa, sb, upper, left, unit):
    a, b = make_inputs([sa, sb], seed=1)
    a = a + 3 * np.eye(sa[-1])  # well conditioned
    if not left:
        b = np.swapaxes(b, -1, -2)

    def crf(x, y):
        return solve_triangular(x, y, upper=upper, left=left, unitriangular=unit)

    def tf(x, y):
        return torch.linalg.solve_triangular(x, y, upper=upper, left=left, unitriangular=unit)

    check_op(crf, [a, b], None if torch is None else tf)


def test_cholesky_inverse():
    a = _spd((2, 3, 3), seed=3)
    L = np.linalg.cholesky(a)
    mask = np.tril(np.ones((3, 3)))  # gradcheck perturbs only the triangle that is read
    check_op(lambda x: cholesky_inverse(x * cr.tensor(mask, dtype=x.dtype)), [L],
             None if torch is None else
             lambda x: torch.cholesky_inverse(x * torch.tensor(mask, dtype=x.dtype)))
    if torch is not None:  # unmasked, the gradient covers every entry, as PyTorch's
        x, tx = cr.tensor(L, requires_grad=True), torch.tensor(L, requires_grad=True)
        (cholesky_inverse(x) ** 2).sum().backward()
        (torch.cholesky_inverse(tx) ** 2).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(cholesky_inverse(cr.tensor(L)).numpy(), np.linalg.inv(a),
                               rtol=1e-10)


def test_errors():
    with pytest.raises(RuntimeError, match="not positive-definite"):
        cholesky(cr.tensor([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="square"):
        cholesky(cr.ones(2, 3))
    with pytest.raises(ValueError, match="Incompatible shapes"):
        solve_triangular(cr.eye(3), cr.ones(2, 2), upper=False)
    with pytest.raises(TypeError, match="floating point"):
        cholesky(cr.tensor([[1, 0], [0, 1]]))
