"""Tests for cr.save / cr.load: round trips, safetensors interop, corruption, atomic writes."""

from __future__ import annotations

import collections
import hashlib
import io
import json
import math
import os
import random
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule
from chainrule import _serialization_format, serialization
from chainrule.serialization import CheckpointError, load, save
from chainrule.tensor import Tensor, from_numpy, tensor

ALL_DTYPES = [
    np.float16, np.float32, np.float64,
    np.int8, np.int16, np.int32, np.int64,
    np.uint8, np.uint16, np.uint32, np.uint64,
    np.bool_,
]  # fmt: skip
SHAPES = [(), (0,), (3,), (2, 0, 3), (2, 3, 4)]


def _random_array(rng: np.random.Generator, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        values = rng.random(shape) < 0.5
    elif dtype.kind == "f":
        values = (rng.standard_normal(shape) * 100).astype(dtype)
    else:
        info = np.iinfo(dtype)
        values = rng.integers(info.min, info.max, size=shape, dtype=dtype, endpoint=True)
    return np.asarray(values)  # shape () gives a 0-d array, not a NumPy scalar


def assert_same(a: Any, b: Any, where: str = "obj") -> None:
    """Exact equality of nested objects: same types, keys, order, dtypes, shapes and values."""
    assert type(a) is type(b), f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, Tensor):
        assert a.requires_grad == b.requires_grad, where
        assert_same(a.detach().numpy(), b.detach().numpy(), where + ".detach().numpy()")
    elif isinstance(a, np.ndarray):
        assert (a.dtype, a.shape) == (b.dtype, b.shape), where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert list(a.keys()) == list(b.keys()), where
        for (ka, va), kb in zip(a.items(), b.keys(), strict=True):
            assert type(ka) is type(kb), f"{where}: key {ka!r}"
            assert_same(va, b[kb], f"{where}[{ka!r}]")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b), where
    elif isinstance(a, float):
        assert a == b and math.copysign(1, a) == math.copysign(1, b), where
    else:
        assert a == b, where


def round_trip(obj: Any, path: Path) -> Any:
    save(obj, path)
    return load(path)


def sample_checkpoint() -> dict[str, Any]:
    """A small training checkpoint: model, optimizer, scheduler, epoch, rng state."""
    rng = np.random.default_rng(0)
    weight = tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    bias = tensor(np.zeros(4, np.float32), requires_grad=True)
    return {
        "model": collections.OrderedDict([("fc.weight", weight), ("fc.bias", bias)]),
        "optimizer": {
            "state": {0: {"step": tensor(np.array(3.0, np.float32)),
                          "exp_avg": tensor(np.ones((4, 3), np.float32))},
                      1: {"step": tensor(np.array(3.0, np.float32)),
                          "exp_avg": tensor(np.ones(4, np.float32))}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                              "weight_decay": 0, "amsgrad": False, "params": [0, 1]}],
        },
        "scheduler": {"step_size": 10, "gamma": 0.1, "last_epoch": 7, "_last_lr": [1e-4]},
        "epoch": 7,
        "rng": chainrule.random.get_rng_state(),
        "note": "ünïcødé ✓",
    }  # fmt: skip


# ----------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("dtype", ALL_DTYPES, ids=lambda d: np.dtype(d).name)
def test_round_trip_every_dtype_and_shape(tmp_path: Path, dtype: Any) -> None:
    rng = np.random.default_rng(1)
    arrays = {str(shape): _random_array(rng, shape, dtype) for shape in SHAPES}
    obj = {"arrays": arrays, "tensors": [from_numpy(a) for a in arrays.values()]}
    assert_same(round_trip(obj, tmp_path / "c.safetensors"), obj)


def test_round_trip_extreme_values(tmp_path: Path) -> None:
    floats = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, 1.7976931348623157e308])
    ints = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, -1, 0])
    halves = floats[:-1].astype(np.float16)
    loaded = round_trip({"f": floats, "i": ints, "h": halves}, tmp_path / "c")
    assert loaded["f"].tobytes() == floats.tobytes()  # bit-exact, nan and -0.0 included
    assert loaded["h"].tobytes() == halves.tobytes()
    np.testing.assert_array_equal(loaded["i"], ints)


def test_round_trip_python_values_keep_their_types(tmp_path: Path) -> None:
    obj = {
        "int": 3, "big": 2**100, "neg": -(2**70), "float": 0.1, "whole": 2.0, "exp": 1e300,
        "nan": math.nan, "inf": math.inf, "-inf": -math.inf, "-0": -0.0,
        "true": True, "false": False, "none": None, "str": "", "uni": "日本語 \u00e9 \U0001f600",
        "list": [1, [2, [3, []]]], "tuple": (1, (2.5, "x"), ()), "empty_dict": {},
        "int_keys": {0: "a", 1: "b", -5: "c"}, "mixed_keys": {"0": "s", 0: "i", 1.5: "f",
                                                              None: "n", True: "b"},
        "odict": collections.OrderedDict([("z", 1), ("a", 2)]),
        "order": {"b": 1, "a": 2, "c": 3},
        "inf_key": {math.inf: 1, -math.inf: 2},
    }  # fmt: skip
    loaded = round_trip(obj, tmp_path / "c")
    assert_same(loaded, obj)
    assert list(loaded) == list(obj)
    assert type(loaded["odict"]) is collections.OrderedDict
    assert type(loaded["int_keys"]) is dict


def test_numpy_scalars_come_back_as_python_numbers(tmp_path: Path) -> None:
    obj = {
        "f": np.float32(1.5),
        "i": np.int64(-7),
        "b": np.bool_(True),
        "u": np.uint8(200),
        np.int64(4): "numpy int key",
    }
    loaded = round_trip(obj, tmp_path / "c")
    assert_same(loaded, {"f": 1.5, "i": -7, "b": True, "u": 200, 4: "numpy int key"})


def test_training_checkpoint_round_trip(tmp_path: Path) -> None:
    ckpt = sample_checkpoint()
    loaded = round_trip(ckpt, tmp_path / "ckpt.safetensors")
    assert_same(loaded, ckpt)
    # PyTorch-style optimizer state keeps its int parameter ids
    assert list(loaded["optimizer"]["state"]) == [0, 1]
    assert loaded["model"]["fc.weight"].requires_grad
    assert not loaded["optimizer"]["state"][0]["exp_avg"].requires_grad


def test_rng_state_restores_the_random_stream(tmp_path: Path) -> None:
    gen = chainrule.random.Generator(123)
    gen.np.standard_normal(5)
    save({"rng": gen.get_state()}, tmp_path / "c")
    expected = gen.np.standard_normal(5)
    restored = chainrule.random.Generator().set_state(load(tmp_path / "c")["rng"])
    np.testing.assert_array_equal(restored.np.standard_normal(5), expected)


def test_tensor_subclass_and_odd_layouts(tmp_path: Path) -> None:
    class Param(Tensor):  # stands in for nn.Parameter, a Tensor subclass
        pass

    base = np.arange(24, dtype=np.float64).reshape(2, 3, 4)
    obj = {
        "param": Param(np.ones((2, 2), np.float32), requires_grad=True),
        "transposed": base.transpose(2, 0, 1),  # not C-contiguous
        "strided": base[:, ::2, 1::2],
        "big_endian": base.astype(">f4"),
        "fortran": np.asfortranarray(base),
        "readonly": np.broadcast_to(np.arange(3), (4, 3)),
        "int_tensor": tensor(np.array([1, 2, 3])),
        "scalar_tensor": tensor(2.5),
    }
    loaded = round_trip(obj, tmp_path / "c")
    assert type(loaded["param"]) is Tensor and loaded["param"].requires_grad
    np.testing.assert_array_equal(loaded["param"].detach().numpy(), np.ones((2, 2), np.float32))
    for key in ("transposed", "strided", "fortran", "readonly"):
        np.testing.assert_array_equal(loaded[key], obj[key])
        assert loaded[key].dtype == obj[key].dtype and loaded[key].flags.writeable
    assert loaded["big_endian"].dtype == np.dtype("float32")  # native order on load
    np.testing.assert_array_equal(loaded["big_endian"], base.astype(np.float32))
    assert_same(loaded["int_tensor"], obj["int_tensor"])
    assert_same(loaded["scalar_tensor"], obj["scalar_tensor"])


def test_nn_parameter_saves_as_tensor(tmp_path: Path) -> None:
    try:
        from chainrule.nn import Parameter
    except ImportError:
        pytest.skip("chainrule.nn.Parameter is not available yet")
    param = Parameter(tensor(np.arange(6.0).reshape(2, 3)))
    loaded = round_trip({"w": param}, tmp_path / "c")["w"]
    assert isinstance(loaded, Tensor) and loaded.requires_grad
    np.testing.assert_array_equal(loaded.detach().numpy(), param.detach().numpy())


def test_shared_leaves_are_stored_once_and_stay_shared(tmp_path: Path) -> None:
    weight = tensor(np.ones(1000), requires_grad=True)
    array = np.zeros(1000)
    loaded = round_trip({"a": weight, "b": [weight, array], "c": array}, tmp_path / "c")
    assert loaded["a"] is loaded["b"][0]
    assert loaded["b"][1] is loaded["c"]
    assert os.path.getsize(tmp_path / "c") < 2 * 8000 + 2000  # each array stored once


def test_tensor_names_are_unique_and_readable(tmp_path: Path) -> None:
    st_numpy = pytest.importorskip("safetensors.numpy")
    obj = {"a.b": np.ones(1), "a": {"b": np.zeros(1)}, "ключ": [np.full(2, 3.0)],
           "__metadata__": np.ones(3), "bad\udcff": np.ones(4)}  # fmt: skip
    assert_same(round_trip(obj, tmp_path / "c"), obj)
    names = st_numpy.load_file(tmp_path / "c")
    assert set(names) == {"a.b", "a.b#2", "ключ.0", "__metadata__#2", "bad?"}
    np.testing.assert_array_equal(names["a.b#2"], np.zeros(1))


def test_loaded_tensors_own_fresh_writable_memory(tmp_path: Path) -> None:
    original = np.arange(5.0)
    loaded = round_trip({"x": original, "t": from_numpy(original.copy())}, tmp_path / "c")
    loaded["x"][0] = 100.0
    loaded["t"].numpy()[1] = 100.0
    np.testing.assert_array_equal(original, np.arange(5.0))
    assert not np.shares_memory(loaded["x"], loaded["t"].numpy())


def test_top_level_tensor_and_scalars(tmp_path: Path) -> None:
    assert_same(round_trip(tensor([1.0, 2.0]), tmp_path / "a"), tensor([1.0, 2.0]))
    assert_same(round_trip(np.eye(2), tmp_path / "b"), np.eye(2))
    assert round_trip(7, tmp_path / "c") == 7
    assert round_trip([], tmp_path / "d") == []


def test_file_objects_pathlike_and_torch_keywords(tmp_path: Path) -> None:
    ckpt = sample_checkpoint()
    buffer = io.BytesIO(b"prefix")
    buffer.seek(6)
    save(ckpt, buffer, pickle_protocol=2)
    buffer.seek(6)
    assert_same(load(buffer, map_location="cpu", weights_only=True), ckpt)

    class Stream:  # readable but not seekable, a few bytes at a time (a pipe)
        def __init__(self, data: bytes) -> None:
            self.data = data

        def read(self, n: int = -1) -> bytes:
            n = min(n, 1000) if n >= 0 else len(self.data)
            chunk, self.data = self.data[:n], self.data[n:]
            return chunk

    assert_same(load(Stream(buffer.getvalue()[6:])), ckpt)
    save(ckpt, str(tmp_path / "s"))
    assert_same(load(tmp_path / "s", mmap=False), ckpt)
    with open(tmp_path / "s", "rb") as f:
        assert_same(load(f), ckpt)


def test_bad_path_arguments() -> None:
    with pytest.raises(TypeError, match="cr.save: path must be"):
        save({}, 42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="cr.load: path must be"):
        load(3.5)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        load("/nonexistent/dir/ckpt.safetensors")


# ----------------------------------------------------------------------------- unsupported objects


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        (
            {"optimizer": {"param_groups": [{"lr": 0.1, "fn": lambda: 0}]}},
            "cr.save: cannot save object of type function at "
            "['optimizer']['param_groups'][0]['fn']",
        ),
        ({"x": object()}, "cannot save object of type object at ['x']"),
        ([1, {2, 3}], "cannot save object of type set at [1]"),
        ({"b": b"bytes"}, "cannot save object of type bytes at ['b']"),
        ({"c": 1j}, "cannot save object of type complex at ['c']"),
        ({"z": np.zeros(2, np.complex64)}, "cannot save an array of dtype complex64 at ['z']"),
        ({"s": np.array(["a"])}, "cannot save an array of dtype <U1 at ['s']"),
        ({"m": np.ma.masked_array([1, 2])}, "type numpy.ma.MaskedArray at ['m']"),
        ({(1, 2): 3}, "cannot save a dict key of type tuple at the top level"),
        ({"k": {tensor(1.0): 3}}, "dict key of type chainrule.tensor.Tensor at ['k']"),
        ({"gen": chainrule.random.Generator(0)}, "type chainrule.random.Generator at ['gen']"),
    ],
)
def test_unsupported_objects_raise_and_write_nothing(
    tmp_path: Path, obj: Any, message: str
) -> None:
    path = tmp_path / "c"
    save({"old": 1}, path)
    before = path.read_bytes()
    with pytest.raises(TypeError) as info:
        save(obj, path)
    assert message in str(info.value)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c"]


def test_self_containing_object_is_rejected(tmp_path: Path) -> None:
    loop: list[Any] = [1]
    loop.append({"again": loop})
    with pytest.raises(ValueError, match=r"contains itself at \[1\]\['again'\]"):
        save(loop, tmp_path / "c")
    assert not (tmp_path / "c").exists()


# ----------------------------------------------------------------------------- interop


def test_safetensors_reads_our_files(tmp_path: Path) -> None:
    st_numpy = pytest.importorskip("safetensors.numpy")
    safetensors = pytest.importorskip("safetensors")
    rng = np.random.default_rng(2)
    arrays = {f"{np.dtype(d).name}.{i}": _random_array(rng, shape, d)
              for d in ALL_DTYPES for i, shape in enumerate(SHAPES)}  # fmt: skip
    ckpt = {"model": {"fc.weight": tensor(np.ones((2, 3), np.float32))}, "arrays": arrays}
    save(ckpt, tmp_path / "c.safetensors")
    theirs = st_numpy.load_file(tmp_path / "c.safetensors")
    assert set(theirs) == {"model.fc.weight"} | {f"arrays.{k}" for k in arrays}
    np.testing.assert_array_equal(theirs["model.fc.weight"], np.ones((2, 3), np.float32))
    for key, value in arrays.items():
        assert theirs[f"arrays.{key}"].dtype == value.dtype
        assert theirs[f"arrays.{key}"].shape == value.shape
        np.testing.assert_array_equal(theirs[f"arrays.{key}"], value)
    with safetensors.safe_open(tmp_path / "c.safetensors", framework="np") as f:
        assert f.metadata()["chainrule.format"] == serialization.FORMAT_VERSION


def test_we_read_files_written_by_safetensors(tmp_path: Path) -> None:
    st_numpy = pytest.importorskip("safetensors.numpy")
    rng = np.random.default_rng(3)
    arrays = {
        f"layer{i}.{np.dtype(d).name}": _random_array(rng, shape, d)
        for i, (d, shape) in enumerate(zip(ALL_DTYPES, SHAPES * 3, strict=False))
    }
    st_numpy.save_file(arrays, tmp_path / "theirs.safetensors", metadata={"format": "np"})
    loaded = load(tmp_path / "theirs.safetensors")
    assert set(loaded) == set(arrays)
    for key, value in arrays.items():
        assert isinstance(loaded[key], Tensor) and not loaded[key].requires_grad
        assert_same(loaded[key].numpy(), value, key)


# ----------------------------------------------------------------------------- corruption


def _raw_file(header: dict[str, Any], data: bytes = b"") -> bytes:
    """A safetensors file with exactly this header (no chainrule metadata, no digests)."""
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def _load_bytes(data: bytes, tmp_path: Path) -> Any:
    path = tmp_path / "bad.safetensors"
    path.write_bytes(data)
    return load(path)


def _small_checkpoint_bytes(tmp_path: Path) -> bytes:
    obj = {
        "w": tensor(np.arange(6, dtype=np.float32).reshape(2, 3), requires_grad=True),
        "b": np.array([True, False]),
        "step": 4,
        "lr": 0.5,
        "name": "net",
    }
    save(obj, tmp_path / "good")
    return (tmp_path / "good").read_bytes()


def test_every_single_byte_change_is_detected(tmp_path: Path) -> None:
    good = _small_checkpoint_bytes(tmp_path)
    for position in range(len(good)):
        for flip in (0x01, 0x80):
            bad = bytearray(good)
            bad[position] ^= flip
            with pytest.raises(CheckpointError):
                load(io.BytesIO(bad))  # in memory: over a thousand loads stay fast


def test_tampered_data_names_the_digest(tmp_path: Path) -> None:
    good = _small_checkpoint_bytes(tmp_path)
    bad = bytearray(good)
    bad[-5] ^= 0x10
    with pytest.raises(CheckpointError, match=r"bad\.safetensors: corrupted: the SHA-256 of the"):
        _load_bytes(bytes(bad), tmp_path)


def test_edited_header_is_detected(tmp_path: Path) -> None:
    good = _small_checkpoint_bytes(tmp_path)
    bad = good.replace(b'"shape":[2,3]', b'"shape":[3,2]')  # still self-consistent
    assert bad != good
    with pytest.raises(CheckpointError, match="header: its SHA-256 does not match"):
        _load_bytes(bad, tmp_path)


def test_every_truncation_is_detected(tmp_path: Path) -> None:
    good = _small_checkpoint_bytes(tmp_path)
    for length in range(len(good)):
        with pytest.raises(CheckpointError, match="truncated"):
            load(io.BytesIO(good[:length]))


def test_truncation_messages(tmp_path: Path) -> None:
    good = _small_checkpoint_bytes(tmp_path)
    (header_len,) = struct.unpack("<Q", good[:8])
    data_len = len(good) - 8 - header_len
    with pytest.raises(CheckpointError, match="truncated, or not a chainrule checkpoint.*0 bytes"):
        _load_bytes(b"", tmp_path)
    with pytest.raises(CheckpointError, match=f"header length field says {header_len} bytes"):
        _load_bytes(good[: 8 + header_len - 1], tmp_path)
    expected = f"truncated: the header says {data_len} bytes of data, the file has {data_len - 3}"
    with pytest.raises(CheckpointError, match=expected):
        _load_bytes(good[:-3], tmp_path)
    with pytest.raises(CheckpointError, match="3 unexpected bytes at the end"):
        _load_bytes(good + b"abc", tmp_path)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x05\x00\x00\x00\x00\x00\x00\x00[1,2]", "not a chainrule checkpoint"),
        (b"\x05\x00\x00\x00\x00\x00\x00\x00{1,2}", "not valid UTF-8 JSON"),
        (b"\x04\x00\x00\x00\x00\x00\x00\x00{\xff\xfe}", "not valid UTF-8 JSON"),
        (b"PK\x03\x04\x14\x00\x00\x00" + bytes(100), "looks like a zip archive"),
        (_raw_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})[:-4]
         + b'"a":{', "not valid UTF-8 JSON"),
        (b'\x14\x00\x00\x00\x00\x00\x00\x00{"a":1,"a":2}       ', "duplicate key 'a'"),
        (b'\x0c\x00\x00\x00\x00\x00\x00\x00{"a":NaN}   ', "not valid UTF-8 JSON"),
        (_raw_file({"a": {"dtype": "BF16", "shape": [1], "data_offsets": [0, 2]}}, b"\0\0"),
         "tensor 'a' has dtype 'BF16', which chainrule cannot load"),
        (_raw_file({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4),
         "has shape [-1], expected a list of non-negative ints"),
        (_raw_file({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, b"\0" * 4),
         "expected [begin, end] with 0 <= begin <= end"),
        (_raw_file({"a": {"dtype": "F32", "shape": [1]}}, b"\0" * 4),
         "must have exactly the keys dtype, shape and data_offsets"),
        (_raw_file({"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}},
                   b"\0" * 20), "needs 24 bytes, but its data_offsets [0, 20] span 20"),
        (_raw_file({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                    "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, b"\0" * 6),
         "tensors 'a' and 'b' overlap"),
        (_raw_file({"a": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}}, b"\0" * 6),
         "bytes 0 to 2 of the data section belong to no tensor"),
        (_raw_file({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 4000),
         "3996 unexpected bytes at the end"),
        (_raw_file({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]}}, b"\0" * 2),
         "truncated: the header says 4 bytes of data, the file has 2"),
        (_raw_file({"a": {"dtype": "BOOL", "shape": [2], "data_offsets": [0, 2]}}, b"\0\x07"),
         "BOOL tensor 'a' holds bytes other than 0 and 1"),
        (_raw_file({"__metadata__": {"k": 1}}), "__metadata__ must map strings to strings"),
        (_raw_file({"__metadata__": {"chainrule.format": "1"}}), "__metadata__ lacks"),
        (_raw_file({"__metadata__": {"chainrule.format": "99", "chainrule.structure": "0",
                                     "chainrule.sha256": "", "chainrule.header_sha256": ""}}),
         "format version '99' is not supported"),
    ],
)  # fmt: skip
def test_malformed_files_raise_clear_errors(tmp_path: Path, data: bytes, message: str) -> None:
    with pytest.raises(CheckpointError) as info:
        _load_bytes(data, tmp_path)
    text = str(info.value)
    assert text.startswith(f"cr.load: {tmp_path / 'bad.safetensors'}: ")
    assert message in text


def _signed_file(structure: Any, tensors: dict[str, Any] | None = None, data: bytes = b"") -> bytes:
    """A file with valid digests around an arbitrary (possibly malformed) structure."""
    tensors = tensors or {}
    metadata = {"chainrule.format": "1", "chainrule.structure": json.dumps(structure)}
    metadata["chainrule.header_sha256"] = _serialization_format._header_digest(metadata, tensors)
    metadata["chainrule.sha256"] = hashlib.sha256(data).hexdigest()
    return _raw_file({"__metadata__": metadata, **tensors}, data)


@pytest.mark.parametrize(
    ("structure", "message"),
    [
        ({"type": "set", "items": []}, "unexpected node"),
        ({"type": "tensor", "name": "missing", "requires_grad": False},
         "refers to tensor 'missing', which the header does not list"),
        ({"type": "dict", "items": [["a", 1], ["a", 2]]}, "duplicate dict key 'a'"),
        ({"type": "dict", "items": [[[1], 1]]}, "unexpected dict key [1]"),
        ({"type": "float", "value": "1e5"}, "unexpected node"),
        ({"type": "float", "value": ["nan"]}, "unexpected node"),
        ([{"type": "ndarray", "name": "x"},
          {"type": "tensor", "name": "x", "requires_grad": False}],
         "tensor 'x' is used as two different kinds of leaf"),
        (1, "tensors ['x'] are not used by the structure"),
    ],
)  # fmt: skip
def test_malformed_structure_is_rejected(tmp_path: Path, structure: Any, message: str) -> None:
    tensors = {"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}
    with pytest.raises(CheckpointError, match="corrupted") as info:
        _load_bytes(_signed_file(structure, tensors, b"\x01"), tmp_path)
    assert message in str(info.value)


def test_signed_file_helper_makes_loadable_files(tmp_path: Path) -> None:
    # guards the test above: the same helper with a sound structure loads fine
    tensors = {"x": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}
    loaded = _load_bytes(_signed_file({"type": "ndarray", "name": "x"}, tensors, b"\x01"), tmp_path)
    assert_same(loaded, np.array([1], np.uint8))


# ----------------------------------------------------------------------------- atomic writes


def test_failed_replace_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ckpt"
    save({"version": 1}, path)
    before = path.read_bytes()

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk on fire")

    monkeypatch.setattr(serialization.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        save({"version": 2, "w": np.ones(10)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt"]


def test_failure_mid_write_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "ckpt"
    save({"version": 1}, path)
    before = path.read_bytes()

    def interrupted(entries: Any) -> Any:
        yield memoryview(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(serialization, "_data_chunks", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save({"version": 2, "w": np.ones(10)}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt"]


def test_save_into_missing_directory_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        save({}, tmp_path / "no" / "such" / "dir" / "c")


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and symlinks")
def test_new_file_follows_umask_and_symlinks_are_kept(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        save({"a": 1}, tmp_path / "c")
    finally:
        os.umask(old_umask)
    assert (tmp_path / "c").stat().st_mode & 0o777 == 0o644
    (tmp_path / "link").symlink_to(tmp_path / "c")
    save({"a": 2}, tmp_path / "link")
    assert (tmp_path / "link").is_symlink()
    assert load(tmp_path / "c") == {"a": 2}


# ----------------------------------------------------------------------------- kill test

_WRITER = """
import sys, time
import numpy as np
from chainrule import serialization

target, mode, size = sys.argv[1], sys.argv[2], int(sys.argv[3])
if mode == "pause":  # stop for good partway through the data section
    original = serialization._data_chunks

    def paused(entries):
        for i, chunk in enumerate(original(entries)):
            if i == 2:
                print("paused", flush=True)
                time.sleep(60)
            yield chunk

    serialization._data_chunks = paused
for version in range(1, 10_000):
    state = {"version": version, "weights": [np.full(size, version, np.float64) for _ in range(4)]}
    print("saving", version, flush=True)
    serialization.save(state, target)
"""
_KILL_SIZE = 1_600_000  # 4 arrays x 1.6e6 float64 = 51 MB per checkpoint


def _start_writer(target: Path, mode: str) -> subprocess.Popen[str]:
    src = str(Path(chainrule.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": src + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(target), mode, str(_KILL_SIZE)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def _wait_for(proc: subprocess.Popen[str], word: str) -> str:
    line = proc.stdout.readline()  # type: ignore[union-attr]
    if not line.startswith(word):
        proc.kill()
        raise AssertionError(f"writer said {line!r}; stderr: {proc.stderr.read()}")  # type: ignore[union-attr]
    return line


def _kill(proc: subprocess.Popen[str]) -> str:
    """SIGKILL the writer; return what it printed since the last line read."""
    proc.send_signal(signal.SIGKILL)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL  # it was killed, it did not finish or crash
    return rest


def _check_complete_version(path: Path, versions: set[int]) -> int:
    loaded = load(path)
    version = loaded["version"]
    assert version in versions
    assert len(loaded["weights"]) == 4
    for weights in loaded["weights"]:
        assert weights.shape == (_KILL_SIZE,) and (weights == version).all()
    return version


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_mid_write_keeps_previous_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "ckpt.safetensors"
    save({"version": 0, "weights": [np.zeros(_KILL_SIZE) for _ in range(4)]}, target)
    proc = _start_writer(target, "pause")
    _wait_for(proc, "saving 1")
    _wait_for(proc, "paused")  # the new checkpoint is half written
    _kill(proc)
    assert _check_complete_version(target, {0}) == 0
    temps = [p for p in tmp_path.iterdir() if p != target]
    assert len(temps) == 1 and temps[0].name.startswith(".ckpt.safetensors.tmp-")
    assert 0 < temps[0].stat().st_size < target.stat().st_size
    with pytest.raises(CheckpointError, match="truncated"):
        load(temps[0])  # the half-written file is recognised as such
    save({"after": 1}, target)
    assert load(target) == {"after": 1}  # the stray temp file is harmless


def _wait_for_new_temp_file(proc: subprocess.Popen[str], directory: Path, old: set[Path]) -> None:
    """Poll until the writer has created a temporary file, i.e. it is writing the bytes."""
    deadline = time.monotonic() + 20  # generous: a guard against hanging, not a timing check
    while not set(directory.iterdir()) - old:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"the writer never started writing: {proc.communicate()}")
        time.sleep(0.001)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_kill_at_random_moments_keeps_a_complete_checkpoint(tmp_path: Path) -> None:
    target = tmp_path / "ckpt.safetensors"
    save({"version": 0, "weights": [np.zeros(_KILL_SIZE) for _ in range(4)]}, target)
    delays = random.Random(0)
    version = 0
    for _ in range(2):
        proc = _start_writer(target, "loop")
        _wait_for(proc, "saving 1")
        _wait_for_new_temp_file(proc, tmp_path, set(tmp_path.iterdir()))
        time.sleep(delays.uniform(0.0, 0.1))  # somewhere in writing, fsync, rename or later
        announced = [int(line.split()[1]) for line in _kill(proc).splitlines()]
        # the previous checkpoint, or any version the writer started (it announces each first)
        allowed = {version} | set(range(1, max(announced, default=1) + 1))
        version = _check_complete_version(target, allowed)
    # stray temporary files (of killed saves) never replace or break the checkpoint
    assert all(p.name.startswith(".ckpt.safetensors.tmp-") for p in tmp_path.iterdir()
               if p != target)  # fmt: skip
