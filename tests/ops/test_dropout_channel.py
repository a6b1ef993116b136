"""F.dropout2d / F.dropout1d: whole channels zeroed, the rest scaled, the same mask in
backward, and PyTorch's handling of 3-D input and probabilities."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F


def test_dropout2d_masks_whole_channels_and_backward_uses_the_mask() -> None:
    cr.manual_seed(1)
    x = cr.tensor(np.random.default_rng(0).standard_normal((6, 8, 3, 4)), requires_grad=True)
    y = F.dropout2d(x, 0.25)
    ratio = y.detach().numpy() / x.detach().numpy()
    kept = ratio.reshape(6, 8, -1)
    assert np.allclose(kept, kept[..., :1])  # one factor per channel
    assert set(np.round(np.unique(kept), 6)) <= {0.0, round(1 / 0.75, 6)}
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), ratio)
    assert cr.autograd.gradgradcheck(lambda t: F.dropout2d(t, 0.0) * t, [x[:1, :2]])


def test_dropout_edge_cases() -> None:
    x = cr.ones(2, 3, 2, 2, dtype=cr.float32)
    assert F.dropout2d(x, 0.5, training=False) is x
    assert F.dropout2d(x, 1.0).numpy().sum() == 0
    assert F.dropout2d(x, 0.3).dtype == cr.float32
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout2d(x, 1.5)
    with pytest.warns(UserWarning, match="3D input to dropout2d"):
        y = F.dropout2d(cr.ones(2, 3, 4), 0.5)
    assert y.shape == (2, 3, 4)
    cr.manual_seed(0)
    z = F.dropout1d(cr.ones(3, 5), 0.5)  # unbatched (C, L)
    assert np.allclose(z.numpy(), z.numpy()[:, :1])
    with pytest.raises(RuntimeError, match="Expected 2D or 3D input"):
        F.dropout1d(cr.ones(2, 3, 4, 5))
