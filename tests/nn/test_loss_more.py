"""The loss and distance modules of nn/modules/loss_more.py against PyTorch's modules:
same constructor options, same outputs and input gradients, weight buffers in state_dict."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from tests.opcheck import make_inputs

torch = pytest.importorskip("torch")

rng = np.random.default_rng(0)
X, Y, Z = make_inputs([(4, 3), (4, 3), (4, 3)], seed=11)
POS = rng.uniform(0.2, 2.0, (4, 3))
SIGN4 = np.array([1.0, -1.0, 1.0, -1.0])
LOGP = np.log(np.exp(X) / np.exp(X).sum(1, keepdims=True))
P = np.exp(Y) / np.exp(Y).sum(1, keepdims=True)

CASES = [  # (name, kwargs, inputs; the first input gets a gradient)
    ("SmoothL1Loss", {}, (X, Y)),
    ("SmoothL1Loss", {"beta": 0.5, "reduction": "sum"}, (X, Y)),
    ("HuberLoss", {"delta": 0.7, "reduction": "none"}, (X, Y)),
    ("KLDivLoss", {"reduction": "batchmean"}, (LOGP, P)),
    ("KLDivLoss", {"reduction": "sum", "log_target": True}, (LOGP, np.log(P))),
    ("PoissonNLLLoss", {}, (X, POS)),
    ("PoissonNLLLoss", {"log_input": False, "full": True}, (POS, POS * 2)),
    ("GaussianNLLLoss", {"full": True}, (X, Y, POS)),
    ("MarginRankingLoss", {"margin": 0.2}, (X[:, 0], Y[:, 0], SIGN4)),
    ("HingeEmbeddingLoss", {"margin": 2.0}, (X[:, 0], SIGN4)),
    ("SoftMarginLoss", {}, (X[:, 0], SIGN4)),
    ("MultiMarginLoss", {"p": 2, "margin": 0.5, "weight": np.array([1.0, 2.0, 0.5])},
     (X, np.array([0, 2, 1, 1]))),
    ("CosineEmbeddingLoss", {"margin": 0.1}, (X, Y, SIGN4)),
    ("TripletMarginLoss", {"margin": 2.0, "p": 1.0, "swap": True}, (X, Y, Z)),
    ("TripletMarginWithDistanceLoss", {"margin": 0.5}, (X, Y, Z)),
    ("CosineSimilarity", {"dim": 0}, (X, Y)),
    ("PairwiseDistance", {"p": 3.0, "keepdim": True}, (X, Y)),
]


def _convert(lib, a, first):
    t = lib.tensor(a)
    if first:
        t.requires_grad_(True)
    return t


@pytest.mark.parametrize(("name", "kwargs", "inputs"), CASES)
def test_module_matches_torch(name, kwargs, inputs):
    ckw = {k: (cr.tensor(v) if k == "weight" else v) for k, v in kwargs.items()}
    tkw = {k: (torch.tensor(v) if k == "weight" else v) for k, v in kwargs.items()}
    cm, tm = getattr(nn, name)(**ckw), getattr(torch.nn, name)(**tkw)
    cin = [_convert(cr, a, i == 0) for i, a in enumerate(inputs)]
    tin = [_convert(torch, a, i == 0) for i, a in enumerate(inputs)]
    cout, tout = cm(*cin), tm(*tin)
    np.testing.assert_allclose(cout.detach().numpy(), tout.detach().numpy(), rtol=1e-10)
    cout.sum().backward()
    tout.sum().backward()
    np.testing.assert_allclose(cin[0].grad.numpy(), tin[0].grad.numpy(), rtol=1e-10,
                               atol=1e-14)
    assert sorted(cm.state_dict()) == sorted(tm.state_dict())


def test_legacy_arguments_and_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert nn.SmoothL1Loss(reduce=False).reduction == "none"
        assert nn.KLDivLoss(size_average=False).reduction == "sum"
    with pytest.raises(ValueError, match="p == 1 and p == 2"):
        nn.MultiMarginLoss(p=3)
    with pytest.raises(ValueError, match="None or 1D"):
        nn.MultiMarginLoss(weight=cr.ones(2, 2))
    with pytest.raises(ValueError, match="greater than 0"):
        nn.TripletMarginLoss(margin=0)
    assert nn.PairwiseDistance(p=1.0).norm == 1.0
    m = nn.MultiMarginLoss(weight=cr.ones(3))
    m.load_state_dict({"weight": cr.tensor([1.0, 2.0, 3.0])})
    np.testing.assert_array_equal(m.weight.numpy(), [1, 2, 3])
