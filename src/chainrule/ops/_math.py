"""Functions for backward rules that work on ndarrays and on Tensors alike.

Backward rules run on NumPy arrays when no graph is wanted (fast) and on Tensors under
``create_graph=True`` (recorded, so they can be differentiated again). Operators, ``.T``,
``.sum(axis=..., keepdims=...)`` and ``.reshape`` already work on both; the functions
here cover the rest, dispatching on the argument type.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import ops as _ops
from chainrule.tensor import Tensor


def _t(x: Any) -> bool:
    return isinstance(x, Tensor)


def data(x: Any) -> Any:
    """The ndarray behind ``x`` (for masks and other locally constant factors)."""
    return x._data if _t(x) else x


def exp(x: Any) -> Any:
    return _ops.exp(x) if _t(x) else np.exp(x)


def log(x: Any) -> Any:
    return _ops.log(x) if _t(x) else np.log(x)


def sqrt(x: Any) -> Any:
    return _ops.sqrt(x) if _t(x) else np.sqrt(x)


def sin(x: Any) -> Any:
    return _ops.sin(x) if _t(x) else np.sin(x)


def cos(x: Any) -> Any:
    return _ops.cos(x) if _t(x) else np.cos(x)




def tanh(x: Any) -> Any:
    return _ops.tanh(x) if _t(x) else np.tanh(x)


def sigmoid(x: Any) -> Any:
    """1 / (1 + exp(-x)), the Sigmoid node's forward for arrays.

    It keeps the relative precision of small outputs; exp(-x) overflows to inf for x < -88
    (float32), and 1 / (1 + inf) = 0 exactly: the right limit.
    """
    if _t(x):
        return _ops.sigmoid(x)
    with np.errstate(over="ignore"):
        t = np.exp(-x)
    if type(t) is not np.ndarray:  # a 0-d input gives a NumPy scalar
        return 1 / (1 + t)
    t += 1
    return np.reciprocal(t, out=t)


def where(cond: Any, a: Any, b: Any) -> Any:
    """``where(cond, a, b)`` with a constant boolean ``cond``."""
    if _t(a) or _t(b):
        return _ops.where(data(cond), a, b)
    return np.where(data(cond), a, b)


_CONSTANTS: dict[tuple[Any, tuple[int, ...], Any], np.ndarray] = {}


def constant(value: Any, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A read-only array of ``shape`` filled with ``value``, made once and shared.

    For the constants of hot paths: a 0-d zero as a ufunc operand costs less than the
    Python number 0 (which NumPy converts on every call), the seed 1 of ``loss.backward()``,
    the ones vector of a row sum. Read-only, so nobody can change what others share.
    """
    key = (value, shape, dtype)
    a = _CONSTANTS.get(key)
    if a is None:
        if len(_CONSTANTS) >= 256:  # shapes vary with batch sizes: keep the cache small
            _CONSTANTS.clear()
        a = _CONSTANTS[key] = np.full(shape, value, dtype)
        a.flags.writeable = False
    return a


_WORDS = {np.dtype(np.float16): np.int16, np.dtype(np.float32): np.int32,
          np.dtype(np.float64): np.int64}


def keep(x: Any, mask: np.ndarray) -> Any:
    """``x`` where ``mask`` is true, else exactly 0: ``where(mask, x, 0)``, fast."""
    return _masked(x, mask, True)


def drop(x: Any, mask: np.ndarray) -> Any:
    """``x`` where ``mask`` is false, else exactly 0: ``where(mask, 0, x)``, fast."""
    return _masked(x, mask, False)


def _masked(x: Any, mask: np.ndarray, kept: bool) -> Any:
    """``x`` where ``mask == kept``, else exactly 0.

    From 2,048 elements on, a float array is masked by a bitwise AND of its bits with
    all-ones or all-zeros words: as fast as ``x * mask`` (np.where is ~15x slower) and,
    unlike the product, an inf or NaN in ``x`` where it is dropped still gives 0, as
    PyTorch's ``threshold_backward`` does. Smaller arrays go through ``np.where``, which
    needs fewer calls.
    """
    if (type(x) is np.ndarray and type(mask) is np.ndarray and x.shape == mask.shape
            and x.size >= 2048):
        words = _WORDS.get(x.dtype)
        if words is not None:
            m = mask.view(np.int8)
            # kept: -True = -1 (all bits set); dropped: False - 1 = -1. bitwise_and
            # sign-extends the int8 words to ``words``
            bits = np.negative(m) if kept else m - 1
            return np.bitwise_and(x.view(words), bits).view(x.dtype)
    if type(x) is np.ndarray:
        zero = constant(0, (), x.dtype)
        return np.where(mask, x, zero) if kept else np.where(mask, zero, x)
    return where(mask, x, 0) if kept else where(mask, 0, x)  # a Tensor: recorded


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    return _ops.broadcast_to(x, shape) if _t(x) else np.broadcast_to(x, shape)




def swapaxes(x: Any, a: int, b: int) -> Any:
    return _ops.transpose(x, a, b) if _t(x) else np.swapaxes(x, a, b)


def transpose(x: Any, axes: tuple[int, ...]) -> Any:
    return _ops.permute(x, axes) if _t(x) else np.transpose(x, axes)




def matmul(a: Any, b: Any) -> Any:
    return _ops.matmul(a, b) if _t(a) or _t(b) else np.matmul(a, b)


def einsum(spec: str, *operands: Any) -> Any:
    if any(_t(o) for o in operands):
        return _ops.einsum(spec, *operands)
    return np.einsum(spec, *operands, optimize=True)


def zeros_like(x: Any) -> Any:
    return Tensor._make(np.zeros(x.shape, x.dtype)) if _t(x) else np.zeros_like(x)




def index_add(shape: tuple[int, ...], index: Any, g: Any) -> Any:
    """Scatter-add ``g`` into zeros of ``shape`` at ``index`` (the adjoint of ``x[index]``)."""
    if _t(g):
        return _ops.index_add_zeros(shape, index, g)
    out = np.zeros(shape, g.dtype)
    np.add.at(out, index, g)
    return out
