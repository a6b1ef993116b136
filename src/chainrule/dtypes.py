"""Data types: NumPy dtypes under PyTorch's names, and the default floating dtype.

``cr.float32`` is a :class:`dtype`: it prints as ``chainrule.float32`` (as PyTorch prints
``torch.float32``) and stands for the NumPy dtype underneath wherever NumPy wants one
(``np.zeros(3, cr.float32)``, ``arr.astype(cr.int64)``); it equals that NumPy dtype, so
``x.dtype == np.float32`` and ``x.dtype == cr.float32`` are both True.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

__all__ = [
    "dtype", "float16", "float32", "float64", "half", "float", "double",
    "int8", "int16", "int32", "int64", "uint8", "long", "int", "short", "bool",
    "get_default_dtype", "set_default_dtype", "as_dtype", "finfo", "iinfo",
]


class dtype:  # noqa: N801 - PyTorch's name (torch.dtype)
    """A tensor element type: a NumPy dtype that prints under chainrule's name.

    NumPy accepts it wherever it takes a dtype (through the ``dtype`` attribute);
    attributes NumPy dtypes have (``kind``, ``itemsize``, ``name``, ``type``) are read
    from the NumPy dtype. ``is_floating_point``, ``is_signed`` and ``is_complex`` are
    PyTorch's.
    """

    __slots__ = ("_np", "_name")

    def __init__(self, np_dtype: Any, name: str) -> None:
        object.__setattr__(self, "_np", np.dtype(np_dtype))
        object.__setattr__(self, "_name", name)

    @property
    def dtype(self) -> np.dtype:
        """The NumPy dtype (NumPy reads this attribute to accept the object as a dtype)."""
        return self._np

    @property
    def is_floating_point(self) -> builtins.bool:
        return self._np.kind == "f"

    @property
    def is_complex(self) -> builtins.bool:
        return self._np.kind == "c"

    @property
    def is_signed(self) -> builtins.bool:
        return self._np.kind in "fic"

    @property
    def itemsize(self) -> builtins.int:
        return self._np.itemsize

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(object.__getattribute__(self, "_np"), name)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"chainrule.{self._name}: dtypes are immutable")

    def __repr__(self) -> str:
        return f"chainrule.{self._name}"

    __str__ = __repr__

    def __eq__(self, other: object) -> builtins.bool:
        if isinstance(other, dtype):
            return self._np == other._np
        if other is None or isinstance(other, str | builtins.int | builtins.float):
            return False  # np.dtype(None) is float64: None is no dtype here
        try:
            return self._np == np.dtype(other)
        except TypeError:
            return False

    def __hash__(self) -> builtins.int:
        return hash(self._np)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_by_name, (self._name,))


def _by_name(name: str) -> dtype:
    return _NAMED[name]


float16 = half = dtype("float16", "float16")
float32 = float = dtype("float32", "float32")  # noqa: A001
float64 = double = dtype("float64", "float64")
int8 = dtype("int8", "int8")
int16 = short = dtype("int16", "int16")
int32 = int = dtype("int32", "int32")  # noqa: A001
int64 = long = dtype("int64", "int64")
uint8 = dtype("uint8", "uint8")
bool = dtype("bool", "bool")  # noqa: A001

_NAMED = {d._name: d for d in (float16, float32, float64, int8, int16, int32, int64, uint8,
                               bool)}
_BY_NUMPY: dict[np.dtype, dtype] = {d._np: d for d in _NAMED.values()}

_default = float32


def wrap(np_dtype: np.dtype) -> Any:
    """The chainrule dtype for a NumPy dtype (the NumPy dtype itself if it has none)."""
    return _BY_NUMPY.get(np_dtype, np_dtype)


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (float32 unless changed)."""
    return _default


def set_default_dtype(d: Any) -> None:
    """Set the default floating dtype (float32 or float64), as ``torch.set_default_dtype``."""
    global _default
    nd = as_dtype(d)
    if nd.kind != "f":
        raise TypeError(f"set_default_dtype: only floating dtypes are supported, got {nd}")
    _default = wrap(nd)


def as_dtype(d: Any) -> np.dtype:
    """Normalise a dtype given as ``cr.float32``, ``np.float32``, ``'float32'`` or ``float``."""
    if isinstance(d, dtype):
        return d._np
    try:
        return np.dtype(d)
    except TypeError as e:
        raise TypeError(f"not a dtype: {d!r}") from e


def finfo(type: Any = None) -> np.finfo:  # noqa: A002 - PyTorch's argument name
    """Machine limits of a floating dtype (``eps``, ``max``, ``tiny``), as ``torch.finfo``."""
    return np.finfo(as_dtype(_default if type is None else type))


def iinfo(type: Any) -> np.iinfo:  # noqa: A002
    """Limits of an integer dtype (``min``, ``max``, ``bits``), as ``torch.iinfo``."""
    return np.iinfo(as_dtype(type))
