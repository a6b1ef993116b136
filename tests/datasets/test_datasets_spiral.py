"""Tests for cr.datasets.Spiral: the 2-D spiral toy problem."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import Spiral
from chainrule.utils.data import DataLoader, default_collate


def test_shapes_dtypes_and_balance():
    ds = Spiral(num_samples=301, num_classes=3)
    assert len(ds) == 301
    assert ds.data.shape == (301, 2) and ds.data.dtype == np.float32
    assert ds.targets.dtype == np.int64
    assert np.bincount(ds.targets.numpy()).tolist() == [101, 100, 100]
    assert ds.classes == ["0", "1", "2"]
    point, label = ds[0]
    assert point.shape == (2,) and point.dtype == np.float32 and type(label) is int


def test_deterministic_and_train_test_differ():
    a, b = Spiral(seed=4), Spiral(seed=4)
    np.testing.assert_array_equal(a.data.numpy(), b.data.numpy())
    np.testing.assert_array_equal(a.targets.numpy(), b.targets.numpy())
    test = Spiral(train=False, seed=4)
    assert not np.allclose(np.sort(a.data.numpy(), 0), np.sort(test.data.numpy(), 0))
    other = Spiral(seed=5)
    assert not np.allclose(np.sort(a.data.numpy(), 0), np.sort(other.data.numpy(), 0))


def test_noiseless_points_lie_on_their_arm():
    num_classes = 4
    ds = Spiral(num_samples=80, num_classes=num_classes, noise=0.0)
    x, y = ds.data.numpy().astype(np.float64), ds.targets.numpy()
    radius = np.hypot(x[:, 0], x[:, 1])
    np.testing.assert_allclose(np.sort(radius[y == 0]), np.arange(1, 21) / 20, rtol=1e-6)
    angle = np.arctan2(x[:, 0], x[:, 1])  # points are (r sin a, r cos a)
    offset = angle - 4.0 * radius - 2 * np.pi * y / num_classes
    np.testing.assert_allclose(np.cos(offset), 1.0, atol=1e-5)


def test_samples_are_shuffled():
    y = Spiral(num_samples=300).targets.numpy()
    assert not np.all(np.diff(y) >= 0)


def test_loader_fast_path_equals_item_by_item():
    ds = Spiral(num_samples=50)
    x, y = next(iter(DataLoader(ds, batch_size=20, shuffle=True, generator=cr.Generator(0))))
    idx = cr.Generator(0).np.permutation(50)[:20]
    sx, sy = default_collate([ds[int(i)] for i in idx])
    np.testing.assert_array_equal(x.numpy(), sx.numpy())
    np.testing.assert_array_equal(y.numpy(), sy.numpy())
    assert x.dtype == np.float32 and y.dtype == np.int64


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_samples must be an integer >= 1"):
        Spiral(num_samples=0)
    with pytest.raises(ValueError, match="num_classes must be an integer >= 2"):
        Spiral(num_classes=1)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        Spiral(noise=-0.1)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        Spiral(seed=-1)
