"""Samplers: lazy index drawing, SubsetRandomSampler, WeightedRandomSampler, torch's errors."""

import resource
import time

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from chainrule.utils.data import sampler as sampler_module


class Huge(Dataset):
    """3e8 samples, each its own index: nothing is stored."""

    def __len__(self):
        return 300_000_000

    def __getitem__(self, i):
        return i


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("shuffle", [False, True])
def test_a_huge_dataset_gives_its_first_batch_without_building_all_indices(shuffle):
    before = peak_rss_mb()
    loader = DataLoader(Huge(), batch_size=64, shuffle=shuffle, generator=cr.Generator(0))
    start = time.monotonic()
    first = next(iter(loader))
    assert time.monotonic() - start < 10  # generous: building every index took ~20 s
    assert peak_rss_mb() - before < 200  # a list of 3e8 ints took 2.3 GB
    assert first.shape == (64,)
    values = first.numpy()
    assert ((values >= 0) & (values < 300_000_000)).all()
    if not shuffle:
        assert values.tolist() == list(range(64))
    else:
        assert len(set(values.tolist())) == 64
    assert len(loader) == 300_000_000 // 64


def test_long_permutations_are_lazy_bijections(monkeypatch):
    monkeypatch.setattr(sampler_module, "_WHOLE_PERMUTATION", 10)
    monkeypatch.setattr(sampler_module, "_CHUNK", 1000)
    for n in (11, 1000, 4097, 100_003):
        order = list(RandomSampler(range(n), generator=cr.Generator(n)))
        assert sorted(order) == list(range(n))
        assert order != list(range(n))
    a = list(RandomSampler(range(5000), generator=cr.Generator(1)))
    b = list(RandomSampler(range(5000), generator=cr.Generator(1)))
    c = list(RandomSampler(range(5000), generator=cr.Generator(2)))
    assert a == b and a != c
    # a rough uniformity check: position 0 lands everywhere
    firsts = [next(iter(RandomSampler(range(50), generator=cr.Generator(s)))) for s in range(500)]
    assert len(set(firsts)) > 40


def test_short_permutations_equal_numpy_and_chain_for_more_samples():
    assert list(RandomSampler(range(6), generator=cr.Generator(1))) == (
        cr.Generator(1).np.permutation(6).tolist()
    )
    chained = list(RandomSampler(range(4), num_samples=10, generator=cr.Generator(0)))
    assert len(chained) == 10 and sorted(chained[:4]) == [0, 1, 2, 3]
    drawn = list(RandomSampler(range(3), True, 70_000, generator=cr.Generator(0)))
    assert len(drawn) == 70_000 and set(drawn) == {0, 1, 2}


def test_batch_sampler_across_chunk_boundaries(monkeypatch):
    monkeypatch.setattr(sampler_module, "_CHUNK", 4)
    batches = list(BatchSampler(SequentialSampler(range(11)), 3, drop_last=False))
    assert batches == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10]]
    assert list(BatchSampler(range(7), 5, drop_last=True)) == [[0, 1, 2, 3, 4]]
    assert list(BatchSampler(["a", "b", "c"], 2, False)) == [["a", "b"], ["c"]]


def test_subset_random_sampler():
    indices = [10, 20, 30, 40, 50]
    drawn = list(SubsetRandomSampler(indices, generator=cr.Generator(0)))
    assert sorted(drawn) == indices and len(SubsetRandomSampler(indices)) == 5
    order = cr.Generator(0).np.permutation(5)
    assert drawn == [indices[k] for k in order]
    assert all(isinstance(i, int) for i in drawn)
    assert sorted(SubsetRandomSampler(cr.tensor([3, 1, 2]))) == [1, 2, 3]


def test_weighted_random_sampler():
    sampler = WeightedRandomSampler([0.0, 1.0, 3.0], 40_000, generator=cr.Generator(0))
    drawn = np.array(list(sampler))
    assert len(sampler) == 40_000 and set(drawn.tolist()) == {1, 2}
    assert abs((drawn == 2).mean() - 0.75) < 0.02
    unique = list(
        WeightedRandomSampler([1, 1, 1, 0], 3, replacement=False, generator=cr.Generator(1))
    )
    assert sorted(unique) == [0, 1, 2]
    with pytest.raises(ValueError, match="weights should be a 1d sequence"):
        WeightedRandomSampler([[1.0]], 1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        WeightedRandomSampler([1.0], 0)
    with pytest.raises(ValueError, match="replacement should be a boolean"):
        WeightedRandomSampler([1.0], 1, replacement=1)
    for weights in ([-1.0, 2.0], [np.nan, 1.0], [0.0, 0.0]):
        with pytest.raises(RuntimeError):
            list(WeightedRandomSampler(weights, 2))
    with pytest.raises(RuntimeError, match="without replacement"):
        list(WeightedRandomSampler([1.0, 0.0], 2, replacement=False))


def test_sampler_errors_and_base_class():
    with pytest.raises(NotImplementedError):
        iter(Sampler())
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(ValueError, match="batch_size should be a positive integer"):
        BatchSampler(range(3), 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean"):
        BatchSampler(range(3), 1, 0)


def test_samplers_match_torch_semantics():
    torch = pytest.importorskip("torch")
    from torch.utils.data import BatchSampler as TBatch
    from torch.utils.data import SequentialSampler as TSeq

    for n, b, drop in [(10, 3, False), (10, 3, True), (9, 3, True), (1, 4, False)]:
        ours = list(BatchSampler(SequentialSampler(range(n)), b, drop))
        theirs = list(TBatch(TSeq(range(n)), b, drop))
        assert ours == theirs
        assert len(BatchSampler(range(n), b, drop)) == len(TBatch(range(n), b, drop))
    assert torch is not None
