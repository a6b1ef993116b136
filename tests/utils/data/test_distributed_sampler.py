"""DistributedSampler: PyTorch's shares (padding, drop_last, set_epoch), without processes."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset

SIZES = [(10, 3), (9, 3), (7, 3), (2, 3), (1, 2), (12, 4), (5, 1)]


def shares(n, replicas, **kwargs):
    return [list(DistributedSampler(range(n), replicas, r, **kwargs)) for r in range(replicas)]


@pytest.mark.parametrize("n,replicas", SIZES)
@pytest.mark.parametrize("shuffle", [False, True])
def test_equal_shares_cover_the_dataset(n, replicas, shuffle):
    parts = shares(n, replicas, shuffle=shuffle, seed=3)
    size = -(-n // replicas)
    assert all(len(p) == size for p in parts)
    assert len(DistributedSampler(range(n), replicas, 0)) == size
    flat = [i for p in parts for i in p]
    assert set(flat) == set(range(n))  # covering
    assert len(flat) - len(set(flat)) == size * replicas - n  # repeats: the padding only


@pytest.mark.parametrize("n,replicas", SIZES)
@pytest.mark.parametrize("shuffle", [False, True])
def test_drop_last_gives_disjoint_shares(n, replicas, shuffle):
    parts = shares(n, replicas, shuffle=shuffle, drop_last=True)
    flat = [i for p in parts for i in p]
    assert len(flat) == len(set(flat)) == (n // replicas) * replicas
    assert len({len(p) for p in parts}) == 1


@pytest.mark.parametrize("n,replicas", SIZES)
@pytest.mark.parametrize("drop_last", [False, True])
def test_same_indices_as_pytorch_without_shuffle(n, replicas, drop_last):
    torch_data = pytest.importorskip("torch.utils.data")
    for r in range(replicas):
        theirs = torch_data.DistributedSampler(range(n), replicas, r, shuffle=False,
                                               drop_last=drop_last)
        ours = DistributedSampler(range(n), replicas, r, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) and ours.total_size == theirs.total_size


def test_pytorch_padding_rule_on_a_permutation():
    # the permutation is ours; the padding and striding are PyTorch's: applied to our
    # permutation they must give our shares
    n, replicas, seed, epoch = 11, 4, 5, 2
    perm = cr.Generator(seed + epoch).np.permutation(n).tolist()
    padded = perm + perm[: 12 - n]
    for r in range(replicas):
        s = DistributedSampler(range(n), replicas, r, seed=seed)
        s.set_epoch(epoch)
        assert list(s) == padded[r:12:replicas]


def test_set_epoch_reshuffles_and_seed_is_shared():
    a, b = DistributedSampler(range(50), 2, 0, seed=1), DistributedSampler(range(50), 2, 1, seed=1)
    first = list(a)
    assert list(a) == first  # the same epoch, the same order
    a.set_epoch(1)
    b.set_epoch(1)
    assert list(a) != first
    assert sorted(list(a) + list(b)) == list(range(50))  # the same permutation on both
    assert list(DistributedSampler(range(50), 2, 0, seed=2)) != first


def test_with_a_dataloader():
    ds = TensorDataset(cr.arange(10.0), cr.arange(10))
    loader = DataLoader(ds, batch_size=2, sampler=DistributedSampler(ds, 3, 1, shuffle=False))
    got = [y.tolist() for _, y in loader]
    assert got == [[1, 4], [7, 0]]  # 1, 4, 7 and the padding's first index


def test_errors():
    with pytest.raises(ValueError, match=r"Invalid rank 3, rank should be in the interval"):
        DistributedSampler(range(4), 3, 3)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(4), 0, 0)
    with pytest.raises(RuntimeError, match="init_process_group"):
        DistributedSampler(range(4))
    assert np.array_equal(DistributedSampler(range(0), 2, 1)._index_array(), [])
