"""Atomic file writes: a crash or an error mid-write leaves the previous file intact.

Every file chainrule writes (checkpoints, ONNX models, metrics, downloads) goes through
:func:`atomic_open`: the data goes to a new temporary file beside the target, is flushed and
fsynced, and only then renamed onto the target (``os.replace`` is atomic on POSIX and
Windows); the directory is fsynced so that the rename itself survives a power loss.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from typing import IO, Any

__all__ = ["atomic_open", "fsync_directory"]


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file for writing that replaces ``path`` when the block succeeds.

    ``mode`` is ``"wb"`` or ``"w"`` (``kwargs`` go to ``open``, e.g. ``newline=""``). If the
    block raises, the temporary file is removed and ``path`` is untouched. A symlink at
    ``path`` is followed: the file it points to is replaced.
    """
    if mode not in ("wb", "w"):
        raise ValueError(f"atomic_open: mode must be 'wb' or 'w', got {mode!r}")
    target = os.path.realpath(os.fspath(path))
    directory, base = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    while True:
        tmp = os.path.join(directory, f".{base}.tmp-{secrets.token_hex(6)}")
        try:
            fd = os.open(tmp, flags, 0o666)  # the umask applies, as for a plain open()
            break
        except FileExistsError:
            continue
    try:
        with open(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.close(fd)  # still open only if open(fd) itself failed
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
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
