"""Data loading, as ``torch.utils.data``: datasets, samplers and the ``DataLoader``."""

from chainrule.utils.data._worker import WorkerInfo, get_worker_info
from chainrule.utils.data.collate import default_collate, default_convert
from chainrule.utils.data.dataloader import DataLoader
from chainrule.utils.data.dataset import (
    BatchedSamples,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from chainrule.utils.data.distributed import DistributedSampler
from chainrule.utils.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)

__all__ = [
    "BatchSampler",
    "BatchedSamples",
    "DataLoader",
    "Dataset",
    "DistributedSampler",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
]
