"""Tests for cr.utils.data.DataLoader, the samplers and default_collate."""

from collections import namedtuple

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    IterableDataset,
    RandomSampler,
    SequentialSampler,
    TensorDataset,
    default_collate,
    default_convert,
)


class Counting(Dataset):
    """Sample i is (i as float32 array of shape (2,), i); counts how it is asked."""

    def __init__(self, n, batched=False):
        self.n = n
        self.item_calls = 0
        self.batch_calls = []
        if batched:
            self.__getitems__ = self._getitems

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.item_calls += 1
        return np.full(2, i, dtype=np.float32), i

    def _getitems(self, indices):
        self.batch_calls.append(indices)
        return [(np.full(2, i, dtype=np.float32), i) for i in indices]


def labels_of(loader):
    return [batch[1].numpy().tolist() for batch in loader]


def test_sequential_batches_and_len():
    loader = DataLoader(Counting(10), batch_size=4)
    assert len(loader) == 3
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    x, y = next(iter(loader))
    assert x.shape == (4, 2) and x.dtype == np.float32
    assert y.dtype == np.int64


def test_drop_last():
    loader = DataLoader(Counting(10), batch_size=4, drop_last=True)
    assert len(loader) == 2
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(Counting(8), batch_size=4, drop_last=True)) == 2


def test_default_batch_size_is_one():
    loader = DataLoader(Counting(3))
    assert len(loader) == 3
    assert labels_of(loader) == [[0], [1], [2]]


def test_shuffle_draws_each_epoch_from_the_generator():
    n = 10
    loader = DataLoader(Counting(n), batch_size=n, shuffle=True, generator=cr.Generator(7))
    epoch1, epoch2 = labels_of(loader)[0], labels_of(loader)[0]
    reference = cr.Generator(7)
    assert epoch1 == reference.np.permutation(n).tolist()
    assert epoch2 == reference.np.permutation(n).tolist()
    assert sorted(epoch1) == list(range(n)) and epoch1 != epoch2


def test_seeded_shuffle_is_reproducible():
    def run(seed):
        loader = DataLoader(Counting(23), batch_size=5, shuffle=True, generator=cr.Generator(seed))
        return [labels_of(loader) for _ in range(3)]

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_shuffle_without_generator_uses_the_global_seed():
    loader = DataLoader(Counting(12), batch_size=12, shuffle=True)
    cr.manual_seed(5)
    first = labels_of(loader)
    cr.manual_seed(5)
    assert labels_of(loader) == first
    assert first[0] == cr.Generator(5).np.permutation(12).tolist()


def test_getitems_called_once_per_batch_with_index_list():
    ds = Counting(10, batched=True)
    loader = DataLoader(ds, batch_size=4)
    assert labels_of(loader) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert ds.batch_calls == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert all(type(i) is int for call in ds.batch_calls for i in call)
    assert ds.item_calls == 0


def test_without_getitems_fetches_item_by_item():
    ds = Counting(10)
    list(DataLoader(ds, batch_size=4))
    assert ds.item_calls == 10


def test_tensor_dataset_fast_path_equals_item_by_item_collate():
    rng = np.random.default_rng(0)
    x = cr.from_numpy(rng.standard_normal((13, 3, 2)).astype(np.float32))
    y = cr.from_numpy(rng.integers(0, 5, 13))
    ds = TensorDataset(x, y)
    loader = DataLoader(ds, batch_size=5, shuffle=True, generator=cr.Generator(0))
    order = cr.Generator(0).np.permutation(13)
    for k, (bx, by) in enumerate(loader):
        idx = order[5 * k : 5 * k + 5]
        slow = default_collate([ds[int(i)] for i in idx])
        assert isinstance(slow, list) and len(slow) == 2
        np.testing.assert_array_equal(bx.numpy(), slow[0].numpy())
        np.testing.assert_array_equal(by.numpy(), slow[1].numpy())
        assert bx.dtype == np.float32 and bx.shape == (len(idx), 3, 2)
        assert by.dtype == np.int64


def test_custom_collate_fn_sees_the_samples():
    x = cr.from_numpy(np.arange(6, dtype=np.float32))
    ds = TensorDataset(x)
    seen = []

    def collate(samples):
        seen.append([float(s[0].item()) for s in samples])
        return len(samples)

    assert list(DataLoader(ds, batch_size=4, collate_fn=collate)) == [4, 2]
    assert seen == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0]]


def test_batch_size_none_yields_converted_samples():
    loader = DataLoader(Counting(3), batch_size=None)
    items = list(loader)
    assert len(loader) == 3 and len(items) == 3
    x, i = items[2]
    assert isinstance(x, cr.Tensor) and x.shape == (2,) and i == 2


def test_sampler_and_batch_sampler_arguments():
    loader = DataLoader(Counting(10), batch_size=2, sampler=[9, 8, 1])
    assert labels_of(loader) == [[9, 8], [1]]
    assert len(loader) == 2
    loader = DataLoader(Counting(10), batch_sampler=[[3, 1], [0]])
    assert labels_of(loader) == [[3, 1], [0]]
    assert len(loader) == 2


def test_samplers():
    assert list(SequentialSampler(range(4))) == [0, 1, 2, 3]
    perm = list(RandomSampler(range(6), generator=cr.Generator(1)))
    assert perm == cr.Generator(1).np.permutation(6).tolist()
    long = list(RandomSampler(range(4), num_samples=10, generator=cr.Generator(0)))
    assert len(long) == 10
    assert sorted(long[:4]) == [0, 1, 2, 3] and sorted(long[4:8]) == [0, 1, 2, 3]
    drawn = list(
        RandomSampler(range(3), replacement=True, num_samples=50, generator=cr.Generator(0))
    )
    assert len(drawn) == 50 and set(drawn) <= {0, 1, 2}
    assert list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=False)) == [
        [0, 1],
        [2, 3],
        [4],
    ]
    assert list(BatchSampler(iter([5, 6, 7]), 2, drop_last=True)) == [[5, 6]]
    assert len(BatchSampler(range(5), 2, drop_last=True)) == 2


class Stream(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def test_iterable_dataset_batches_in_order():
    loader = DataLoader(Stream(7), batch_size=3)
    assert [b.numpy().tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]]
    assert [b.numpy().tolist() for b in DataLoader(Stream(7), 3, drop_last=True)] == [
        [0, 1, 2],
        [3, 4, 5],
    ]
    with pytest.raises(TypeError, match="Stream has no __len__"):
        len(loader)
    with pytest.raises(ValueError, match="shuffle is not supported for an iterable dataset"):
        DataLoader(Stream(3), shuffle=True)


def test_loader_argument_errors():
    ds = Counting(4)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        DataLoader(ds, batch_size=0)
    with pytest.raises(ValueError, match="sampler option is mutually exclusive with shuffle"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler option is mutually exclusive"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="mutually exclusive with drop_last"):
        DataLoader(ds, batch_size=None, drop_last=True)
    with pytest.raises(TypeError, match="generator must be a chainrule.Generator"):
        DataLoader(ds, shuffle=True, generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="map-style Dataset.*got int"):
        DataLoader(5)
    with pytest.raises(ValueError, match="num_workers option should be non-negative"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer.*empty"):
        DataLoader(Counting(0), shuffle=True)


# ---------------------------------------------------------------- default_collate


Point = namedtuple("Point", ["x", "y"])


def test_collate_numbers():
    ints = default_collate([1, 2, 3])
    assert ints.dtype == np.int64 and ints.numpy().tolist() == [1, 2, 3]
    floats = default_collate([0.5, 1.5])
    assert floats.dtype == np.float64  # as PyTorch's default_collate
    assert default_collate([True, False]).dtype == np.bool_
    scalars = default_collate([np.float32(1), np.float32(2)])
    assert scalars.dtype == np.float32


def test_collate_arrays_and_tensors_keep_dtype():
    arrays = default_collate([np.zeros((2, 3), np.float32), np.ones((2, 3), np.float32)])
    assert arrays.shape == (2, 2, 3) and arrays.dtype == np.float32
    doubles = default_collate([np.zeros(2), np.ones(2)])
    assert doubles.dtype == np.float64
    tensors = default_collate([cr.zeros(3), cr.ones(3)])
    assert tensors.shape == (2, 3) and tensors.dtype == np.float32
    np.testing.assert_array_equal(tensors.numpy(), [[0, 0, 0], [1, 1, 1]])


def test_collate_containers():
    batch = default_collate([{"a": 1, "b": (0.5, "s")}, {"a": 2, "b": (1.5, "t")}])
    assert set(batch) == {"a", "b"}
    assert batch["a"].numpy().tolist() == [1, 2]
    assert batch["b"][0].numpy().tolist() == [0.5, 1.5]
    assert batch["b"][1] == ["s", "t"]
    points = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(points, Point) and points.x.numpy().tolist() == [1, 3]
    pair = default_collate([(1, 2), (3, 4)])
    assert isinstance(pair, list) and [p.numpy().tolist() for p in pair] == [[1, 3], [2, 4]]


def test_collate_errors():
    with pytest.raises(RuntimeError, match=r"different shapes: \(3,\) at sample 0 and \(4,\)"):
        default_collate([cr.zeros(3), cr.zeros(4)])
    with pytest.raises(RuntimeError, match="different shapes"):
        default_collate([np.zeros(3), np.zeros(4)])
    with pytest.raises(RuntimeError, match="same number of elements"):
        default_collate([(1, 2), (3,)])
    with pytest.raises(TypeError, match="found NoneType"):
        default_collate([None, None])
    with pytest.raises(ValueError, match="empty batch"):
        default_collate([])


def test_default_convert():
    out = default_convert((np.zeros(2, np.float32), 3, "s"))
    assert isinstance(out, list) and isinstance(out[0], cr.Tensor)
    assert out[0].dtype == np.float32 and out[1] == 3 and out[2] == "s"


def test_collate_matches_torch():
    torch = pytest.importorskip("torch")
    from torch.utils.data import default_collate as torch_collate

    samples = [
        (np.arange(4, dtype=np.float32).reshape(2, 2) + k, k, 0.5 * k, {"m": np.int32(k)})
        for k in range(3)
    ]
    ours, theirs = default_collate(samples), torch_collate(samples)
    assert isinstance(ours, list) and isinstance(theirs, list)
    for a, b in zip(ours[:3], theirs[:3], strict=True):
        assert str(a.dtype).removeprefix("chainrule.") == str(b.dtype).removeprefix("torch.")
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert str(ours[3]["m"].dtype) == str(theirs[3]["m"].dtype).replace("torch.", "chainrule.")
    assert torch.equal(theirs[1], torch.tensor([0, 1, 2]))
