"""The safetensors layout of a checkpoint: limits, dtype codes, and the header's two sides.

``_build_header`` writes the header that ``cr.save`` puts first in the file (the tensor
table and the metadata with its digests); ``_parse_header``, ``_check_metadata``,
``_check_entry`` and ``_check_layout`` check the header ``cr.load`` read, before any
tensor is built. The file layout is described in :mod:`chainrule.serialization`.
"""

from __future__ import annotations

import hashlib
import json
import operator
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chainrule.serialization import CheckpointError


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
    if len(header) > MAX_HEADER_SIZE:  # what saves must also load
        raise ValueError(
            f"cr.save: the checkpoint's header would be {len(header)} bytes for "
            f"{len(entries)} arrays, more than the {MAX_HEADER_SIZE}-byte limit of "
            "safetensors files that cr.load reads; save fewer, larger arrays (e.g. stack "
            "small ones) or split the object over several files"
        )
    return struct.pack("<Q", len(header)) + header, [(n, f) for n, _, f in entries]


def _header_digest(metadata: dict[str, str], tensors: dict[str, Any]) -> str:
    """SHA-256 of the header's meaning: the tensor table and metadata minus the digests."""
    rest = {k: v for k, v in metadata.items() if k not in (_KEY_DATA_SHA256, _KEY_HEADER_SHA256)}
    canonical = json.dumps({"__metadata__": rest, **tensors}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


class _TensorEntry:
    """One validated row of the header's tensor table."""

    __slots__ = ("name", "dtype", "shape", "begin", "end")

    def __init__(self, name: str, dtype: np.dtype, shape: tuple[int, ...], begin: int, end: int):
        self.name, self.dtype, self.shape, self.begin, self.end = name, dtype, shape, begin, end


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


def _unique_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)  # built in C: a header may hold a million objects
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise ValueError(f"duplicate key {key!r}")
            seen.add(key)
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
) -> list[_TensorEntry]:
    """The tensors must tile the data section exactly: no gap, no overlap, no excess.

    Returns the entries in file order (by offsets; the header's order among empty ones).
    """
    in_file_order = sorted(entries, key=operator.attrgetter("begin", "end"))
    end = 0
    previous = None
    for entry in in_file_order:
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
        return in_file_order
    if data_len < end:
        raise fail(f"truncated: the header says {end} bytes of data, the file has {data_len}")
    if data_len > end:
        raise fail(
            f"corrupted: the header says {end} bytes of data, but the file has "
            f"{data_len} ({data_len - end} unexpected bytes at the end)"
        )
    return in_file_order
