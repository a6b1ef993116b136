"""Data loading, as ``torch.utils.data``: datasets, samplers and the ``DataLoader``."""

from chainrule.utils.data.dataloader import (
    BatchSampler,
    DataLoader,
    RandomSampler,
    Sampler,
    SequentialSampler,
    default_collate,
    default_convert,
)
from chainrule.utils.data.dataset import (
    BatchedSamples,
    Dataset,
    IterableDataset,
    Subset,
    TensorDataset,
    random_split,
)
from chainrule.utils.data.distributed import DistributedSampler

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
    "TensorDataset",
    "default_collate",
    "default_convert",
    "random_split",
]
