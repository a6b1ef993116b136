"""Shared fixture for the optimizer tests: a small MLP regression problem whose loss and
gradients are written out in NumPy, so that chainrule's and PyTorch's optimizers can be
driven with identical gradients from identical weights, step by step."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim


class MLPProblem:
    """``out = tanh(x @ W1 + b1) @ W2 + b2``, MSE loss, a fresh batch every step; the
    targets are ``sin(x @ teacher)`` plus noise, so descent lowers the loss.

    Shapes: x (16, 5), W1 (5, 8), b1 (8,), W2 (8, 3), b2 (3,), y (16, 3).
    """

    def __init__(self, dtype: Any = np.float64, steps: int = 20, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        shapes = [(5, 8), (8,), (8, 3), (3,)]
        scales = [0.5, 0.1, 0.5, 0.1]
        self.init = [
            (rng.standard_normal(s) * c).astype(dtype)
            for s, c in zip(shapes, scales, strict=True)
        ]
        teacher = rng.standard_normal((5, 3))  # targets: a learnable function plus noise
        xs = [rng.standard_normal((16, 5)) for _ in range(steps)]
        ys = [np.sin(x @ teacher) + 0.1 * rng.standard_normal((16, 3)) for x in xs]
        self.batches = [(x.astype(dtype), y.astype(dtype)) for x, y in zip(xs, ys, strict=True)]
        self.steps = steps

    @staticmethod
    def loss_and_grads(
        ws: list[np.ndarray], x: np.ndarray, y: np.ndarray
    ) -> tuple[float, list[np.ndarray]]:
        W1, b1, W2, b2 = ws
        h = np.tanh(x @ W1 + b1)  # (16, 8)
        r = h @ W2 + b2 - y  # (16, 3)
        loss = float((r * r).mean())
        d_out = 2 * r / r.size  # (16, 3)
        d_z = (d_out @ W2.T) * (1 - h * h)  # (16, 8)
        return loss, [x.T @ d_z, d_z.sum(0), h.T @ d_out, d_out.sum(0)]

    def run(
        self,
        make_opt: Callable[[Any, list[Any]], Any],
        lib: str = "cr",
        *,
        steps: int | None = None,
        no_grad: set[tuple[int, int]] = frozenset(),  # type: ignore[assignment]
        make_sched: Callable[[Any, Any], Any] | None = None,
        params: list[Any] | None = None,
        opt: Any = None,
        start: int = 0,
    ) -> tuple[list[float], list[np.ndarray], Any, list[Any]]:
        """Train with ``make_opt(optim_module, params)`` in chainrule (``lib="cr"``) or torch.

        ``no_grad`` holds (step, parameter index) pairs whose gradient is None at that step.
        Returns the loss before every step, the final weights (ndarrays), the optimizer and
        the parameters.
        """
        if lib == "torch":
            import torch

            module, sched_module = torch.optim, torch.optim.lr_scheduler

            def new_param(a: np.ndarray) -> Any:
                return torch.tensor(a, requires_grad=True)

            def as_grad(g: np.ndarray) -> Any:
                return torch.from_numpy(np.ascontiguousarray(g))

            def array(p: Any) -> np.ndarray:
                return p.detach().numpy()
        else:
            module, sched_module = optim, optim.lr_scheduler

            def new_param(a: np.ndarray) -> Any:
                return cr.tensor(a, requires_grad=True)

            def as_grad(g: np.ndarray) -> Any:
                return cr.tensor(g)

            def array(p: Any) -> np.ndarray:
                return p.detach().numpy()

        if params is None:
            params = [new_param(a) for a in self.init]
        if opt is None:
            opt = make_opt(module, params)
        sched = make_sched(sched_module, opt) if make_sched is not None else None
        losses = []
        for t in range(start, start + (self.steps if steps is None else steps)):
            x, y = self.batches[t]
            loss, grads = self.loss_and_grads([array(p) for p in params], x, y)
            losses.append(loss)
            for i, (p, g) in enumerate(zip(params, grads, strict=True)):
                p.grad = None if (t, i) in no_grad else as_grad(g)
            opt.step()
            if sched is not None:
                sched.step()
        return losses, [array(p).copy() for p in params], opt, params


@pytest.fixture
def problem() -> MLPProblem:
    return MLPProblem()


@pytest.fixture
def make_problem() -> type[MLPProblem]:
    """The problem class, for tests that need another dtype or length."""
    return MLPProblem
