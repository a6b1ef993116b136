"""``DistributedSampler``: each process of a job reads its own share of a dataset.

PyTorch's rule: the indices (a permutation seeded by ``seed + epoch`` when shuffling) are
padded by repeating their beginning until they divide evenly (or, with ``drop_last``,
cut to a multiple of the number of processes), and process ``r`` takes every
``num_replicas``-th index starting at ``r``. The shares are equal, disjoint apart from
the padding, and cover the dataset. The permutation comes from chainrule's own
generator (PCG64), so it differs from PyTorch's for the same seed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule.random import Generator
from chainrule.utils.data.dataloader import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices of ``dataset`` that process ``rank`` of ``num_replicas`` reads.

    Args:
        dataset: any sized dataset (only its length is used).
        num_replicas: the number of processes (default: the world size of the initialised
            process group).
        rank: this process's rank (default: the process group's).
        shuffle: a new permutation every epoch (seeded by ``seed + epoch``; call
            :meth:`set_epoch` at the start of each epoch, or every epoch repeats one order).
        seed: the same on every process, so that the shares fit together.
        drop_last: drop the tail that does not divide evenly instead of padding it with
            repeated indices.
    """

    def __init__(
        self,
        dataset: Any,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from chainrule import distributed as dist

            if not dist.is_initialized():
                raise RuntimeError(
                    "DistributedSampler: pass num_replicas and rank, or call "
                    "cr.distributed.init_process_group() first"
                )
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if isinstance(num_replicas, bool) or not isinstance(num_replicas, int | np.integer) \
                or num_replicas <= 0:
            raise ValueError(
                f"DistributedSampler: num_replicas must be a positive integer, got "
                f"{num_replicas!r}"
            )
        if isinstance(rank, bool) or not isinstance(rank, int | np.integer) \
                or not 0 <= rank < num_replicas:
            raise ValueError(
                f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]"
            )
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = bool(drop_last)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        n = len(dataset)
        if self.drop_last and n % self.num_replicas != 0:
            self.num_samples = math.ceil((n - self.num_replicas) / self.num_replicas)
        else:
            self.num_samples = math.ceil(n / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def _index_array(self) -> np.ndarray:
        """This rank's indices for the current epoch (the DataLoader slices batches from it)."""
        n = len(self.dataset)
        if self.shuffle:
            indices = Generator(self.seed + self.epoch).np.permutation(n).astype(np.int64)
        else:
            indices = np.arange(n, dtype=np.int64)
        if not self.drop_last:
            pad = self.total_size - n
            if pad > 0:
                indices = np.concatenate([indices, np.resize(indices, pad)])
        else:
            indices = indices[: self.total_size]
        return indices[self.rank : self.total_size : self.num_replicas]

    def __iter__(self) -> Iterator[int]:
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use the permutation of ``epoch`` next (the same epoch on every process)."""
        self.epoch = epoch
