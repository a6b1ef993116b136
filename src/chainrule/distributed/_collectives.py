"""Collectives on Tensors, in place, as ``torch.distributed``: MPI moves the NumPy buffers.

Every collective is started as a non-blocking MPI request (``Iallreduce``, ``Ibcast``,
``Iallgather``, ``Ireduce``, ``Ibarrier``) on the tensor's own array (no copy for a
C-contiguous tensor). With ``async_op=False`` (the default) it is waited for before the
function returns; with ``async_op=True`` a :class:`Work` handle is returned and the
result is in the tensor after ``work.wait()``. Waiting is bounded by the group's timeout.

``ReduceOp.AVG`` is a sum followed by a division by the world size, on floating-point
tensors only (MPI has no averaging reduction; an integer average would have to round).
"""

from __future__ import annotations

import datetime
import pickle
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from chainrule.distributed._group import _default_group, _state, wait_request
from chainrule.tensor import Tensor

__all__ = [
    "ReduceOp",
    "Work",
    "all_gather",
    "all_gather_object",
    "all_reduce",
    "barrier",
    "broadcast",
    "broadcast_object_list",
    "reduce",
]


class ReduceOp:
    """The reductions of ``all_reduce`` and ``reduce``: ``ReduceOp.SUM`` etc., as PyTorch."""

    class RedOpType(str):
        def __repr__(self) -> str:
            return f"<RedOpType.{str(self)}>"

    SUM = RedOpType("SUM")
    AVG = RedOpType("AVG")
    PRODUCT = RedOpType("PRODUCT")
    MIN = RedOpType("MIN")
    MAX = RedOpType("MAX")
    BAND = RedOpType("BAND")
    BOR = RedOpType("BOR")
    BXOR = RedOpType("BXOR")


_MPI_OPS = {"SUM": "SUM", "AVG": "SUM", "PRODUCT": "PROD", "MIN": "MIN", "MAX": "MAX",
            "BAND": "BAND", "BOR": "BOR", "BXOR": "BXOR"}


class Work:
    """The handle of a collective started with ``async_op=True``: ``wait()`` finishes it."""

    def __init__(self, request: Any, what: str, finish: Callable[[], None] | None = None,
                 timeout: datetime.timedelta | None = None) -> None:
        self._request = request
        self._what = what
        self._finish = finish
        self._timeout = timeout
        self._done = False

    def is_completed(self) -> bool:
        """Whether the collective has finished (tests the request without blocking)."""
        if not self._done and self._request.Test():
            self._complete()
        return self._done

    def wait(self, timeout: datetime.timedelta | None = None) -> bool:
        """Block until the collective is finished and its result is in the tensors."""
        if not self._done:
            wait_request(self._request, self._what, timeout or self._timeout)
            self._complete()
        return True

    def is_success(self) -> bool:
        return self._done

    def _complete(self) -> None:
        if self._done:
            return
        self._done = True
        if self._finish is not None:
            finish, self._finish = self._finish, None
            finish()


def _array(tensor: Any, op: str, arg: str = "tensor") -> np.ndarray:
    if isinstance(tensor, Tensor):
        return tensor._data
    if isinstance(tensor, np.ndarray):
        return tensor
    raise TypeError(f"{op}: {arg} must be a Tensor, got {type(tensor).__name__}")


def _bump(tensor: Any) -> None:
    if isinstance(tensor, Tensor):
        tensor._version[0] += 1  # an in-place change, as PyTorch's collectives count it


def _store_reduced(tensor: Any, a: np.ndarray, buf: np.ndarray, key: str, size: int) -> None:
    """Put a reduction's result (in ``buf``) into the tensor's array ``a``: divided by the
    number of processes for ``AVG``, copied back when MPI worked on a contiguous copy."""
    if key == "AVG":
        np.divide(buf, size, out=buf)
    if buf is not a:
        a[...] = buf
    _bump(tensor)


def _buffer(a: np.ndarray, op: str) -> np.ndarray:
    """A contiguous, writable array to give MPI: ``a`` itself when it can be."""
    if not a.flags.writeable:
        raise RuntimeError(f"{op}: the tensor is read-only (a broadcast view?); clone it first")
    if a.dtype == np.bool_ or a.dtype.kind not in "biufc":
        raise TypeError(f"{op}: unsupported dtype {a.dtype}")
    return a if a.flags.c_contiguous else np.ascontiguousarray(a)


def _mpi_op(op: Any, name: str, a: np.ndarray) -> Any:
    key = str(op) if isinstance(op, str) else getattr(op, "name", None)
    if key not in _MPI_OPS:
        raise ValueError(f"{name}: unknown op {op!r}; expected one of ReduceOp."
                         f"{', ReduceOp.'.join(_MPI_OPS)}")
    if key == "AVG" and a.dtype.kind not in "fc":
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {a.dtype}")
    if key in ("BAND", "BOR", "BXOR") and a.dtype.kind not in "iu":
        raise TypeError(f"{name}: ReduceOp.{key} needs an integer tensor, got {a.dtype}")
    if key in ("MIN", "MAX") and a.dtype.kind == "c":
        raise TypeError(f"{name}: ReduceOp.{key} is not defined for complex {a.dtype}")
    return getattr(_state.mpi, _MPI_OPS[key]), key


def _run(request: Any, what: str, finish: Callable[[], None] | None, async_op: bool,
         pg: Any) -> Work | None:
    work = Work(request, what, finish, pg.timeout)
    if async_op:
        return work
    work.wait()
    return None


def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Reduce ``tensor`` over all processes with ``op``; every process gets the result in place."""
    pg = _default_group(group, "all_reduce")
    a = _array(tensor, "all_reduce")
    buf = _buffer(a, "all_reduce")
    mpi_op, key = _mpi_op(op, "all_reduce", a)
    MPI = _state.mpi
    request = pg.comm.Iallreduce(MPI.IN_PLACE, buf, op=mpi_op)
    size = pg.size()

    def finish() -> None:
        _store_reduced(tensor, a, buf, key, size)

    return _run(request, "all_reduce", finish, async_op, pg)


def reduce(tensor: Tensor, dst: int, op: Any = ReduceOp.SUM, group: Any = None,
           async_op: bool = False) -> Work | None:
    """Reduce ``tensor`` over all processes into rank ``dst``'s tensor (the others keep theirs)."""
    pg = _default_group(group, "reduce")
    _check_rank(dst, pg, "reduce", "dst")
    a = _array(tensor, "reduce")
    buf = _buffer(a, "reduce")
    mpi_op, key = _mpi_op(op, "reduce", a)
    MPI = _state.mpi
    root = pg.rank() == dst
    if root:
        request = pg.comm.Ireduce(MPI.IN_PLACE, buf, op=mpi_op, root=dst)
    else:
        request = pg.comm.Ireduce(buf, None, op=mpi_op, root=dst)
    size = pg.size()

    def finish() -> None:
        if root:
            _store_reduced(tensor, a, buf, key, size)

    return _run(request, "reduce", finish, async_op, pg)


def broadcast(tensor: Tensor, src: int, group: Any = None, async_op: bool = False,
              group_src: int | None = None) -> Work | None:
    """Copy rank ``src``'s ``tensor`` into every other process's ``tensor`` (same shape)."""
    pg = _default_group(group, "broadcast")
    if group_src is not None:
        src = group_src
    _check_rank(src, pg, "broadcast", "src")
    a = _array(tensor, "broadcast")
    buf = _buffer(a, "broadcast")
    request = pg.comm.Ibcast(buf, root=src)
    receiving = pg.rank() != src

    def finish() -> None:
        if receiving:
            if buf is not a:
                a[...] = buf
            _bump(tensor)

    return _run(request, "broadcast", finish, async_op, pg)


def all_gather(tensor_list: Sequence[Tensor], tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Work | None:
    """Fill ``tensor_list[r]`` with rank r's ``tensor``, on every process."""
    pg = _default_group(group, "all_gather")
    a = _array(tensor, "all_gather")
    size = pg.size()
    if not isinstance(tensor_list, list | tuple) or len(tensor_list) != size:
        got = len(tensor_list) if isinstance(tensor_list, list | tuple) else type(tensor_list)
        raise ValueError(
            f"all_gather: tensor_list must be a list of world_size={size} tensors, got {got}"
        )
    outs = [_array(t, "all_gather", f"tensor_list[{i}]") for i, t in enumerate(tensor_list)]
    for i, o in enumerate(outs):
        if o.shape != a.shape or o.dtype != a.dtype:
            raise ValueError(
                f"all_gather: tensor_list[{i}] has shape {tuple(o.shape)} and dtype {o.dtype}, "
                f"expected those of the input: {tuple(a.shape)}, {a.dtype}"
            )
        if not o.flags.writeable:
            raise RuntimeError(f"all_gather: tensor_list[{i}] is read-only; clone it first")
    send = np.ascontiguousarray(_buffer(a, "all_gather"))
    recv = np.empty((size, *a.shape), a.dtype)
    request = pg.comm.Iallgather(send, recv)

    def finish() -> None:
        for t, o, r in zip(tensor_list, outs, recv, strict=True):
            o[...] = r
            _bump(t)

    return _run(request, "all_gather", finish, async_op, pg)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> Work | None:
    """Wait until every process has reached the barrier."""
    pg = _default_group(group, "barrier")
    return _run(pg.comm.Ibarrier(), "barrier", None, async_op, pg)


def _check_rank(r: Any, pg: Any, op: str, arg: str) -> None:
    if not isinstance(r, int | np.integer) or isinstance(r, bool) or not 0 <= r < pg.size():
        raise ValueError(f"{op}: {arg}={r!r} is not a rank of the group (0..{pg.size() - 1})")


def all_gather_object(object_list: list[Any], obj: Any, group: Any = None) -> None:
    """Fill ``object_list[r]`` with rank r's picklable ``obj``, on every process."""
    pg = _default_group(group, "all_gather_object")
    size = pg.size()
    if not isinstance(object_list, list) or len(object_list) != size:
        raise ValueError(
            f"all_gather_object: object_list must be a list of world_size={size} entries"
        )
    data = np.frombuffer(pickle.dumps(obj), np.uint8)
    lengths = [np.zeros(1, np.int64) for _ in range(size)]
    all_gather(lengths, np.array([data.size], np.int64))
    longest = int(max(n[0] for n in lengths))
    padded = np.zeros(longest, np.uint8)
    padded[: data.size] = data
    parts = [np.empty(longest, np.uint8) for _ in range(size)]
    all_gather(parts, padded)
    for r in range(size):
        object_list[r] = pickle.loads(parts[r][: int(lengths[r][0])].tobytes())


def broadcast_object_list(object_list: list[Any], src: int = 0, group: Any = None) -> None:
    """Replace the entries of ``object_list`` by rank ``src``'s (picklable objects)."""
    pg = _default_group(group, "broadcast_object_list")
    _check_rank(src, pg, "broadcast_object_list", "src")
    if not isinstance(object_list, list):
        raise TypeError("broadcast_object_list: object_list must be a list")
    data = np.frombuffer(pickle.dumps(object_list), np.uint8) if pg.rank() == src else None
    length = np.array([0 if data is None else data.size], np.int64)
    broadcast(length, src)
    buf = np.empty(int(length[0]), np.uint8) if data is None else data.copy()
    broadcast(buf, src)
    if pg.rank() != src:
        received = pickle.loads(buf.tobytes())
        if len(received) != len(object_list):
            raise ValueError(
                f"broadcast_object_list: rank {src} sent {len(received)} objects into a list "
                f"of {len(object_list)}"
            )
        object_list[:] = received
