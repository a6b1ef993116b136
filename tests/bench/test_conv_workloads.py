"""The convolutional benchmark workloads: the NumPy floor, chainrule and PyTorch train the
same network from the same weights with equal losses; the floor's kernels are right."""

from __future__ import annotations

import numpy as np
import pytest

from bench import reference_conv as R
from bench.conv_workloads import CNNSpec, make_cnn_steps
from bench.workloads import LOSS_RTOL, check_mlp, measure_memory

SPECS = [CNNSpec("lenet5", 4, (1, 28, 28), n_batches=2),
         CNNSpec("convnet3", 4, (3, 16, 16), (4, 8, 8), n_batches=2)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.arch)
def test_losses_agree_step_by_step(spec: CNNSpec) -> None:
    libs = ["numpy", "chainrule"]
    try:
        import torch  # noqa: F401

        libs.append("torch")
    except ImportError:  # pragma: no cover
        pass
    result = check_mlp(make_cnn_steps(spec, libs), 3)
    assert result["match"], result["max_rel_diff"]
    assert all(d <= LOSS_RTOL for d in result["max_rel_diff"].values())


def test_floor_kernels_match_their_definitions() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 6))
    cols, (Ho, Wo) = R.im2col(x, 3, 1)
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    col = cols[:, 1 * Ho * Wo + 2 * Wo + 3]  # sample 1, position (2, 3)
    np.testing.assert_array_equal(col, xp[1, :, 2:5, 3:6].reshape(-1))
    d = rng.standard_normal(cols.shape)
    assert np.isclose((cols * d).sum(), (x * R.col2im(d, x.shape, 3, 1)).sum())  # adjoint
    y, arg = R.maxpool2(x)
    np.testing.assert_array_equal(y, x[:, :, :4, :6].reshape(2, 3, 2, 2, 3, 2).max(axis=(3, 5)))
    g = R.maxpool2_backward(np.ones_like(y), arg, x.shape)
    assert g.sum() == y.size and g[:, :, 4:].sum() == 0


def test_memory_of_a_cnn_step_is_measured() -> None:
    out = measure_memory(SPECS[1], "chainrule", "tracemalloc", 1)
    assert out["peak_bytes"] > 0 and len(out["losses"]) == 1
