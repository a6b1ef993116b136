"""Tests for cr.utils.data datasets: TensorDataset, Subset, random_split, BatchedSamples."""

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.data import BatchedSamples, Dataset, Subset, TensorDataset, random_split


def make_xy(n=10):
    x = cr.from_numpy(np.arange(n * 3, dtype=np.float32).reshape(n, 3))
    y = cr.from_numpy(np.arange(n, dtype=np.int64) % 4)
    return x, y


def test_tensor_dataset_items_and_len():
    x, y = make_xy()
    ds = TensorDataset(x, y)
    assert len(ds) == 10
    xi, yi = ds[3]
    np.testing.assert_array_equal(xi.numpy(), [9, 10, 11])
    assert xi.dtype == np.float32
    assert yi.shape == () and int(yi.item()) == 3
    np.testing.assert_array_equal(ds[-1][0].numpy(), x.numpy()[-1])
    np.testing.assert_array_equal(ds[np.int64(2)][0].numpy(), x.numpy()[2])


def test_tensor_dataset_slices_and_index_lists():
    x, y = make_xy()
    ds = TensorDataset(x, y)
    xs, ys = ds[2:5]
    np.testing.assert_array_equal(xs.numpy(), x.numpy()[2:5])
    np.testing.assert_array_equal(ys.numpy(), y.numpy()[2:5])
    np.testing.assert_array_equal(ds[[7, 1]][0].numpy(), x.numpy()[[7, 1]])


def test_tensor_dataset_single_tensor_gives_one_tuples():
    x, _ = make_xy()
    item = TensorDataset(x)[0]
    assert isinstance(item, tuple) and len(item) == 1


def test_tensor_dataset_getitems_fancy_indexes_once():
    x, y = make_xy()
    ds = TensorDataset(x, y)
    samples = ds.__getitems__([4, 0, 7])
    assert isinstance(samples, BatchedSamples)
    assert len(samples) == 3
    bx, by = samples.batch
    np.testing.assert_array_equal(bx.numpy(), x.numpy()[[4, 0, 7]])
    np.testing.assert_array_equal(by.numpy(), y.numpy()[[4, 0, 7]])
    assert bx.dtype == np.float32 and by.dtype == np.int64
    # As a sequence it is the samples themselves, fetched one by one.
    np.testing.assert_array_equal(samples[1][0].numpy(), x.numpy()[0])
    assert [int(s[1].item()) for s in samples] == [0, 0, 3]
    assert len(samples[0:2]) == 2


def test_tensor_dataset_unequal_first_dims_is_clear_error():
    with pytest.raises(ValueError, match=r"TensorDataset.*\(10, 3\), \(9,\)"):
        TensorDataset(cr.zeros(10, 3), cr.zeros(9))


def test_tensor_dataset_rejects_non_tensors_and_scalars():
    with pytest.raises(TypeError, match="argument 1 is a ndarray.*from_numpy"):
        TensorDataset(cr.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="0-dimensional"):
        TensorDataset(cr.tensor(1.0))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_tensor_dataset_index_errors():
    ds = TensorDataset(*make_xy(5))
    with pytest.raises(IndexError, match="index 5 is out of range .* 5 samples"):
        ds[5]
    with pytest.raises(IndexError):
        ds[-6]
    with pytest.raises(TypeError, match="index must be an integer, got float"):
        ds[1.5]
    with pytest.raises(TypeError, match="integer indices"):
        ds.__getitems__([0.5, 1.0])


def test_base_dataset_is_abstract():
    class Nothing(Dataset):
        pass

    with pytest.raises(NotImplementedError, match="Nothing must implement __getitem__"):
        Nothing()[0]
    with pytest.raises(NotImplementedError, match="__len__"):
        len(Nothing())


def test_subset_and_its_batched_fetch():
    x, y = make_xy()
    ds = TensorDataset(x, y)
    sub = Subset(ds, [9, 2, 5])
    assert len(sub) == 3
    np.testing.assert_array_equal(sub[1][0].numpy(), x.numpy()[2])
    samples = sub.__getitems__([2, 0])
    assert isinstance(samples, BatchedSamples)  # delegated to TensorDataset's fast path
    np.testing.assert_array_equal(samples.batch[0].numpy(), x.numpy()[[5, 9]])
    with pytest.raises(IndexError):
        sub[3]
    sub.indices = [0, 1, 2]  # replacing the indices is seen by the batched fetch
    np.testing.assert_array_equal(sub.__getitems__([2]).batch[0].numpy(), x.numpy()[[2]])


def test_subset_of_dataset_without_getitems():
    sub = Subset(list(range(100, 110)), [3, 1])
    assert sub.__getitems__([1, 0]) == [101, 103]


def test_random_split_counts_cover_and_reproducibility():
    ds = list(range(20))
    a, b = random_split(ds, [15, 5], generator=cr.Generator(3))
    assert (len(a), len(b)) == (15, 5)
    assert sorted([*a.indices, *b.indices]) == list(range(20))
    a2, _ = random_split(ds, [15, 5], generator=cr.Generator(3))
    assert a.indices == a2.indices
    a3, _ = random_split(ds, [15, 5], generator=cr.Generator(4))
    assert a.indices != a3.indices
    # The permutation comes from the generator.
    assert [*a.indices, *b.indices] == cr.Generator(3).np.permutation(20).tolist()


def test_random_split_fractions_round_robin_remainder():
    parts = random_split(range(10), [0.34, 0.33, 0.33], generator=cr.Generator(0))
    assert [len(p) for p in parts] == [4, 3, 3]
    parts = random_split(range(11), [0.5, 0.5], generator=cr.Generator(0))
    assert [len(p) for p in parts] == [6, 5]
    with pytest.warns(UserWarning) as record:
        parts = random_split(range(2), [0.9, 0.05, 0.05], generator=cr.Generator(0))
    assert [len(p) for p in parts] == [2, 0, 0]
    assert [str(w.message).split(" (")[0] for w in record] == [
        "random_split: split 1 is empty",
        "random_split: split 2 is empty",
    ]


def test_random_split_lengths_match_torch():
    torch = pytest.importorskip("torch")
    for n, lengths in [(10, [0.34, 0.33, 0.33]), (7, [0.5, 0.5]), (101, [0.7, 0.2, 0.1])]:
        ours = [len(p) for p in random_split(range(n), lengths, generator=cr.Generator(0))]
        theirs = [len(p) for p in torch.utils.data.random_split(range(n), lengths)]
        assert ours == theirs


def test_random_split_errors():
    with pytest.raises(ValueError, match=r"add up to 9, but the dataset has 10"):
        random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="must not be negative"):
        random_split(range(10), [12, -2])
    with pytest.raises(TypeError, match="chainrule.Generator"):
        random_split(range(10), [5, 5], generator=np.random.default_rng(0))
