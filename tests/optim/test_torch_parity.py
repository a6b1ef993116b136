"""Every optimizer against PyTorch's: from equal weights and equal gradients, the loss
before every step and the final weights agree to float64 rounding (PyTorch fuses some
multiply-adds, so agreement is to ~1e-15 relative per step, not bit for bit)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")

RTOL = 1e-12

CASES = {
    "sgd": lambda o, ps: o.SGD(ps, lr=0.1),
    "sgd_momentum": lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9),
    "sgd_dampening": lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.8, dampening=0.3),
    "sgd_nesterov": lambda o, ps: o.SGD(ps, lr=0.05, momentum=0.9, nesterov=True),
    "sgd_weight_decay": lambda o, ps: o.SGD(ps, lr=0.1, weight_decay=0.05),
    "sgd_all_maximize": lambda o, ps: o.SGD(
        ps, lr=0.01, momentum=0.7, dampening=0.1, weight_decay=0.02, maximize=True
    ),
    "sgd_nesterov_wd_maximize": lambda o, ps: o.SGD(
        ps, lr=0.01, momentum=0.5, nesterov=True, weight_decay=0.1, maximize=True
    ),
    "adam": lambda o, ps: o.Adam(ps, lr=0.01),
    "adam_defaults": lambda o, ps: o.Adam(ps),
    "adam_amsgrad": lambda o, ps: o.Adam(ps, lr=0.02, amsgrad=True),
    "adam_weight_decay": lambda o, ps: o.Adam(ps, lr=0.01, weight_decay=0.1),
    "adam_betas_eps": lambda o, ps: o.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-3),
    "adam_all_maximize": lambda o, ps: o.Adam(
        ps, lr=0.01, weight_decay=0.05, amsgrad=True, maximize=True
    ),
    "adamw": lambda o, ps: o.AdamW(ps, lr=0.01),
    "adamw_amsgrad_wd": lambda o, ps: o.AdamW(ps, lr=0.02, weight_decay=0.3, amsgrad=True),
    "adamw_maximize": lambda o, ps: o.AdamW(ps, lr=0.01, maximize=True),
    "rmsprop": lambda o, ps: o.RMSprop(ps, lr=0.01),
    "rmsprop_momentum": lambda o, ps: o.RMSprop(ps, lr=0.005, momentum=0.9),
    "rmsprop_centered": lambda o, ps: o.RMSprop(ps, lr=0.005, centered=True),
    "rmsprop_all": lambda o, ps: o.RMSprop(
        ps, lr=0.003, alpha=0.9, eps=1e-6, weight_decay=0.05, momentum=0.5, centered=True
    ),
    "rmsprop_maximize": lambda o, ps: o.RMSprop(ps, lr=0.001, maximize=True),
    "adagrad": lambda o, ps: o.Adagrad(ps, lr=0.1),
    "adagrad_lr_decay": lambda o, ps: o.Adagrad(ps, lr=0.1, lr_decay=0.05),
    "adagrad_all": lambda o, ps: o.Adagrad(
        ps, lr=0.05, lr_decay=0.01, weight_decay=0.02, initial_accumulator_value=0.1, eps=1e-6
    ),
    "adagrad_maximize": lambda o, ps: o.Adagrad(ps, lr=0.01, maximize=True),
    "sgd_groups": lambda o, ps: o.SGD(
        [
            {"params": ps[:2], "lr": 0.2, "nesterov": True},
            {"params": ps[2:], "momentum": 0.5, "weight_decay": 0.1},
        ],
        lr=0.05,
        momentum=0.9,
    ),
    "adam_groups": lambda o, ps: o.Adam(
        [{"params": [ps[0], ps[3]], "lr": 0.03, "amsgrad": True}, {"params": ps[1:3]}],
        lr=0.01,
        betas=(0.85, 0.99),
    ),
    "rmsprop_groups": lambda o, ps: o.RMSprop(
        [{"params": ps[:1], "centered": True}, {"params": ps[1:], "lr": 0.002}],
        lr=0.01,
        momentum=0.3,
    ),
}


def assert_same_run(cr_run: Any, torch_run: Any, rtol: float = RTOL) -> None:
    cr_losses, cr_weights = cr_run[0], cr_run[1]
    t_losses, t_weights = torch_run[0], torch_run[1]
    for step, (a, b) in enumerate(zip(cr_losses, t_losses, strict=True)):
        assert abs(a - b) <= rtol * abs(b), f"step {step}: loss {a!r} != torch {b!r}"
    for i, (a, b) in enumerate(zip(cr_weights, t_weights, strict=True)):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-14, err_msg=f"parameter {i}")


def assert_same_state(cr_opt: Any, torch_opt: Any) -> None:
    """Same state-dict layout as PyTorch's (keys, ids, group options) and equal buffers."""
    ours, theirs = cr_opt.state_dict(), torch_opt.state_dict()
    assert list(ours["state"]) == list(theirs["state"])
    for pid, st in ours["state"].items():
        assert set(st) == set(theirs["state"][pid]), pid
        for key, value in st.items():
            np.testing.assert_allclose(
                value.numpy(), theirs["state"][pid][key].numpy(), rtol=1e-11, atol=1e-15,
                err_msg=f"state[{pid}][{key!r}]",
            )
    assert len(ours["param_groups"]) == len(theirs["param_groups"])
    for g, tg in zip(ours["param_groups"], theirs["param_groups"], strict=True):
        for key, value in g.items():
            assert key in tg, f"group key {key!r} is not in PyTorch's state dict"
            assert tg[key] == value, key


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch(problem: Any, case: str) -> None:
    make = CASES[case]
    cr_run = problem.run(make, "cr")
    torch_run = problem.run(make, "torch")
    assert_same_run(cr_run, torch_run)
    assert_same_state(cr_run[2], torch_run[2])
    # the weights really moved, and differently from plain gradient descent's first step
    assert not np.allclose(cr_run[1][0], problem.init[0])


@pytest.mark.parametrize("case", ["sgd_momentum", "adam_amsgrad", "rmsprop_all", "adagrad_all"])
def test_missing_gradients_are_skipped_as_in_torch(problem: Any, case: str) -> None:
    """A parameter whose .grad is None is left alone, its state and step count untouched."""
    no_grad = {(0, 1), (3, 0), (4, 0), (5, 3), (9, 2)} | {(t, 1) for t in range(10, 14)}
    cr_run = problem.run(CASES[case], "cr", no_grad=no_grad)
    torch_run = problem.run(CASES[case], "torch", no_grad=no_grad)
    assert_same_run(cr_run, torch_run)
    assert_same_state(cr_run[2], torch_run[2])


@pytest.mark.parametrize(
    "sched",
    [
        lambda s, o: s.StepLR(o, step_size=4, gamma=0.5),
        lambda s, o: s.ExponentialLR(o, gamma=0.9),
        lambda s, o: s.CosineAnnealingLR(o, T_max=7, eta_min=0.001),
    ],
    ids=["step", "exponential", "cosine"],
)
def test_optimizer_with_scheduler_matches_torch(problem: Any, sched: Any) -> None:
    make = CASES["adam_groups"]
    cr_run = problem.run(make, "cr", make_sched=sched)
    torch_run = problem.run(make, "torch", make_sched=sched)
    assert_same_run(cr_run, torch_run)
    assert [g["lr"] for g in cr_run[2].param_groups] == [
        g["lr"] for g in torch_run[2].param_groups
    ]


@pytest.mark.parametrize("case", ["sgd_all_maximize", "adam_all_maximize", "rmsprop_all",
                                  "adagrad_all", "adamw_amsgrad_wd"])
def test_float32_matches_torch_float32(make_problem: Any, case: str) -> None:
    problem = make_problem(dtype=np.float32, steps=10)
    cr_run = problem.run(CASES[case], "cr")
    torch_run = problem.run(CASES[case], "torch")
    assert_same_run(cr_run, torch_run, rtol=1e-5)
    assert all(w.dtype == np.float32 for w in cr_run[1])
