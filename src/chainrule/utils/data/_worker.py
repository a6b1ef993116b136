"""DataLoader worker processes: batches loaded in parallel, delivered in sampler order.

Each worker is a process with its own copy of the dataset (forked, as PyTorch does on
Linux) that takes tasks ``(epoch, batch number, indices)`` from its own index queue and
sends ``(epoch, batch number, batch)`` back through its own pipe. Batch ``k`` goes to
the next active worker in turn; the parent keeps ``prefetch_factor * num_workers``
batches in flight and hands them out in batch-number order, so the batches are those of
``num_workers=0`` in the same order (random transforms draw from each worker's own seeded
generator, as in PyTorch).

Failure handling, so that nothing hangs and nothing is left behind:

- an exception in a worker travels to the parent with its traceback text and is raised
  there, as the same type when possible (else RuntimeError);
- the parent waits on every worker's pipe and process together: a worker that died
  (killed, crashed, even half way through sending a batch, which leaves an end of file
  in its own pipe and nobody else's) is at once a RuntimeError naming its pid and exit
  code or signal; ``timeout > 0`` bounds the wait for any one batch;
- workers leave when told, when the parent disappears, and are terminated (then killed)
  if they do not; this happens when an epoch ends, when the iterator is garbage collected
  (a ``break`` out of the loop) or closed, on an error, and at interpreter exit.

Batches travel between processes pickled (Tensors as bare arrays); that is between
this process and its own children, never to or from a file.
"""

from __future__ import annotations

import collections
import itertools
import os
import pickle
import queue
import random
import signal
import threading
import time
import traceback
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import connection
from typing import Any

import numpy as np

from chainrule.random import manual_seed
from chainrule.tensor import Tensor, from_numpy

__all__ = ["WorkerInfo", "get_worker_info"]

_JOIN_TIMEOUT = 2.0  # seconds a worker has to leave when told before it is terminated


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself (``get_worker_info()`` inside a worker).

    Attributes:
        id: the worker's number, ``0 .. num_workers - 1``.
        num_workers: how many workers the loader has.
        seed: the seed of this worker's generators (``base_seed + id``).
        dataset: this worker's copy of the dataset.
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Inside a DataLoader worker, its :class:`WorkerInfo`; in the main process, None.

    An :class:`~chainrule.utils.data.IterableDataset` uses it to give each worker its own
    share of the stream.
    """
    return _worker_info


# ---------------------------------------------------------------- messages between processes


@dataclass
class _ExceptionWrapper:
    """An exception raised in a worker, carried to the parent as text."""

    exc_type: type[BaseException]
    message: str

    @classmethod
    def capture(cls, error: BaseException, where: str) -> _ExceptionWrapper:
        text = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        exc_type: type[BaseException] = type(error)
        try:
            pickle.loads(pickle.dumps(exc_type))
        except Exception:
            exc_type = RuntimeError
        return cls(exc_type, f"Caught {type(error).__name__} {where}.\nOriginal {text}")

    def reraise(self) -> None:
        if self.exc_type is KeyError:
            raise KeyError(_KeyErrorMessage(self.message))
        try:
            error = self.exc_type(self.message)
        except Exception:
            raise RuntimeError(self.message) from None
        raise error


class _KeyErrorMessage(str):
    """Shows a KeyError's multi-line message as it is (KeyError would quote it)."""

    def __repr__(self) -> str:
        return str(self)


@dataclass
class _WorkerStopped:
    """An iterable dataset's copy in worker ``worker_id`` is exhausted for this epoch."""

    worker_id: int


@dataclass
class _TensorPayload:
    """A Tensor crossing a process boundary: its array only (no graph, no hooks)."""

    array: np.ndarray
    requires_grad: bool


def _pack(obj: Any) -> Any:
    if isinstance(obj, Tensor):
        return _TensorPayload(obj.detach().numpy(), bool(obj.requires_grad))
    if isinstance(obj, list):
        return [_pack(x) for x in obj]
    if isinstance(obj, tuple):
        packed = [_pack(x) for x in obj]
        return type(obj)(*packed) if hasattr(obj, "_fields") else tuple(packed)
    if isinstance(obj, dict):
        return type(obj)({k: _pack(v) for k, v in obj.items()}) if type(obj) is dict else obj
    return obj


def _unpack(obj: Any) -> Any:
    if isinstance(obj, _TensorPayload):
        return from_numpy(obj.array).requires_grad_(obj.requires_grad)
    if isinstance(obj, list):
        return [_unpack(x) for x in obj]
    if isinstance(obj, tuple):
        unpacked = [_unpack(x) for x in obj]
        return type(obj)(*unpacked) if hasattr(obj, "_fields") else tuple(unpacked)
    if isinstance(obj, dict) and type(obj) is dict:
        return {k: _unpack(v) for k, v in obj.items()}
    return obj


# --------------------------------------------------------------------------- the worker


def _worker_loop(
    fetcher: Any,
    index_queue: Any,
    result_conn: Any,
    worker_id: int,
    num_workers: int,
    base_seed: int,
    worker_init_fn: Callable[[int], None] | None,
    parent_pid: int,
) -> None:
    """The body of a worker process (see the module docstring)."""
    global _worker_info
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _watch_parent(parent_pid)
    _one_blas_thread()
    seed = base_seed + worker_id
    manual_seed(seed)
    random.seed(seed)
    np.random.seed(np.random.SeedSequence([base_seed, worker_id]).generate_state(4))
    _worker_info = WorkerInfo(worker_id, num_workers, seed, fetcher.dataset)
    where = f"in DataLoader worker process {worker_id}"
    init_error = None
    try:
        if worker_init_fn is not None:
            worker_init_fn(worker_id)
    except Exception as error:
        init_error = _ExceptionWrapper.capture(error, where)
    epoch, stream = -1, None
    try:
        while True:
            try:
                task = index_queue.get(timeout=1.0)
            except queue.Empty:
                if os.getppid() != parent_pid:
                    return  # the parent is gone: nobody will read what we make
                continue
            if task is None:
                return
            task_epoch, number, indices = task
            if init_error is not None:
                _send(result_conn, task_epoch, number, init_error)
                continue
            try:
                if fetcher.iterable:
                    if task_epoch != epoch or stream is None:
                        epoch, stream = task_epoch, fetcher.batches()
                    try:
                        data: Any = next(stream)
                    except StopIteration:
                        data = _WorkerStopped(worker_id)
                else:
                    data = fetcher.fetch(indices)
            except Exception as error:
                data = _ExceptionWrapper.capture(error, where)
            _send(result_conn, task_epoch, number, data)
    except (KeyboardInterrupt, BrokenPipeError, ConnectionError):
        pass  # interrupted, or the parent closed its end: leave quietly
    finally:
        result_conn.close()


def _watch_parent(parent_pid: int) -> None:
    """Leave at once when the parent dies, whatever this worker is doing (a long
    ``__getitem__``, a send blocked on a full pipe): a daemon thread polls the parent."""

    def watch() -> None:
        while True:
            time.sleep(0.5)
            if os.getppid() != parent_pid:
                os._exit(0)

    threading.Thread(target=watch, daemon=True, name="DataLoader parent watchdog").start()


def _one_blas_thread() -> None:
    """Workers use one BLAS thread each (as PyTorch's use one intra-op thread), so that
    ``num_workers`` processes do not each start a thread per core; needs threadpoolctl."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(1, user_api="blas")


def _send(result_conn: Any, epoch: int, number: int, data: Any) -> None:
    """Pickle first, so that an unpicklable batch is an error the parent sees."""
    try:
        payload = pickle.dumps((epoch, number, _pack(data)), protocol=pickle.HIGHEST_PROTOCOL)
    except Exception as error:
        where = f"in DataLoader worker process {_worker_info.id if _worker_info else '?'}"
        wrapped = _ExceptionWrapper.capture(
            RuntimeError(f"the batch cannot be sent to the main process: {error!r}"), where
        )
        payload = pickle.dumps((epoch, number, wrapped))
    result_conn.send_bytes(payload)


# --------------------------------------------------------------------------- the parent


def _describe_exit(process: Any) -> str:
    code = process.exitcode
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class _MultiProcessingIter:
    """One loader's worker processes and the epoch being read through them."""

    def __init__(self, loader: Any) -> None:
        self._num_workers = loader.num_workers
        self._prefetch = loader.prefetch_factor * loader.num_workers
        self._timeout = loader.timeout
        self._iterable = loader._iterable
        self._persistent = loader.persistent_workers
        context = loader._mp_context()
        base_seed = loader._worker_base_seed()
        self._index_queues: list[Any] = []
        self._conns: list[Any] = []  # the read ends of the workers' result pipes
        self._workers: list[Any] = []
        self._shutdown = False
        # shut the workers down when this iterator is collected or at interpreter exit
        self._finalizer = weakref.finalize(
            self, _shutdown_workers, self._workers, self._index_queues, self._conns
        )
        for worker_id in range(self._num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_worker_loop,
                args=(
                    loader._fetcher(),
                    index_queue,
                    writer,
                    worker_id,
                    self._num_workers,
                    base_seed,
                    loader.worker_init_fn,
                    os.getpid(),
                ),
                daemon=True,
                name=f"DataLoader worker {worker_id}",
            )
            self._index_queues.append(index_queue)
            self._conns.append(reader)
            process.start()
            self._workers.append(process)
            writer.close()  # only the worker writes: its death is then an end of file here
        self._received_results: collections.deque[tuple[int, Any]] = collections.deque()
        self._epoch = -1
        self._reset(loader)

    def _reset(self, loader: Any) -> None:
        """Start a new epoch of ``loader`` (the workers stay; results of an older epoch are
        dropped). The loader is not kept: a loader with persistent workers owns its
        iterator, and a reference back would keep both, and the workers, alive."""
        self._epoch += 1
        self._received_results.clear()  # read, but of the abandoned epoch
        self._tasks = itertools.count() if self._iterable else iter(loader._index_batches())
        self._send = 0  # number of the next batch to hand to a worker
        self._received = 0  # number of the next batch to return
        self._pending: dict[int, list[Any]] = {}  # batch number -> [worker_id(, data)]
        self._active = [True] * self._num_workers
        self._cycle = itertools.cycle(range(self._num_workers))
        self._in_flight = 0
        for _ in range(self._prefetch):
            self._put_task()

    def _put_task(self) -> None:
        if self._in_flight >= self._prefetch:
            return
        try:
            indices = next(self._tasks)
        except StopIteration:
            return
        for _ in range(self._num_workers):
            worker_id = next(self._cycle)
            if self._active[worker_id]:
                break
        else:
            return
        if isinstance(indices, np.ndarray):
            indices = indices.tolist()
        if self._iterable:
            indices = None
        self._index_queues[worker_id].put((self._epoch, self._send, indices))
        self._pending[self._send] = [worker_id]
        self._send += 1
        self._in_flight += 1

    def __iter__(self) -> _MultiProcessingIter:
        return self

    def __next__(self) -> Any:
        if self._shutdown:
            raise StopIteration
        while True:
            while self._received < self._send:
                entry = self._pending.get(self._received)
                if entry is not None and (len(entry) == 2 or self._active[entry[0]]):
                    break
                self._pending.pop(self._received, None)  # its worker stopped: skip it
                self._received += 1
            else:
                if not self._persistent:
                    self.close()
                raise StopIteration
            if len(entry) == 2:
                del self._pending[self._received]
                self._received += 1
                return self._deliver(entry[1])
            number, data = self._get()
            self._in_flight -= 1
            if isinstance(data, _WorkerStopped):
                self._active[data.worker_id] = False
                self._put_task()
                continue
            if number == self._received:
                del self._pending[number]
                self._received += 1
                return self._deliver(data)
            self._pending[number].append(data)

    def _deliver(self, data: Any) -> Any:
        self._put_task()
        if isinstance(data, _ExceptionWrapper):
            data.reraise()
        return _unpack(data)

    def _get(self) -> tuple[int, Any]:
        """The next result of this epoch: waits on every worker's pipe and process at
        once, so a dead worker (even one killed half way through sending) is an error at
        once, and ``timeout`` bounds the wait."""
        deadline = time.monotonic() + self._timeout if self._timeout > 0 else None
        sentinels = {w.sentinel: k for k, w in enumerate(self._workers)}
        readers = {id(c): k for k, c in enumerate(self._conns)}
        while not self._received_results:
            wait = None if deadline is None else deadline - time.monotonic()
            if wait is not None and wait <= 0:
                self.close()
                raise RuntimeError(
                    f"DataLoader timed out after {self._timeout} seconds waiting for a batch"
                )
            ready = connection.wait([*self._conns, *sentinels], timeout=wait)
            dead = []
            for obj in ready:
                if id(obj) in readers:
                    try:
                        payload = obj.recv_bytes()
                    except (EOFError, OSError):
                        dead.append(readers[id(obj)])
                        continue
                    epoch, number, data = pickle.loads(payload)
                    if epoch == self._epoch:  # else a batch of an abandoned epoch
                        self._received_results.append((number, data))
            for obj in ready:
                k = sentinels.get(obj)  # type: ignore[call-overload]
                if k is not None and not self._conns[k].poll():
                    dead.append(k)
            if dead and not self._received_results:
                self._worker_died(sorted(set(dead)))
        return self._received_results.popleft()

    def _worker_died(self, dead: list[int]) -> None:
        for k in dead:
            self._workers[k].join(timeout=1.0)  # for its exit code
        details = ", ".join(f"worker {k} {_describe_exit(self._workers[k])}" for k in dead)
        pids = ", ".join(str(self._workers[k].pid) for k in dead)
        self.close()
        raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly: {details}")

    def close(self) -> None:
        """Stop the workers (at most a few seconds; they are killed if they do not leave)."""
        if not self._shutdown:
            self._shutdown = True
            self._finalizer()

    def __del__(self) -> None:
        if hasattr(self, "_finalizer"):  # not if __init__ failed before making it
            self.close()


def _shutdown_workers(workers: list[Any], index_queues: list[Any], conns: list[Any]) -> None:
    """Tell every worker to leave, wait a bounded time, then terminate and kill stragglers."""
    for q in index_queues:
        try:
            q.put(None)
        except (OSError, ValueError):
            pass
    for c in conns:  # a worker blocked sending a batch gets a broken pipe and leaves
        c.close()
    deadline = time.monotonic() + _JOIN_TIMEOUT
    for w in workers:
        w.join(timeout=max(0.0, deadline - time.monotonic()))
    for w in workers:
        if w.is_alive():
            w.terminate()
    for w in workers:
        w.join(timeout=1.0)
        if w.is_alive():
            w.kill()
            w.join()
    for q in index_queues:
        q.cancel_join_thread()
        q.close()
