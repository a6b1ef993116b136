"""Grad mode, anomaly mode and module-call tracking are per thread, as in PyTorch.

Real training and inference run in threads at once and must give exactly the results of
the same work done one thread at a time.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import anomaly
from chainrule.autograd.grad_mode import GradMode
from chainrule.nn import functional as F

RUNS = 8
STEPS = 25


@contextmanager
def _fast_switching() -> Iterator[None]:
    """Make the interpreter switch threads very often, so that races show up."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def _run_threads(targets: list[Callable[[], Any]], timeout: float = 120.0) -> list[Any]:
    """Run each target in its own thread, started together; re-raise the first error."""
    results: list[Any] = [None] * len(targets)
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(targets))

    def body(i: int) -> None:
        try:
            barrier.wait()
            results[i] = targets[i]()
        except BaseException as error:  # noqa: BLE001 - reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(len(targets))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]
    return results


def _model(seed: int) -> nn.Module:
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def _data(seed: int) -> tuple[cr.Tensor, cr.Tensor]:
    rng = np.random.default_rng(seed)
    x = cr.tensor(rng.standard_normal((32, 6)).astype(np.float32))
    y = cr.tensor(rng.integers(0, 3, 32))
    return x, y


def _train(model: nn.Module, seed: int) -> list[np.ndarray]:
    """STEPS of SGD; every step must record a graph and give every parameter a gradient."""
    x, y = _data(seed)
    opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        assert loss.requires_grad, "graph recording was switched off by another thread"
        loss.backward()
        assert all(p.grad is not None for p in model.parameters())
        opt.step()
    return [p.detach().numpy().copy() for p in model.parameters()]


def _evaluate(model: nn.Module, seed: int, repeats: int = 40) -> list[np.ndarray]:
    """Forwards under no_grad (nested, as real evaluation code does)."""
    x, _ = _data(seed)
    outputs = []
    for _ in range(repeats):
        with cr.no_grad():
            with cr.no_grad():
                out = model(x)
            assert not cr.is_grad_enabled()
            assert not out.requires_grad
        outputs.append(out.numpy().copy())
    assert cr.is_grad_enabled()
    return outputs


def test_two_threads_train_as_one_thread_does() -> None:
    expected = [_train(_model(seed), seed) for seed in (1, 2)]
    with _fast_switching():
        for _ in range(RUNS):
            models = [_model(1), _model(2)]
            pairs = zip(models, (1, 2), strict=True)
            got = _run_threads([lambda m=m, s=s: _train(m, s) for m, s in pairs])
            for weights, reference in zip(got, expected, strict=True):
                for w, r in zip(weights, reference, strict=True):
                    np.testing.assert_array_equal(w, r)
    assert cr.is_grad_enabled()


def test_evaluating_under_no_grad_does_not_stop_training_in_another_thread() -> None:
    expected_weights = _train(_model(3), 3)
    frozen = _model(4)
    expected_outputs = _evaluate(frozen, 4)
    with _fast_switching():
        for _ in range(RUNS):
            model = _model(3)
            weights, outputs = _run_threads(
                [lambda m=model: _train(m, 3), lambda: _evaluate(frozen, 4)]
            )
            for w, r in zip(weights, expected_weights, strict=True):
                np.testing.assert_array_equal(w, r)
            for o, r in zip(outputs, expected_outputs, strict=True):
                np.testing.assert_array_equal(o, r)
    assert cr.is_grad_enabled()


def test_threads_nesting_no_grad_leave_grad_mode_on() -> None:
    def nest() -> bool:
        for _ in range(200):
            with cr.no_grad():
                with cr.enable_grad():
                    assert cr.is_grad_enabled()
                with cr.set_grad_enabled(False):
                    assert not cr.is_grad_enabled()
                assert not cr.is_grad_enabled()
        return cr.is_grad_enabled()

    with _fast_switching():
        for _ in range(RUNS):
            assert _run_threads([nest, nest, nest]) == [True, True, True]
            assert cr.is_grad_enabled()


def test_a_new_thread_starts_with_grad_mode_on() -> None:
    seen = []
    with cr.no_grad():
        t = threading.Thread(target=lambda: seen.append((cr.is_grad_enabled(), GradMode.enabled)))
        t.start()
        t.join(10)
        assert not cr.is_grad_enabled()
    assert seen == [(True, True)]


def test_anomaly_mode_is_per_thread() -> None:
    inside = threading.Event()
    done = threading.Event()
    seen = []

    def other() -> None:
        inside.wait(10)
        seen.append((cr.autograd.is_anomaly_enabled(), anomaly.enabled))
        cr.log(cr.tensor([-1.0]))  # NaN, but this thread did not ask for checks
        done.set()

    t = threading.Thread(target=other)
    t.start()
    with cr.autograd.detect_anomaly():
        assert anomaly.enabled
        inside.set()
        done.wait(10)
        with pytest.raises(RuntimeError, match="Log"):
            cr.log(cr.tensor([-1.0]))
    t.join(10)
    assert seen == [(False, False)]
    assert not anomaly.enabled and not cr.autograd.is_anomaly_enabled()


def test_anomaly_in_backward_flag_is_per_thread() -> None:
    seen = []
    anomaly.in_backward = True
    try:
        t = threading.Thread(target=lambda: seen.append(anomaly.in_backward))
        t.start()
        t.join(10)
    finally:
        anomaly.in_backward = False
    assert seen == [False]


def test_module_calls_in_another_thread_do_not_rename_this_threads_parameters() -> None:
    mine = nn.Linear(3, 2)
    theirs = nn.Sequential(mine)  # the same layer, called in another thread inside a model
    x = cr.randn(4, 3)
    loss = mine(x).sum()
    t = threading.Thread(target=lambda: theirs(x))
    t.start()
    t.join(10)
    text = str(cr.explain(loss))
    assert "weight" in text and "0.weight" not in text


def test_explain_after_a_deeply_nested_model() -> None:
    class Wrap(nn.Module):
        def __init__(self, inner: nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, x: cr.Tensor) -> cr.Tensor:
            return self.inner(x)

    deep: nn.Module = nn.Linear(2, 2)
    for _ in range(300):
        deep = Wrap(deep)
    deep(cr.randn(1, 2))  # now the most recently called outermost module

    def far_down(depth: int) -> str:  # explain from deep in a call stack
        if depth:
            return far_down(depth - 1)
        w = cr.randn(3, requires_grad=True)
        return str(cr.explain((w * 2.0).sum()))

    assert "Mul" in far_down(sys.getrecursionlimit() - 150)
