"""RNN, LSTM and GRU (ops/recurrent.py, nn/modules/rnn.py) and their cells against PyTorch:
outputs, final states and every gradient, stacked, bidirectional, batch_first, unbatched,
initial states, state dicts both ways, second order, init and errors; pad_sequence."""

from __future__ import annotations

import inspect
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.ops import recurrent
from tests.opcheck import torch

needs_torch = pytest.mark.skipif(torch is None, reason="needs torch")


def _load_both(ours, theirs, rng):
    assert list(ours.state_dict()) == list(theirs.state_dict())
    sd = {k: rng.standard_normal(tuple(v.shape)) * 0.4 for k, v in theirs.state_dict().items()}
    theirs.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    ours.load_state_dict({k: cr.tensor(v) for k, v in sd.items()})


def _flat(out):
    if isinstance(out, tuple | list):
        return [t for o in out for t in _flat(o)]
    return [out]


def _compare(ours, theirs, inputs, rng, tol=1e-10):
    xs = [cr.tensor(a, requires_grad=True) for a in inputs]
    ts = [torch.tensor(a, requires_grad=True) for a in inputs]
    args_c = [xs[0]] + ([tuple(xs[1:])] if len(xs) == 3 else xs[1:])
    args_t = [ts[0]] + ([tuple(ts[1:])] if len(ts) == 3 else ts[1:])
    outs, touts = _flat(ours(*args_c)), _flat(theirs(*args_t))
    assert len(outs) == len(touts)
    loss, tloss = 0, 0
    for o, t in zip(outs, touts, strict=True):
        assert tuple(o.shape) == tuple(t.shape)
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=tol, atol=tol)
        c = rng.standard_normal(tuple(t.shape))
        loss = loss + (o * cr.tensor(c)).sum()
        tloss = tloss + (t * torch.tensor(c)).sum()
    loss.backward()
    tloss.backward()
    for x, t in zip(xs, ts, strict=True):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)
    tp = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[name].grad.numpy(), rtol=tol, atol=tol,
                                   err_msg=name)


CONFIGS = [
    {},
    {"num_layers": 2},
    {"bidirectional": True},
    {"num_layers": 2, "bidirectional": True, "batch_first": True},
    {"bias": False},
]


@needs_torch
@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("cfg", CONFIGS)
@pytest.mark.parametrize("with_state", [False, True])
def test_recurrent_layers_match_torch(mode, cfg, with_state) -> None:
    rng = np.random.default_rng(0)
    I, H, T, N = 3, 4, 5, 2
    ours = getattr(nn, mode)(I, H, **cfg).double()
    theirs = getattr(torch.nn, mode)(I, H, **cfg).double()
    assert repr(ours) == repr(theirs)
    _load_both(ours, theirs, rng)
    D = 2 if cfg.get("bidirectional") else 1
    L = cfg.get("num_layers", 1)
    x = rng.standard_normal((N, T, I) if cfg.get("batch_first") else (T, N, I))
    inputs = [x]
    if with_state:
        inputs += [rng.standard_normal((L * D, N, H)) for _ in range(2 if mode == "LSTM" else 1)]
    _compare(ours, theirs, inputs, rng)


@needs_torch
@pytest.mark.parametrize("cfg", [{}, {"num_layers": 2, "bidirectional": True}])
def test_lstm_projection_matches_torch(cfg) -> None:
    rng = np.random.default_rng(5)
    ours = nn.LSTM(3, 6, proj_size=4, **cfg).double()
    theirs = torch.nn.LSTM(3, 6, proj_size=4, **cfg).double()
    assert repr(ours) == repr(theirs)
    _load_both(ours, theirs, rng)
    L = cfg.get("num_layers", 1) * (2 if cfg.get("bidirectional") else 1)
    inputs = [rng.standard_normal((5, 2, 3)), rng.standard_normal((L, 2, 4)),
              rng.standard_normal((L, 2, 6))]
    _compare(ours, theirs, inputs, rng)
    with pytest.raises(ValueError, match="proj_size has to be smaller"):
        nn.LSTM(3, 4, proj_size=4)
    with pytest.raises(ValueError, match="only supported for LSTM"):
        nn.GRU(3, 4, proj_size=2)


@needs_torch
@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
def test_unbatched_input_and_relu_rnn(mode) -> None:
    rng = np.random.default_rng(1)
    kw = {"nonlinearity": "relu"} if mode == "RNN" else {}
    ours = getattr(nn, mode)(3, 4, 2, **kw).double()
    theirs = getattr(torch.nn, mode)(3, 4, 2, **kw).double()
    assert repr(ours) == repr(theirs)
    _load_both(ours, theirs, rng)
    inputs = [rng.standard_normal((6, 3))]
    inputs += [rng.standard_normal((2, 4)) for _ in range(2 if mode == "LSTM" else 1)]
    _compare(ours, theirs, inputs, rng)


@needs_torch
@pytest.mark.parametrize("cell", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("batched", [True, False])
def test_cells_match_torch(cell, batched) -> None:
    rng = np.random.default_rng(2)
    ours, theirs = getattr(nn, cell)(3, 5).double(), getattr(torch.nn, cell)(3, 5).double()
    assert repr(ours) == repr(theirs)
    _load_both(ours, theirs, rng)
    lead = (4,) if batched else ()
    inputs = [rng.standard_normal(lead + (3,))]
    inputs += [rng.standard_normal(lead + (5,)) for _ in range(2 if cell == "LSTMCell" else 1)]
    _compare(ours, theirs, inputs, rng)
    # without a state: zeros
    y = ours(cr.tensor(inputs[0]))
    ty = theirs(torch.tensor(inputs[0]))
    for a, b in zip(_flat(y), _flat(ty), strict=True):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=1e-12)


@needs_torch
def test_state_dict_moves_to_torch_and_dropout_between_layers() -> None:
    cr.manual_seed(0)
    ours = nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    theirs = torch.nn.LSTM(3, 4, num_layers=2, dropout=0.5)
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    ours.eval()
    theirs.eval()
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(cr.tensor(x))[0].detach().numpy(),
                               theirs(torch.tensor(x))[0].detach().numpy(), atol=1e-6)
    ours.train()
    a, b = ours(cr.tensor(x))[0].detach().numpy(), ours(cr.tensor(x))[0].detach().numpy()
    assert not np.allclose(a, b)  # dropout is on between layers in training


@pytest.mark.parametrize("cls, G, kw", [(recurrent.LSTM, 4, {}), (recurrent.GRU, 3, {}),
                                        (recurrent.RNN, 1, {"reverse": True})])
def test_second_order_through_time(cls, G, kw) -> None:
    rng = np.random.default_rng(3)
    T, N, I, H = 3, 2, 2, 2
    shapes = [(T, N, I), (N, H)] + ([(N, H)] if cls is recurrent.LSTM else [])
    shapes += [(G * H, I), (G * H, H), (G * H,), (G * H,)]
    xs = [cr.tensor(rng.standard_normal(s) * 0.7, dtype=cr.float64, requires_grad=True)
          for s in shapes]

    def f(*a):
        outs = cls.apply(*a, **kw)
        return outs[0].sum() + (outs[1] * outs[1]).sum()

    assert cr.autograd.gradcheck(f, xs)
    assert cr.autograd.gradgradcheck(f, xs)


def test_init_float32_and_names() -> None:
    cr.manual_seed(0)
    lstm = nn.LSTM(10, 20, num_layers=2, bidirectional=True)
    names = list(lstm.state_dict())
    assert names[:4] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]
    assert "weight_hh_l1_reverse" in names and len(names) == 16
    assert lstm.weight_ih_l1.shape == (80, 40)
    bound = 1 / np.sqrt(20)
    for p in lstm.parameters():
        assert p.dtype == cr.float32 and np.abs(p.detach().numpy()).max() <= bound
    out, (h, c) = lstm(cr.randn(7, 3, 10))
    assert out.shape == (7, 3, 40) and h.shape == (4, 3, 20) and c.shape == (4, 3, 20)
    assert out.dtype == cr.float32
    out.sum().backward()
    assert lstm.weight_ih_l0.grad.dtype == cr.float32


def test_errors() -> None:
    with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size"):
        nn.GRU(3, 4)(cr.randn(5, 2, 6))
    with pytest.raises(RuntimeError, match="Expected hidden size"):
        nn.RNN(3, 4)(cr.randn(5, 2, 3), cr.zeros(2, 2, 4))
    with pytest.raises(ValueError, match="Unknown nonlinearity"):
        nn.RNN(3, 4, nonlinearity="gelu")
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.2)


def test_rules_follow_the_grammar_and_explain_shows_bptt() -> None:
    rule = re.compile(r"^d\w+ = \S.*\S  \(\S*\)( = \S+)?$")
    for cls in (recurrent.LSTM, recurrent.GRU, recurrent.RNN):
        for line in inspect.cleandoc(cls.backward.__doc__).splitlines():
            assert rule.match(line), f"{cls.__name__}: {line!r}"
    lstm = nn.LSTM(32, 128)
    out, _ = lstm(cr.randn(35, 20, 32, requires_grad=True))
    loss = out.sum()
    loss.backward()
    text = str(cr.explain(loss))
    assert "dW_hh = sum_t da_t.T @ h_prev  (512,128) = (512,700)(700,128)" in text
    assert "dX = dA @ W_ih  (35,20,32) = (35,20,512)(512,32)" in text


def test_pad_sequence() -> None:
    a = cr.tensor([[1.0], [2.0]], requires_grad=True)
    b = cr.tensor([[3.0], [4.0], [5.0]], requires_grad=True)
    p = nn.utils.rnn.pad_sequence([a, b], padding_value=-1.0)
    assert p.shape == (3, 2, 1)
    np.testing.assert_array_equal(p.detach().numpy()[:, 0, 0], [1, 2, -1])
    q = nn.utils.rnn.pad_sequence([a, b], batch_first=True, padding_side="left")
    np.testing.assert_array_equal(q.detach().numpy()[0, :, 0], [0, 1, 2])
    (p.sum() + q.sum()).backward()
    np.testing.assert_array_equal(a.grad.numpy(), [[2.0], [2.0]])
    if torch is not None:
        t = torch.nn.utils.rnn.pad_sequence([torch.tensor(a.detach().numpy()),
                                             torch.tensor(b.detach().numpy())], True, 7.0)
        np.testing.assert_array_equal(
            nn.utils.rnn.pad_sequence([a, b], True, 7.0).detach().numpy(), t.numpy())
    with pytest.raises(RuntimeError, match="pad_sequence"):
        nn.utils.rnn.pad_sequence([cr.ones(2, 3), cr.ones(2, 4)])
