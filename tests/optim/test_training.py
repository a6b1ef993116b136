"""End to end: ``cr.nn`` models trained through autograd by ``cr.optim``, against the same
PyTorch loop, and every optimizer minimising a quadratic without PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

CASES = {
    "sgd": lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3),
    "adam": lambda o, ps: o.Adam(ps, lr=0.01, amsgrad=True),
    "adamw": lambda o, ps: o.AdamW(ps, lr=0.01),
    "rmsprop": lambda o, ps: o.RMSprop(ps, lr=0.003, momentum=0.5, centered=True),
    "adagrad": lambda o, ps: o.Adagrad(ps, lr=0.05, lr_decay=0.01),
}


def _train(lib: Any, make_opt: Any, weights: list[np.ndarray], batches: list[Any]) -> Any:
    """Train Linear(6,16)-ReLU-Linear(16,4) with MSE for len(batches) steps, lr cosine-annealed."""
    if lib is cr:
        model = nn.Sequential(nn.Linear(6, 16, dtype=cr.float64), nn.ReLU(),
                              nn.Linear(16, 4, dtype=cr.float64))
        module, as_tensor = optim, cr.from_numpy
    else:
        model = lib.nn.Sequential(lib.nn.Linear(6, 16, dtype=lib.float64), lib.nn.ReLU(),
                                  lib.nn.Linear(16, 4, dtype=lib.float64))
        module, as_tensor = lib.optim, lib.from_numpy
    with lib.no_grad():
        for p, w in zip(model.parameters(), weights, strict=True):
            p.copy_(as_tensor(w))
    opt = make_opt(module, model.parameters())
    sched = module.lr_scheduler.CosineAnnealingLR(opt, T_max=len(batches))
    loss_fn = lib.nn.MSELoss() if lib is not cr else nn.MSELoss()
    losses = []
    for x, y in batches:
        opt.zero_grad()
        loss = loss_fn(model(as_tensor(x)), as_tensor(y))
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses, [p.detach().numpy().copy() for p in model.parameters()]


@pytest.mark.parametrize("case", sorted(CASES))
def test_nn_training_matches_torch(case: str) -> None:
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    shapes = [(16, 6), (16,), (4, 16), (4,)]
    weights = [rng.uniform(-0.4, 0.4, s) for s in shapes]
    teacher = rng.standard_normal((6, 4))
    batches = []
    for _ in range(20):
        x = rng.standard_normal((32, 6))
        batches.append((x, np.tanh(x @ teacher)))
    ours, ours_w = _train(cr, CASES[case], weights, batches)
    theirs, theirs_w = _train(torch, CASES[case], weights, batches)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    for a, b in zip(ours_w, theirs_w, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    assert np.mean(ours[-5:]) < ours[0]  # and it learned something


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1),
    lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    lambda ps: optim.Adam(ps, lr=0.1),
    lambda ps: optim.AdamW(ps, lr=0.1, weight_decay=0.0, amsgrad=True),
    lambda ps: optim.RMSprop(ps, lr=0.01, centered=True),
    lambda ps: optim.Adagrad(ps, lr=0.5),
], ids=["sgd", "nesterov", "adam", "adamw", "rmsprop", "adagrad"])
def test_optimizers_minimise_a_quadratic(make: Any) -> None:
    """float32 autograd loop: each optimizer drives w to the minimiser of sum((w - c)^2)."""
    c = cr.tensor([1.5, -2.0, 0.5])
    w = cr.zeros(3, requires_grad=True)
    opt = make([w])
    for _ in range(300):
        opt.zero_grad()
        loss = ((w - c) ** 2).sum()
        loss.backward()
        opt.step()
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.detach().numpy(), c.detach().numpy(), atol=0.05)
