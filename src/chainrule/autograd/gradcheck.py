"""``gradcheck`` and ``gradgradcheck``: backward rules against central finite differences.

For every input that requires grad, the analytical Jacobian (one backward per output
element, with a one-hot cotangent) is compared with the numerical one
``(f(x + eps) - f(x - eps)) / (2 eps)``, element by element:
``|analytical - numerical| <= atol + rtol * |numerical|``.
Use float64 inputs: float32 rounding swamps differences of size ``eps``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.autograd import grad
from chainrule.random import Generator
from chainrule.tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """A backward rule disagrees with finite differences (the report names where)."""


def _tuple(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn: Callable[..., Any], inputs: tuple[Any, ...]) -> list[Any]:
    return [o for o in _tuple(fn(*inputs)) if isinstance(o, Tensor) and o.dtype.kind == "f"]


def _numerical(fn: Callable[..., Any], inputs: tuple[Any, ...], x: Any, eps: float,
               n_out: list[int]) -> list[np.ndarray]:
    """d(out_j)/d(x): one (x.numel, out_j.numel) matrix per output."""
    flat = x._data.reshape(-1)  # a view: perturbing it perturbs x
    jac = [np.zeros((flat.size, n)) for n in n_out]
    # grad mode stays on: gradgradcheck's function runs a backward of its own
    for k in range(flat.size):
        orig = flat[k].item()
        flat[k] = orig + eps
        plus = [o._data.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
        flat[k] = orig - eps
        minus = [o._data.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs)]
        flat[k] = orig
        for j, (p, m) in enumerate(zip(plus, minus, strict=True)):
            jac[j][k] = (p - m) / (2 * eps)
    return jac


def _analytical(outputs: list[Any], diff: list[Any]) -> list[list[np.ndarray]]:
    """jac[i][j]: d(out_j)/d(input_i) as a (input_i.numel, out_j.numel) matrix."""
    jac = [[np.zeros((x._data.size, o._data.size)) for o in outputs] for x in diff]
    for j, out in enumerate(outputs):
        if not out.requires_grad:
            continue
        for m in range(out._data.size):
            cot = np.zeros(out._data.size, out.dtype)
            cot[m] = 1
            grads = grad(out, diff, cot.reshape(out.shape), retain_graph=True, allow_unused=True)
            for i, g in enumerate(grads):
                if g is not None:
                    jac[i][j][:, m] = g._data.reshape(-1)
    return jac


def gradcheck(
    func: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **_ignored: Any,
) -> bool:
    """Check ``func``'s backward against finite differences at ``inputs``.

    Returns True, or raises ``GradcheckError`` naming the input, the element index and
    both values of the worst mismatch (returns False instead if ``raise_exception=False``).
    """
    inputs = _tuple(inputs)
    positions = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    diff = [inputs[k] for k in positions]
    if not diff:
        raise ValueError("gradcheck: no input requires grad (set requires_grad=True on one)")
    outputs = _outputs(func, inputs)
    analytical = _analytical(outputs, diff)
    n_out = [o._data.size for o in outputs]
    worst = None
    for i, x in enumerate(diff):
        numerical = _numerical(func, inputs, x, eps, n_out)
        for j in range(len(outputs)):
            a, n = analytical[i][j], numerical[j]
            excess = np.abs(a - n) - (atol + rtol * np.abs(n))
            if excess.size and excess.max() > 0:
                k, m = np.unravel_index(int(np.argmax(excess)), excess.shape)
                if worst is None or excess[k, m] > worst[0]:
                    idx = np.unravel_index(int(k), x.shape) if x.ndim else ()
                    worst = (excess[k, m], positions[i], idx, j,
                             int(m), a[k, m], n[k, m])
    if worst is None:
        return True
    _, i, idx, j, m, a, n = worst
    msg = (
        f"gradcheck: Jacobian mismatch for output {j} (element {m}) with respect to input "
        f"{i} at index {tuple(int(v) for v in idx)}: analytical {a:.10g} vs numerical {n:.10g} "
        f"(atol={atol}, rtol={rtol}, eps={eps})"
    )
    if raise_exception:
        raise GradcheckError(msg)
    return False


def gradgradcheck(
    func: Callable[..., Any],
    inputs: Any,
    grad_outputs: Sequence[Any] | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **_ignored: Any,
) -> bool:
    """Check second derivatives: ``gradcheck`` of the function ``(inputs, v) -> v^T J``."""
    inputs = _tuple(inputs)
    diff_idx = [k for k, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outputs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = Generator(0).np
        grad_outputs = [
            Tensor._make(rng.standard_normal(o.shape).astype(o.dtype), False).requires_grad_()
            for o in outputs
        ]
    else:
        grad_outputs = list(_tuple(grad_outputs))
    n_in = len(inputs)

    def first_derivative(*args: Any) -> tuple[Any, ...]:
        xs, vs = args[:n_in], args[n_in:]
        outs = _outputs(func, xs)
        diff = [xs[k] for k in diff_idx]
        pairs = [(o, v) for o, v in zip(outs, vs, strict=True) if o.requires_grad]
        if not pairs:
            return tuple(Tensor._make(np.zeros(x.shape, x.dtype)) for x in diff)
        grads = grad([p[0] for p in pairs], diff, [p[1] for p in pairs],
                     create_graph=True, allow_unused=True)
        return tuple(
            Tensor._make(np.zeros(x.shape, x.dtype)) if g is None else g
            for g, x in zip(grads, diff, strict=True)
        )

    return gradcheck(first_derivative, (*inputs, *grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)
