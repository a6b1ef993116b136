"""Type promotion: the dtype of an operation on mixed operands, by PyTorch's rules.

Beside :mod:`chainrule.dtypes`: ``promote_types`` (two dtypes) and ``result_type``
(operands: tensors with dimensions weigh most, then zero-dimensional ones, then Python
numbers). The ops cast their operands to this dtype before NumPy computes
(``chainrule.ops.arithmetic._coerce``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.tensor import Tensor

__all__ = ["promote_types", "result_type"]

_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2, "c": 3}  # bool < integer < floating < complex


def _category(d: np.dtype) -> int:
    try:
        return _CATEGORY[d.kind]
    except KeyError:
        raise TypeError(f"unsupported dtype {d} (expected bool, integer or float)") from None


def promote_types(type1: Any, type2: Any) -> np.dtype:
    """The smallest dtype both convert to, as ``torch.promote_types``.

    Across categories (bool < integer < floating < complex) the higher one's dtype wins,
    so ``int64`` with ``float16`` gives ``float16`` (NumPy would say ``float64``); within
    a category NumPy's rule applies (``int8`` with ``uint8`` gives ``int16``).
    """
    a, b = dtypes.as_dtype(type1), dtypes.as_dtype(type2)
    if a == b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb and {ca, cb} != {2, 3}:
        return a if ca > cb else b
    return np.promote_types(a, b)


def _scalar_dtype(x: Any) -> np.dtype:
    """The dtype PyTorch gives a Python number: bool, int64, or the default (complex) dtype."""
    if isinstance(x, bool | np.bool_):
        return np.dtype(np.bool_)
    if isinstance(x, int | np.integer):
        return np.dtype(np.int64)
    if isinstance(x, float | np.floating):
        return dtypes.get_default_dtype()
    if isinstance(x, complex | np.complexfloating):
        return np.promote_types(dtypes.get_default_dtype(), np.complex64)
    raise TypeError(f"expected a Tensor, an ndarray or a number, got {type(x).__name__}")


def _combine(higher: np.dtype | None, lower: np.dtype | None) -> np.dtype | None:
    """Merge a stronger group's dtype with a weaker group's: the weaker one only counts
    if its category is higher (then it is promoted with the stronger one)."""
    if higher is None:
        return lower
    if lower is None or _category(higher) >= _category(lower):
        return higher
    if _category(lower) == 3 and _category(higher) == 2:  # keep the float's precision
        return np.promote_types(higher, np.complex64)
    return promote_types(higher, lower)


def result_type(*operands: Any) -> np.dtype:
    """The dtype of an operation on ``operands``, as ``torch.result_type``.

    Tensors (and ndarrays) with dimensions weigh most, then zero-dimensional ones, then
    Python numbers; a weaker group changes the result only through a higher category.
    So ``int64 tensor + float32 tensor`` is float32, ``float32 tensor + 0-d float64
    tensor`` is float32, and ``int64 tensor + 2.5`` has the default dtype.

    Example:
        >>> cr.result_type(cr.tensor([1, 2]), 1.0)
        dtype('float32')
    """
    dim = zero = wrapped = None
    for x in operands:
        if isinstance(x, Tensor):
            x = x._data
        if isinstance(x, np.ndarray):
            d = x.dtype
            if x.ndim:
                dim = d if dim is None else promote_types(dim, d)
            else:
                zero = d if zero is None else promote_types(zero, d)
        elif x is not None:
            d = _scalar_dtype(x)
            wrapped = d if wrapped is None else promote_types(wrapped, d)
    result = _combine(dim, _combine(zero, wrapped))
    if result is None:
        raise TypeError("result_type: expected at least one operand")
    return result
