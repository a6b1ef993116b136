"""parameters_to_vector and vector_to_parameters, as torch.nn.utils's."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn as nn
from chainrule.nn.utils import parameters_to_vector, vector_to_parameters


def test_round_trip_and_layout():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    vec = parameters_to_vector(model.parameters())
    assert vec.shape == (3 * 4 + 4 + 4 * 2 + 2,)
    expected = np.concatenate([p.detach().numpy().reshape(-1) for p in model.parameters()])
    np.testing.assert_array_equal(vec.detach().numpy(), expected)
    new = cr.arange(vec.shape[0], dtype=cr.float32)
    vector_to_parameters(new, model.parameters())
    np.testing.assert_array_equal(model[0].weight.detach().numpy(),
                                  np.arange(12, dtype=np.float32).reshape(4, 3))
    np.testing.assert_array_equal(model[2].bias.detach().numpy(), [24.0, 25.0])
    assert all(p.is_leaf and p.requires_grad for p in model.parameters())


def test_parameters_to_vector_is_differentiable():
    a = cr.randn(2, 3, requires_grad=True)
    b = cr.randn(4, requires_grad=True)
    v = parameters_to_vector([a, b])
    (v * cr.arange(10, dtype=v.dtype)).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.arange(6).reshape(2, 3))
    np.testing.assert_array_equal(b.grad.numpy(), np.arange(6, 10))


def test_matches_torch_state():
    torch = pytest.importorskip("torch")
    tm = torch.nn.Linear(3, 2).double()
    cm = nn.Linear(3, 2).double()
    cm.load_state_dict({k: cr.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    np.testing.assert_array_equal(
        parameters_to_vector(cm.parameters()).detach().numpy(),
        torch.nn.utils.parameters_to_vector(tm.parameters()).detach().numpy())


def test_errors():
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        vector_to_parameters(np.zeros(3), [cr.zeros(3, requires_grad=True)])
    with pytest.raises(RuntimeError, match="does not match"):
        vector_to_parameters(cr.zeros(4), [cr.zeros(3, requires_grad=True)])
