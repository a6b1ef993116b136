"""``DistributedDataParallel``: data-parallel training over MPI, as PyTorch's.

Each process holds a replica of the model and a different slice of every batch. Their
gradients are averaged during backward, so every replica takes the same optimizer step:
N processes each with batch B train as one process with batch N*B.

How the gradients travel:

1. At construction rank 0's parameters and buffers are broadcast, so every replica
   starts equal, and the parameters are cut into buckets: in reverse order of
   ``module.parameters()`` (roughly the order backward produces their gradients), one
   dtype per bucket, each closed once it reaches ``bucket_cap_mb`` (the first at 1 MB
   when ``bucket_cap_mb`` is not given: PyTorch's rule).
2. During backward a post-accumulate-grad hook on each parameter marks it ready as soon
   as its ``.grad`` is final. When a bucket's parameters are all ready, non-blocking
   ``MPI_Iallreduce`` sums start on its gradients (the small ones packed into the
   bucket's flat buffer, one request for them all; a gradient of 1 MB or more in place,
   in its own ``.grad``), while the backward goes on with the earlier layers. Buckets
   start in the same order on every process (a bucket ready out of turn waits for the
   ones before it), as MPI's collectives require.
3. A callback at the end of backward waits for every bucket and writes the sums divided
   by the world size into the ``.grad`` of the parameters, before ``backward()`` returns.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from chainrule import distributed as dist
from chainrule.autograd import backward_hooks
from chainrule.autograd.grad_mode import GradMode
from chainrule.distributed._group import _default_group, _state, wait_request
from chainrule.nn.modules.module import Module
from chainrule.tensor import Tensor

__all__ = ["DistributedDataParallel"]

_FIRST_BUCKET_BYTES = 1024 * 1024  # PyTorch's dist._DEFAULT_FIRST_BUCKET_BYTES
_DIRECT_BYTES = 1024 * 1024  # gradients this large are reduced in place, not packed


class _Bucket:
    """Parameters whose gradients are averaged together, started at once.

    Small gradients are packed into one flat buffer (one ``Iallreduce`` for them all);
    a gradient of at least ``_DIRECT_BYTES`` is reduced where it lies, in its own
    ``.grad``, which saves copying it in and out. Which is which depends only on the
    parameters' sizes, so that every process issues the same collectives.
    """

    __slots__ = ("index", "params", "direct", "offsets", "buffer", "ready", "requests",
                 "arrays")

    def __init__(self, index: int, params: list[Tensor], dtype: np.dtype) -> None:
        self.index = index
        self.params = params
        self.direct = [p._data.nbytes >= _DIRECT_BYTES for p in params]
        self.offsets: list[int] = []  # of each packed parameter in the buffer (-1: direct)
        total = 0
        for p, direct in zip(params, self.direct, strict=True):
            self.offsets.append(-1 if direct else total)
            total += 0 if direct else p._data.size
        self.buffer = np.empty(total, dtype)
        self.ready = 0
        self.requests: list[Any] = []
        self.arrays: list[Any] = [None] * len(params)  # what was reduced, per parameter


class DistributedDataParallel(Module):
    """Wrap ``module`` so that its gradients are averaged over the processes of the job.

    Call ``cr.distributed.init_process_group()`` first (the job started by ``mpiexec``).
    Train as usual: ``loss = criterion(ddp(x), y); loss.backward()`` leaves in every
    ``.grad`` the mean over all processes' batches, and ``optimizer.step()`` then keeps
    the replicas equal.

    Args:
        module: the model; ``ddp.module`` gives it back (and state_dict keys start with
            ``module.``, as PyTorch's).
        broadcast_buffers: copy rank 0's buffers (BatchNorm's running statistics) into
            every replica at the start of each forward (as PyTorch, only when the previous
            forward ran with gradients and outside ``no_sync``).
        bucket_cap_mb: the size of a gradient bucket in MiB (default 25).
        find_unused_parameters: allow parameters that get no gradient in a backward (a
            branch the forward skipped). Their local gradient counts as zero; a parameter
            no process used keeps its ``.grad`` unchanged. Without it, such a parameter is
            an error at the end of that backward (naming it) instead of a wrong average.
        device_ids, output_device, dim, process_group, check_reduction,
        gradient_as_bucket_view, static_graph: accepted for PyTorch compatibility
            (CPU only; the only process group is the default one).
    """

    def __init__(
        self,
        module: Module,
        device_ids: Any = None,
        output_device: Any = None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: Any = None,
        bucket_cap_mb: float | None = None,
        find_unused_parameters: bool = False,
        check_reduction: bool = False,
        gradient_as_bucket_view: bool = False,
        static_graph: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(
                f"DistributedDataParallel: expected an nn.Module, got {type(module).__name__}"
            )
        if device_ids not in (None, [], ["cpu"]) or output_device not in (None, "cpu"):
            raise ValueError(
                "DistributedDataParallel: chainrule runs on the CPU; leave device_ids and "
                f"output_device as None (got {device_ids!r}, {output_device!r})"
            )
        unknown = set(kwargs) - {"mixed_precision", "device_mesh", "init_sync",
                                 "delay_all_reduce_named_params", "param_to_hook_all_reduce",
                                 "skip_all_reduce_unused_params"}
        if unknown:
            raise TypeError(
                f"DistributedDataParallel: unexpected keyword argument(s) {sorted(unknown)}"
            )
        first_cap = _FIRST_BUCKET_BYTES if bucket_cap_mb is None else None
        if bucket_cap_mb is None:
            bucket_cap_mb = 25
        if not isinstance(bucket_cap_mb, int | float) or bucket_cap_mb <= 0:
            raise ValueError(
                f"DistributedDataParallel: bucket_cap_mb must be positive, got {bucket_cap_mb!r}"
            )
        pg = _default_group(process_group, "DistributedDataParallel")
        self.module = module
        d = self.__dict__
        d["_pg"] = pg
        d["broadcast_buffers"] = bool(broadcast_buffers)
        d["find_unused_parameters"] = bool(find_unused_parameters)
        d["bucket_bytes_cap"] = int(bucket_cap_mb * 1024 * 1024)
        d["require_backward_grad_sync"] = True
        d["require_forward_param_sync"] = True
        d["dim"] = dim
        d["static_graph"] = bool(static_graph)
        d["gradient_as_bucket_view"] = bool(gradient_as_bucket_view)
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        d["_param_names"] = {id(p): n for n, p in named}
        d["_params"] = [p for _, p in named]
        d["_buffers_to_sync"] = [b for _, b in module.named_buffers()]
        self._verify_same_model()
        if kwargs.get("init_sync", True):
            self._broadcast([p._data for p in module.parameters()]
                            + [b._data for b in self._buffers_to_sync], "parameters")
            for t in (*module.parameters(), *self._buffers_to_sync):
                t._version[0] += 1
        d["_buckets"] = self._make_buckets(self._params, self.bucket_bytes_cap, first_cap)
        d["_where"] = {}  # id(param) -> (bucket, position)
        for b in self._buckets:
            for k, p in enumerate(b.params):
                self._where[id(p)] = (b, k)
        d["_handles"] = [p.register_post_accumulate_grad_hook(self._on_grad_ready)
                         for p in self._params]
        d["_in_backward"] = False
        d["_next_bucket"] = 0
        d["_used"] = set()

    # -- construction ------------------------------------------------------------------
    def _verify_same_model(self) -> None:
        """Every process must wrap the same architecture (else the collectives misalign)."""
        if self._pg.size() == 1:
            return
        mine = np.array([len(self._params), sum(p._data.size for p in self._params),
                         _shape_digest(self._params)], np.int64)
        everyone = [np.empty_like(mine) for _ in range(self._pg.size())]
        dist.all_gather(everyone, mine)
        for r, theirs in enumerate(everyone):
            if not np.array_equal(theirs, mine):
                raise RuntimeError(
                    f"DistributedDataParallel: rank {r} has a different model: "
                    f"{theirs[0]} parameters with {theirs[1]} elements against "
                    f"{mine[0]} with {mine[1]} on rank {self._pg.rank()} (or different "
                    "shapes); every process must wrap the same model"
                )

    @staticmethod
    def _make_buckets(params: list[Tensor], cap: int, first_cap: int | None = None
                      ) -> list[_Bucket]:
        """Reverse parameter order, one dtype per bucket, each closed once it holds ``cap``
        bytes; the first one at ``first_cap`` (1 MB when bucket_cap_mb is not given, as
        PyTorch, so that communication starts early)."""
        open_: dict[np.dtype, tuple[list[Tensor], int]] = {}
        groups: list[tuple[list[Tensor], np.dtype]] = []
        for p in reversed(params):
            dtype = p._data.dtype
            members, size = open_.get(dtype, ([], 0))
            members.append(p)
            size += p._data.nbytes
            limit = first_cap if first_cap is not None and not groups else cap
            if size >= limit:
                groups.append((members, dtype))
                members, size = [], 0
            open_[dtype] = (members, size)
        for dtype, (members, _) in open_.items():
            if members:
                groups.append((members, dtype))
        return [_Bucket(i, members, dtype) for i, (members, dtype) in enumerate(groups)]

    def _broadcast(self, arrays: list[np.ndarray], what: str) -> None:
        """Rank 0's arrays into everyone's, in place (all started, then all waited)."""
        if self._pg.size() == 1 or not arrays:
            return
        comm = self._pg.comm
        staged = [a if a.flags.c_contiguous else np.ascontiguousarray(a) for a in arrays]
        requests = [comm.Ibcast(s, root=0) for s in staged]
        for req in requests:
            wait_request(req, f"DistributedDataParallel: broadcast of {what}")
        for a, s in zip(arrays, staged, strict=True):
            if s is not a:
                a[...] = s

    # -- forward -----------------------------------------------------------------------
    def forward(self, *inputs: Any, **kwargs: Any) -> Any:
        if self._in_backward:
            raise RuntimeError(
                "DistributedDataParallel: forward called while the previous backward's "
                "gradient reduction has not finished"
            )
        if self.require_forward_param_sync and self.broadcast_buffers and self._buffers_to_sync:
            self._broadcast([b._data for b in self._buffers_to_sync], "buffers")
            if self._pg.rank() != 0:
                for b in self._buffers_to_sync:
                    b._version[0] += 1
        out = self.module(*inputs, **kwargs)
        self.__dict__["require_forward_param_sync"] = (
            GradMode.enabled and self.require_backward_grad_sync
        )
        return out

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Inside, backward only accumulates local gradients (no communication).

        The first backward after the block averages the accumulated gradients, as PyTorch.
        """
        old = self.require_backward_grad_sync
        self.__dict__["require_backward_grad_sync"] = False
        try:
            yield
        finally:
            self.__dict__["require_backward_grad_sync"] = old

    # -- backward ----------------------------------------------------------------------
    def _on_grad_ready(self, param: Tensor) -> None:
        """A parameter's .grad is final for this backward: maybe start its bucket."""
        if not self.require_backward_grad_sync:
            return
        if not self._in_backward:
            self.__dict__["_in_backward"] = True
            self._used.clear()
            for b in self._buckets:
                b.ready = 0
                b.requests = []
            self.__dict__["_next_bucket"] = 0
            backward_hooks.queue_callback(self._finish_backward)
        if id(param) in self._used:
            return
        self._used.add(id(param))
        bucket, _ = self._where[id(param)]
        bucket.ready += 1
        self._launch_ready()
        self._progress()

    def _launch_ready(self) -> None:
        buckets = self._buckets
        i = self._next_bucket
        while i < len(buckets) and buckets[i].ready == len(buckets[i].params):
            self._launch(buckets[i])
            i += 1
        self.__dict__["_next_bucket"] = i

    def _launch(self, bucket: _Bucket) -> None:
        """Start averaging a bucket's gradients (a locally unused parameter adds its .grad,
        zero if None); the division by the world size comes in _write_back."""
        size = self._pg.size()
        if size == 1:
            return
        MPI = _state.mpi
        comm = self._pg.comm
        buf = bucket.buffer
        for k, p in enumerate(bucket.params):
            g = p.grad
            if bucket.direct[k]:
                a = None if g is None else g._data
                if a is None or not (a.flags.c_contiguous and a.flags.writeable
                                     and a.dtype == buf.dtype):
                    a = np.zeros(p._data.shape, buf.dtype) if a is None else a.astype(
                        buf.dtype, order="C")
                bucket.arrays[k] = a
                bucket.requests.append(comm.Iallreduce(MPI.IN_PLACE, a, op=MPI.SUM))
            else:
                part = buf[bucket.offsets[k]:bucket.offsets[k] + p._data.size]
                if g is None:
                    part[...] = 0
                else:
                    np.copyto(part, g._data.reshape(-1), casting="unsafe")
        if buf.size:
            bucket.requests.append(comm.Iallreduce(MPI.IN_PLACE, buf, op=MPI.SUM))

    def _progress(self) -> None:
        """Let MPI move the started buckets on (it progresses only inside MPI calls)."""
        for b in self._buckets[: self._next_bucket]:
            if b.requests:
                _state.mpi.Request.Testall(b.requests)

    def _finish_backward(self) -> None:
        """End of backward: start what is left, wait for all, write the averages back."""
        try:
            unused = [p for p in self._params if id(p) not in self._used]
            if unused and not self.find_unused_parameters:
                for b in self._buckets[: self._next_bucket]:  # leave no request behind
                    for req in b.requests:
                        wait_request(req, "DistributedDataParallel: gradient all_reduce")
                names = [self._param_names[id(p)] for p in unused]
                raise RuntimeError(
                    "DistributedDataParallel: these parameters received no gradient in this "
                    f"backward: {', '.join(names)}. Pass find_unused_parameters=True if a "
                    "forward may skip them (or make sure every parameter takes part in "
                    "computing the loss); the gradients were left unreduced"
                )
            for p in unused:
                self._where[id(p)][0].ready += 1
            used_anywhere = None
            if self.find_unused_parameters and self._pg.size() > 1:
                flags = np.array([id(p) in self._used for p in self._params], np.int32)
                used_request = self._pg.comm.Iallreduce(_state.mpi.IN_PLACE, flags,
                                                        op=_state.mpi.MAX)
            self._launch_ready()
            if self.find_unused_parameters:
                if self._pg.size() > 1:
                    wait_request(used_request, "DistributedDataParallel: unused-parameter map")
                    used_anywhere = {id(p) for p, f in zip(self._params, flags, strict=True)
                                     if f}
                else:
                    used_anywhere = set(self._used)
            for b in self._buckets:
                for req in b.requests:
                    wait_request(req, "DistributedDataParallel: gradient all_reduce "
                                 f"(bucket {b.index})")
                if self._pg.size() > 1:
                    self._write_back(b, used_anywhere)
        finally:
            self.__dict__["_in_backward"] = False
            for b in self._buckets:
                b.requests = []
                b.arrays = [None] * len(b.params)
                b.ready = 0

    def _write_back(self, bucket: _Bucket, used_anywhere: set[int] | None) -> None:
        """The sums, divided by the world size, into the parameters' .grad."""
        scale = 1.0 / self._pg.size()
        buf = bucket.buffer
        for k, p in enumerate(bucket.params):
            if used_anywhere is not None and id(p) not in used_anywhere:
                continue  # no process used it: its .grad stays as it was
            g = p.grad
            if bucket.direct[k]:
                total = bucket.arrays[k]
                total *= scale
                if g is not None and total is g._data:
                    g._version[0] += 1
                    continue
            else:
                start = bucket.offsets[k]
                total = buf[start:start + p._data.size].reshape(p._data.shape) * scale
            if g is None or not g._data.flags.writeable or g._data.dtype != total.dtype:
                p.grad = Tensor._make(total.astype(p._data.dtype, copy=False), False)
            else:
                np.copyto(g._data, total)
                g._version[0] += 1

    def extra_repr(self) -> str:
        return ""


def _shape_digest(params: list[Tensor]) -> int:
    """A number that differs between two lists of parameter shapes (almost surely)."""
    h = 1469598103934665603
    for p in params:
        for n in (*p._data.shape, -1):
            h = ((h ^ (n & 0xFFFFFFFF)) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h
