"""Shared checks for differentiable ops: float64 gradcheck and gradgradcheck, PyTorch
parity (when torch is installed) and float32 dtype preservation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import chainrule as cr

try:  # PyTorch is an optional reference: comparisons are skipped without it
    import torch
except ImportError:  # pragma: no cover - exercised when torch is absent
    torch = None


def t64(values: Any, requires_grad: bool = True) -> cr.Tensor:
    """A float64 tensor (the dtype of every gradient check) from nested values."""
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def grad_of(y: cr.Tensor, x: cr.Tensor, cot: Any = None) -> np.ndarray:
    """dy/dx contracted with ``cot`` (ones by default), as an array."""
    cot = np.ones(y.shape) if cot is None else cot
    (g,) = cr.autograd.grad(y, [x], cr.tensor(cot, dtype=y.dtype))
    return g.numpy()


def make_inputs(shapes: Sequence[tuple[int, ...]], seed: int = 0, low: float | None = None,
                high: float | None = None) -> list[np.ndarray]:
    """Random float64 arrays; uniform in [low, high) when given, else standard normal."""
    rng = np.random.default_rng(seed)
    if low is not None:
        return [rng.uniform(low, high, s) for s in shapes]
    return [rng.standard_normal(s) for s in shapes]


def check_op(
    cr_fn: Callable[..., Any],
    arrays: Sequence[np.ndarray],
    torch_fn: Callable[..., Any] | None = None,
    *,
    gradgrad: bool = True,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    torch_tol: float = 1e-10,
    float32: bool = True,
) -> None:
    """Check ``cr_fn`` on float64 copies of ``arrays``.

    1. gradcheck (and gradgradcheck) against central finite differences;
    2. if torch is installed and ``torch_fn`` given: output values and the gradients of
       ``sum(out * cotangent)`` equal PyTorch's to ``torch_tol``;
    3. float32 inputs give float32 outputs and float32 gradients.
    """
    xs = [cr.tensor(a, dtype=cr.float64, requires_grad=True) for a in arrays]
    assert cr.autograd.gradcheck(cr_fn, xs, atol=atol, rtol=rtol)
    if gradgrad:
        assert cr.autograd.gradgradcheck(cr_fn, xs, atol=atol, rtol=rtol)
    out = cr_fn(*xs)
    cot = np.random.default_rng(1).standard_normal(out.shape)
    if torch is not None and torch_fn is not None:
        ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
        tout = torch_fn(*ts)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(),
                                   rtol=torch_tol, atol=torch_tol)
        grads = cr.autograd.grad(out, xs, cr.tensor(cot), allow_unused=True)
        tgrads = torch.autograd.grad(tout, ts, torch.tensor(cot), allow_unused=True)
        for k, (g, tg) in enumerate(zip(grads, tgrads, strict=True)):
            if tg is None:
                assert g is None or np.allclose(g.numpy(), 0), f"input {k}: torch has no grad"
                continue
            assert g is not None, f"input {k}: chainrule gave no gradient, torch did"
            np.testing.assert_allclose(g.numpy(), tg.numpy(), rtol=torch_tol, atol=torch_tol,
                                       err_msg=f"gradient of input {k}")
    if float32:
        xs32 = [cr.tensor(a, dtype=cr.float32, requires_grad=True) for a in arrays]
        out32 = cr_fn(*xs32)
        assert out32.dtype == cr.float32, f"forward gave {out32.dtype} for float32 inputs"
        grads32 = cr.autograd.grad(out32, xs32, cr.tensor(cot, dtype=cr.float32),
                                   allow_unused=True)
        for k, g in enumerate(grads32):
            assert g is None or g.dtype == cr.float32, f"input {k}: gradient {g.dtype}"


# shape pairs for broadcasting tests: (a, b) that broadcast together
BROADCAST_SHAPES = [
    ((3,), (3,)),
    ((2, 3), (3,)),
    ((2, 1), (1, 3)),
    ((4, 1, 3), (2, 1)),
    ((), (2, 3)),
    ((2, 3), ()),
]
