"""``cr.nn.parallel``: ``DistributedDataParallel`` (data-parallel training over MPI)."""

from chainrule.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
