"""Adadelta, Adamax, NAdam, RAdam and LBFGS against PyTorch's: equal trajectories from
equal weights and gradients, state dicts (layout, round trip, PyTorch's loaded), errors."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from tests.optim.test_torch_parity import assert_same_run, assert_same_state

CASES = {
    "adadelta": lambda o, ps: o.Adadelta(ps),
    "adadelta_all": lambda o, ps: o.Adadelta(ps, lr=0.5, rho=0.8, eps=1e-4, weight_decay=0.05),
    "adadelta_maximize": lambda o, ps: o.Adadelta(ps, lr=0.1, maximize=True),
    "adamax": lambda o, ps: o.Adamax(ps),
    "adamax_all": lambda o, ps: o.Adamax(ps, lr=0.01, betas=(0.8, 0.99), eps=1e-4,
                                         weight_decay=0.1),
    "adamax_maximize": lambda o, ps: o.Adamax(ps, lr=0.001, maximize=True),
    "adamax_beta1_small": lambda o, ps: o.Adamax(ps, lr=0.01, betas=(0.3, 0.9)),
    "nadam": lambda o, ps: o.NAdam(ps),
    "nadam_all": lambda o, ps: o.NAdam(ps, lr=0.01, betas=(0.85, 0.99), eps=1e-6,
                                       weight_decay=0.05, momentum_decay=0.01),
    "nadam_decoupled": lambda o, ps: o.NAdam(ps, lr=0.01, weight_decay=0.1,
                                             decoupled_weight_decay=True),
    "nadam_maximize": lambda o, ps: o.NAdam(ps, lr=0.001, maximize=True),
    "radam": lambda o, ps: o.RAdam(ps),
    "radam_all": lambda o, ps: o.RAdam(ps, lr=0.01, betas=(0.8, 0.9), eps=1e-6,
                                       weight_decay=0.05),
    "radam_decoupled": lambda o, ps: o.RAdam(ps, lr=0.01, weight_decay=0.1,
                                             decoupled_weight_decay=True),
    "radam_maximize": lambda o, ps: o.RAdam(ps, lr=0.001, maximize=True),
    "adamax_groups": lambda o, ps: o.Adamax(
        [{"params": ps[:2], "lr": 0.03}, {"params": ps[2:], "weight_decay": 0.1}], lr=0.01),
    "nadam_groups": lambda o, ps: o.NAdam(
        [{"params": ps[:1], "decoupled_weight_decay": True}, {"params": ps[1:]}],
        lr=0.01, weight_decay=0.02),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_torch(make_problem: Any, case: str) -> None:
    pytest.importorskip("torch")
    problem = make_problem(steps=30)
    cr_run = problem.run(CASES[case], "cr")
    torch_run = problem.run(CASES[case], "torch")
    assert_same_run(cr_run, torch_run)
    assert_same_state(cr_run[2], torch_run[2])
    assert not np.allclose(cr_run[1][0], problem.init[0])


@pytest.mark.parametrize("case", ["adadelta_all", "adamax_all", "nadam_all", "radam_all"])
def test_missing_gradients_are_skipped(problem: Any, case: str) -> None:
    pytest.importorskip("torch")
    no_grad = {(0, 1), (3, 0), (4, 0), (5, 3), (9, 2)} | {(t, 1) for t in range(10, 14)}
    cr_run = problem.run(CASES[case], "cr", no_grad=no_grad)
    torch_run = problem.run(CASES[case], "torch", no_grad=no_grad)
    assert_same_run(cr_run, torch_run)
    assert_same_state(cr_run[2], torch_run[2])


@pytest.mark.parametrize("case", ["adadelta_all", "adamax_all", "nadam_all", "radam_all",
                                  "nadam_decoupled"])
def test_float32_matches_torch_float32(make_problem: Any, case: str) -> None:
    pytest.importorskip("torch")
    problem = make_problem(dtype=np.float32, steps=10)
    cr_run = problem.run(CASES[case], "cr")
    torch_run = problem.run(CASES[case], "torch")
    np.testing.assert_allclose(cr_run[0], torch_run[0], rtol=1e-5)
    for a, b in zip(cr_run[1], torch_run[1], strict=True):  # float32 rounding, some ~0
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert all(w.dtype == np.float32 for w in cr_run[1])


@pytest.mark.parametrize("case", ["adadelta_all", "adamax_all", "radam_all"])
def test_resume_from_state_dict_is_bit_identical(problem: Any, case: str, tmp_path: Any) -> None:
    make = CASES[case]
    _, mid, opt, params = problem.run(make, steps=8)
    cr.save({"optimizer": opt.state_dict()}, tmp_path / "ckpt")
    saved = cr.load(tmp_path / "ckpt")["optimizer"]
    losses_a, final_a, _, _ = problem.run(make, opt=opt, params=params, start=8, steps=12)
    params_b = [cr.tensor(w, requires_grad=True) for w in mid]
    opt_b = make(optim, params_b)
    opt_b.load_state_dict(saved)
    losses_b, final_b, _, _ = problem.run(make, opt=opt_b, params=params_b, start=8, steps=12)
    assert losses_a == losses_b
    for a, b in zip(final_a, final_b, strict=True):
        np.testing.assert_array_equal(a, b)


def _torch_state_as_numpy(sd: Any) -> Any:
    if hasattr(sd, "detach"):
        return sd.detach().numpy().copy()
    if isinstance(sd, dict):
        return {k: _torch_state_as_numpy(v) for k, v in sd.items()}
    if isinstance(sd, list | tuple):
        return type(sd)(_torch_state_as_numpy(v) for v in sd)
    return sd


@pytest.mark.parametrize("case", ["adadelta_all", "adamax_all", "nadam_all", "radam_all"])
def test_loads_torch_state_dict(problem: Any, case: str) -> None:
    torch = pytest.importorskip("torch")
    make = CASES[case]
    _, mid, topt, _ = problem.run(make, "torch", steps=8)
    tsd = copy.deepcopy(topt.state_dict())
    sd = _torch_state_as_numpy(tsd)
    # torch resumed the same way: a fresh optimizer loading the state dict (its load casts
    # NAdam's float32 mu_product to the parameters' dtype, and so does ours)
    tparams = [torch.tensor(w, requires_grad=True) for w in mid]
    topt = make(torch.optim, tparams)
    topt.load_state_dict(tsd)
    t_losses, t_final, _, _ = problem.run(make, "torch", opt=topt, params=tparams, start=8,
                                          steps=12)
    params = [cr.tensor(w, requires_grad=True) for w in mid]
    opt = make(optim, params)
    opt.load_state_dict(sd)
    losses, final, _, _ = problem.run(make, opt=opt, params=params, start=8, steps=12)
    assert_same_run((losses, final), (t_losses, t_final))



def test_nadam_load_casts_mu_product_as_torch() -> None:
    p = cr.zeros(3, dtype=cr.float64, requires_grad=True)
    opt = optim.NAdam([p])
    p.grad = cr.ones(3, dtype=cr.float64)
    opt.step()
    assert opt.state[p]["mu_product"].dtype == cr.float32  # as torch keeps it
    opt2 = optim.NAdam([p])
    opt2.load_state_dict(opt.state_dict())
    assert opt2.state[p]["mu_product"].dtype == cr.float64  # torch's load casts it


@pytest.mark.parametrize(("make", "match"), [
    (lambda p: optim.Adadelta(p, rho=1.5), "rho"),
    (lambda p: optim.Adadelta(p, lr=-1), "learning rate"),
    (lambda p: optim.Adamax(p, betas=(1.0, 0.9)), "beta parameter at index 0"),
    (lambda p: optim.NAdam(p, momentum_decay=-1), "momentum_decay"),
    (lambda p: optim.RAdam(p, eps=-1), "epsilon"),
    (lambda p: optim.RAdam(p, weight_decay=-1), "weight_decay"),
    (lambda p: optim.LBFGS(p, line_search_fn="armijo"), "strong_wolfe"),
])
def test_invalid_arguments(make: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make([cr.zeros(2, requires_grad=True)])


# -- LBFGS ---------------------------------------------------------------------------


def _rosenbrock_run(lib: Any, steps: int, dtype: Any = np.float64, **kw: Any) -> Any:
    """Minimise a 2-parameter Rosenbrock plus a least-squares fit, with closures."""
    rng = np.random.default_rng(3)
    A, b = rng.standard_normal((12, 4)), rng.standard_normal(12)
    xy = lib.tensor(np.array([-1.2, 1.0], dtype=dtype), requires_grad=True)
    w = lib.tensor(np.zeros(4, dtype=dtype), requires_grad=True)
    At, bt = lib.tensor(A.astype(dtype)), lib.tensor(b.astype(dtype))
    opt = lib.optim.LBFGS([xy, w], **kw)
    evals = [0]

    def closure() -> Any:
        opt.zero_grad()
        evals[0] += 1
        r = At @ w - bt
        loss = (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2 + (r * r).sum()
        loss.backward()
        return loss

    losses = [opt.step(closure).item() for _ in range(steps)]
    return losses, [xy.detach().numpy().copy(), w.detach().numpy().copy()], opt, evals[0]


LBFGS_CASES = {
    "default": {},
    "lr_history": {"lr": 0.5, "history_size": 3, "max_iter": 5},
    "strong_wolfe": {"line_search_fn": "strong_wolfe"},
    "strong_wolfe_small": {"line_search_fn": "strong_wolfe", "history_size": 4, "max_iter": 7,
                           "max_eval": 9},
    "tolerances": {"tolerance_grad": 1e-3, "tolerance_change": 1e-4, "max_iter": 50},
}


@pytest.mark.parametrize("case", sorted(LBFGS_CASES))
def test_lbfgs_matches_torch(case: str) -> None:
    torch = pytest.importorskip("torch")
    kw = LBFGS_CASES[case]
    ours = _rosenbrock_run(cr, 6, **kw)
    theirs = _rosenbrock_run(torch, 6, **kw)
    assert ours[3] == theirs[3], "number of closure evaluations"
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-9)
    for a, b in zip(ours[1], theirs[1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-12)
    st, tst = ours[2].state_dict()["state"][0], theirs[2].state_dict()["state"][0]
    assert set(st) == set(tst)
    assert st["func_evals"] == tst["func_evals"] and st["n_iter"] == tst["n_iter"]
    assert len(st["old_dirs"]) == len(tst["old_dirs"])


def test_lbfgs_float32_and_reaches_minimum() -> None:
    losses, (xy, _), _, _ = _rosenbrock_run(cr, 10, line_search_fn="strong_wolfe")
    np.testing.assert_allclose(xy, [1.0, 1.0], atol=1e-5)
    assert losses[-1] < losses[0]
    _, (xy32, w32), _, _ = _rosenbrock_run(cr, 2, dtype=np.float32)
    assert xy32.dtype == np.float32 and w32.dtype == np.float32


def test_lbfgs_state_dict_round_trip_and_torch_state() -> None:
    torch = pytest.importorskip("torch")
    kw = {"line_search_fn": "strong_wolfe", "history_size": 5, "max_iter": 4}
    full = _rosenbrock_run(cr, 4, **kw)
    # run 2 steps, save, load into a fresh optimizer on copies of the weights, run 2 more
    losses, ws, opt, _ = _rosenbrock_run(cr, 2, **kw)
    sd = copy.deepcopy(opt.state_dict())
    for source in ("cr", "torch"):
        if source == "torch":
            _, tws, topt, _ = _rosenbrock_run(torch, 2, **kw)
            sd = _torch_state_as_numpy(copy.deepcopy(topt.state_dict()))
            ws = tws
        rng = np.random.default_rng(3)
        A, b = rng.standard_normal((12, 4)), rng.standard_normal(12)
        xy = cr.tensor(ws[0], requires_grad=True)
        w = cr.tensor(ws[1], requires_grad=True)
        opt2 = optim.LBFGS([xy, w], **kw)
        opt2.load_state_dict(sd)

        def closure(opt2=opt2, xy=xy, w=w, A=A, b=b) -> Any:
            opt2.zero_grad()
            r = cr.tensor(A) @ w - cr.tensor(b)
            loss = (1 - xy[0]) ** 2 + 100 * (xy[1] - xy[0] ** 2) ** 2 + (r * r).sum()
            loss.backward()
            return loss

        more = [opt2.step(closure).item() for _ in range(2)]
        np.testing.assert_allclose(losses + more, full[0], rtol=1e-9)
        np.testing.assert_allclose(xy.detach().numpy(), full[1][0], rtol=1e-8)


def test_lbfgs_needs_closure_and_one_group() -> None:
    p = cr.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS([p]).step()
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [cr.zeros(1, requires_grad=True)]}])


def _as_torch(x: Any) -> Any:
    import torch

    if isinstance(x, cr.Tensor):
        return torch.tensor(x.numpy())
    if isinstance(x, dict):
        return {k: _as_torch(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_as_torch(v) for v in x]
    return x


@pytest.mark.parametrize("case", ["adadelta_all", "adamax_groups", "nadam_all", "radam_all"])
def test_torch_loads_our_state_dict(problem: Any, case: str) -> None:
    torch = pytest.importorskip("torch")
    make = CASES[case]
    _, mid, opt, _ = problem.run(make, steps=8)
    saved = copy.deepcopy(opt.state_dict())
    sd = _as_torch(saved)
    params = [cr.tensor(w, requires_grad=True) for w in mid]  # resumed the same way
    opt = make(optim, params)
    opt.load_state_dict(saved)
    ours = problem.run(make, opt=opt, params=params, start=8, steps=12)
    tparams = [torch.tensor(w, requires_grad=True) for w in mid]
    topt = make(torch.optim, tparams)
    topt.load_state_dict(sd)
    theirs = problem.run(make, "torch", opt=topt, params=tparams, start=8, steps=12)
    assert_same_run(ours, theirs)


@pytest.mark.parametrize("name", ["Adadelta", "Adamax", "NAdam", "RAdam", "LBFGS"])
def test_float32_in_place_and_state(name: str) -> None:
    cr.manual_seed(0)
    model = cr.nn.Sequential(cr.nn.Linear(4, 8), cr.nn.ReLU(), cr.nn.Linear(8, 2))
    params = list(model.parameters())
    arrays = [p._data for p in params]
    kw = {"weight_decay": 0.01} if name != "LBFGS" else {"history_size": 4}
    opt = getattr(optim, name)(params, **kw)
    x, y = cr.randn(6, 4), cr.randn(6, 2)

    def closure() -> Any:
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        return loss

    for _ in range(3):
        opt.step(closure)
    for k, p in enumerate(params):
        assert p.dtype == cr.float32 and p._data is arrays[k]
    for st in opt.state.values():
        for key, v in st.items():
            vals = v if isinstance(v, list) else [v]
            for t in vals:
                if isinstance(t, cr.Tensor) and t.ndim:
                    assert t.dtype == cr.float32, key
