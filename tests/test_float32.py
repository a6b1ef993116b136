"""float32 stays float32: through every public op's forward, backward and double backward,
every layer, and every optimizer's step (parameters and optimizer state).

A float64 constant slipped into float32 math (an ``np.float64`` scalar, a float64 mask or
0-d array) silently doubles the memory traffic of a training step; these tests name the op
that does it. Not timed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim

F32 = np.dtype("float32")


@dataclass
class Case:
    """An op applied to float32 leaves of the given shapes (uniform in [low, high))."""

    name: str
    fn: Callable[..., Any]
    shapes: Sequence[tuple[int, ...]]
    low: float = -2.0
    high: float = 2.0
    module: Callable[[], Any] | None = None  # the parameters of this module are leaves too


def _targets(n: int, c: int) -> cr.Tensor:
    return cr.tensor(np.random.default_rng(3).integers(0, c, n))


def _probs(shape: tuple[int, ...]) -> cr.Tensor:
    p = np.random.default_rng(4).uniform(0.05, 1.0, shape).astype(np.float32)
    return cr.from_numpy(p / p.sum(-1, keepdims=True))


def _unit(shape: tuple[int, ...]) -> cr.Tensor:
    return cr.from_numpy(np.random.default_rng(5).uniform(0.0, 1.0, shape).astype(np.float32))


MASK = np.random.default_rng(6).uniform(size=(3, 4)) > 0.5
CONST32 = np.random.default_rng(7).standard_normal((3, 4)).astype(np.float32)

CASES: list[Case] = [
    # -- arithmetic and operators --
    Case("add", lambda a, b: cr.add(a, b), [(3, 4), (4,)]),
    Case("add-alpha", lambda a, b: cr.add(a, b, alpha=0.5), [(3, 4), (3, 4)]),
    Case("sub", lambda a, b: cr.sub(a, b), [(3, 4), (3, 1)]),
    Case("rsub-scalar", lambda a: 2.5 - a, [(3, 4)]),
    Case("mul", lambda a, b: cr.mul(a, b), [(3, 4), (3, 4)]),
    Case("mul-fanout", lambda a: a * a, [(3, 4)]),
    Case("mul-scalar", lambda a: a * 3, [(3, 4)]),
    Case("mul-ndarray", lambda a: a * CONST32, [(3, 4)]),
    Case("div", lambda a, b: cr.div(a, b), [(3, 4), (4,)], low=0.5, high=2.0),
    Case("rdiv-scalar", lambda a: 1.5 / a, [(3, 4)], low=0.5, high=2.0),
    Case("div-scalar", lambda a: a / 3, [(3, 4)]),
    Case("neg", lambda a: cr.neg(a), [(3, 4)]),
    Case("reciprocal", lambda a: cr.reciprocal(a), [(3, 4)], low=0.5, high=2.0),
    Case("pow-tensor", lambda a, b: cr.pow(a, b), [(3, 4), (3, 4)], low=0.5, high=2.0),
    Case("pow-scalar", lambda a: a ** 2, [(3, 4)]),
    Case("pow-half", lambda a: a ** 0.5, [(3, 4)], low=0.5, high=2.0),
    Case("rpow-scalar", lambda a: 2.0 ** a, [(3, 4)]),
    Case("square", lambda a: cr.square(a), [(3, 4)]),
    Case("clone", lambda a: a.clone(), [(3, 4)]),
    Case("cast-roundtrip", lambda a: a.double().float(), [(3, 4)]),
    # -- elementwise --
    Case("exp", lambda a: cr.exp(a), [(3, 4)]),
    Case("log", lambda a: cr.log(a), [(3, 4)], low=0.5, high=2.0),
    Case("sqrt", lambda a: cr.sqrt(a), [(3, 4)], low=0.5, high=2.0),
    Case("abs", lambda a: cr.abs(a), [(3, 4)]),
    Case("sin", lambda a: cr.sin(a), [(3, 4)]),
    Case("cos", lambda a: cr.cos(a), [(3, 4)]),
    Case("tanh", lambda a: cr.tanh(a), [(3, 4)]),
    Case("sigmoid", lambda a: cr.sigmoid(a), [(3, 4)]),
    Case("relu", lambda a: cr.relu(a), [(3, 4)]),
    Case("clamp", lambda a: cr.clamp(a, min=-0.5, max=0.5), [(3, 4)]),
    Case("clamp-min", lambda a: a.clamp(min=0.1), [(3, 4)]),
    Case("maximum", lambda a, b: cr.maximum(a, b), [(3, 4), (4,)]),
    Case("minimum", lambda a, b: cr.minimum(a, b), [(3, 4), (3, 4)]),
    Case("where", lambda a, b: cr.where(cr.from_numpy(MASK), a, b), [(3, 4), (3, 4)]),
    Case("where-scalar", lambda a: cr.where(a > 0, a, 0.0), [(3, 4)]),
    # -- reductions --
    Case("sum", lambda a: cr.sum(a), [(3, 4)]),
    Case("sum-dim", lambda a: a.sum(dim=1), [(3, 4)]),
    Case("sum-dims-keepdim", lambda a: a.sum(dim=(0, 2), keepdim=True), [(2, 3, 4)]),
    Case("mean", lambda a: cr.mean(a), [(3, 4)]),
    Case("mean-dim", lambda a: a.mean(dim=0), [(3, 4)]),
    Case("var", lambda a: cr.var(a), [(3, 4)]),
    Case("var-dim", lambda a: a.var(dim=1, keepdim=True), [(3, 4)]),
    Case("std", lambda a: cr.std(a), [(3, 4)]),
    Case("std-dim", lambda a: a.std(dim=0), [(3, 4)]),
    Case("max", lambda a: cr.max(a), [(3, 4)]),
    Case("max-dim", lambda a: cr.max(a, 1), [(3, 4)]),
    Case("min-dim", lambda a: a.min(dim=0), [(3, 4)]),
    Case("amax", lambda a: cr.amax(a, dim=1), [(3, 4)]),
    Case("amin", lambda a: cr.amin(a, dim=(0, 1)), [(3, 4)]),
    Case("logsumexp", lambda a: cr.logsumexp(a, dim=1), [(3, 4)]),
    Case("prod", lambda a: cr.prod(a, dim=1), [(3, 4)], low=0.5, high=2.0),
    # -- shape --
    Case("reshape", lambda a: a.reshape(4, 3), [(3, 4)]),
    Case("view", lambda a: a.view(-1), [(3, 4)]),
    Case("flatten", lambda a: cr.flatten(a, 1), [(2, 3, 4)]),
    Case("squeeze", lambda a: a.squeeze(1), [(3, 1, 4)]),
    Case("unsqueeze", lambda a: a.unsqueeze(0), [(3, 4)]),
    Case("transpose", lambda a: cr.transpose(a, 0, 2), [(2, 3, 4)]),
    Case("T", lambda a: a.T, [(3, 4)]),
    Case("mT", lambda a: a.mT, [(2, 3, 4)]),
    Case("permute", lambda a: a.permute(2, 0, 1), [(2, 3, 4)]),
    Case("expand", lambda a: a.expand(3, 4), [(1, 4)]),
    Case("broadcast_to", lambda a: cr.broadcast_to(a, (2, 3, 4)), [(4,)]),
    Case("cat", lambda a, b: cr.cat([a, b], dim=0), [(2, 4), (3, 4)]),
    Case("stack", lambda a, b: cr.stack([a, b], dim=1), [(3, 4), (3, 4)]),
    Case("split", lambda a: cr.split(a, [1, 3], dim=1), [(3, 4)]),
    Case("chunk", lambda a: a.chunk(2, dim=0), [(4, 3)]),
    Case("getitem-basic", lambda a: a[1:, ::2], [(3, 4)]),
    Case("getitem-int-array", lambda a: a[[0, 2, 0]], [(3, 4)]),
    Case("getitem-bool", lambda a: a[cr.from_numpy(MASK)], [(3, 4)]),
    Case("flip", lambda a: cr.flip(a, [0]), [(3, 4)]),
    Case("repeat", lambda a: a.repeat(2, 1), [(3, 4)]),
    Case("tile", lambda a: cr.tile(a, (1, 2)), [(3, 4)]),
    # -- linear algebra --
    Case("matmul-2d", lambda a, b: a @ b, [(3, 4), (4, 5)]),
    Case("matmul-batched", lambda a, b: cr.matmul(a, b), [(2, 3, 4), (4, 5)]),
    Case("matmul-1d-2d", lambda a, b: cr.matmul(a, b), [(4,), (4, 5)]),
    Case("matmul-dot", lambda a, b: cr.matmul(a, b), [(4,), (4,)]),
    Case("mm", lambda a, b: cr.mm(a, b), [(3, 4), (4, 2)]),
    Case("bmm", lambda a, b: cr.bmm(a, b), [(2, 3, 4), (2, 4, 5)]),
    Case("outer", lambda a, b: cr.outer(a, b), [(3,), (4,)]),
    Case("dot", lambda a, b: cr.dot(a, b), [(4,), (4,)]),
    Case("einsum", lambda a, b: cr.einsum("bij,jk->bik", a, b), [(2, 3, 4), (4, 5)]),
    Case("einsum-trace-sum", lambda a: cr.einsum("ii->", a), [(4, 4)]),
    # -- nn.functional --
    Case("F.linear", lambda x, w, b: F.linear(x, w, b), [(5, 4), (3, 4), (3,)]),
    Case("F.linear-nobias-3d", lambda x, w: F.linear(x, w), [(2, 5, 4), (3, 4)]),
    Case("F.bilinear", lambda x1, x2, w, b: F.bilinear(x1, x2, w, b),
         [(5, 3), (5, 4), (2, 3, 4), (2,)]),
    Case("F.relu", lambda a: F.relu(a), [(3, 4)]),
    Case("F.sigmoid", lambda a: F.sigmoid(a), [(3, 4)]),
    Case("F.tanh", lambda a: F.tanh(a), [(3, 4)]),
    Case("F.leaky_relu", lambda a: F.leaky_relu(a, 0.1), [(3, 4)]),
    Case("F.softmax", lambda a: F.softmax(a, dim=1), [(3, 4)]),
    Case("F.log_softmax", lambda a: F.log_softmax(a, dim=-1), [(3, 4)]),
    Case("F.dropout", lambda a: F.dropout(a, p=0.5, training=True), [(3, 4)]),
    Case("F.cross_entropy", lambda z: F.cross_entropy(z, _targets(5, 4)), [(5, 4)]),
    Case("F.cross_entropy-sum", lambda z: F.cross_entropy(z, _targets(5, 4), reduction="sum"),
         [(5, 4)]),
    Case("F.cross_entropy-none", lambda z: F.cross_entropy(z, _targets(5, 4), reduction="none"),
         [(5, 4)]),
    Case("F.cross_entropy-probs", lambda z: F.cross_entropy(z, _probs((5, 4))), [(5, 4)]),
    Case("F.cross_entropy-smoothing",
         lambda z: F.cross_entropy(z, _targets(5, 4), label_smoothing=0.1), [(5, 4)]),
    Case("F.nll_loss", lambda z: F.nll_loss(F.log_softmax(z, dim=1), _targets(5, 4)), [(5, 4)]),
    Case("F.mse_loss", lambda a, b: F.mse_loss(a, b), [(3, 4), (3, 4)]),
    Case("F.mse_loss-sum", lambda a, b: F.mse_loss(a, b, reduction="sum"), [(3, 4), (3, 4)]),
    Case("F.mse_loss-none", lambda a, b: F.mse_loss(a, b, reduction="none"), [(3, 4), (3, 4)]),
    Case("F.binary_cross_entropy", lambda p: F.binary_cross_entropy(p, _unit((3, 4))),
         [(3, 4)], low=0.05, high=0.95),
    Case("F.binary_cross_entropy_with_logits",
         lambda z: F.binary_cross_entropy_with_logits(z, _unit((3, 4))), [(3, 4)]),
    # -- layers (their parameters are leaves too) --
    Case("nn.Linear", lambda m, x: m(x), [(5, 4)], module=lambda: nn.Linear(4, 3)),
    Case("nn.Bilinear", lambda m, x1, x2: m(x1, x2), [(5, 3), (5, 4)],
         module=lambda: nn.Bilinear(3, 4, 2)),
    Case("nn.BatchNorm1d-train", lambda m, x: m(x), [(6, 4)],
         module=lambda: nn.BatchNorm1d(4)),
    Case("nn.BatchNorm1d-eval", lambda m, x: m(x), [(6, 4)],
         module=lambda: nn.BatchNorm1d(4).eval()),
    Case("nn.Sequential-MLP", lambda m, x: m(x), [(5, 4)],
         module=lambda: nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3),
                                         nn.Sigmoid(), nn.Linear(3, 2), nn.Tanh())),
    Case("nn.Softmax", lambda m, x: m(x), [(3, 4)], module=lambda: nn.Softmax(dim=1)),
    Case("nn.LogSoftmax", lambda m, x: m(x), [(3, 4)], module=lambda: nn.LogSoftmax(dim=1)),
    Case("nn.Flatten", lambda m, x: m(x), [(2, 3, 4)], module=lambda: nn.Flatten()),
    Case("nn.Identity", lambda m, x: m(x), [(3, 4)], module=lambda: nn.Identity()),
    Case("nn.Dropout", lambda m, x: m(x), [(3, 4)], module=lambda: nn.Dropout(0.3)),
    Case("nn.CrossEntropyLoss", lambda m, z: m(z, _targets(5, 4)), [(5, 4)],
         module=lambda: nn.CrossEntropyLoss()),
    Case("nn.MSELoss", lambda m, a, b: m(a, b), [(3, 4), (3, 4)],
         module=lambda: nn.MSELoss()),
    Case("nn.BCEWithLogitsLoss", lambda m, z: m(z, _unit((3, 4))), [(3, 4)],
         module=lambda: nn.BCEWithLogitsLoss()),
]


def _leaves(case: Case) -> tuple[list[cr.Tensor], Any]:
    rng = np.random.default_rng(0)
    xs = [
        cr.from_numpy(rng.uniform(case.low, case.high, s).astype(np.float32)).requires_grad_()
        for s in case.shapes
    ]
    module = case.module() if case.module is not None else None
    return xs, module


def _run(case: Case, xs: list[cr.Tensor], module: Any) -> list[cr.Tensor]:
    out = case.fn(module, *xs) if module is not None else case.fn(*xs)
    outs = list(out) if isinstance(out, tuple | list) else [out]
    return outs


def _params(module: Any) -> list[cr.Tensor]:
    return list(module.parameters()) if module is not None else []


def _assert_f32(what: str, case: Case, tensors: Sequence[Any]) -> None:
    for k, t in enumerate(tensors):
        if t is not None and t.dtype.kind == "f":
            assert t.dtype == F32, f"{case.name}: {what} {k} is {t.dtype}, expected float32"


def _cotangent(t: cr.Tensor, seed: int) -> cr.Tensor:
    c = np.random.default_rng(seed).standard_normal(t.shape).astype(np.float32)
    return cr.from_numpy(c)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_forward_and_backward_keep_float32(case: Case) -> None:
    xs, module = _leaves(case)
    leaves = xs + _params(module)
    _assert_f32("parameter", case, leaves)
    outs = _run(case, xs, module)
    _assert_f32("output", case, outs)
    diff = [o for o in outs if o.requires_grad]
    assert diff, f"{case.name}: no output requires grad"
    grads = cr.autograd.grad(diff, leaves, [_cotangent(o, 1) for o in diff], allow_unused=True)
    assert any(g is not None for g in grads), f"{case.name}: no gradient reached any input"
    _assert_f32("gradient of input", case, grads)
    if module is not None:  # running statistics and other buffers stay float32 too
        _assert_f32("state_dict entry", case, list(module.state_dict().values()))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_double_backward_keeps_float32(case: Case) -> None:
    xs, module = _leaves(case)
    leaves = xs + _params(module)
    outs = [o for o in _run(case, xs, module) if o.requires_grad]
    grads = cr.autograd.grad(outs, leaves, [_cotangent(o, 1) for o in outs],
                             create_graph=True, allow_unused=True)
    _assert_f32("first-order gradient of input", case, grads)
    live = [g for g in grads if g is not None and g.requires_grad]
    if not live:  # the gradient does not depend on any input (a linear op): nothing more
        return
    total = sum((g * _cotangent(g, 2 + k)).sum() for k, g in enumerate(live))
    assert total.dtype == F32, f"{case.name}: the gradient-vector product is {total.dtype}"
    second = cr.autograd.grad(total, leaves, allow_unused=True)
    _assert_f32("second-order gradient of input", case, second)


def test_registry_covers_the_public_ops() -> None:
    names = " ".join(c.name for c in CASES)
    for op in ["add", "sub", "mul", "div", "neg", "reciprocal", "pow", "exp", "log", "sqrt",
               "abs", "sin", "cos", "tanh", "sigmoid", "relu", "clamp", "maximum", "minimum",
               "where", "sum", "mean", "var", "std", "max", "min", "amax", "amin",
               "logsumexp", "prod", "reshape", "view", "flatten", "squeeze", "unsqueeze",
               "transpose", "permute", "expand", "broadcast_to", "cat", "stack", "split",
               "chunk", "getitem", "matmul", "mm", "bmm", "outer", "einsum", "F.linear",
               "F.bilinear", "F.softmax", "F.log_softmax", "F.dropout", "F.cross_entropy",
               "F.nll_loss", "F.mse_loss", "F.binary_cross_entropy",
               "F.binary_cross_entropy_with_logits", "nn.BatchNorm1d"]:
        assert op in names, f"no float32 case for {op}"


# -- optimizers -----------------------------------------------------------------------

OPTIMIZERS: dict[str, Callable[[Any], Any]] = {
    "SGD": lambda p: optim.SGD(p, lr=0.1),
    "SGD-momentum-dampening": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.1),
    "SGD-nesterov-weight_decay": lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True,
                                                        weight_decay=0.01),
    "SGD-maximize": lambda p: optim.SGD(p, lr=0.1, momentum=0.5, maximize=True),
    "Adam": lambda p: optim.Adam(p, lr=0.01),
    "Adam-amsgrad-weight_decay": lambda p: optim.Adam(p, lr=0.01, amsgrad=True,
                                                         weight_decay=0.01),
    "AdamW": lambda p: optim.AdamW(p, lr=0.01),
    "AdamW-amsgrad": lambda p: optim.AdamW(p, lr=0.01, amsgrad=True, weight_decay=0.1),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.01),
    "RMSprop-centered-momentum-weight_decay": lambda p: optim.RMSprop(
        p, lr=0.01, centered=True, momentum=0.9, weight_decay=0.01),
    "Adagrad": lambda p: optim.Adagrad(p, lr=0.1),
    "Adagrad-lr_decay-weight_decay": lambda p: optim.Adagrad(
        p, lr=0.1, lr_decay=0.01, weight_decay=0.01, initial_accumulator_value=0.1),
}

SCHEDULERS: dict[str, Callable[[Any], Any]] = {
    "none": lambda opt: None,
    "StepLR": lambda opt: optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5),
    "ExponentialLR": lambda opt: optim.lr_scheduler.ExponentialLR(opt, gamma=0.9),
    "CosineAnnealingLR": lambda opt: optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3),
}


def _state_arrays(state: Any) -> list[tuple[str, np.ndarray]]:
    """Every floating array held in an optimizer's per-parameter state."""
    found = []
    for key, value in state.items():
        arr = value._data if isinstance(value, cr.Tensor) else value
        if isinstance(arr, np.ndarray | np.generic) and np.asarray(arr).dtype.kind == "f":
            found.append((key, np.asarray(arr)))
    return found


@pytest.mark.parametrize("scheduler", list(SCHEDULERS))
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_keeps_params_and_state_float32(name: str, scheduler: str) -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    extra = nn.Parameter(cr.randn(2))
    params = [*model.parameters(), extra]
    arrays = [p._data for p in params]
    opt = OPTIMIZERS[name](params)
    sched = SCHEDULERS[scheduler](opt)
    x, y = cr.randn(6, 4), cr.randn(6, 2)
    for _ in range(3):
        opt.zero_grad()
        loss = ((model(x) + extra - y) ** 2).mean()
        assert loss.dtype == F32
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
    for k, p in enumerate(params):
        assert p.dtype == F32, f"{name}: parameter {k} became {p.dtype}"
        assert p._data is arrays[k], f"{name}: parameter {k} was replaced, not updated in place"
        assert p.grad is not None and p.grad.dtype == F32
        state = _state_arrays(opt.state[p])
        if name != "SGD":  # plain SGD keeps no buffers; every other variant does
            assert state, f"{name}: no state recorded for parameter {k}"
        for key, arr in state:
            if arr.ndim:  # per-element buffers must match the parameter's dtype
                assert arr.dtype == F32, f"{name}: state {key!r} of parameter {k} is {arr.dtype}"
    assert np.isfinite(model[0].weight._data).all()
