"""Tests for cr.datasets.Digits: the embedded 8x8 digits and their fixed split."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import Digits
from chainrule.datasets.digits import _load_digits
from chainrule.utils.data import DataLoader, default_collate


def test_split_sizes_and_per_class_proportions():
    train, test = Digits(train=True), Digits(train=False)
    assert (len(train), len(test)) == (1442, 355)
    _, all_labels = _load_digits()
    counts = np.bincount(all_labels, minlength=10)
    train_counts = np.bincount(train.targets.numpy(), minlength=10)
    test_counts = np.bincount(test.targets.numpy(), minlength=10)
    np.testing.assert_array_equal(train_counts + test_counts, counts)
    np.testing.assert_array_equal(test_counts, counts // 5)


def test_split_partitions_the_embedded_images():
    images, labels = _load_digits()
    train, test = Digits(train=True), Digits(train=False)
    joined = np.concatenate([train.data.numpy(), test.data.numpy()]).reshape(len(images), -1)
    as_rows = {r.tobytes() for r in images.reshape(len(images), -1)}
    assert {r.tobytes() for r in joined} == as_rows
    # Every fifth image of class 3, in file order, is a test image.
    threes = np.flatnonzero(labels == 3)
    test_threes = test.data.numpy()[test.targets.numpy() == 3]
    np.testing.assert_array_equal(test_threes, images[threes[4::5]])


def test_split_is_deterministic():
    a, b = Digits(train=False), Digits(train=False)
    np.testing.assert_array_equal(a.data.numpy(), b.data.numpy())
    np.testing.assert_array_equal(a.targets.numpy(), b.targets.numpy())


def test_attributes():
    ds = Digits()
    assert ds.data.shape == (1442, 8, 8) and ds.data.dtype == np.uint8
    assert ds.targets.shape == (1442,) and ds.targets.dtype == np.int64
    assert ds.data.numpy().max() == 16
    assert len(ds.classes) == 10 and ds.classes[3] == "3 - three"
    assert ds.class_to_idx["9 - nine"] == 9
    assert "Number of datapoints: 1442" in repr(ds) and "Split: Train" in repr(ds)


def test_item_is_scaled_float_image_and_int_label():
    ds = Digits(train=False)
    image, label = ds[7]
    assert isinstance(image, cr.Tensor)
    assert image.shape == (1, 8, 8) and image.dtype == np.float32
    assert type(label) is int and label == int(ds.targets.numpy()[7])
    np.testing.assert_array_equal(image.numpy()[0], ds.data.numpy()[7] / np.float32(16))
    assert 0.0 <= image.numpy().min() and image.numpy().max() <= 1.0
    with pytest.raises(IndexError, match="Digits: index 355 is out of range"):
        ds[355]


def test_loader_fast_path_equals_item_by_item():
    ds = Digits(train=False)
    loader = DataLoader(ds, batch_size=64, shuffle=True, generator=cr.Generator(1))
    order = cr.Generator(1).np.permutation(len(ds))
    batches = list(loader)
    assert len(batches) == len(loader) == 6
    for k, (x, y) in enumerate(batches):
        slow_x, slow_y = default_collate([ds[int(i)] for i in order[64 * k : 64 * (k + 1)]])
        assert x.shape == slow_x.shape and x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x.numpy(), slow_x.numpy())
        np.testing.assert_array_equal(y.numpy(), slow_y.numpy())


def test_transforms_are_applied_per_sample():
    ds = Digits(train=False, transform=lambda t: t.reshape(64), target_transform=lambda y: y + 100)
    image, label = ds[0]
    assert image.shape == (64,) and label == int(ds.targets.numpy()[0]) + 100
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert x.shape == (5, 64)
    np.testing.assert_array_equal(y.numpy(), ds.targets.numpy()[:5] + 100)


def test_reassigning_data_and_targets_filters_the_dataset():
    ds = Digits(train=False)
    mask = ds.targets.numpy() < 2
    ds.data = cr.from_numpy(ds.data.numpy()[mask])
    ds.targets = cr.from_numpy(ds.targets.numpy()[mask])
    assert len(ds) == int(mask.sum())
    labels = np.concatenate([y.numpy() for _, y in DataLoader(ds, batch_size=16)])
    assert set(labels.tolist()) == {0, 1}


def test_embedded_data_equals_scikit_learn():
    sklearn_datasets = pytest.importorskip("sklearn.datasets")
    reference = sklearn_datasets.load_digits()
    images, labels = _load_digits()
    np.testing.assert_array_equal(images, reference.images.astype(np.uint8))
    np.testing.assert_array_equal(reference.images, images.astype(np.float64))
    np.testing.assert_array_equal(labels, reference.target)
