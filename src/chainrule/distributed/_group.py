"""The process group: MPI's ``COMM_WORLD`` behind PyTorch's ``init_process_group``.

Processes are started by the MPI launcher (``mpiexec -n 4 python train.py``); MPI, not
environment variables, tells each one its rank and the world size. ``mpi4py`` is imported
only by :func:`init_process_group` (importing ``mpi4py.MPI`` initialises MPI), so
``import chainrule`` never needs it.

Failure is an error, never a hang. After ``init_process_group`` in a job of several
processes:

- an exception that nobody catches prints its traceback (headed by the rank) and calls
  ``MPI_Abort``: the launcher then ends every other process and exits non-zero;
- ``sys.exit(code)`` with a non-zero code aborts the job in the same way (after the
  ``finally`` blocks and the other exit handlers have run); not in ``sys.exit(main())``
  where ``main`` calls ``init_process_group``: that ``sys.exit`` was looked up before it
  could be wrapped (``chainrule train`` marks its failures with ``_fail_at_exit``);
- a process that dies (a signal, ``os._exit``) is seen by the launcher, which ends the job;
- a collective that waits longer than ``timeout`` (default 30 minutes, as PyTorch)
  raises ``RuntimeError`` naming the operation, which then aborts as above.
"""

from __future__ import annotations

import atexit
import datetime
import importlib.util
import os
import stat
import struct
import sys
import time
import traceback
from typing import Any

__all__ = [
    "Backend",
    "GroupMember",
    "ProcessGroup",
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
]

#: PyTorch's default timeout of a collective
default_pg_timeout = datetime.timedelta(minutes=30)

#: backend names accepted by init_process_group; all of them run on MPI (see its docstring)
_BACKENDS = ("mpi", "gloo", "cpu:gloo", "cpu:mpi")


class Backend(str):
    """Backend names, as ``torch.distributed.Backend`` (every one runs on MPI here)."""

    MPI = "mpi"
    GLOO = "gloo"
    UNDEFINED = "undefined"

    def __new__(cls, name: str) -> Backend:
        if not isinstance(name, str):
            raise ValueError(f"Backend name must be a string, but got: {name!r}")
        value = name.lower()
        if value not in _BACKENDS:
            raise ValueError(
                f"init_process_group: unknown or unsupported backend {name!r}: chainrule runs "
                "on MPI ('mpi'; 'gloo' is accepted as its alias for CPU scripts written for "
                "PyTorch)"
            )
        return super().__new__(cls, value)


class ProcessGroup:
    """The default group: every process of the MPI job (``MPI.COMM_WORLD``)."""

    def __init__(self, comm: Any, backend: str, timeout: datetime.timedelta) -> None:
        self.comm = comm
        self.backend = backend
        self.timeout = timeout
        self._rank = comm.Get_rank()
        self._size = comm.Get_size()

    def rank(self) -> int:
        return self._rank

    def size(self) -> int:
        return self._size

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self.backend!r}, rank={self._rank}, size={self._size})"


class GroupMember:
    """``GroupMember.WORLD``: the default group once initialised (None before)."""

    WORLD: ProcessGroup | None = None
    NON_GROUP_MEMBER = object()


class group:  # noqa: N801 - PyTorch's name (``dist.group.WORLD``)
    """``dist.group.WORLD``: the default process group (None before initialisation)."""

    WORLD: ProcessGroup | None = None


class _State:
    pg: ProcessGroup | None = None
    mpi: Any = None  # the mpi4py.MPI module, once imported
    hooks_installed = False
    exit_code: Any = None  # a non-zero sys.exit code seen after init
    saved_excepthook: Any = None
    saved_exit: Any = None


_state = _State()


def is_available() -> bool:
    """Whether distributed training can run here: mpi4py is installed (it is not imported)."""
    return importlib.util.find_spec("mpi4py") is not None


def is_mpi_available() -> bool:
    """As PyTorch: the MPI backend is available (the same as :func:`is_available` here)."""
    return is_available()


def is_initialized() -> bool:
    """Whether :func:`init_process_group` has run (and :func:`destroy_process_group` not)."""
    return _state.pg is not None


def _not_initialized() -> ValueError:
    return ValueError(
        "Default process group has not been initialized, please make sure to call "
        "init_process_group."
    )


def _default_group(group_arg: Any = None, op: str = "") -> ProcessGroup:
    """The group a collective runs on: only the default (world) group exists."""
    pg = _state.pg
    if pg is None:
        raise _not_initialized()
    if group_arg is not None and group_arg is not pg:
        where = f"{op}: " if op else ""
        raise ValueError(
            f"{where}only the default process group (group=None or dist.group.WORLD) is "
            f"supported, got {group_arg!r}"
        )
    return pg


def get_rank(group: Any = None) -> int:
    """This process's rank in the group (0 .. world_size - 1)."""
    return _default_group(group, "get_rank").rank()


def get_world_size(group: Any = None) -> int:
    """The number of processes in the group."""
    return _default_group(group, "get_world_size").size()


def get_backend(group: Any = None) -> str:
    """The backend name given to :func:`init_process_group` (lower case)."""
    return _default_group(group, "get_backend").backend


def _import_mpi() -> Any:
    if _state.mpi is None:
        try:
            from mpi4py import MPI
        except ImportError as e:
            raise RuntimeError(
                "chainrule.distributed needs mpi4py and an MPI library: "
                "pip install 'chainrule[distributed]' (mpi4py with the mpich wheel)"
            ) from e
        _state.mpi = MPI
    return _state.mpi


def _launched_by_mpi() -> bool:
    """Whether an MPI launcher (Hydra's PMI, Open MPI, Slurm's PMI) started this process."""
    return any(
        k in os.environ
        for k in ("PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_FD")
    )


def _int_env(name: str) -> int | None:
    value = os.environ.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"init_process_group: environment variable {name}={value!r} is "
                         "not an integer") from None


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: datetime.timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    store: Any = None,
    group_name: str = "",
    pg_options: Any = None,
    device_id: Any = None,
) -> None:
    """Join the job's processes into the default group, as ``torch.distributed``.

    Start the processes with the MPI launcher: ``mpiexec -n 4 python train.py`` (or
    ``chainrule train --nproc 4``). MPI assigns each process its rank and the world size,
    so ``init_method``, ``store`` and the ``MASTER_ADDR``/``MASTER_PORT``/``RANK``/
    ``WORLD_SIZE`` variables of PyTorch's ``env://`` are not needed and are ignored; a
    ``world_size`` or ``rank`` given explicitly must agree with MPI's.

    Args:
        backend: ``'mpi'`` (the default). ``'gloo'`` is accepted as an alias so that a
            PyTorch CPU script runs unchanged; it runs on MPI too. ``'nccl'`` is refused
            (there is no GPU).
        timeout: how long a collective may wait for the others before it raises
            ``RuntimeError`` (default 30 minutes); the job then aborts.
        world_size, rank: optional checks against MPI's values.

    Raises:
        RuntimeError: already initialised, or mpi4py is missing.
        ValueError: an unknown backend, or a world size or rank that is not MPI's; or
            ``WORLD_SIZE`` > 1 in the environment of a process that mpiexec did not start
            (it would otherwise train alone, silently).
    """
    if _state.pg is not None:
        raise RuntimeError("trying to initialize the default process group twice!")
    name = Backend(backend if backend is not None else "mpi")
    if timeout is None:
        timeout = default_pg_timeout
    if not isinstance(timeout, datetime.timedelta):
        raise TypeError(
            f"init_process_group: timeout must be a datetime.timedelta, got "
            f"{type(timeout).__name__}"
        )
    if timeout.total_seconds() <= 0:
        raise ValueError(f"init_process_group: timeout must be positive, got {timeout}")
    if not _launched_by_mpi():
        env_size = _int_env("WORLD_SIZE")
        if env_size is not None and env_size > 1 and world_size in (-1, None):
            raise ValueError(
                f"init_process_group: WORLD_SIZE={env_size} in the environment, but this "
                "process was not started by an MPI launcher, so it would train alone. Start "
                f"the job with `mpiexec -n {env_size} python SCRIPT` (torchrun-style launchers "
                "are not supported)"
            )
    MPI = _import_mpi()
    comm = MPI.COMM_WORLD
    size, me = comm.Get_size(), comm.Get_rank()
    if world_size not in (-1, None) and world_size != size:
        raise ValueError(
            f"init_process_group: world_size={world_size}, but MPI started {size} "
            f"process(es); launch with `mpiexec -n {world_size}`"
        )
    if rank not in (-1, None) and rank != me:
        raise ValueError(
            f"init_process_group: rank={rank}, but MPI gave this process rank {me}"
        )
    pg = ProcessGroup(comm, str(name), timeout)
    _state.pg = pg
    group.WORLD = GroupMember.WORLD = pg
    if size > 1:
        _install_failure_handlers()


def destroy_process_group(group: Any = None) -> None:
    """Leave the default group (MPI itself is finalised at interpreter exit)."""
    pg = _default_group(group, "destroy_process_group")
    del pg
    _state.pg = None
    globals()["group"].WORLD = GroupMember.WORLD = None
    _remove_failure_handlers()


def wait_request(request: Any, what: str, timeout: datetime.timedelta | None = None) -> None:
    """Wait for an MPI request, raising ``RuntimeError`` after the group's timeout.

    MPI's own wait would block forever on a peer that hangs; this polls instead. For the
    first half second it tests without sleeping, as MPI's wait does: MPI moves a message
    only inside its calls, and a large all-reduce needs both sides polling (sleeping
    here would slow a training step's gradient exchange several times over); between
    rounds of tests it yields the core to any other runnable process (a slower peer on
    a busy machine). After that it sleeps a millisecond between tests.
    """
    if request.Test():
        return
    pg = _state.pg
    limit = (timeout or (pg.timeout if pg is not None else default_pg_timeout)).total_seconds()
    test, clock = request.Test, time.monotonic
    start = clock()
    spin_until = start + min(0.5, limit)
    while True:
        for _ in range(64):
            if test():
                return
        if clock() > spin_until:
            break
        _yield()
    while not test():
        if clock() - start > limit:
            rank = pg.rank() if pg is not None else "?"
            raise RuntimeError(
                f"{what} on rank {rank} timed out after {limit:g} s waiting for the other "
                "processes (one of them hangs, died, or skipped this collective)"
            )
        time.sleep(1e-3)


_yield = getattr(os, "sched_yield", lambda: None)


# -- failure handling ---------------------------------------------------------------


_ABORT_GRACE = 0.5  # seconds, where how much output is still unread cannot be asked
_ABORT_SETTLE = 0.1  # seconds after the pipes are read, for the proxy to pass it on
_ABORT_DRAIN_TIMEOUT = 10.0  # seconds at most for the launcher to read this rank's output


def _unread_bytes(fd: int) -> int | None:
    """How many bytes written to ``fd`` nobody has read yet: the bytes still in a pipe, 0
    for a file or ``/dev/null`` (nothing to wait for), None where it cannot be seen (a
    terminal, a socket)."""
    try:
        mode = os.fstat(fd).st_mode
    except OSError:
        return 0  # closed: nothing of ours is waiting in it
    if stat.S_ISREG(mode) or (stat.S_ISCHR(mode) and not os.isatty(fd)):
        return 0
    if not stat.S_ISFIFO(mode):
        return None
    try:
        import fcntl
        import termios

        return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
    except (ImportError, OSError, AttributeError):
        return None


def _wait_until_output_is_read() -> None:
    """Return once the launcher has read what this process wrote to stdout and stderr.

    Under mpiexec (Hydra) a rank's stdout and stderr are pipes to its proxy, which passes
    what it reads on to mpiexec over the socket that also carries the rank's MPI_Abort,
    in the order it handled them; on the abort mpiexec kills the job and exits at once,
    so output it has not received by then is lost. Aborting only once the pipes are
    empty keeps the error that explains the abort, however long the proxy takes to be
    scheduled on a busy machine (bounded by ``_ABORT_DRAIN_TIMEOUT``), then a short
    ``_ABORT_SETTLE`` for the proxy to send on what it read. A stream whose queue cannot
    be seen gets the fixed ``_ABORT_GRACE`` instead.
    """
    deadline = time.monotonic() + _ABORT_DRAIN_TIMEOUT
    unknown = False
    for fd in (1, 2):
        while True:
            unread = _unread_bytes(fd)
            if unread is None:
                unknown = True
                break
            if unread == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.005)
    # what the proxy has read may not have reached mpiexec yet: a moment for it to send
    time.sleep(_ABORT_GRACE if unknown else _ABORT_SETTLE)


def _abort(code: int) -> None:
    """Flush, wait until the launcher has read this rank's output, then end the whole job
    (see :func:`_wait_until_output_is_read`)."""
    MPI = _state.mpi
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        _wait_until_output_is_read()
    finally:
        if MPI is not None and not MPI.Is_finalized():
            MPI.COMM_WORLD.Abort(code)


def _excepthook(exc_type: Any, exc: BaseException, tb: Any) -> None:
    """An uncaught exception on any rank ends the whole job (the traceback shown first)."""
    pg = _state.pg
    rank = pg.rank() if pg is not None else "?"
    try:
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(
            f"chainrule.distributed: rank {rank} raised an exception; aborting the job\n{text}"
        )
    finally:
        _abort(1)


def _exit(code: Any = None) -> None:
    if code not in (None, 0, False):
        _state.exit_code = code
    _state.saved_exit(code)


def _fail_at_exit(code: int = 1) -> None:
    """Make this process end the whole job when it exits, as ``sys.exit(code)`` would.

    For a caller that catches an error to print it and then exits through
    ``sys.exit(main())``: that ``sys.exit`` was looked up before ``main`` ran
    :func:`init_process_group`, which could not wrap it, so the code it exits with is
    never seen here.
    """
    if _state.hooks_installed:
        _state.exit_code = code


def _at_exit() -> None:
    code = _state.exit_code
    if code is None or not _state.hooks_installed:
        return
    if not isinstance(code, int):  # sys.exit("message") prints it and exits with 1
        code = 1
    rank = _state.pg.rank() if _state.pg is not None else "?"
    sys.stderr.write(f"chainrule.distributed: rank {rank} exited with code {code}; aborting "
                     "the job\n")
    _abort(code)


_atexit_registered = [False]


def _install_failure_handlers() -> None:
    if _state.hooks_installed:
        return
    _state.saved_excepthook = sys.excepthook
    _state.saved_exit = sys.exit
    sys.excepthook = _excepthook
    sys.exit = _exit
    if not _atexit_registered[0]:
        # registered after mpi4py's import: runs before MPI_Finalize, which would wait
        # forever for peers still inside a collective
        atexit.register(_at_exit)
        _atexit_registered[0] = True
    _state.hooks_installed = True


def _remove_failure_handlers() -> None:
    if not _state.hooks_installed:
        return
    if sys.excepthook is _excepthook:
        sys.excepthook = _state.saved_excepthook
    if sys.exit is _exit:
        sys.exit = _state.saved_exit
    _state.hooks_installed = False
    _state.exit_code = None
