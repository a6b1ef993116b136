"""The schedulers of lr_scheduler_more.py and lr_scheduler_cyclic.py against PyTorch's:
lr (and momentum) sequences equal to float64 rounding, state dicts, errors."""

from __future__ import annotations

import copy
import math
from typing import Any

import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler

METRICS = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86, 0.5,
           0.5, 0.5, 0.5, 0.5, 0.49, 0.6, 0.7] * 2


def make_optimizer(lib: Any, kind: str = "sgd", lrs: tuple[float, ...] = (0.1, 0.03)) -> Any:
    params = [lib.tensor([1.0], requires_grad=True) for _ in lrs]
    groups = [{"params": [p], "lr": lr} for p, lr in zip(params, lrs, strict=True)]
    o = optim if lib is cr else lib.optim
    if kind == "adam":
        return o.Adam(groups, lr=0.5)
    return o.SGD(groups, lr=0.5, momentum=0.9)


SCHEDULES = {
    "multiplicative": lambda s, o: [s.MultiplicativeLR(o, lambda e: 0.95)],
    "multiplicative_groups": lambda s, o: [s.MultiplicativeLR(o, [lambda e: 0.9,
                                                                  lambda e: 1 + 0.01 * e])],
    "constant": lambda s, o: [s.ConstantLR(o)],
    "constant_factor": lambda s, o: [s.ConstantLR(o, factor=0.5, total_iters=7)],
    "linear": lambda s, o: [s.LinearLR(o)],
    "linear_down": lambda s, o: [s.LinearLR(o, start_factor=1.0, end_factor=0.1,
                                            total_iters=12)],
    "polynomial": lambda s, o: [s.PolynomialLR(o)],
    "polynomial_power": lambda s, o: [s.PolynomialLR(o, total_iters=15, power=2.5)],
    "warm_restarts": lambda s, o: [s.CosineAnnealingWarmRestarts(o, T_0=7)],
    "warm_restarts_mult": lambda s, o: [s.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                      eta_min=0.001)],
    "one_cycle": lambda s, o: [s.OneCycleLR(o, max_lr=0.5, total_steps=40)],
    "one_cycle_all": lambda s, o: [s.OneCycleLR(
        o, max_lr=[0.4, 0.2], epochs=4, steps_per_epoch=10, pct_start=0.25,
        anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0,
        base_momentum=0.8, max_momentum=0.9)],
    "one_cycle_three_phase": lambda s, o: [s.OneCycleLR(o, max_lr=0.3, total_steps=40,
                                                        three_phase=True)],
    "one_cycle_no_momentum": lambda s, o: [s.OneCycleLR(o, max_lr=0.3, total_steps=45,
                                                        cycle_momentum=False)],
    "cyclic": lambda s, o: [s.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4)],
    "cyclic_triangular2": lambda s, o: [s.CyclicLR(o, 0.01, [0.1, 0.2], step_size_up=3,
                                                   step_size_down=5, mode="triangular2")],
    "cyclic_exp_range": lambda s, o: [s.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                 mode="exp_range", gamma=0.97)],
    "cyclic_scale_fn": lambda s, o: [s.CyclicLR(o, 0.01, 0.1, step_size_up=5,
                                                scale_fn=lambda x: 1 / (1 + x),
                                                scale_mode="iterations")],
    "sequential": lambda s, o: [s.SequentialLR(o, [s.LinearLR(o, 0.1, total_iters=5),
                                                   s.CosineAnnealingLR(o, T_max=20)], [5])],
    "sequential_three": lambda s, o: [s.SequentialLR(
        o, [s.ConstantLR(o, 0.5, total_iters=3), s.ExponentialLR(o, 0.9),
            s.StepLR(o, 4, 0.5)], milestones=[6, 15])],
    "chained": lambda s, o: [s.ChainedScheduler([s.ConstantLR(o, 0.2, total_iters=4),
                                                 s.ExponentialLR(o, 0.95)])],
}


def run(lib: Any, name: str, steps: int = 40, kind: str = "sgd") -> list[Any]:
    sched_mod = lr_scheduler if lib is cr else lib.optim.lr_scheduler
    opt = make_optimizer(lib, kind)
    scheds = SCHEDULES[name](sched_mod, opt)
    seq = []
    for _ in range(steps):
        seq.append([(g["lr"], g.get("momentum"), g.get("betas")) for g in opt.param_groups])
        opt.step()
        for s in scheds:
            s.step()
    seq.append([s.get_last_lr() for s in scheds])
    return seq


def _close(a: Any, b: Any) -> bool:
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b, strict=True))
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-13, abs_tol=1e-16)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_sequences_match_torch(name: str) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = run(cr, name), run(torch, name)
    for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
        assert _close(a, b), f"step {i}: {a} != torch {b}"


@pytest.mark.parametrize("name", ["one_cycle", "cyclic"])
def test_beta1_cycled_with_adam(name: str) -> None:
    torch = pytest.importorskip("torch")
    ours, theirs = run(cr, name, kind="adam"), run(torch, name, kind="adam")
    assert _close(ours, theirs)


@pytest.mark.parametrize("name", ["linear", "polynomial_power", "warm_restarts_mult",
                                  "one_cycle_all", "cyclic_triangular2", "sequential_three",
                                  "chained", "multiplicative"])
def test_state_dict_round_trip(name: str) -> None:
    opt = make_optimizer(cr)
    scheds = SCHEDULES[name](lr_scheduler, opt)
    for _ in range(13):
        opt.step()
        for s in scheds:
            s.step()
    saved_opt = copy.deepcopy(opt.state_dict())
    saved = [copy.deepcopy(s.state_dict()) for s in scheds]
    expected = []
    for _ in range(10):
        opt.step()
        for s in scheds:
            s.step()
        expected.append([g["lr"] for g in opt.param_groups])
    opt2 = make_optimizer(cr)
    scheds2 = SCHEDULES[name](lr_scheduler, opt2)
    opt2.load_state_dict(saved_opt)
    for s, st in zip(scheds2, saved, strict=True):
        s.load_state_dict(st)
    got = []
    for _ in range(10):
        opt2.step()
        for s in scheds2:
            s.step()
        got.append([g["lr"] for g in opt2.param_groups])
    assert got == expected


@pytest.mark.parametrize("kw", [{}, {"mode": "max", "factor": 0.5, "patience": 2},
                                {"threshold_mode": "abs", "threshold": 0.05, "cooldown": 2,
                                 "patience": 1, "min_lr": [0.02, 0.001]},
                                {"patience": 0, "eps": 0.01, "min_lr": 0.005}])
def test_reduce_on_plateau_matches_torch(kw: dict) -> None:
    torch = pytest.importorskip("torch")
    seqs = []
    for lib in (cr, torch):
        mod = lr_scheduler if lib is cr else torch.optim.lr_scheduler
        opt = make_optimizer(lib)
        s = mod.ReduceLROnPlateau(opt, **kw)
        seq = []
        for m in METRICS:
            opt.step()
            s.step(lib.tensor(m) if m < 0.6 else m)
            seq.append(([g["lr"] for g in opt.param_groups], s.num_bad_epochs,
                        s.cooldown_counter, s.best, s.get_last_lr()))
        seqs.append(seq)
    for i, (a, b) in enumerate(zip(*seqs, strict=True)):
        assert _close(list(a[:1]) + list(a[4:]), list(b[:1]) + list(b[4:])), f"epoch {i}"
        assert a[1:3] == b[1:3] and math.isclose(a[3], b[3]), f"epoch {i}"


def test_reduce_on_plateau_state_dict() -> None:
    opt = make_optimizer(cr)
    s = lr_scheduler.ReduceLROnPlateau(opt, patience=1)
    for m in METRICS[:7]:
        s.step(m)
    s2 = lr_scheduler.ReduceLROnPlateau(make_optimizer(cr), patience=5)
    s2.load_state_dict(copy.deepcopy(s.state_dict()))
    assert s2.patience == 1 and s2.best == s.best and s2.num_bad_epochs == s.num_bad_epochs


def test_warm_restarts_fractional_epochs_match_torch() -> None:
    torch = pytest.importorskip("torch")
    out = []
    for lib in (cr, torch):
        mod = lr_scheduler if lib is cr else torch.optim.lr_scheduler
        opt = make_optimizer(lib)
        s = mod.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=3)
        seq = []
        for epoch in range(12):
            for i in range(4):
                opt.step()
                s.step(epoch + i / 4)
                seq.append(s.get_last_lr())
        out.append(seq)
    assert _close(out[0], out[1])


@pytest.mark.parametrize(("make", "error", "match"), [
    (lambda s, o: s.ConstantLR(o, factor=1.5), ValueError, "between 0 and 1"),
    (lambda s, o: s.LinearLR(o, start_factor=0), ValueError, "greater than 0"),
    (lambda s, o: s.LinearLR(o, end_factor=2), ValueError, "between 0 and 1"),
    (lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=0), ValueError, "T_0"),
    (lambda s, o: s.CosineAnnealingWarmRestarts(o, T_0=2, T_mult=0), ValueError, "T_mult"),
    (lambda s, o: s.OneCycleLR(o, 0.1), ValueError, "total_steps OR"),
    (lambda s, o: s.OneCycleLR(o, 0.1, total_steps=10, pct_start=1), ValueError, "pct_start"),
    (lambda s, o: s.OneCycleLR(o, 0.1, total_steps=10, anneal_strategy="x"), ValueError,
     "anneal_strategy"),
    (lambda s, o: s.OneCycleLR(o, [0.1], total_steps=10), ValueError, "same length"),
    (lambda s, o: s.CyclicLR(o, 0.1, 1.0, mode="x"), ValueError, "mode is invalid"),
    (lambda s, o: s.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be"),
    (lambda s, o: s.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
    (lambda s, o: s.MultiplicativeLR(o, [lambda e: 1.0]), ValueError, "Expected 2"),
    (lambda s, o: s.SequentialLR(o, [s.ConstantLR(o)], [3]), ValueError, "one more than"),
    (lambda s, o: s.SequentialLR(o, [s.ReduceLROnPlateau(o)], []), ValueError,
     "ReduceLROnPlateau"),
    (lambda s, o: s.ChainedScheduler([]), ValueError, "at least one"),
])
def test_errors(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make(lr_scheduler, make_optimizer(cr))


def test_one_cycle_past_total_steps_raises() -> None:
    opt = make_optimizer(cr)
    s = lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=3)
    for _ in range(3):
        opt.step()
        s.step()
    with pytest.raises(ValueError, match="Tried to step 4 times"):
        s.step()


def test_sequential_rejects_other_optimizer() -> None:
    o1, o2 = make_optimizer(cr), make_optimizer(cr)
    with pytest.raises(ValueError, match="same optimizer"):
        lr_scheduler.SequentialLR(o1, [lr_scheduler.ConstantLR(o2)], [])


def _convert(x: Any, to_torch: bool) -> Any:
    import torch

    if to_torch and isinstance(x, cr.Tensor):
        return torch.tensor(x.numpy())
    if not to_torch and isinstance(x, torch.Tensor):
        return x.item() if x.numel() == 1 else x.numpy()
    if isinstance(x, dict):
        return {k: _convert(v, to_torch) for k, v in x.items()}
    if isinstance(x, list):
        return [_convert(v, to_torch) for v in x]
    return x


@pytest.mark.parametrize("name", sorted(SCHEDULES))
@pytest.mark.parametrize("direction", ["torch_to_cr", "cr_to_torch"])
def test_state_dicts_move_both_ways(name: str, direction: str) -> None:
    torch = pytest.importorskip("torch")
    src, dst = (torch, cr) if direction == "torch_to_cr" else (cr, torch)

    def sched_mod(lib: Any) -> Any:
        return lr_scheduler if lib is cr else torch.optim.lr_scheduler

    opt = make_optimizer(src)
    scheds = SCHEDULES[name](sched_mod(src), opt)
    for _ in range(9):
        opt.step()
        for s in scheds:
            s.step()
    to_torch = dst is torch
    opt_sd = _convert(copy.deepcopy(opt.state_dict()), to_torch)
    sched_sds = [_convert(copy.deepcopy(s.state_dict()), to_torch) for s in scheds]
    expected = []
    for _ in range(12):
        opt.step()
        for s in scheds:
            s.step()
        expected.append([g["lr"] for g in opt.param_groups])
    opt2 = make_optimizer(dst)
    scheds2 = SCHEDULES[name](sched_mod(dst), opt2)
    opt2.load_state_dict(opt_sd)
    for s, sd in zip(scheds2, sched_sds, strict=True):
        s.load_state_dict(sd)
    got = []
    for _ in range(12):
        opt2.step()
        for s in scheds2:
            s.step()
        got.append([g["lr"] for g in opt2.param_groups])
    assert _close(got, expected)


def test_legacy_base_class_name() -> None:
    class Halving(lr_scheduler._LRScheduler):
        def get_lr(self) -> list[float]:
            return [base * 0.5**self.last_epoch for base in self.base_lrs]

    opt = make_optimizer(cr)
    s = Halving(opt)
    opt.step()
    s.step()
    assert s.get_last_lr() == [0.05, 0.015]
