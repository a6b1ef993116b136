"""Atomic file writes: a crash or an error mid-write leaves the previous file intact.

Every file chainrule writes (checkpoints, ONNX models, metrics, downloads) goes through
:func:`atomic_open`: the data goes to a new temporary file beside the target, is flushed and
fsynced, and only then renamed onto the target (``os.replace`` is atomic on POSIX and
Windows); the directory is fsynced so that the rename itself survives a power loss.

Nothing is left behind by a writer that dies:

- the temporary file is named ``.<name>.tmp-<host>-<pid>-<random>``; the next write to the
  same path removes the temporary files of processes of this host that no longer run
  (those of ``kill -9``, a power loss, an out-of-memory kill);
- while a write runs in the main thread, SIGTERM and SIGHUP (what ``timeout``, SLURM and
  Kubernetes send) first remove the temporary files being written, then do what they did
  before: the previous Python handler is called, or the default action (termination) is
  taken. An ignored signal stays ignored; a handler installed outside Python is left alone.

Only regular files are replaced: a directory, a character or block device (``/dev/null``),
a FIFO or a socket at the target is refused with an error naming the path (pass an open
file object to ``cr.save`` to write through to a device or a pipe). An existing file keeps
its permission bits; a new one gets ``0o666`` minus the umask, as with ``open``. Errors
name the target, never the internal temporary file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import signal
import socket
import stat
import threading
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_open", "fsync_directory", "check_writable_target", "remove_stale_temporaries"]

_TMP_MARK = ".tmp-"


def _host_tag() -> str:
    name = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:24]
    return name or "host"


_HOST = _host_tag()

# ------------------------------------------------------------------ signal-time cleanup

_live: set[str] = set()  # temporary files being written by this process
_live_lock = threading.RLock()  # re-entrant: the signal handler runs in the main thread
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
_installed: dict[int, Any] = {}  # signal number -> the handler ours replaced
_depth = 0  # nested atomic writes in the main thread


def _cleanup_handler(signum: int, frame: Any) -> None:
    """Remove the temporary files being written, then act as the replaced handler did."""
    with _live_lock:
        paths = list(_live)
    for tmp in paths:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    previous = _installed.get(signum, signal.SIG_DFL)
    if callable(previous):
        previous(signum, frame)
        return
    # the default action (terminate): restore it and deliver the signal again
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    """Put the cleanup handler in front of SIGTERM/SIGHUP (main thread only)."""
    global _depth
    if threading.current_thread() is not threading.main_thread():
        return
    _depth += 1
    if _depth > 1:
        return
    for signum in _SIGNALS:
        try:
            previous = signal.getsignal(signum)
            if previous is signal.SIG_IGN or previous is None:  # ignored, or set outside Python
                continue
            _installed[signum] = previous
            signal.signal(signum, _cleanup_handler)
        except (ValueError, OSError):  # e.g. an embedded interpreter without signal support
            _installed.pop(signum, None)


def _restore_handlers() -> None:
    global _depth
    if threading.current_thread() is not threading.main_thread() or _depth == 0:
        return
    _depth -= 1
    if _depth:
        return
    for signum, previous in list(_installed.items()):
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signum) is _cleanup_handler:  # nobody replaced ours meanwhile
                signal.signal(signum, previous)
        del _installed[signum]


# --------------------------------------------------------------------- stale temporaries


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it runs, as another user
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike[str]) -> list[str]:
    """Remove the temporary files of ``path`` left by dead processes of this host.

    Returns the paths removed. Temporary files of running processes, of other hosts
    (a shared file system) and of unknown naming are kept. A no-op on Windows.
    """
    if os.name != "posix":
        return []
    directory, base = os.path.split(os.path.realpath(os.fspath(path)))
    pattern = re.compile(
        re.escape(f".{base}{_TMP_MARK}{_HOST}-") + r"(\d+)-[0-9a-f]+\Z"
    )
    removed = []
    try:
        names = os.listdir(directory or ".")
    except OSError:
        return []
    prefix = f".{base}{_TMP_MARK}"
    for name in names:
        if not name.startswith(prefix):
            continue
        match = pattern.match(name)
        if match is None or _pid_alive(int(match.group(1))):
            continue
        stale = os.path.join(directory, name)
        with contextlib.suppress(OSError):
            os.unlink(stale)
            removed.append(stale)
    return removed


# ------------------------------------------------------------------------- the target


def check_writable_target(path: str | os.PathLike[str]) -> os.stat_result | None:
    """Refuse a target that is not a regular file; returns its stat (None if it is new).

    Raises:
        IsADirectoryError: ``path`` is a directory.
        OSError: ``path`` is a device, a FIFO or a socket (errno EINVAL), or its folder
            does not exist.
    """
    name = os.fspath(path)
    if name == "":
        raise FileNotFoundError(errno.ENOENT, "the file name is empty", name)
    try:
        st = os.stat(name)  # follows symlinks: the file that would be replaced
    except FileNotFoundError:
        folder = os.path.dirname(os.path.realpath(name))
        if not os.path.isdir(folder):
            raise FileNotFoundError(
                errno.ENOENT, f"cannot write it: the folder {folder!r} does not exist", name
            ) from None
        return None
    if stat.S_ISREG(st.st_mode):
        return st
    if stat.S_ISDIR(st.st_mode):
        raise IsADirectoryError(errno.EISDIR, "it is a directory, expected a file path", name)
    kind = (
        "a character device" if stat.S_ISCHR(st.st_mode)
        else "a block device" if stat.S_ISBLK(st.st_mode)
        else "a FIFO (named pipe)" if stat.S_ISFIFO(st.st_mode)
        else "a socket" if stat.S_ISSOCK(st.st_mode)
        else "not a regular file"
    )  # fmt: skip
    raise OSError(
        errno.EINVAL,
        f"it is {kind}, and only regular files are written (atomically, by replacing "
        "them); to write to a device or a pipe, pass an open file object instead",
        name,
    )


def _renamed(error: OSError, tmp: str, target: str) -> OSError:
    """``error`` naming ``target`` instead of the temporary file (which means nothing)."""
    if tmp not in (error.filename, error.filename2) or error.errno is None:
        return error
    strerror = error.strerror or str(error)
    return type(error)(error.errno, strerror, target)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces ``path`` when the block succeeds.

    ``mode`` is ``"wb"`` or ``"w"`` (``kwargs`` go to ``open``, e.g. ``newline=""``). If the
    block raises, the temporary file is removed and ``path`` is untouched. A symlink at
    ``path`` is followed: the file it points to is replaced, keeping its permission bits.

    Raises:
        IsADirectoryError, OSError: ``path`` is not a regular file (see
            :func:`check_writable_target`), or cannot be written; the error names ``path``.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    name = os.fspath(path)
    existing = check_writable_target(name)
    target = os.path.realpath(name)
    directory, base = os.path.split(target)
    remove_stale_temporaries(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    prefix = os.path.join(directory, f".{base}{_TMP_MARK}{_HOST}-{os.getpid()}-")
    _install_handlers()
    try:
        while True:
            tmp = prefix + secrets.token_hex(6)
            try:
                with _live_lock:
                    _live.add(tmp)
                fd = os.open(tmp, flags, 0o666)  # the umask applies, as for a plain open()
                break
            except FileExistsError:
                with _live_lock:
                    _live.discard(tmp)
                continue
            except OSError as error:
                with _live_lock:
                    _live.discard(tmp)
                raise type(error)(error.errno, error.strerror, name) from None
        try:
            if existing is not None and os.name == "posix":
                with contextlib.suppress(OSError):
                    os.fchmod(fd, stat.S_IMODE(existing.st_mode))
            with open(fd, mode, **kwargs) as f:
                yield f
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException as error:
            with contextlib.suppress(OSError):
                os.close(fd)  # still open only if open(fd) itself failed
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            if isinstance(error, OSError):
                renamed = _renamed(error, tmp, name)
                if renamed is not error:
                    raise renamed from None
            raise
        finally:
            with _live_lock:
                _live.discard(tmp)
    finally:
        _restore_handlers()
    fsync_directory(directory)


def fsync_directory(directory: str) -> None:
    """Make a rename in ``directory`` durable (POSIX); a no-op where that is impossible."""
    if os.name == "nt":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory or ".", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
