"""The nested object of a checkpoint: its JSON structure, written and read back.

``cr.save`` turns the dicts, lists, tuples and scalars around the arrays into a JSON
structure whose array leaves name tensor entries of the header (``_Encoder``). ``cr.load``
checks chainrule's metadata (format version, header digest, the structure itself) and
rebuilds the object (``_decode``), building each named tensor once so that shared leaves
stay shared. Nesting is bounded by ``MAX_NESTING`` on both sides, and the recursive steps
run on a fresh stack when the caller's is deep (``_with_fresh_stack``).
"""

from __future__ import annotations

import collections
import math
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule._serialization_format import (
    _CHAINRULE_KEYS,
    _KEY_FORMAT,
    _KEY_HEADER_SHA256,
    _KEY_STRUCTURE,
    _KIND_SIZE_TO_CODE,
    FORMAT_VERSION,
    MAX_NESTING,
    _header_digest,
    _strict_json,
    _TensorEntry,
)

if TYPE_CHECKING:
    from chainrule.serialization import CheckpointError


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
        from chainrule.tensor import Tensor  # once per save, not once per leaf

        self._tensor_type = Tensor
        self.entries: list[tuple[str, np.ndarray]] = []  # (name, array) in first-seen order
        self._names: set[str] = set()
        self._memo: dict[int, tuple[Any, dict[str, Any]]] = {}  # id(leaf) -> (leaf, node)
        self._active: set[int] = set()  # ids of the containers being encoded (cycle check)

    def encode(self, obj: Any, path: tuple[Any, ...]) -> Any:
        scalar = _encode_scalar(obj)
        if scalar is not _NOT_SCALAR:
            return scalar
        if isinstance(obj, self._tensor_type):
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


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')  # a JSON string, escapes included
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def _json_depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` in a JSON text, ignoring those inside strings."""
    # strings may hold brackets: remove them (escaped quotes included), then all but brackets
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    if not brackets:
        return 0
    codes = np.frombuffer(brackets.encode("ascii"), np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return max(int(np.cumsum(steps).max()), 0)


class _StructureError(Exception):
    """A malformed node in the stored structure (reported as a CheckpointError)."""


class _LeafBuilder:
    """Builds array leaves by name, once per name, so shared leaves stay shared."""

    def __init__(self, arrays: dict[str, np.ndarray | None]) -> None:
        from chainrule.tensor import from_numpy  # once per load, not once per leaf

        self.arrays = arrays
        self.built: dict[str, tuple[str, bool, Any]] = {}  # name -> (kind, requires_grad, obj)
        self._from_numpy = from_numpy

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
        if array is not None and kind == "ndarray":
            obj = array
        elif array is not None:
            obj = self._from_numpy(array)
            if requires_grad:
                obj.requires_grad_(True)
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


_SCALAR_TYPES = (bool, int, float, str)
_ITEMS_KEYS = frozenset(("type", "items"))
_NDARRAY_KEYS = frozenset(("type", "name"))
_TENSOR_KEYS = frozenset(("type", "name", "requires_grad"))
_FLOAT_KEYS = frozenset(("type", "value"))


def _decode_node(node: Any, leaf: _LeafBuilder) -> Any:
    # exact type tests: the node comes from JSON (one call per node of a million-leaf file)
    if type(node) is dict:
        kind = node.get("type")
        if kind == "tensor":
            if node.keys() == _TENSOR_KEYS and type(node["requires_grad"]) is bool:
                return leaf(node["name"], "tensor", node["requires_grad"])
        elif kind == "ndarray":
            if node.keys() == _NDARRAY_KEYS:
                return leaf(node["name"], "ndarray", False)
        elif kind == "dict" or kind == "ordered_dict":
            if node.keys() == _ITEMS_KEYS:
                return _decode_dict(node["items"], leaf, kind)
        elif kind == "tuple":
            if node.keys() == _ITEMS_KEYS and type(node["items"]) is list:
                return tuple([_decode_node(item, leaf) for item in node["items"]])
        elif kind == "float":
            value = node.get("value")
            if node.keys() == _FLOAT_KEYS and type(value) is str and value in _NONFINITE:
                return _NONFINITE[value]
        raise _StructureError(f"unexpected node {node!r:.100}")
    if type(node) is list:
        return [_decode_node(item, leaf) for item in node]
    if node is None or type(node) in _SCALAR_TYPES:
        return node  # JSON keeps int and float apart; nan/inf are tagged objects
    raise _StructureError(f"unexpected node {node!r:.100}")


def _decode_dict(items: Any, leaf: _LeafBuilder, kind: str) -> dict[Any, Any]:
    result: dict[Any, Any] = collections.OrderedDict() if kind == "ordered_dict" else {}
    if type(items) is not list:
        raise _StructureError(f"dict items must be a list, got {items!r:.100}")
    for item in items:
        if type(item) is not list or len(item) != 2:
            raise _StructureError(f"dict item must be a [key, value] pair, got {item!r:.100}")
        key, value = item
        if type(key) is dict:  # only nan/inf keys are tagged
            if key.get("type") != "float":
                raise _StructureError(f"unexpected dict key {key!r:.100}")
            key = _decode_node(key, leaf)
        elif type(key) is list:
            raise _StructureError(f"unexpected dict key {key!r:.100}")
        if key in result:
            raise _StructureError(f"duplicate dict key {key!r:.100}")
        result[key] = _decode_node(value, leaf)
    return result


# ----------------------------------------------------------------------------- helpers


def _type_name(obj: Any) -> str:
    cls = type(obj)
    if cls.__module__ == "builtins":
        return cls.__qualname__
    return f"{cls.__module__}.{cls.__qualname__}"


def _format_path(path: tuple[Any, ...]) -> str:
    return "".join(f"[{key!r}]" for key in path) if path else "the top level"
