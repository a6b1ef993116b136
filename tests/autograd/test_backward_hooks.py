"""Post-accumulate-grad hooks and queue_callback: what DistributedDataParallel builds on."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import backward_hooks


def chain(lib, events):
    """x -> @W1 -> tanh -> @W2 -> sum, recording when each gradient is ready."""
    lib.manual_seed(0)
    x = lib.tensor(np.linspace(-1, 1, 6).reshape(2, 3))
    w1 = lib.tensor(np.linspace(-0.5, 0.5, 12).reshape(3, 4), requires_grad=True)
    w2 = lib.tensor(np.linspace(0.1, 0.9, 8).reshape(4, 2), requires_grad=True)
    for name, w in (("w1", w1), ("w2", w2)):
        w.register_post_accumulate_grad_hook(
            lambda t, name=name: events.append((name, t.grad.numpy().copy())))
    h = (x @ w1).tanh()
    h.register_hook(lambda g: events.append(("h", None)))
    return (h @ w2).sum(), w1, w2


def test_a_leaf_is_announced_as_soon_as_its_grad_is_final():
    events = []
    loss, w1, w2 = chain(cr, events)
    loss.backward()
    # w2's gradient is final before backward reaches h; w1's at the end
    assert [e[0] for e in events] == ["w2", "h", "w1"]
    np.testing.assert_array_equal(events[0][1], w2.grad.numpy())
    np.testing.assert_array_equal(events[2][1], w1.grad.numpy())


def test_same_order_and_values_as_pytorch():
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    try:
        theirs, ours = [], []
        loss, *_ = chain(torch, theirs)
        loss.backward()
        loss, *_ = chain(cr, ours)
        loss.backward()
    finally:
        torch.set_default_dtype(torch.float32)
    assert [e[0] for e in ours] == [e[0] for e in theirs]
    for a, b in zip(ours, theirs, strict=True):
        if a[1] is not None:
            np.testing.assert_allclose(a[1], b[1], rtol=1e-12)


def test_fires_once_after_every_use_is_summed_and_accumulates():
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    seen = []
    handle = w.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    ((w * 2).sum() + (w * w).sum() + (w * 3).exp().sum() * 0).backward()
    assert seen == [[4.0, 6.0]]
    (w * 2).sum().backward()  # accumulates: the hook sees the sum
    assert seen[-1] == [6.0, 8.0]
    handle.remove()
    (w * 2).sum().backward()
    assert len(seen) == 2


def test_not_run_by_autograd_grad_and_unused_leaves():
    w = cr.tensor([1.0], requires_grad=True)
    unused = cr.tensor([1.0], requires_grad=True)
    seen = []
    w.register_post_accumulate_grad_hook(lambda t: seen.append("w"))
    unused.register_post_accumulate_grad_hook(lambda t: seen.append("unused"))
    cr.autograd.grad((w * 2).sum(), [w])
    assert seen == [] and w.grad is None
    (w * 2).sum().backward()
    assert seen == ["w"]


def test_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cr.zeros(2).register_post_accumulate_grad_hook(print)
    w = cr.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="non-leaf"):
        (w * 2).register_post_accumulate_grad_hook(print)
    with pytest.raises(TypeError, match="callable"):
        w.register_post_accumulate_grad_hook(3)
    with pytest.raises(RuntimeError, match="no backward pass is running"):
        backward_hooks.queue_callback(print)


def test_queue_callback_runs_once_after_every_grad_is_written():
    w1 = cr.tensor([1.0, 2.0], requires_grad=True)
    w2 = cr.tensor([3.0], requires_grad=True)
    log = []

    def first_hook(t):
        log.append("hook")
        if len(log) == 1:
            backward_hooks.queue_callback(
                lambda: log.append(("callback", w1.grad.tolist(), w2.grad.tolist())))

    w2.register_post_accumulate_grad_hook(first_hook)
    w1.register_post_accumulate_grad_hook(first_hook)
    ((w1 * w2).sum() * 2).backward()
    assert log == ["hook", "hook", ("callback", [6.0, 6.0], [6.0])]
    assert backward_hooks.running == []


def test_a_failing_backward_leaves_no_frame_behind():
    w = cr.tensor([1.0], requires_grad=True)
    w.register_post_accumulate_grad_hook(lambda t: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        (w * 2).sum().backward()
    assert backward_hooks.running == []


def mlp_events(lib, nn):
    """Post-accumulate hooks of a 3-layer MLP's parameters between activation hooks."""
    lib.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    events = []
    for name, p in m.named_parameters():
        p.register_post_accumulate_grad_hook(lambda t, name=name: events.append(name))
    h = lib.tensor(np.ones((4, 6), np.float32))
    for i, layer in enumerate(m):
        h = layer(h)
        if i < 4:
            h.register_hook(lambda g, i=i: events.append(f"act{i}"))
    (h * h).sum().backward()
    return events


def test_an_mlps_parameters_are_announced_in_pytorchs_order():
    torch = pytest.importorskip("torch")
    ours = mlp_events(cr, cr.nn)
    assert ours == mlp_events(torch, torch.nn)
    assert ours[:3] == ["4.bias", "4.weight", "act3"]  # the last layer's, before the rest


@pytest.mark.parametrize("create_graph", [False, True])
def test_hook_order_and_grad_mode_as_pytorch(create_graph):
    """A leaf's hook, then its .grad, then its post-accumulate hooks, then the callbacks;
    all under grad mode == create_graph, as PyTorch runs them."""
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    log = []
    w.register_hook(lambda g: log.append(("hook", w.grad, cr.is_grad_enabled())))

    def post(t):
        log.append(("post", t.grad.tolist(), cr.is_grad_enabled()))
        backward_hooks.queue_callback(lambda: log.append(("callback", cr.is_grad_enabled())))

    w.register_post_accumulate_grad_hook(post)
    (w * 3).sum().backward(create_graph=create_graph)
    assert log == [("hook", None, create_graph), ("post", [3.0, 3.0], create_graph),
                   ("callback", create_graph)]
