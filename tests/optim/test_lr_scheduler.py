"""Learning-rate schedulers: lr sequences against closed forms and PyTorch's, chaining,
state dicts, the initial_lr bookkeeping, warnings and errors."""

from __future__ import annotations

import copy
import math
import warnings
from typing import Any

import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler


def make_optimizer(module: Any, lrs: tuple[float, ...] = (0.1, 0.03)) -> Any:
    """An SGD optimizer with one parameter group per lr, from ``module`` (cr or torch)."""
    if module is optim:
        params = [cr.tensor([1.0], requires_grad=True) for _ in lrs]
    else:
        params = [module.tensor([1.0], requires_grad=True) for _ in lrs]
        module = module.optim
    return module.SGD([{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)],
                      lr=0.5, momentum=0.9)


def lr_sequence(opt: Any, scheds: list[Any], epochs: int) -> list[list[float]]:
    """The group lrs in effect at each epoch (step the optimizer, then the schedulers)."""
    seq = []
    for _ in range(epochs):
        seq.append([g["lr"] for g in opt.param_groups])
        opt.step()
        for s in scheds:
            s.step()
    return seq


SCHEDULES = {
    "step": lambda s, o: [s.StepLR(o, step_size=3, gamma=0.5)],
    "step_default_gamma": lambda s, o: [s.StepLR(o, step_size=7)],
    "multistep": lambda s, o: [s.MultiStepLR(o, milestones=[2, 5, 5, 11], gamma=0.3)],
    "exponential": lambda s, o: [s.ExponentialLR(o, gamma=0.93)],
    "cosine": lambda s, o: [s.CosineAnnealingLR(o, T_max=10)],
    "cosine_eta_min": lambda s, o: [s.CosineAnnealingLR(o, T_max=13, eta_min=0.001)],
    "lambda": lambda s, o: [s.LambdaLR(o, lambda e: 1 / (1 + e))],
    "lambda_per_group": lambda s, o: [s.LambdaLR(o, [lambda e: 0.9**e, lambda e: e % 3 + 1])],
    "chained": lambda s, o: [s.StepLR(o, step_size=4, gamma=0.5), s.ExponentialLR(o, 0.97)],
    "chained_cosine": lambda s, o: [s.CosineAnnealingLR(o, T_max=20), s.StepLR(o, 6, 0.5)],
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_lr_sequences_match_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    opt = make_optimizer(optim)
    ours = lr_sequence(opt, SCHEDULES[name](lr_scheduler, opt), 100)
    topt = make_optimizer(torch)
    theirs = lr_sequence(topt, SCHEDULES[name](torch.optim.lr_scheduler, topt), 100)
    assert ours == theirs  # same float64 operations in the same order: equal, not just close


def test_step_lr_closed_form() -> None:
    opt = make_optimizer(optim)
    seq = lr_sequence(opt, [lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)], 12)
    expected = [[lr * 0.5 ** (e // 3) for lr in (0.1, 0.03)] for e in range(12)]
    for got, want in zip(seq, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-15)


def test_multistep_lr_closed_form() -> None:
    opt = make_optimizer(optim)
    seq = lr_sequence(opt, [lr_scheduler.MultiStepLR(opt, [2, 5, 5], gamma=0.1)], 8)
    factors = [1, 1, 0.1, 0.1, 0.1, 0.001, 0.001, 0.001]
    for got, f in zip(seq, factors, strict=True):
        assert got == pytest.approx([0.1 * f, 0.03 * f], rel=1e-13)


def test_exponential_lr_closed_form() -> None:
    opt = make_optimizer(optim)
    seq = lr_sequence(opt, [lr_scheduler.ExponentialLR(opt, gamma=0.9)], 50)
    for e, got in enumerate(seq):
        assert got == pytest.approx([0.1 * 0.9**e, 0.03 * 0.9**e], rel=1e-13)


def test_cosine_annealing_follows_the_closed_form_over_several_periods() -> None:
    opt = make_optimizer(optim)
    T, eta_min = 8, 0.002
    seq = lr_sequence(opt, [lr_scheduler.CosineAnnealingLR(opt, T_max=T, eta_min=eta_min)], 40)
    for e, got in enumerate(seq):
        want = [eta_min + (lr - eta_min) * (1 + math.cos(math.pi * e / T)) / 2
                for lr in (0.1, 0.03)]
        assert got == pytest.approx(want, rel=1e-12, abs=1e-15), e
    assert seq[T] == pytest.approx([eta_min, eta_min], rel=1e-12)
    assert seq[2 * T] == pytest.approx([0.1, 0.03], rel=1e-12)


def test_initial_lr_base_lrs_and_get_last_lr() -> None:
    opt = make_optimizer(optim)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.03]
    assert sched.base_lrs == [0.1, 0.03]
    assert sched.last_epoch == 0
    assert sched.get_last_lr() == [0.1, 0.03]
    opt.step()
    sched.step()
    assert sched.last_epoch == 1
    assert sched.get_last_lr() == [0.05, 0.015] == [g["lr"] for g in opt.param_groups]
    # a second scheduler keeps the first one's initial_lr
    sched2 = lr_scheduler.StepLR(opt, step_size=2)
    assert sched2.base_lrs == [0.1, 0.03]


def test_resuming_with_last_epoch_needs_initial_lr() -> None:
    opt = make_optimizer(optim)
    with pytest.raises(KeyError, match="initial_lr"):
        lr_scheduler.StepLR(opt, step_size=2, last_epoch=4)


def test_scheduler_state_dict_round_trip(tmp_path: Any) -> None:
    """Save optimizer and scheduler mid-schedule, restore into fresh ones, continue: same lrs."""
    opt = make_optimizer(optim)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=9, eta_min=0.01)
    lr_sequence(opt, [sched], 5)
    cr.save({"opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ckpt")
    rest_a = lr_sequence(opt, [sched], 20)

    ckpt = cr.load(tmp_path / "ckpt")
    opt_b = make_optimizer(optim, lrs=(0.7, 0.7))
    sched_b = lr_scheduler.CosineAnnealingLR(opt_b, T_max=9, eta_min=0.01)
    opt_b.load_state_dict(ckpt["opt"])
    sched_b.load_state_dict(ckpt["sched"])
    assert sched_b.last_epoch == 5 and sched_b.base_lrs == [0.1, 0.03]
    rest_b = lr_sequence(opt_b, [sched_b], 20)
    assert rest_a == rest_b


def test_multistep_and_lambda_state_dicts() -> None:
    opt = make_optimizer(optim)
    sched = lr_scheduler.MultiStepLR(opt, [3, 6], gamma=0.5)
    lr_sequence(opt, [sched], 2)
    sd = sched.state_dict()
    sd["milestones"] = {str(k): v for k, v in sd["milestones"].items()}  # as JSON would
    opt_b = make_optimizer(optim)
    opt_b.load_state_dict(opt.state_dict())
    sched_b = lr_scheduler.MultiStepLR(opt_b, [1], gamma=0.5)
    sched_b.load_state_dict(sd)
    assert lr_sequence(opt_b, [sched_b], 6) == lr_sequence(opt, [sched], 6)

    class Warmup:
        def __init__(self, n: int) -> None:
            self.n = n

        def __call__(self, epoch: int) -> float:
            return min(1.0, (epoch + 1) / self.n)

    sched = lr_scheduler.LambdaLR(opt, [Warmup(5), lambda e: 1.0])
    sd = copy.deepcopy(sched.state_dict())
    assert sd["lr_lambdas"] == [{"n": 5}, None]
    other = lr_scheduler.LambdaLR(opt, [Warmup(2), lambda e: 1.0])
    other.load_state_dict(sd)
    assert other.lr_lambdas[0].n == 5


def test_warnings() -> None:
    opt = make_optimizer(optim)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        sched.step()
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()
    opt = make_optimizer(optim)
    sched = lr_scheduler.StepLR(opt, step_size=2)
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()
        sched.step()


def test_deprecated_epoch_argument_uses_closed_form() -> None:
    opt = make_optimizer(optim)
    sched = lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    opt.step()
    with pytest.warns(UserWarning, match="deprecated"):
        sched.step(7)
    assert sched.get_last_lr() == [0.1 * 0.25, 0.03 * 0.25]


def test_errors() -> None:
    opt = make_optimizer(optim)
    with pytest.raises(TypeError, match="expected an Optimizer"):
        lr_scheduler.StepLR([1, 2], step_size=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="step_size must be a positive int, got 0"):
        lr_scheduler.StepLR(opt, step_size=0)
    with pytest.raises(ValueError, match="T_max must be a positive int"):
        lr_scheduler.CosineAnnealingLR(opt, T_max=0)
    with pytest.raises(ValueError, match="Expected 2 lr_lambdas"):
        lr_scheduler.LambdaLR(opt, [lambda e: 1.0])
