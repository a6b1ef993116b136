"""The typed tensor constructors of old PyTorch scripts: ``cr.FloatTensor`` and friends.

``cr.FloatTensor([1, 2])`` makes a float32 tensor from data, ``cr.FloatTensor(2, 3)`` an
uninitialised one of that size, as in PyTorch; ``isinstance(x, cr.FloatTensor)`` is True
for a float32 tensor; ``x.type()`` names these types (``'chainrule.FloatTensor'``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.device import check_device

__all__ = [
    "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
    "CharTensor", "ByteTensor", "BoolTensor", "legacy_type_name", "legacy_type_dtype",
]


class _LegacyMeta(type):
    """Makes ``isinstance(x, cr.FloatTensor)`` check the tensor's dtype."""

    _dtype: Any

    def __instancecheck__(cls, obj: Any) -> bool:
        from chainrule.tensor import Tensor

        return isinstance(obj, Tensor) and obj._data.dtype == cls._dtype

    def __repr__(cls) -> str:
        return f"<class 'chainrule.{cls.__name__}'>"


class _LegacyTensor(metaclass=_LegacyMeta):
    _dtype: Any = None

    def __new__(cls, *args: Any, device: Any = None) -> Any:
        from chainrule.tensor import Tensor, tensor

        check_device(device, cls.__name__)
        if not args:
            return Tensor._make(np.empty((0,), cls._dtype))
        if all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in args):
            return Tensor._make(np.zeros(tuple(int(a) for a in args), cls._dtype))
        if len(args) > 1:
            raise TypeError(f"{cls.__name__}(): expected data (a list, array or tensor) or "
                            f"sizes (ints), got {args!r}")
        data = args[0]
        if isinstance(data, tuple) and type(data) is not tuple:  # a cr.Size: sizes
            return Tensor._make(np.zeros(tuple(data), cls._dtype))
        if isinstance(data, Tensor) and data._data.dtype != cls._dtype:
            raise TypeError(f"{cls.__name__}(): expected a tensor of dtype "
                            f"{dtypes.wrap(cls._dtype)}, got {data.dtype}")
        return tensor(data, dtype=cls._dtype)


def _legacy(name: str, dtype: Any) -> type:
    return _LegacyMeta(name, (_LegacyTensor,), {"_dtype": np.dtype(dtype), "__doc__":
                       f"``{name}(data)`` or ``{name}(*sizes)``: a {dtype} tensor."})


FloatTensor = _legacy("FloatTensor", "float32")
DoubleTensor = _legacy("DoubleTensor", "float64")
HalfTensor = _legacy("HalfTensor", "float16")
LongTensor = _legacy("LongTensor", "int64")
IntTensor = _legacy("IntTensor", "int32")
ShortTensor = _legacy("ShortTensor", "int16")
CharTensor = _legacy("CharTensor", "int8")
ByteTensor = _legacy("ByteTensor", "uint8")
BoolTensor = _legacy("BoolTensor", "bool")

_BY_DTYPE = {c._dtype: c for c in (FloatTensor, DoubleTensor, HalfTensor, LongTensor,
                                   IntTensor, ShortTensor, CharTensor, ByteTensor, BoolTensor)}


def legacy_type_name(dtype: Any) -> str:
    """``'chainrule.FloatTensor'`` for float32 (what ``Tensor.type()`` returns)."""
    cls = _BY_DTYPE.get(np.dtype(dtype))
    return f"chainrule.{cls.__name__}" if cls else f"chainrule.{dtypes.wrap(np.dtype(dtype))}"


def legacy_type_dtype(t: Any) -> Any:
    """The dtype named by ``cr.FloatTensor`` or ``'torch.FloatTensor'`` (else ``t`` itself)."""
    if isinstance(t, _LegacyMeta):
        return t._dtype
    if isinstance(t, str):
        name = t.rpartition(".")[2]
        for cls in _BY_DTYPE.values():
            if cls.__name__ == name:
                return cls._dtype
    return t
