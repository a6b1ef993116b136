"""Checkpoints without pickle: ``cr.save`` / ``cr.load`` in the safetensors file format.

A checkpoint is one `safetensors <https://github.com/huggingface/safetensors>`_ file,
written here with NumPy alone::

    8 bytes    N, the header length (unsigned 64-bit little-endian)
    N bytes    UTF-8 JSON header, padded with spaces so the data starts 8-byte aligned:
               {"__metadata__": {str: str},
                "<tensor name>": {"dtype": "F32", "shape": [2, 3], "data_offsets": [b, e]}, ...}
    the rest   the data section: every tensor's raw little-endian C-order bytes, back to back

The nested Python object around the arrays (dicts with str or int keys, lists, tuples,
numbers, strings, None) is stored as JSON in ``__metadata__["chainrule.structure"]``; each
array leaf there refers to a tensor entry by name. ``__metadata__`` also holds a format
version, the SHA-256 of the data section and the SHA-256 of the rest of the header, so a
truncated, corrupted or edited file is detected before anything is built. Loading only
parses JSON and copies bytes: it never executes code.

Tensor names are the leaf's key path joined by dots (``"model.fc.weight"``,
``"optimizer.state.0.exp_avg"``), so ``safetensors.numpy.load_file`` reads a chainrule
checkpoint's arrays under readable names, and ``cr.load`` reads any safetensors file (one
written by another library comes back as a dict of name -> Tensor).

Saving to a path is atomic: the bytes go to a temporary file in the same directory
(``.<name>.tmp-<host>-<pid>-<random>``), which is flushed, fsynced and renamed onto the
target, then the directory is fsynced. A crash mid-save leaves the previous checkpoint
intact; its temporary file is removed by the next save to that path (see
:mod:`chainrule._atomic`).

Limits, checked on both sides so that what saves also loads: containers nest at most
:data:`MAX_NESTING` levels deep (whatever the caller's own stack depth); a header is at
most :data:`MAX_HEADER_SIZE` bytes (100 MB, the safetensors library's cap); a tensor has at
most as many dimensions as NumPy allows and a size that fits in 64 bits. A hostile or
foreign file fails with :class:`CheckpointError` naming the file, after work bounded by
the file's size, and never blocks (a FIFO or device path is refused, not opened).

This module holds ``save`` and ``load`` and their file handling (atomic writing, safe
opening, reading the data section). The header (limits, dtype codes, writing and checking
the tensor table) is in :mod:`chainrule._serialization_format`; the nested object's JSON
structure (encoding, checking, decoding) in :mod:`chainrule._serialization_structure`.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import io
import os
import stat
import struct
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from chainrule._atomic import atomic_open
from chainrule._serialization_format import (
    _KEY_DATA_SHA256,
    MAX_HEADER_SIZE,
    MAX_NESTING,
    _build_header,
    _check_entry,
    _check_layout,
    _check_metadata,
    _parse_header,
    _TensorEntry,
)
from chainrule._serialization_format import FORMAT_VERSION as FORMAT_VERSION  # re-exported
from chainrule._serialization_format import MAX_DIMS as MAX_DIMS  # re-exported
from chainrule._serialization_structure import (
    _check_chainrule_metadata,
    _decode,
    _Encoder,
    _LeafBuilder,
    _type_name,
    _with_fresh_stack,
)

__all__ = ["CheckpointError", "save", "load", "MAX_NESTING", "MAX_HEADER_SIZE"]


_PathLike = str | os.PathLike


class CheckpointError(ValueError):
    """A checkpoint file is truncated, corrupted, edited or not a safetensors file at all."""


# ----------------------------------------------------------------------------- save


def save(
    obj: Any,
    path: _PathLike | IO[bytes],
    pickle_module: Any = None,
    pickle_protocol: Any = None,
    _use_new_zipfile_serialization: Any = None,
) -> None:
    """Save a state dict, or a nested dict/list/tuple of tensors, arrays and numbers.

    The file is a safetensors file (see the module docstring); nothing in it is pickled.
    Saving to a path is atomic: either the whole new checkpoint replaces the old file, or
    (on an error or a crash) the old file is left as it was.

    Args:
        obj: the object to save. Containers: ``dict`` (keys ``str``, ``int``, ``float``,
            ``bool`` or ``None``; order kept; an ``OrderedDict`` comes back as one), ``list``,
            ``tuple`` (subclasses such as named tuples come back as plain ``tuple``).
            Leaves: ``Tensor`` (``nn.Parameter`` included; ``requires_grad`` is kept, the
            gradient is not), ``numpy.ndarray`` (comes back as an ndarray), ``int``,
            ``float`` (nan and inf included), ``bool``, ``str``, ``None`` and NumPy scalars
            (come back as Python numbers). Array dtypes: float16/32/64, int8/16/32/64,
            uint8/16/32/64 and bool. An object that appears several times is stored once
            and comes back as one shared object.
        path: a file path (``str`` or ``os.PathLike``), or a binary file-like object
            with ``write`` (then the write is not atomic and the file is not closed).
        pickle_module, pickle_protocol, _use_new_zipfile_serialization: accepted for
            compatibility with ``torch.save`` scripts and ignored.

    Raises:
        TypeError: ``obj`` holds something else (a function, a module, a complex array,
            ...); the message names its type and key path. Nothing is written then.
        ValueError: ``obj`` contains itself, nests deeper than :data:`MAX_NESTING`, or
            holds so many arrays that the header would exceed :data:`MAX_HEADER_SIZE`.

    Examples:
        >>> cr.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
        ...          "epoch": 3, "rng": cr.get_rng_state()}, "ckpt.safetensors")
        >>> ckpt = cr.load("ckpt.safetensors")
        >>> model.load_state_dict(ckpt["model"])
    """
    del pickle_module, pickle_protocol, _use_new_zipfile_serialization  # torch-only options
    with _gc_paused():
        header, entries = _with_fresh_stack(_encode, obj)  # errors about obj, before any I/O
    if isinstance(path, str | os.PathLike):
        _atomic_write(os.fsdecode(path), header, entries)
    elif callable(getattr(path, "write", None)):
        _write_checkpoint(path, header, entries)
    else:
        raise TypeError(
            "cr.save: path must be a str, an os.PathLike or a binary file-like object, "
            f"got {_type_name(path)}"
        )


def _encode(obj: Any) -> tuple[bytes, list[tuple[str, np.ndarray]]]:
    encoder = _Encoder()
    structure = encoder.encode(obj, ())
    return _build_header(structure, encoder.entries)


def _data_chunks(entries: list[tuple[str, np.ndarray]]) -> Iterator[memoryview]:
    """The data section, one tensor at a time, as byte views of the arrays."""
    for _, flat in entries:
        yield memoryview(flat.view(np.uint8))


def _write_checkpoint(f: IO[bytes], header: bytes, entries: list[tuple[str, np.ndarray]]) -> None:
    f.write(header)
    for chunk in _data_chunks(entries):
        f.write(chunk)


def _atomic_write(path: str, header: bytes, entries: list[tuple[str, np.ndarray]]) -> None:
    """Write to a temporary file beside ``path``, fsync it, then rename it onto ``path``."""
    with atomic_open(path, "wb") as f:
        _write_checkpoint(f, header, entries)


# ----------------------------------------------------------------------------- load


def load(
    path: _PathLike | IO[bytes],
    map_location: Any = None,
    pickle_module: Any = None,
    *,
    weights_only: bool | None = True,
    mmap: bool | None = None,
    **pickle_load_args: Any,
) -> Any:
    """Load an object saved by :func:`save` (or any safetensors file).

    The whole file is checked before anything is built: its length against the header,
    the header's JSON and tensor table, the structure, and the SHA-256 digests of the
    header and of the data. Nothing in the file is executed.

    Args:
        path: a file path, or a binary file-like object with ``read`` (read from its
            current position to its end).
        map_location, pickle_module, weights_only, mmap, **pickle_load_args: accepted for
            compatibility with ``torch.load`` scripts and ignored (tensors live on the CPU
            and loading never runs code).

    Returns:
        The saved object, with the same nesting, key types and order. A safetensors file
        written by another library comes back as a dict of tensor name -> Tensor.

    Raises:
        CheckpointError: (a ``ValueError``) the file is truncated, corrupted, edited, or
            not a safetensors file; the message names the file and what is wrong.
        FileNotFoundError: there is no such file.
    """
    del map_location, pickle_module, weights_only, mmap, pickle_load_args  # torch-only options
    if isinstance(path, str | os.PathLike):
        name = os.fsdecode(path)
        with _open_regular(name) as f:
            return _read_checkpoint(f, os.fstat(f.fileno()).st_size, name)
    if not callable(getattr(path, "read", None)):
        raise TypeError(
            "cr.load: path must be a str, an os.PathLike or a binary file-like object, "
            f"got {_type_name(path)}"
        )
    name = str(getattr(path, "name", f"<{_type_name(path)}>"))
    seekable = getattr(path, "seekable", None)
    if callable(seekable) and seekable():
        start = path.tell()
        size = path.seek(0, io.SEEK_END) - start
        path.seek(start)
        return _read_checkpoint(_Reader(path, name), size, name)
    # a pipe or socket: read only what the header announces, checking the length first
    return _read_checkpoint(_Reader(path, name), None, name)


class _Reader:
    """``read(n)`` / ``readinto(view)`` over any binary file-like object, checking types."""

    def __init__(self, f: Any, name: str) -> None:
        self.f, self.name = f, name
        self._readinto = getattr(f, "readinto", None)

    def read(self, n: int) -> bytes:
        chunks, left = [], n
        while left > 0:
            data = self.f.read(min(left, 1 << 24))
            if not isinstance(data, bytes | bytearray):
                raise TypeError(
                    f"cr.load: {self.name}: expected a binary file, read() gave {_type_name(data)}"
                )
            if not data:
                break
            chunks.append(bytes(data))
            left -= len(data)
        return b"".join(chunks)

    def readinto(self, view: memoryview) -> int:
        if callable(self._readinto):
            return self._readinto(view) or 0
        data = self.read(min(len(view), 1 << 24))
        view[: len(data)] = data
        return len(data)


@contextlib.contextmanager
def _open_regular(name: str) -> Iterator[IO[bytes]]:
    """Open ``name`` for reading, refusing (without blocking) what is not a regular file."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    if os.path.isdir(name):
        raise CheckpointError(f"cr.load: {name}: is a directory, not a checkpoint file")
    fd = os.open(name, flags)  # O_NONBLOCK: opening a FIFO with no writer does not wait
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = (
                "a FIFO (named pipe)" if stat.S_ISFIFO(mode)
                else "a character device" if stat.S_ISCHR(mode)
                else "a block device" if stat.S_ISBLK(mode)
                else "a directory" if stat.S_ISDIR(mode)
                else "not a regular file"
            )  # fmt: skip
            raise CheckpointError(
                f"cr.load: {name}: is {kind}, not a checkpoint file (to read a stream, "
                "pass an open binary file object)"
            )
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        f = open(fd, "rb")  # noqa: SIM115 - closed below
    except BaseException:
        os.close(fd)
        raise
    with f:
        yield f


_SIGNATURES = (
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"PK\x03\x04", "a zip archive, e.g. a torch.save file"),
    (b"\x1f\x8b", "a gzip file"),
    (b"\x80", "a pickle, e.g. an old torch.save file"),
    (b"\x93NUMPY", "a NumPy .npy file"),
    (b"%PDF", "a PDF document"),
    (b"\x7fELF", "a program"),
)


def _what_it_is(head: bytes) -> str:
    """A guess at what a file that is not a checkpoint is, from its first bytes."""
    for signature, kind in _SIGNATURES:
        if head.startswith(signature):
            return f" (it looks like {kind})"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if text and all(c.isprintable() or c in "\r\n\t" for c in text):
        return " (it looks like a text file)"
    return ""


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, if it is on, while a checkpoint is encoded or read.

    A header of a million tensors parses into millions of small objects, none of them
    garbage, and the collector's repeated passes over them took longer than the work
    itself. It is turned back on afterwards only if this call turned it off (concurrent
    loads leave it as they found it).
    """
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


@_gc_paused()
def _read_checkpoint(f: Any, size: int | None, source: str) -> Any:
    """Check and load a checkpoint from ``f``; ``size`` is None for a stream of unknown length."""

    def fail(message: str) -> CheckpointError:
        return CheckpointError(f"cr.load: {source}: {message}")

    def foreign(why: str, head: bytes) -> CheckpointError:
        return fail(
            f"not a chainrule checkpoint (nor any safetensors file): {why}{_what_it_is(head)}"
        )

    prefix = f.read(8)
    if len(prefix) < 8 and _what_it_is(prefix):
        size_text = "1 byte" if len(prefix) == 1 else f"{len(prefix)} bytes"
        raise foreign(f"it is only {size_text} long (truncated, or another kind of file)", prefix)
    if len(prefix) < 8:
        raise fail(
            f"truncated, or not a chainrule checkpoint at all: the file is {len(prefix)} "
            f"bytes, shorter than the 8-byte header length{_what_it_is(prefix)}"
        )
    (header_len,) = struct.unpack("<Q", prefix)
    first = f.read(1) if header_len else b""
    if not first and header_len and (size is None or size == 8):
        raise fail(f"truncated: the header length says {header_len} bytes, none follow")
    if first != b"{":  # a safetensors header is a JSON object
        raise foreign("it does not start with a safetensors header", prefix + first)
    if header_len > MAX_HEADER_SIZE:
        raise fail(
            f"its header would be {header_len} bytes, more than the {MAX_HEADER_SIZE}-byte "
            "limit of safetensors files; the file is corrupted or hostile"
        )
    if size is not None and header_len > size - 8:
        raise fail(
            f"truncated: the header length field says {header_len} bytes, but only "
            f"{size - 8} bytes follow it"
        )
    header = _parse_header(first + _read_exactly(f, header_len - 1, fail), fail)
    metadata = header.pop("__metadata__", None)
    metadata = _check_metadata(metadata, fail)
    entries = [_check_entry(name, spec, fail) for name, spec in header.items()]
    in_file_order = _check_layout(entries, None if size is None else size - 8 - header_len, fail)

    is_chainrule = any(key.startswith("chainrule.") for key in metadata)
    structure = None
    if is_chainrule:
        structure = _check_chainrule_metadata(metadata, header, entries, fail)
    arrays, data_digest = _read_data(f, in_file_order, fail)
    if size is None and f.read(1):
        raise fail("corrupted: unexpected bytes after the data section the header describes")
    if is_chainrule and data_digest != metadata[_KEY_DATA_SHA256]:
        raise fail(
            "corrupted: the SHA-256 of the data section does not match the header "
            f"(header says {metadata[_KEY_DATA_SHA256]}, data hashes to {data_digest}); "
            "the file was damaged or modified"
        )
    leaf = _LeafBuilder({name: _native(array) for name, array in arrays.items()})
    if structure is None:  # a plain safetensors file from another library
        return {entry.name: leaf(entry.name, "tensor", False) for entry in entries}
    return _decode(structure, leaf, fail)


def _read_exactly(f: Any, n: int, fail: Callable[[str], CheckpointError]) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise fail(f"truncated: expected {n} more bytes, the file ended after {len(data)}")
    return data


def _read_data(
    f: Any, in_file_order: list[_TensorEntry], fail: Callable[[str], CheckpointError]
) -> tuple[dict[str, np.ndarray], str]:
    """Read every tensor into its own array (in file order), hashing the bytes on the way."""
    digest = hashlib.sha256()
    arrays: dict[str, np.ndarray] = {}
    for entry in in_file_order:
        try:
            array = np.empty(entry.shape, dtype=entry.dtype)
        except (ValueError, MemoryError) as error:
            raise fail(f"tensor {entry.name!r:.200} cannot be allocated ({error})") from None
        arrays[entry.name] = array
        if entry.begin == entry.end:  # an empty tensor: nothing to read or hash
            continue
        raw = array.reshape(-1).view(np.uint8)  # (nbytes,) view of the fresh array
        filled = 0
        while filled < raw.size:
            n = f.readinto(memoryview(raw[filled:]))  # type: ignore[attr-defined]
            if not n:
                raise fail(f"truncated: the file ended inside tensor {entry.name!r}")
            filled += n
        digest.update(raw)
        if entry.dtype == np.bool_ and raw.size and raw.max() > 1:
            raise fail(f"corrupted: BOOL tensor {entry.name!r} holds bytes other than 0 and 1")
    return arrays, digest.hexdigest()


def _native(array: np.ndarray) -> np.ndarray:
    """The array in the machine's byte order (a no-op on little-endian machines)."""
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array
