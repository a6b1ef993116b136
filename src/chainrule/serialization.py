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
(``.<name>.tmp-<random>``), which is flushed, fsynced and renamed onto the target, then the
directory is fsynced. A crash mid-save leaves the previous checkpoint intact (and at worst
a stray temporary file, which nothing reads).
"""

from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
import struct
from collections.abc import Callable, Iterator
from typing import IO, Any

import numpy as np

from chainrule._atomic import atomic_open

__all__ = ["CheckpointError", "save", "load"]

FORMAT_VERSION = "1"

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
    encoder = _Encoder()
    structure = encoder.encode(obj, ())  # every error about obj is raised here, before any I/O
    header, entries = _build_header(structure, encoder.entries)
    if isinstance(path, str | os.PathLike):
        _atomic_write(os.fsdecode(path), header, entries)
    elif callable(getattr(path, "write", None)):
        _write_checkpoint(path, header, entries)
    else:
        raise TypeError(
            "cr.save: path must be a str, an os.PathLike or a binary file-like object, "
            f"got {_type_name(path)}"
        )


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
        with open(name, "rb") as f:
            return _read_checkpoint(f, os.fstat(f.fileno()).st_size, name)
    if not callable(getattr(path, "read", None)):
        raise TypeError(
            "cr.load: path must be a str, an os.PathLike or a binary file-like object, "
            f"got {_type_name(path)}"
        )
    name = str(getattr(path, "name", f"<{_type_name(path)}>"))
    seekable = getattr(path, "seekable", None)
    if callable(seekable) and seekable() and callable(getattr(path, "readinto", None)):
        start = path.tell()
        size = path.seek(0, io.SEEK_END) - start
        path.seek(start)
        return _read_checkpoint(path, size, name)
    data = path.read()
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"cr.load: {name}: expected a binary file, read() gave {_type_name(data)}")
    return _read_checkpoint(io.BytesIO(data), len(data), name)


class _TensorEntry:
    """One validated row of the header's tensor table."""

    def __init__(self, name: str, dtype: np.dtype, shape: tuple[int, ...], begin: int, end: int):
        self.name, self.dtype, self.shape, self.begin, self.end = name, dtype, shape, begin, end


def _read_checkpoint(f: IO[bytes], size: int, source: str) -> Any:
    def fail(message: str) -> CheckpointError:
        return CheckpointError(f"cr.load: {source}: {message}")

    if size < 8:
        raise fail(f"truncated: the file is {size} bytes, shorter than the 8-byte header length")
    prefix = _read_exactly(f, 8, fail)
    (header_len,) = struct.unpack("<Q", prefix)
    if header_len > size - 8:
        hint = (
            " (it looks like a zip archive, e.g. a torch.save file; chainrule reads only "
            "safetensors files)"
            if prefix.startswith(b"PK\x03\x04")
            else ""
        )
        raise fail(
            f"truncated or not a safetensors file: the header length field says {header_len} "
            f"bytes, but only {size - 8} bytes follow it{hint}"
        )
    header = _parse_header(_read_exactly(f, header_len, fail), fail)
    metadata = header.pop("__metadata__", None)
    metadata = _check_metadata(metadata, fail)
    entries = [_check_entry(name, spec, fail) for name, spec in header.items()]
    _check_layout(entries, size - 8 - header_len, fail)

    is_chainrule = any(key.startswith("chainrule.") for key in metadata)
    structure = None
    if is_chainrule:
        structure = _check_chainrule_metadata(metadata, header, entries, fail)
    arrays, data_digest = _read_data(f, entries, fail)
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


def _read_exactly(f: IO[bytes], n: int, fail: Callable[[str], CheckpointError]) -> bytes:
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


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_entry(name: str, spec: Any, fail: Callable[[str], CheckpointError]) -> _TensorEntry:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data_offsets"}:
        raise fail(
            f"corrupted header: tensor {name!r} must have exactly the keys dtype, shape and "
            f"data_offsets, got {spec!r:.200}"
        )
    code, shape, offsets = spec["dtype"], spec["shape"], spec["data_offsets"]
    if code not in _CODE_TO_DTYPE:
        raise fail(
            f"tensor {name!r} has dtype {code!r}, which chainrule cannot load "
            f"(supported: {', '.join(_CODE_TO_DTYPE)})"
        )
    if not isinstance(shape, list) or not all(_is_count(d) for d in shape):
        raise fail(
            f"corrupted header: tensor {name!r} has shape {shape!r:.200}, "
            "expected a list of non-negative ints"
        )
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_is_count(o) for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise fail(
            f"corrupted header: tensor {name!r} has data_offsets {offsets!r:.200}, "
            "expected [begin, end] with 0 <= begin <= end"
        )
    dtype = _CODE_TO_DTYPE[code]
    needed = math.prod(shape) * dtype.itemsize
    if needed != offsets[1] - offsets[0]:
        raise fail(
            f"corrupted header: tensor {name!r} of dtype {code} and shape {shape} needs "
            f"{needed} bytes, but its data_offsets {offsets} span {offsets[1] - offsets[0]}"
        )
    return _TensorEntry(name, dtype, tuple(shape), offsets[0], offsets[1])


def _check_layout(
    entries: list[_TensorEntry], data_len: int, fail: Callable[[str], CheckpointError]
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
    try:
        structure = _strict_json(metadata[_KEY_STRUCTURE])
    except (ValueError, RecursionError) as error:
        raise fail(f"corrupted header: the structure is not valid JSON ({error})") from None
    checker = _LeafBuilder({entry.name: None for entry in entries})
    _decode(structure, checker, fail)  # a dry run: raises on any malformed node
    unused = [entry.name for entry in entries if entry.name not in checker.built]
    if unused:
        raise fail(f"corrupted header: tensors {unused[:5]} are not used by the structure")
    return structure


def _read_data(
    f: IO[bytes], entries: list[_TensorEntry], fail: Callable[[str], CheckpointError]
) -> tuple[dict[str, np.ndarray], str]:
    """Read every tensor into its own array (file order), hashing the bytes on the way."""
    digest = hashlib.sha256()
    arrays: dict[str, np.ndarray] = {}
    for entry in sorted(entries, key=lambda e: (e.begin, e.end)):
        array = np.empty(entry.shape, dtype=entry.dtype)
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
        return _decode_node(node, leaf)
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
