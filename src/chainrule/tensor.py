"""``Tensor``: a NumPy array with a gradient, a ``grad_fn`` and PyTorch's methods.

:class:`chainrule._tensor_base.TensorBase` holds the data, the autograd flags, hooks and
printing; this class adds the operations: here the operators, conversions and in-place
updates, inherited from :class:`chainrule._tensor_ops.TensorOps` the core named
operations (arithmetic, reductions, reshaping, products) and from
:class:`chainrule._tensor_methods.TensorMethods` the rest of PyTorch's everyday methods.
Operators and methods are written out explicitly (no monkeypatching) and delegate to
:mod:`chainrule.ops`, where each op's forward and backward stand together.

Import order (the one rule that breaks the tensor <-> autograd <-> ops cycle): the ops
and the engine build on ``Tensor``, and ``Tensor``'s methods call them, so each module of
the cycle imports its partners at its **bottom**, after its own classes exist: this
module imports ``chainrule.ops`` and the engine there, and ``autograd/function.py``
imports ``Tensor`` there. ``import chainrule`` enters the cycle through
``chainrule.autograd`` (function.py, then this module, then the ops). Every other module
imports at its top.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import dtypes as _dtypes
from chainrule._tensor_base import (
    TensorBase,
    _data_of,
    _leaf_inplace_error,
    _to_array,
)
from chainrule._tensor_methods import TensorMethods
from chainrule._tensor_ops import TensorOps
from chainrule.autograd.grad_mode import GradMode
from chainrule.device import check_device, device

__all__ = ["Tensor", "tensor", "from_numpy", "as_tensor", "is_tensor"]


class Tensor(TensorOps, TensorMethods, TensorBase):
    """A multi-dimensional array that can record the operations applied to it.

    Attributes:
        data: the underlying ``numpy.ndarray`` (``numpy()`` returns it without copying).
        requires_grad: whether operations on it are recorded for backward.
        grad: the accumulated gradient (a Tensor) after ``backward()``, or None.
        grad_fn: the backward node that produced this tensor (None for leaves).
    """

    __slots__ = ()

    @classmethod
    def _make(
        cls, data: np.ndarray, requires_grad: bool = False, grad_fn: Any = None, nr: int = 0
    ) -> Tensor:
        """Wrap an ndarray without copying or checking (the ops' fast path)."""
        t = object.__new__(Tensor)
        t._data = data
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._version = [0]
        if nr:
            t._output_nr = nr
        return t

    @property
    def T(self) -> Tensor:
        """The tensor with its dimensions reversed (``permute(n-1, ..., 0)``)."""
        return _ops.permute(self, tuple(range(self._data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """Transpose of the last two dimensions."""
        return _ops.transpose(self, -2, -1)

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``autograd.backward``)."""
        if (gradient is None and not create_graph and inputs is None and self.grad_fn is not None
                and self._data.size == 1):
            # the common ``loss.backward()``: seed dL/dL = 1 and run the engine directly
            # built-in ops never write into dY: they may share a read-only 1 (the engine
            # copies before writing); a user's Function gets one of its own
            if isinstance(self.grad_fn, _Op):
                one = _ops._math.constant(1, self._data.shape, self._data.dtype)
            else:
                one = np.ones(self._data.shape, self._data.dtype)
            _engine.run_backward((self,), (one,), bool(retain_graph), False)
            return
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs)


    # -- conversion -----------------------------------------------------------------
    def clone(self) -> Tensor:
        return _ops.clone(self)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``, as PyTorch.

        Casts differentiably; returns self when the dtype already matches (unless
        ``copy=True``). The only device is ``'cpu'``: others raise a clear error.
        """
        dtype, dev = kwargs.get("dtype"), kwargs.get("device")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, str | device):
                dev = a
            else:
                dtype = a
        check_device(dev, "Tensor.to")
        out = self if dtype is None else _ops.cast(self, _dtypes.as_dtype(dtype))
        return _ops.clone(out) if kwargs.get("copy") and out is self else out

    def type(self, dtype: Any = None, non_blocking: bool = False) -> Any:
        """``type()`` names the legacy type (``'chainrule.FloatTensor'``); ``type(t)``
        casts to a dtype, a legacy type (``cr.LongTensor``) or its name."""
        from chainrule import legacy

        if dtype is None:
            return legacy.legacy_type_name(self._data.dtype)
        return self.to(legacy.legacy_type_dtype(dtype))

    def float(self) -> Tensor:
        return self.to(_dtypes.float32)

    def double(self) -> Tensor:
        return self.to(_dtypes.float64)

    def half(self) -> Tensor:
        return self.to(_dtypes.float16)

    def long(self) -> Tensor:
        return self.to(_dtypes.int64)

    def int(self) -> Tensor:
        return self.to(_dtypes.int32)

    def bool(self) -> Tensor:
        return self.to(_dtypes.bool)


    # -- operators ------------------------------------------------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.add(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.add(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.sub(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.sub(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.mul(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.div(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.div(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.pow(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.pow(other, self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.matmul(other, self)

    def __neg__(self) -> Tensor:
        return _ops.neg(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return _ops.abs(self)


    def __mod__(self, other: Any) -> Tensor:
        return _ops.remainder(self, other)

    def __rmod__(self, other: Any) -> Tensor:
        return _ops.remainder(other, self)

    # comparisons and tests that answer for the whole tensor (no gradient)
    def equal(self, other: Tensor) -> bool:
        return _ops.equal(self, other)

    def allclose(self, other: Any, rtol: float = 1e-5, atol: float = 1e-8,
                 equal_nan: bool = False) -> bool:
        return _ops.allclose(self, other, rtol, atol, equal_nan)

    def isnan(self) -> Tensor:
        return _ops.isnan(self)

    def isfinite(self) -> Tensor:
        return _ops.isfinite(self)

    def all(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops.all(self, dim, keepdim)

    def any(self, dim: Any = None, keepdim: bool = False) -> Tensor:
        return _ops.any(self, dim, keepdim)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.getitem(self, index)

    def __setitem__(self, index: Any, value: Any) -> None:
        self._inplace("__setitem__", lambda t: _ops.index_put(t, index, value), value)

    # -- in-place methods (optimizers and initialisers) -----------------------------
    def _inplace(self, name: str, op: Any, *others: Any) -> Tensor:
        """Run ``op`` and write its result into this tensor's memory, bumping the version.

        Outside a recorded graph this is a plain NumPy update. If the update must be
        recorded (self or an operand requires grad), the out-of-place op is recorded on a
        copy of the old value and this tensor becomes its output, as PyTorch rebases the
        history of a tensor changed in place.
        """
        recording = GradMode.enabled and (
            self.requires_grad or any(isinstance(o, Tensor) and o.requires_grad for o in others)
        )
        if recording and self.grad_fn is None and self.requires_grad:
            raise _leaf_inplace_error(name)
        if recording:
            old = Tensor._make(self._data.copy(), self.requires_grad, self.grad_fn, self._output_nr)
            result = op(old)
            self._check_inplace_result(name, result)
            if result._data.dtype != self._data.dtype:  # computed promoted, stored in our dtype
                result = _ops.cast(result, self._data.dtype)
            np.copyto(self._data, result._data)
            self.grad_fn = result.grad_fn
            self._output_nr = result._output_nr
            self._requires_grad = True
            fn = result.grad_fn
            if fn is not None and getattr(fn, "_out_data", None) is not None:
                result.grad_fn._out_data = self._data
                result.grad_fn._out_version = (self._version, self._version[0] + 1)
        else:
            with _no_grad():
                result = op(self)
            if result._data is not self._data:
                self._check_inplace_result(name, result)
                np.copyto(self._data, result._data, casting="same_kind")
        self._version[0] += 1
        return self

    def _check_inplace_result(self, name: str, result: Tensor) -> None:
        """The result of an in-place op must fit this tensor's shape and dtype."""
        if result._data.shape != self._data.shape:
            raise ShapeError(
                f"{name}: the result of shape {result._data.shape} cannot be written in place "
                f"into a tensor of shape {self._data.shape} (the other operand must broadcast "
                "to it)"
            )
        if not np.can_cast(result._data.dtype, self._data.dtype, "same_kind"):
            raise RuntimeError(
                f"{name}: result type {result._data.dtype} can't be cast to the tensor's dtype "
                f"{self._data.dtype} in place"
            )


    def add_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._inplace("add_", lambda t: _ops.add(t, other, alpha), other)

    def sub_(self, other: Any, alpha: Any = 1) -> Tensor:
        return self._inplace("sub_", lambda t: _ops.sub(t, other, alpha), other)

    def mul_(self, other: Any) -> Tensor:
        return self._inplace("mul_", lambda t: _ops.mul(t, other), other)

    def div_(self, other: Any) -> Tensor:
        return self._inplace("div_", lambda t: _ops.div(t, other), other)

    # ``x += y`` updates x in place, as in PyTorch (``w -= lr * w.grad`` under no_grad)
    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace("__iadd__", lambda t: _ops.add(t, other), other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace("__isub__", lambda t: _ops.sub(t, other), other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace("__imul__", lambda t: _ops.mul(t, other), other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace("__itruediv__", lambda t: _ops.div(t, other), other)

    def pow_(self, other: Any) -> Tensor:
        return self._inplace("pow_", lambda t: _ops.pow(t, other), other)

    def clamp_(self, min: Any = None, max: Any = None) -> Tensor:
        return self._inplace("clamp_", lambda t: _ops.clamp(t, min, max))

    def copy_(self, src: Any) -> Tensor:
        src_data = _data_of(src)
        if np.shape(src_data) != self.shape:
            try:
                src_data = np.broadcast_to(src_data, self.shape)
            except ValueError:
                raise ShapeError(
                    f"copy_: a source of shape {np.shape(src_data)} cannot be broadcast to the "
                    f"tensor's shape {tuple(self.shape)}"
                ) from None
        if GradMode.enabled and isinstance(src, Tensor) and src.requires_grad:
            return self._inplace("copy_", lambda t: _ops.add(t * 0, src), src)
        self._check_inplace_leaf("copy_")
        np.copyto(self._data, src_data, casting="unsafe")
        self._version[0] += 1
        return self


def tensor(data: Any, dtype: Any = None, device: Any = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data``.

    Python floats give the default dtype (float32), ints int64, bools bool; an ndarray or
    Tensor keeps its dtype unless ``dtype`` is given. ``device`` must be the CPU.
    """
    check_device(device, "tensor")
    t = Tensor._make(_to_array(data, dtype))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data: Any, dtype: Any = None, device: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray or Tensor of the right dtype."""
    check_device(device, "as_tensor")
    if isinstance(data, Tensor) and (dtype is None or data.dtype == _dtypes.as_dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == _dtypes.as_dtype(dtype)):
        return Tensor._make(data)
    return tensor(data, dtype)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (changes to one show in the other)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray, got {type(array).__name__}")
    return Tensor._make(array)


def is_tensor(obj: Any) -> bool:
    return isinstance(obj, Tensor)


# the cycle's partners, imported once Tensor exists (see the module docstring)
from chainrule import autograd as _autograd  # noqa: E402
from chainrule import ops as _ops  # noqa: E402
from chainrule.autograd import engine as _engine  # noqa: E402
from chainrule.autograd.function import Op as _Op  # noqa: E402
from chainrule.autograd.grad_mode import no_grad as _no_grad  # noqa: E402
from chainrule.ops._errors import ShapeError  # noqa: E402
