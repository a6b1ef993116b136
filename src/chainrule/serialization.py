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
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import json
import math
import os
import re
import stat
import struct
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from chainrule._atomic import atomic_open

__all__ = ["CheckpointError", "save", "load", "MAX_NESTING", "MAX_HEADER_SIZE"]

FORMAT_VERSION = "1"
#: deepest nesting of containers that ``save`` writes and ``load`` reads
MAX_NESTING = 200
#: largest header ``load`` reads (the safetensors library's limit)
MAX_HEADER_SIZE = 100_000_000
#: most dimensions of a tensor (NumPy's limit)
MAX_DIMS = 64 if int(np.__version__.split(".")[0]) >= 2 else 32
_MAX_BYTES = 2**63  # sizes and offsets must fit in a signed 64-bit integer

_KEY_FORMAT = "chainrule.format"
_KEY_STRUCTURE = "chainrule.structure"
_KEY_DATA_SHA256 = "chainrule.sha256"
_KEY_HEADER_SHA256 = "chainrule.header_sha256"
_CHAINRULE_KEYS = (_KEY_FORMAT, _KEY_STRUCTURE, _KEY_DATA_SHA256, _KEY_HEADER_SHA256)

# safetensors dtype code <-> NumPy dtype (always little-endian in the file)
_CODE_TO_DTYPE: dict[str, np.dtype] = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"),
    "U32": np.dtype("<u4"),
    "U16": np.dtype("<u2"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_KIND_SIZE_TO_CODE: dict[tuple[str, int], str] = {
    (dtype.kind, dtype.itemsize): code for code, dtype in _CODE_TO_DTYPE.items()
}

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
        ValueError: ``obj`` contains itself.

    Examples:
        >>> cr.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
        ...          "epoch": 3, "rng": cr.get_rng_state()}, "ckpt.safetensors")
        >>> ckpt = cr.load("ckpt.safetensors")
        >>> model.load_state_dict(ckpt["model"])
    """
    del pickle_module, pickle_protocol, _use_new_zipfile_serialization  # torch-only options
    header, entries = _with_fresh_stack(_encode, obj)  # every error about obj, before any I/O
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


def _with_fresh_stack(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``, rerun in a new thread (an empty call stack) on RecursionError.

    Nesting up to ``MAX_NESTING`` then works however deep in a call stack ``save`` or
    ``load`` is called; the recursive steps are bounded by that limit.
    """
    try:
        return function(*args)
    except RecursionError:
        pass
    outcome: dict[str, Any] = {}

    def body() -> None:
        try:
            outcome["value"] = function(*args)
        except BaseException as error:  # re-raised in the calling thread
            outcome["error"] = error

    worker = threading.Thread(target=body, name="chainrule-serialization", daemon=True)
    worker.start()
    worker.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


class _Encoder:
    """Turns a nested object into JSON-able structure nodes plus a list of named arrays."""

    def __init__(self) -> None:
        self.entries: list[tuple[str, np.ndarray]] = []  # (name, array) in first-seen order
        self._names: set[str] = set()
        self._memo: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(leaf) -> (leaf, node)
        self._active: set[int] = set()  # ids of the containers being encoded (cycle check)

    def encode(self, obj: Any, path: tuple[Any, ...]) -> Any:
        scalar = _encode_scalar(obj)
        if scalar is not _NOT_SCALAR:
            return scalar
        if isinstance(obj, _tensor_class()):
            node = {"type": "tensor", "name": "", "requires_grad": bool(obj.requires_grad)}
            return self._array_leaf(obj, obj.detach().numpy(), node, path)
        if isinstance(obj, np.ndarray) and not isinstance(obj, np.ma.MaskedArray):
            return self._array_leaf(obj, obj, {"type": "ndarray", "name": ""}, path)
        if isinstance(obj, dict | list | tuple):
            if id(obj) in self._active:
                raise ValueError(f"cr.save: the object contains itself at {_format_path(path)}")
            if len(path) >= MAX_NESTING:
                raise ValueError(
                    f"cr.save: containers nest more than {MAX_NESTING} levels deep at "
                    f"{_format_path(path[:3])}... (cr.load reads at most {MAX_NESTING})"
                )
            self._active.add(id(obj))
            try:
                return self._encode_container(obj, path)
            finally:
                self._active.discard(id(obj))
        raise TypeError(
            f"cr.save: cannot save object of type {_type_name(obj)} at {_format_path(path)} "
            "(supported: dict, list, tuple, str, int, float, bool, None, Tensor, numpy.ndarray)"
        )

    def _encode_container(self, obj: dict | list | tuple, path: tuple[Any, ...]) -> Any:
        if isinstance(obj, dict):
            items = []
            for key, value in obj.items():
                encoded_key = _encode_scalar(key)
                if encoded_key is _NOT_SCALAR:
                    raise TypeError(
                        f"cr.save: cannot save a dict key of type {_type_name(key)} at "
                        f"{_format_path(path)} (keys must be str, int, float, bool or None)"
                    )
                items.append([encoded_key, self.encode(value, (*path, key))])
            kind = "ordered_dict" if isinstance(obj, collections.OrderedDict) else "dict"
            return {"type": kind, "items": items}
        values = [self.encode(value, (*path, i)) for i, value in enumerate(obj)]
        return values if isinstance(obj, list) else {"type": "tuple", "items": values}

    def _array_leaf(
        self, leaf: Any, array: np.ndarray, node: dict[str, Any], path: tuple[Any, ...]
    ) -> dict[str, Any]:
        if id(leaf) in self._memo:  # the same object again: refer to the same tensor entry
            return self._memo[id(leaf)][1]
        if (array.dtype.kind, array.dtype.itemsize) not in _KIND_SIZE_TO_CODE:
            raise TypeError(
                f"cr.save: cannot save an array of dtype {array.dtype} at {_format_path(path)} "
                "(supported: float16/32/64, int8/16/32/64, uint8/16/32/64, bool)"
            )
        node["name"] = self._unique_name(path)
        self.entries.append((node["name"], array))
        self._memo[id(leaf)] = (leaf, node)  # keeping `leaf` keeps its id unique meanwhile
        return node

    def _unique_name(self, path: tuple[Any, ...]) -> str:
        base = ".".join(str(key) for key in path) or "tensor"
        base = base.encode("utf-8", "replace").decode("utf-8")  # lone surrogates -> '?'
        name, n = base, 1
        while name in self._names or name == "__metadata__":
            n += 1
            name = f"{base}#{n}"
        self._names.add(name)
        return name


_NOT_SCALAR = object()
_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def _encode_scalar(value: Any) -> Any:
    """The JSON node of a scalar leaf, or ``_NOT_SCALAR``."""
    if value is None or isinstance(value, bool | np.bool_):
        return None if value is None else bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        value = float(value)
        if math.isfinite(value):
            return value
        return {"type": "float", "value": "nan" if math.isnan(value) else str(value)}
    if isinstance(value, str):
        return str(value)
    return _NOT_SCALAR


def _build_header(
    structure: Any, arrays: list[tuple[str, np.ndarray]]
) -> tuple[bytes, list[tuple[str, np.ndarray]]]:
    """The padded header bytes (length prefix included) and the arrays in file order."""
    entries = []
    for name, array in arrays:
        little = array.dtype.newbyteorder("<")
        flat = np.ascontiguousarray(array, dtype=little).reshape(-1)  # (numel,), no copy if able
        entries.append((name, array.shape, flat))
    # Widest dtypes first: with the data section 8-byte aligned, every tensor is then
    # aligned to its itemsize in the file (as the safetensors library lays it out).
    entries.sort(key=lambda entry: -entry[2].dtype.itemsize)
    tensors: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, shape, flat in entries:
        code = _KIND_SIZE_TO_CODE[(flat.dtype.kind, flat.dtype.itemsize)]
        tensors[name] = {
            "dtype": code,
            "shape": list(shape),
            "data_offsets": [offset, offset + flat.nbytes],
        }
        offset += flat.nbytes
    metadata = {
        _KEY_FORMAT: FORMAT_VERSION,
        _KEY_STRUCTURE: json.dumps(structure, separators=(",", ":"), allow_nan=False),
    }
    data_digest = hashlib.sha256()
    for _, _, flat in entries:
        data_digest.update(flat.view(np.uint8))
    metadata[_KEY_HEADER_SHA256] = _header_digest(metadata, tensors)
    metadata[_KEY_DATA_SHA256] = data_digest.hexdigest()
    text = json.dumps(
        {"__metadata__": metadata, **tensors}, separators=(",", ":"), ensure_ascii=False
    )
    header = text.encode("utf-8")
    header += b" " * (-(8 + len(header)) % 8)  # pad so the data section starts 8-aligned
    return struct.pack("<Q", len(header)) + header, [(n, f) for n, _, f in entries]


def _header_digest(metadata: dict[str, str], tensors: dict[str, Any]) -> str:
    """SHA-256 of the header's meaning: the tensor table and metadata minus the digests."""
    rest = {k: v for k, v in metadata.items() if k not in (_KEY_DATA_SHA256, _KEY_HEADER_SHA256)}
    canonical = json.dumps({"__metadata__": rest, **tensors}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


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


class _TensorEntry:
    """One validated row of the header's tensor table."""

    def __init__(self, name: str, dtype: np.dtype, shape: tuple[int, ...], begin: int, end: int):
        self.name, self.dtype, self.shape, self.begin, self.end = name, dtype, shape, begin, end


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
    _check_layout(entries, None if size is None else size - 8 - header_len, fail)

    is_chainrule = any(key.startswith("chainrule.") for key in metadata)
    structure = None
    if is_chainrule:
        structure = _check_chainrule_metadata(metadata, header, entries, fail)
    arrays, data_digest = _read_data(f, entries, fail)
    if size is None and f.read(1):
        raise fail("corrupted: unexpected bytes after the data section the header describes")
    if is_chainrule and data_digest != metadata[_KEY_DATA_SHA256]:
        raise fail(
            "corrupted: the SHA-256 of the data section does not match the header "
            f"(header says {metadata[_KEY_DATA_SHA256]}, data hashes to {data_digest}); "
            "the file was damaged or modified"
        )
    arrays = {name: _native(array) for name, array in arrays.items()}
    if structure is None:  # a plain safetensors file from another library
        return {entry.name: _make_tensor(arrays[entry.name], False) for entry in entries}
    return _decode(structure, _LeafBuilder(arrays), fail)


def _read_exactly(f: Any, n: int, fail: Callable[[str], CheckpointError]) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise fail(f"truncated: expected {n} more bytes, the file ended after {len(data)}")
    return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _strict_json(text: str | bytes) -> Any:
    return json.loads(text, object_pairs_hook=_unique_object, parse_constant=_reject_constant)


def _parse_header(raw: bytes, fail: Callable[[str], CheckpointError]) -> dict[str, Any]:
    if not raw.startswith(b"{"):
        raise fail(
            f"not a safetensors file: the header should be a JSON object, it starts {raw[:16]!r}"
        )
    try:
        header = _strict_json(raw.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
        raise fail(f"corrupted header: not valid UTF-8 JSON ({error})") from None
    if not isinstance(header, dict):
        raise fail("corrupted header: the JSON is not an object")
    return header


def _check_metadata(metadata: Any, fail: Callable[[str], CheckpointError]) -> dict[str, str]:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
        isinstance(key, str) and isinstance(value, str) for key, value in metadata.items()
    ):
        raise fail("corrupted header: __metadata__ must map strings to strings")
    return metadata


_ENTRY_KEYS = frozenset(("dtype", "shape", "data_offsets"))


def _check_entry(name: str, spec: Any, fail: Callable[[str], CheckpointError]) -> _TensorEntry:
    """One row of the tensor table, checked in work bounded by ``MAX_DIMS`` (a few µs)."""
    if type(spec) is not dict or spec.keys() != _ENTRY_KEYS:
        raise fail(
            f"corrupted header: tensor {name!r:.200} must have exactly the keys dtype, shape "
            f"and data_offsets, got {spec!r:.200}"
        )
    code, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    dtype = _CODE_TO_DTYPE.get(code) if type(code) is str else None
    if dtype is None:
        raise fail(
            f"tensor {name!r:.200} has dtype {code!r:.100}, which chainrule cannot load "
            f"(supported: {', '.join(_CODE_TO_DTYPE)})"
        )
    if type(shape) is not list or len(shape) > MAX_DIMS:
        raise fail(
            f"corrupted header: tensor {name!r:.200} has shape {shape!r:.200}, expected a "
            f"list of at most {MAX_DIMS} non-negative ints"
        )
    size = 1  # the product of the non-zero sizes (NumPy's limit applies to it)
    for d in shape:
        if type(d) is not int or not 0 <= d < _MAX_BYTES:
            raise fail(
                f"corrupted header: tensor {name!r:.200} has shape {shape!r:.200}, "
                "expected a list of non-negative ints below 2**63"
            )
        if d:
            size *= d
    if (
        type(offsets) is not list
        or len(offsets) != 2
        or type(offsets[0]) is not int
        or type(offsets[1]) is not int
        or not 0 <= offsets[0] <= offsets[1] < _MAX_BYTES
    ):
        raise fail(
            f"corrupted header: tensor {name!r:.200} has data_offsets {offsets!r:.200}, "
            "expected [begin, end] with 0 <= begin <= end < 2**63"
        )
    if size * dtype.itemsize >= _MAX_BYTES:
        raise fail(
            f"corrupted header: tensor {name!r:.200} has shape {shape!r:.200}, whose size "
            "does not fit in 64 bits"
        )
    needed = 0 if 0 in shape else size * dtype.itemsize
    if needed != offsets[1] - offsets[0]:
        raise fail(
            f"corrupted header: tensor {name!r:.200} of dtype {code} and shape {shape} needs "
            f"{needed} bytes, but its data_offsets {offsets} span {offsets[1] - offsets[0]}"
        )
    return _TensorEntry(name, dtype, tuple(shape), offsets[0], offsets[1])


def _check_layout(
    entries: list[_TensorEntry], data_len: int | None, fail: Callable[[str], CheckpointError]
) -> None:
    """The tensors must tile the data section exactly: no gap, no overlap, no excess."""
    end = 0
    previous = None
    for entry in sorted(entries, key=lambda e: (e.begin, e.end)):
        if entry.begin < end:
            raise fail(
                f"corrupted header: tensors {previous!r} and {entry.name!r} overlap "
                f"(bytes {entry.begin} to {end})"
            )
        if entry.begin > end:
            raise fail(
                f"corrupted header: bytes {end} to {entry.begin} of the data section "
                "belong to no tensor"
            )
        end, previous = entry.end, entry.name
    if data_len is None:  # a stream: its length is checked while reading
        return
    if data_len < end:
        raise fail(f"truncated: the header says {end} bytes of data, the file has {data_len}")
    if data_len > end:
        raise fail(
            f"corrupted: the header says {end} bytes of data, but the file has "
            f"{data_len} ({data_len - end} unexpected bytes at the end)"
        )


def _check_chainrule_metadata(
    metadata: dict[str, str],
    tensors: dict[str, Any],
    entries: list[_TensorEntry],
    fail: Callable[[str], CheckpointError],
) -> Any:
    """Check the version, the header digest and the structure; return the structure."""
    missing = [key for key in _CHAINRULE_KEYS if key not in metadata]
    if missing:
        raise fail(f"corrupted header: __metadata__ lacks {', '.join(missing)}")
    if metadata[_KEY_FORMAT] != FORMAT_VERSION:
        raise fail(
            f"checkpoint format version {metadata[_KEY_FORMAT]!r} is not supported (this "
            f"chainrule reads version {FORMAT_VERSION}); was it written by a newer chainrule?"
        )
    digest = _header_digest(metadata, tensors)
    if digest != metadata[_KEY_HEADER_SHA256]:
        raise fail(
            "corrupted header: its SHA-256 does not match the one recorded in it "
            f"(recorded {metadata[_KEY_HEADER_SHA256]}, header hashes to {digest}); "
            "the file was damaged or modified"
        )
    structure = _parse_structure(metadata[_KEY_STRUCTURE], fail)
    checker = _LeafBuilder({entry.name: None for entry in entries})
    _decode(structure, checker, fail)  # a dry run: raises on any malformed node
    unused = [entry.name for entry in entries if entry.name not in checker.built]
    if unused:
        raise fail(f"corrupted header: tensors {unused[:5]} are not used by the structure")
    return structure


def _parse_structure(text: str, fail: Callable[[str], CheckpointError]) -> Any:
    """The structure's JSON, refused (before parsing) when nested beyond ``MAX_NESTING``."""
    depth = _json_depth(text)
    # a container level is up to 3 JSON levels: {"type": "dict", "items": [[key, value]]}
    if depth > 3 * MAX_NESTING + 2:
        raise fail(
            f"corrupted structure: nested {depth} JSON levels deep, more than the "
            f"{MAX_NESTING} container levels cr.save writes"
        )
    try:
        return _with_fresh_stack(_strict_json, text)
    except (ValueError, RecursionError) as error:
        raise fail(f"corrupted header: the structure is not valid JSON ({error})") from None


def _json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text, ignoring those inside strings."""
    depth = deepest = 0
    # strings may hold brackets: remove them (escaped quotes first) before counting
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', "", text)
    for char in stripped:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _read_data(
    f: Any, entries: list[_TensorEntry], fail: Callable[[str], CheckpointError]
) -> tuple[dict[str, np.ndarray], str]:
    """Read every tensor into its own array (file order), hashing the bytes on the way."""
    digest = hashlib.sha256()
    arrays: dict[str, np.ndarray] = {}
    for entry in sorted(entries, key=lambda e: (e.begin, e.end)):
        try:
            array = np.empty(entry.shape, dtype=entry.dtype)
        except (ValueError, MemoryError) as error:
            raise fail(f"tensor {entry.name!r:.200} cannot be allocated ({error})") from None
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
        arrays[entry.name] = array
    return arrays, digest.hexdigest()


def _native(array: np.ndarray) -> np.ndarray:
    """The array in the machine's byte order (a no-op on little-endian machines)."""
    if not array.dtype.isnative:
        return array.astype(array.dtype.newbyteorder("="))
    return array


class _StructureError(Exception):
    """A malformed node in the stored structure (reported as a CheckpointError)."""


class _LeafBuilder:
    """Builds array leaves by name, once per name, so shared leaves stay shared."""

    def __init__(self, arrays: dict[str, np.ndarray | None]) -> None:
        self.arrays = arrays
        self.built: dict[str, tuple[str, bool, Any]] = {}  # name -> (kind, requires_grad, obj)

    def __call__(self, name: Any, kind: str, requires_grad: bool) -> Any:
        if not isinstance(name, str) or name not in self.arrays:
            raise _StructureError(
                f"it refers to tensor {name!r:.100}, which the header does not list"
            )
        if name in self.built:
            old_kind, old_requires_grad, obj = self.built[name]
            if (old_kind, old_requires_grad) != (kind, requires_grad):
                raise _StructureError(f"tensor {name!r} is used as two different kinds of leaf")
            return obj
        array = self.arrays[name]
        obj = None
        if array is not None:
            obj = array if kind == "ndarray" else _make_tensor(array, requires_grad)
        self.built[name] = (kind, requires_grad, obj)
        return obj


def _decode(node: Any, leaf: _LeafBuilder, fail: Callable[[str], CheckpointError]) -> Any:
    """Rebuild the nested object from its JSON structure (see ``_Encoder``)."""
    try:
        return _with_fresh_stack(_decode_node, node, leaf)
    except _StructureError as error:
        raise fail(f"corrupted structure: {error}") from None
    except RecursionError:
        raise fail("corrupted structure: nested too deeply") from None


def _decode_node(node: Any, leaf: _LeafBuilder) -> Any:
    if node is None or isinstance(node, bool | int | float | str):
        return node  # JSON keeps int and float apart; nan/inf are tagged objects
    if isinstance(node, list):
        return [_decode_node(item, leaf) for item in node]
    if not isinstance(node, dict):
        raise _StructureError(f"unexpected node {node!r:.100}")
    kind = node.get("type")
    if kind == "float" and set(node) == {"type", "value"} and node["value"] in _NONFINITE:
        return _NONFINITE[node["value"]]
    if kind == "tuple" and set(node) == {"type", "items"} and isinstance(node["items"], list):
        return tuple(_decode_node(item, leaf) for item in node["items"])
    if kind in ("dict", "ordered_dict") and set(node) == {"type", "items"}:
        return _decode_dict(node["items"], leaf, kind)
    if kind == "ndarray" and set(node) == {"type", "name"}:
        return leaf(node["name"], "ndarray", False)
    if (
        kind == "tensor"
        and set(node) == {"type", "name", "requires_grad"}
        and isinstance(node["requires_grad"], bool)
    ):
        return leaf(node["name"], "tensor", node["requires_grad"])
    raise _StructureError(f"unexpected node {node!r:.100}")


def _decode_dict(items: Any, leaf: _LeafBuilder, kind: str) -> dict[Any, Any]:
    result: dict[Any, Any] = collections.OrderedDict() if kind == "ordered_dict" else {}
    if not isinstance(items, list):
        raise _StructureError(f"dict items must be a list, got {items!r:.100}")
    for item in items:
        if not isinstance(item, list) or len(item) != 2:
            raise _StructureError(f"dict item must be a [key, value] pair, got {item!r:.100}")
        key = item[0]
        if isinstance(key, dict):  # only nan/inf keys are tagged
            if key.get("type") != "float":
                raise _StructureError(f"unexpected dict key {key!r:.100}")
            key = _decode_node(key, leaf)
        elif isinstance(key, list):
            raise _StructureError(f"unexpected dict key {key!r:.100}")
        if key in result:
            raise _StructureError(f"duplicate dict key {key!r:.100}")
        result[key] = _decode_node(item[1], leaf)
    return result


# ----------------------------------------------------------------------------- helpers


def _tensor_class() -> type:
    """chainrule's Tensor class, imported lazily (``chainrule.tensor`` may import this module)."""
    from chainrule.tensor import Tensor

    return Tensor


def _make_tensor(array: np.ndarray, requires_grad: bool) -> Any:
    from chainrule.tensor import from_numpy

    tensor = from_numpy(array)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def _type_name(obj: Any) -> str:
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _format_path(path: tuple[Any, ...]) -> str:
    return "".join(f"[{key!r}]" for key in path) if path else "the top level"
