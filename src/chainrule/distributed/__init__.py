"""``cr.distributed``: processes that train together over MPI, as ``torch.distributed``.

Start the processes with the MPI launcher (``mpiexec -n 4 python train.py``), call
``init_process_group('mpi')`` in each, and use the collectives on Tensors in place
(``all_reduce``, ``broadcast``, ``all_gather``, ``reduce``, ``barrier``) or wrap the model
in ``cr.nn.parallel.DistributedDataParallel``. Needs ``pip install 'chainrule[distributed]'``
(mpi4py and the MPICH wheel, which brings ``mpiexec``); see docs/distributed.md.
"""

from chainrule.distributed._collectives import (
    ReduceOp,
    Work,
    all_gather,
    all_gather_object,
    all_reduce,
    barrier,
    broadcast,
    broadcast_object_list,
    reduce,
)
from chainrule.distributed._group import (
    Backend,
    GroupMember,
    ProcessGroup,
    default_pg_timeout,
    destroy_process_group,
    get_backend,
    get_rank,
    get_world_size,
    group,
    init_process_group,
    is_available,
    is_initialized,
    is_mpi_available,
)

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "default_pg_timeout",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "group",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "reduce",
]
