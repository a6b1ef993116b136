"""Optimizer behaviour without PyTorch: the update equations against plain NumPy
references, parameter groups, zero_grad, dtypes, version counters, state dicts, errors."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

# -- plain NumPy references of the documented update equations (out of place) ------------


def ref_sgd(p, g, st, lr, momentum=0, dampening=0, weight_decay=0, nesterov=False,
            maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    if momentum:
        b = st.get("b")
        b = g.copy() if b is None else momentum * b + (1 - dampening) * g
        st["b"] = b
        g = g + momentum * b if nesterov else b
    return p - lr * g


def ref_adam(p, g, st, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
             maximize=False, decoupled=False):
    b1, b2 = betas
    t = st["t"] = st.get("t", 0) + 1
    g = -g if maximize else g
    if decoupled:
        p = p * (1 - lr * weight_decay)
    else:
        g = g + weight_decay * p
    m = st["m"] = st.get("m", 0) + (1 - b1) * (g - st.get("m", 0))
    v = st["v"] = b2 * st.get("v", 0) + (1 - b2) * g * g
    if amsgrad:
        v = st["vmax"] = np.maximum(st.get("vmax", 0), v)
    denom = np.sqrt(v) / np.sqrt(1 - b2**t) + eps
    return p - (lr / (1 - b1**t)) * m / denom


def ref_rmsprop(p, g, st, lr, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                centered=False, maximize=False):
    g = -g if maximize else g
    g = g + weight_decay * p
    v = st["v"] = alpha * st.get("v", 0) + (1 - alpha) * g * g
    if centered:
        ga = st["ga"] = st.get("ga", 0) + (1 - alpha) * (g - st.get("ga", 0))
        avg = np.sqrt(v - ga * ga) + eps
    else:
        avg = np.sqrt(v) + eps
    if momentum:
        b = st["b"] = momentum * st.get("b", 0) + g / avg
        return p - lr * b
    return p - lr * g / avg


def ref_adagrad(p, g, st, lr, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
                eps=1e-10, maximize=False):
    t = st["t"] = st.get("t", 0) + 1
    g = -g if maximize else g
    g = g + weight_decay * p
    s = st["s"] = st.get("s", initial_accumulator_value) + g * g
    return p - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(s) + eps)


REFERENCES = [
    (optim.SGD, ref_sgd, {"lr": 0.1}),
    (optim.SGD, ref_sgd, {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.1}),
    (optim.SGD, ref_sgd, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "maximize": True}),
    (optim.Adam, ref_adam, {"lr": 0.01}),
    (optim.Adam, ref_adam, {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    (optim.AdamW, lambda *a, **k: ref_adam(*a, decoupled=True, **k),
     {"lr": 0.01, "weight_decay": 0.5}),
    (optim.RMSprop, ref_rmsprop, {"lr": 0.01}),
    (optim.RMSprop, ref_rmsprop,
     {"lr": 0.01, "momentum": 0.9, "centered": True, "weight_decay": 0.1, "maximize": True}),
    (optim.Adagrad, ref_adagrad, {"lr": 0.1}),
    (optim.Adagrad, ref_adagrad,
     {"lr": 0.1, "lr_decay": 0.3, "initial_accumulator_value": 0.5, "weight_decay": 0.1}),
]


@pytest.mark.parametrize("cls, ref, kw", REFERENCES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(REFERENCES)])
def test_update_equations_match_numpy_reference(cls: Any, ref: Any, kw: dict) -> None:
    rng = np.random.default_rng(1)
    a0 = rng.standard_normal((3, 4))
    p = cr.tensor(a0, requires_grad=True)
    opt = cls([p], **kw)
    expected, st = a0, {}
    for _ in range(6):
        g = rng.standard_normal((3, 4))
        p.grad = cr.tensor(g)
        opt.step()
        expected = ref(expected, g, st, **kw)
        np.testing.assert_allclose(p.detach().numpy(), expected, rtol=1e-12, atol=1e-14)
    assert not np.allclose(p.detach().numpy(), a0)


def test_sgd_first_momentum_buffer_is_a_copy_of_the_gradient() -> None:
    p = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    opt = optim.SGD([p], lr=0.5, momentum=0.9, dampening=0.5)
    p.grad = cr.tensor([0.2, -0.4], dtype=cr.float64)
    opt.step()
    buf = opt.state[p]["momentum_buffer"]
    np.testing.assert_array_equal(buf.numpy(), [0.2, -0.4])  # no dampening on step 1
    assert not np.shares_memory(buf.numpy(), p.grad.numpy())
    np.testing.assert_allclose(p.detach().numpy(), [0.9, 2.2], rtol=1e-15)
    p.grad = cr.tensor([1.0, 1.0], dtype=cr.float64)
    opt.step()
    np.testing.assert_allclose(buf.numpy(), [0.9 * 0.2 + 0.5, 0.9 * -0.4 + 0.5], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign() -> None:
    p = cr.tensor([1.0, -1.0, 0.5], dtype=cr.float64, requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = cr.tensor([3.0, -0.01, 200.0], dtype=cr.float64)
    opt.step()
    np.testing.assert_allclose(p.detach().numpy(), [0.9, -0.9, 0.4], rtol=1e-6)
    assert opt.state[p]["step"].item() == 1.0


def test_step_skips_parameters_without_gradient() -> None:
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0], requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = cr.tensor([1.0, 1.0])
    opt.step()
    assert b.tolist() == [3.0] and b not in opt.state
    assert a.tolist() != [1.0, 2.0]


def test_step_bumps_version_and_invalidates_saved_graphs() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    y = w * w  # saves w for backward
    opt = optim.SGD([w], lr=0.1)
    w.grad = cr.tensor([1.0, 1.0])
    v0 = w._version[0]
    opt.step()
    assert w._version[0] == v0 + 1
    with pytest.raises(RuntimeError, match="version"):
        y.backward(cr.ones(2))


def test_step_works_under_no_grad_and_closure_runs_with_grad() -> None:
    w = cr.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)
    seen = []

    def closure() -> Any:
        seen.append(cr.is_grad_enabled())
        opt.zero_grad()
        loss = w * w
        loss.backward(cr.ones(2))
        return loss

    with cr.no_grad():
        out = opt.step(closure)
    assert seen == [True]
    assert out.tolist() == [1.0, 4.0]
    assert w.tolist() == [0.5, -1.0]  # w - 0.25 * 2w
    assert opt.step() is None


def test_zero_grad() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    w.grad = cr.tensor([3.0, 4.0])
    g = w.grad
    opt.zero_grad(set_to_none=False)
    assert w.grad is g and w.grad.tolist() == [0.0, 0.0]
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad()  # no gradients: nothing to do
    w.grad = cr.from_numpy(np.broadcast_to(np.float32(1.0), (2,)))  # read-only view
    opt.zero_grad(set_to_none=False)
    assert w.grad.tolist() == [0.0, 0.0] and w.grad.dtype == np.float32


@pytest.mark.parametrize("cls, kw", [
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    (optim.SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "maximize": True}),
    (optim.Adam, {"amsgrad": True, "weight_decay": 0.1, "maximize": True}),
    (optim.AdamW, {"amsgrad": True}),
    (optim.RMSprop, {"momentum": 0.9, "centered": True, "weight_decay": 0.1}),
    (optim.RMSprop, {"maximize": True}),
    (optim.Adagrad, {"lr_decay": 0.1, "weight_decay": 0.1}),
])
def test_float32_stays_float32(cls: Any, kw: dict) -> None:
    rng = np.random.default_rng(0)
    ps = [cr.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True)
          for s in [(4, 3), (3,), ()]]
    kw = {**kw, "lr": np.float64(kw.get("lr", 0.01))}  # even with a NumPy float64 lr
    opt = cls(ps, **kw)
    for _ in range(3):
        for p in ps:
            p.grad = cr.tensor(rng.standard_normal(p.shape).astype(np.float32))
        opt.step()
    for p in ps:
        assert p.dtype == np.float32 and np.isfinite(p.detach().numpy()).all()
        for key, value in opt.state[p].items():
            if key != "step":
                assert value.dtype == np.float32, key


def test_param_groups_and_add_param_group() -> None:
    a = cr.tensor([1.0], requires_grad=True)
    b = cr.tensor([1.0], requires_grad=True)
    c = cr.tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": a}, {"params": [b], "lr": 0.5}], lr=0.1, momentum=0.0)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["params"] == [a]
    assert opt.param_groups[1]["momentum"] == 0.0 and opt.param_groups[1]["nesterov"] is False
    opt.add_param_group({"params": (c,), "lr": 0.25})
    for p in (a, b, c):
        p.grad = cr.tensor([1.0])
    opt.step()
    np.testing.assert_allclose([a.item(), b.item(), c.item()], [0.9, 0.5, 0.75], rtol=1e-6)
    opt.param_groups[0]["lr"] = 1.0  # changing a group's lr takes effect at the next step
    opt.step()
    np.testing.assert_allclose(a.item(), -0.1, rtol=1e-6)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})


def test_named_parameters_are_accepted() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([0.0], requires_grad=True)
    opt = optim.Adam([("layer.weight", w), ("layer.bias", b)], lr=0.1)
    assert opt.param_groups[0]["params"] == [w, b]
    assert opt.param_groups[0]["param_names"] == ["layer.weight", "layer.bias"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["layer.weight", "layer.bias"]


def test_adagrad_creates_state_at_construction() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.Adagrad([w], initial_accumulator_value=0.5)
    sd = opt.state_dict()
    assert sd["state"][0]["step"].item() == 0.0
    assert sd["state"][0]["sum"].tolist() == [0.5, 0.5]


def test_repr_lists_groups() -> None:
    opt = optim.SGD([cr.tensor([1.0], requires_grad=True)], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text
    assert "    lr: 0.1" in text and "    momentum: 0.9" in text


def test_duplicate_parameter_in_a_group_warns() -> None:
    w = cr.tensor([1.0], requires_grad=True)
    with pytest.warns(UserWarning, match="more than once"):
        optim.SGD([w, w], lr=0.1)


# -- errors ---------------------------------------------------------------------------------


def _param() -> Any:
    return cr.tensor([1.0, 2.0], requires_grad=True)


@pytest.mark.parametrize("make, error, match", [
    (lambda: optim.SGD([], lr=0.1), ValueError, "SGD: optimizer got an empty parameter list"),
    (lambda: optim.Adam(iter([])), ValueError, "empty parameter list"),
    (lambda: optim.SGD(_param(), lr=0.1), TypeError, "iterable of Tensors or dicts"),
    (lambda: optim.SGD({_param()}, lr=0.1), TypeError, "use a list"),
    (lambda: optim.SGD([np.zeros(2)], lr=0.1), TypeError, "can only optimize Tensors"),
    (lambda: optim.SGD([_param() * 2], lr=0.1), ValueError, "non-leaf"),
    (lambda: optim.SGD([_param()], lr=-0.1), ValueError, r"Invalid learning rate: -0\.1"),
    (lambda: optim.SGD([_param()], lr="fast"), TypeError, "learning rate must be a real"),
    (lambda: optim.SGD([_param()], lr=float("nan")), ValueError, "Invalid learning rate: nan"),
    (lambda: optim.SGD([_param()], momentum=-0.5), ValueError, r"Invalid momentum value: -0\.5"),
    (lambda: optim.SGD([_param()], weight_decay=-1), ValueError, "Invalid weight_decay value: -1"),
    (lambda: optim.SGD([_param()], nesterov=True), ValueError,
     "Nesterov momentum requires a momentum and zero dampening"),
    (lambda: optim.SGD([_param()], momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "dampening=0.1"),
    (lambda: optim.Adam([_param()], betas=(1.0, 0.999)), ValueError,
     "Invalid beta parameter at index 0: 1.0"),
    (lambda: optim.Adam([_param()], betas=(0.9, -0.1)), ValueError,
     "Invalid beta parameter at index 1"),
    (lambda: optim.Adam([_param()], betas=0.9), ValueError, "betas must be a pair"),
    (lambda: optim.AdamW([_param()], eps=-1e-8), ValueError, "AdamW: Invalid epsilon value"),
    (lambda: optim.Adam([_param()], lr=-1), ValueError, "Adam: Invalid learning rate: -1"),
    (lambda: optim.RMSprop([_param()], alpha=-0.1), ValueError, "Invalid alpha value"),
    (lambda: optim.RMSprop([_param()], momentum=-1), ValueError, "Invalid momentum value"),
    (lambda: optim.Adagrad([_param()], lr_decay=-1), ValueError, "Invalid lr_decay value"),
    (lambda: optim.Adagrad([_param()], initial_accumulator_value=-1), ValueError,
     "Invalid initial_accumulator_value value"),
    (lambda: optim.SGD([{"params": [_param()], "lr": -2}], lr=0.1), ValueError,
     "Invalid learning rate: -2"),
    (lambda: optim.SGD([{"lr": 0.1}], lr=0.1), ValueError, "no 'params' entry"),
])
def test_invalid_arguments(make: Any, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        make()


def test_same_parameter_in_two_groups() -> None:
    w = _param()
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.Adam([{"params": [w]}, {"params": [_param(), w]}])


# -- state dicts ------------------------------------------------------------------------------

RESUMABLE = {
    "sgd": lambda o, ps: o.SGD(
        [{"params": ps[:2], "lr": 0.2}, {"params": ps[2:], "nesterov": True}],
        lr=0.05, momentum=0.9,
    ),
    "adam": lambda o, ps: o.Adam([{"params": ps[:1], "amsgrad": True}, {"params": ps[1:]}],
                                 lr=0.01, weight_decay=0.01),
    "adamw": lambda o, ps: o.AdamW(ps, lr=0.01, amsgrad=True),
    "rmsprop": lambda o, ps: o.RMSprop(ps, lr=0.01, momentum=0.5, centered=True),
    "adagrad": lambda o, ps: o.Adagrad(ps, lr=0.1, lr_decay=0.01),
}


@pytest.mark.parametrize("via", ["memory", "file"])
@pytest.mark.parametrize("case", sorted(RESUMABLE))
def test_resume_from_state_dict_is_bit_identical(problem: Any, case: str, via: str,
                                                 tmp_path: Any) -> None:
    make = RESUMABLE[case]
    _, mid_weights, opt, params = problem.run(make, steps=8)
    saved = copy.deepcopy(opt.state_dict())
    if via == "file":
        cr.save({"optimizer": opt.state_dict()}, tmp_path / "ckpt")
        saved = cr.load(tmp_path / "ckpt")["optimizer"]
    losses_a, final_a, _, _ = problem.run(make, opt=opt, params=params, start=8, steps=12)

    params_b = [cr.tensor(w, requires_grad=True) for w in mid_weights]
    opt_b = make(optim, params_b)
    opt_b.load_state_dict(saved)
    losses_b, final_b, _, _ = problem.run(make, opt=opt_b, params=params_b, start=8, steps=12)
    assert losses_a == losses_b
    for a, b in zip(final_a, final_b, strict=True):
        np.testing.assert_array_equal(a, b)


def test_state_dict_layout() -> None:
    a, b, c = _param(), _param(), _param()
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    sd = opt.state_dict()
    assert sd["state"] == {}  # momentum buffers appear at the first step
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1] == {
        "lr": 0.5, "momentum": 0.9, "dampening": 0, "weight_decay": 0, "nesterov": False,
        "maximize": False, "params": [2],
    }
    a.grad = cr.tensor([1.0, 1.0])
    c.grad = cr.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    assert list(sd["state"]) == [0, 2]
    assert sd["state"][2]["momentum_buffer"] is opt.state[c]["momentum_buffer"]  # as torch


def test_load_state_dict_copies_casts_and_restores_options() -> None:
    w64 = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    src = optim.Adam([w64], lr=0.05)
    w64.grad = cr.tensor([0.5, -0.5], dtype=cr.float64)
    src.step()
    sd = src.state_dict()

    w32 = cr.tensor([1.0, 2.0], requires_grad=True)
    dst = optim.Adam([w32], lr=0.001)
    dst.load_state_dict(sd)
    st = dst.state[w32]
    assert st["exp_avg"].dtype == np.float32 and st["exp_avg_sq"].dtype == np.float32
    assert st["step"].item() == 1.0
    assert not np.shares_memory(st["exp_avg"].numpy(), sd["state"][0]["exp_avg"].numpy())
    assert dst.param_groups[0]["lr"] == 0.05 and dst.param_groups[0]["params"][0] is w32
    w32.grad = cr.tensor([0.5, -0.5])
    dst.step()
    assert st["step"].item() == 2.0 and sd["state"][0]["step"].item() == 1.0


def test_load_state_dict_accepts_string_ids() -> None:
    w = _param()
    opt = optim.SGD([w], lr=0.1, momentum=0.9)
    w.grad = cr.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    sd = {"state": {"0": sd["state"][0]}, "param_groups": sd["param_groups"]}
    fresh = optim.SGD([w], lr=0.1, momentum=0.9)
    fresh.load_state_dict(sd)
    assert fresh.state[w]["momentum_buffer"].tolist() == [1.0, 1.0]


def test_load_state_dict_errors() -> None:
    a, b = _param(), _param()
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad = cr.tensor([1.0, 1.0])
    opt.step()
    sd = opt.state_dict()
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="group 0 has 2 parameters in the state dict, 1 in"):
        optim.SGD([a], lr=0.1).load_state_dict(sd)
    with pytest.raises(ValueError, match="no 'param_groups' entry"):
        optim.SGD([a, b], lr=0.1).load_state_dict({"state": {}})
    c = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"has shape \(2,\), but the parameter has shape \(3,\)"):
        optim.SGD([c, b], lr=0.1).load_state_dict(sd)


def test_scheduler_warning_not_triggered_by_optimizer_subclass() -> None:
    class Custom(optim.SGD):
        def step(self, closure: Any = None) -> Any:
            return super().step(closure)

    w = _param()
    opt = Custom([w], lr=0.1)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1)
    w.grad = cr.tensor([1.0, 1.0])
    opt.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched.step()
    assert opt._step_count >= 1
