"""``Tensor``: a NumPy array with a gradient, a ``grad_fn`` and PyTorch's methods.

Operators and methods are written out explicitly (no monkeypatching) and delegate to the
operations in :mod:`chainrule.ops`, where each op's forward and backward stand together.
"""

from __future__ import annotations

import math
import operator
import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from chainrule import dtypes as _dtypes
from chainrule.autograd.grad_mode import GradMode

__all__ = ["Tensor", "tensor", "from_numpy", "as_tensor", "is_tensor"]

_DTYPE_NAMES = {
    np.dtype("float32"): "float32",
    np.dtype("float64"): "float64",
    np.dtype("float16"): "float16",
    np.dtype("int64"): "int64",
    np.dtype("int32"): "int32",
    np.dtype("int16"): "int16",
    np.dtype("int8"): "int8",
    np.dtype("uint8"): "uint8",
    np.dtype("bool"): "bool",
}


def _leaf_inplace_error(op: str) -> RuntimeError:
    return RuntimeError(
        f"{op}: a leaf tensor that requires grad is being used in an in-place operation. "
        "Wrap the update in `with cr.no_grad():` (as optimizers do) or work on a clone."
    )


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    Attributes:
        data: the underlying ``numpy.ndarray`` (``numpy()`` returns it without copying).
        requires_grad: whether operations on it are recorded for backward.
        grad: the accumulated gradient (a Tensor) after ``backward()``, or None.
        grad_fn: the backward node that produced this tensor (None for leaves).
    """

    __slots__ = ("data", "_requires_grad", "grad_fn", "_version", "__dict__", "__weakref__")

    # defaults that most tensors never change (set per instance only when they do)
    grad: Tensor | None = None
    _output_nr = 0
    _retains_grad = False
    _hooks: list[Any] | None = None  # a leaf's gradient hooks (Tensor.register_hook)
    _post_acc_hooks: list[Any] | None = None  # register_post_accumulate_grad_hook

    __array_ufunc__ = None  # make NumPy defer to our reflected operators (ndarray + Tensor)

    def __init__(self, data: Any = None, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _to_array(data if data is not None else [], dtype)
        self.data = arr
        self._requires_grad = False
        self.grad_fn = None
        self._version = [0]
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _make(
        cls, data: np.ndarray, requires_grad: bool = False, grad_fn: Any = None, nr: int = 0
    ) -> Tensor:
        """Wrap an ndarray without copying or checking (the ops' fast path)."""
        t = object.__new__(Tensor)
        t.data = data
        t._requires_grad = requires_grad
        t.grad_fn = grad_fn
        t._version = [0]
        if nr:
            t._output_nr = nr
        return t

    # -- attributes -----------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def T(self) -> Tensor:
        """The tensor with its dimensions reversed (``permute(n-1, ..., 0)``)."""
        return _ops.permute(self, tuple(range(self.data.ndim - 1, -1, -1)))

    @property
    def mT(self) -> Tensor:
        """Transpose of the last two dimensions."""
        return _ops.transpose(self, -2, -1)

    @property
    def device(self) -> str:
        return "cpu"

    @property
    def itemsize(self) -> int:
        return self.data.itemsize

    def size(self, dim: int | None = None) -> Any:
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        return int(self.data.size)

    def dim(self) -> int:
        return self.data.ndim

    def element_size(self) -> int:
        return self.data.itemsize

    def item(self) -> Any:
        if self.data.size != 1:
            raise RuntimeError(
                f"item(): a Tensor with {self.data.size} elements cannot be converted to "
                "a Python number; only one-element tensors can"
            )
        return self.data.reshape(-1)[0].item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def numpy(self) -> np.ndarray:
        """The underlying array, without copying (shares memory with the tensor)."""
        if self.requires_grad and GradMode.enabled and not self.is_leaf:
            pass  # PyTorch refuses here; we allow reading, as the array is ours
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(
                f"Boolean value of a Tensor with {self.data.size} values is ambiguous"
            )
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self.data.dtype.kind not in "iub" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    # -- autograd -------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self.data.dtype.kind not in "fc":
            raise RuntimeError(
                f"requires_grad: only tensors of floating point dtype can require gradients, "
                f"got {self.data.dtype} (convert with .float() or .double() first)"
            )
        if not requires_grad and getattr(self, "grad_fn", None) is not None:
            raise RuntimeError(
                "requires_grad=False: you can only change requires_grad flags of leaf "
                "tensors; use .detach() for a non-leaf"
            )
        self._requires_grad = bool(requires_grad)
        return self

    def _set_requires_grad(self, requires_grad: bool) -> None:
        self.requires_grad_(requires_grad)

    # read in every op: a C-level getter; setting validates as requires_grad_() does
    requires_grad = property(
        operator.attrgetter("_requires_grad"), _set_requires_grad,
        doc="Whether operations on this tensor are recorded for backward. Only tensors of "
        "floating dtype can require grad, and only a leaf's flag can be switched off.",
    )

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward."""
        if not self.requires_grad:
            raise RuntimeError(
                "retain_grad: can't retain_grad on a tensor that has requires_grad=False"
            )
        if self.grad_fn is None or self._retains_grad:
            return
        fn = self.grad_fn
        if fn.retained is None:
            fn.retained = []
        fn.retained.append((weakref.ref(self), self._output_nr))
        self._retains_grad = True

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's memory (and version counter), with no graph."""
        t = Tensor._make(self.data, False)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

    def backward(
        self,
        gradient: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        inputs: Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (see ``autograd.backward``)."""
        if (gradient is None and not create_graph and inputs is None and self.grad_fn is not None
                and self.data.size == 1):
            # the common ``loss.backward()``: seed dL/dL = 1 and run the engine directly
            engine = _ENGINE[0]
            if engine is None:  # imported late: the engine imports this module
                from chainrule.autograd import engine

                _ENGINE[0] = engine
            # built-in ops never write into dY: they may share a read-only 1 (the engine
            # copies before writing); a user's Function gets one of its own
            if self.grad_fn.single_output:
                one = _ops._math.constant(1, self.data.shape, self.data.dtype)
            else:
                one = np.ones(self.data.shape, self.data.dtype)
            engine.run_backward((self,), (one,), bool(retain_graph), False)
            return
        from chainrule.autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(grad)`` each time this tensor's gradient is computed, as PyTorch.

        The hook may return a Tensor (or array) of the same shape to use in place of the
        gradient, or None to leave it. A leaf's hooks run before its ``.grad``
        accumulates. Returns a handle whose ``remove()`` unregisters the hook.
        """
        if not self.requires_grad:
            raise RuntimeError(
                "register_hook: cannot register a hook on a tensor that doesn't require "
                "gradient"
            )
        if not callable(hook):
            raise TypeError(f"register_hook: expected a callable, got {type(hook).__name__}")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            hooks, entry = self._hooks, hook
        else:
            fn = self.grad_fn
            if fn.hooks is None:
                fn.hooks = []
            hooks, entry = fn.hooks, (self._output_nr, hook)
        hooks.append(entry)
        return RemovableHandle(hooks, entry)

    def register_post_accumulate_grad_hook(self, hook: Any) -> RemovableHandle:
        """Call ``hook(tensor)`` once this leaf's ``.grad`` is final in a backward, as PyTorch.

        Runs during the backward, as soon as every gradient of the leaf has been summed
        into ``.grad`` (``DistributedDataParallel`` starts its gradient exchange so).
        Returns a handle whose ``remove()`` unregisters the hook.
        """
        from chainrule.autograd import backward_hooks

        if not self.requires_grad:
            raise RuntimeError("register_post_accumulate_grad_hook: cannot register a hook "
                               "on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            raise RuntimeError("register_post_accumulate_grad_hook: post accumulate grad "
                               "hooks cannot be registered on non-leaf tensors")
        if not callable(hook):
            raise TypeError("register_post_accumulate_grad_hook: expected a callable, got "
                            f"{type(hook).__name__}")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = []
        self._post_acc_hooks.append(hook)
        backward_hooks.active = True
        return RemovableHandle(self._post_acc_hooks, hook)

    # -- conversion -----------------------------------------------------------------
    def clone(self) -> Tensor:
        return _ops.clone(self)

    def to(self, *args: Any, **kwargs: Any) -> Tensor:
        """``to(dtype)``, ``to(device, dtype)``, ``to(other)`` (other's dtype), as PyTorch.

        Casts differentiably; returns self when the dtype already matches (unless
        ``copy=True``). The only device is ``'cpu'``.
        """
        dtype = kwargs.get("dtype")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif not (isinstance(a, str) and a.startswith("cpu")):
                dtype = a
        out = self if dtype is None else _ops.cast(self, _dtypes.as_dtype(dtype))
        return _ops.clone(out) if kwargs.get("copy") and out is self else out

    def type(self, dtype: Any = None) -> Any:
        if dtype is None:
            return "chainrule." + _DTYPE_NAMES.get(self.dtype, str(self.dtype))
        return self.to(dtype)

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

    def cpu(self) -> Tensor:
        return self

    def contiguous(self) -> Tensor:
        return self

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

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

    def __floordiv__(self, other: Any) -> Tensor:
        return _compare(np.floor_divide, self, other)

    def __mod__(self, other: Any) -> Tensor:
        return _compare(np.remainder, self, other)

    # comparisons and logic: no gradient, boolean results
    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.equal, self, other)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return _compare(np.not_equal, self, other)

    def __lt__(self, other: Any) -> Tensor:
        return _compare(np.less, self, other)

    def __le__(self, other: Any) -> Tensor:
        return _compare(np.less_equal, self, other)

    def __gt__(self, other: Any) -> Tensor:
        return _compare(np.greater, self, other)

    def __ge__(self, other: Any) -> Tensor:
        return _compare(np.greater_equal, self, other)

    def __and__(self, other: Any) -> Tensor:
        return _compare(np.logical_and if self.dtype == bool else np.bitwise_and, self, other)

    def __or__(self, other: Any) -> Tensor:
        return _compare(np.logical_or if self.dtype == bool else np.bitwise_or, self, other)

    def __xor__(self, other: Any) -> Tensor:
        return _compare(np.logical_xor if self.dtype == bool else np.bitwise_xor, self, other)

    def __invert__(self) -> Tensor:
        inv = np.logical_not if self.dtype == bool else np.invert
        return Tensor._make(np.asarray(inv(self.data)))

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    def equal(self, other: Tensor) -> bool:
        return self.shape == other.shape and bool(np.array_equal(self.data, other.data))

    def allclose(self, other: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
        return bool(np.allclose(self.data, _data_of(other), rtol=rtol, atol=atol))

    def isnan(self) -> Tensor:
        return Tensor._make(np.isnan(self.data))

    def isfinite(self) -> Tensor:
        return Tensor._make(np.isfinite(self.data))

    def all(self) -> Tensor:
        return Tensor._make(np.asarray(self.data.all()))

    def any(self) -> Tensor:
        return Tensor._make(np.asarray(self.data.any()))

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
            old = Tensor._make(self.data.copy(), self.requires_grad, self.grad_fn, self._output_nr)
            result = op(old)
            self._check_inplace_result(name, result)
            if result.data.dtype != self.data.dtype:  # computed promoted, stored in our dtype
                result = _ops.cast(result, self.data.dtype)
            np.copyto(self.data, result.data)
            self.grad_fn = result.grad_fn
            self._output_nr = result._output_nr
            self._requires_grad = True
            fn = result.grad_fn
            if fn is not None and getattr(fn, "_out_data", None) is not None:
                result.grad_fn._out_data = self.data
                result.grad_fn._out_version = (self._version, self._version[0] + 1)
        else:
            with _no_grad():
                result = op(self)
            if result.data is not self.data:
                self._check_inplace_result(name, result)
                np.copyto(self.data, result.data, casting="same_kind")
        self._version[0] += 1
        return self

    def _check_inplace_result(self, name: str, result: Tensor) -> None:
        """The result of an in-place op must fit this tensor's shape and dtype."""
        if result.data.shape != self.data.shape:
            raise ShapeError(
                f"{name}: the result of shape {result.data.shape} cannot be written in place "
                f"into a tensor of shape {self.data.shape} (the other operand must broadcast "
                "to it)"
            )
        if not np.can_cast(result.data.dtype, self.data.dtype, "same_kind"):
            raise RuntimeError(
                f"{name}: result type {result.data.dtype} can't be cast to the tensor's dtype "
                f"{self.data.dtype} in place"
            )

    def _check_inplace_leaf(self, name: str) -> None:
        if self.requires_grad and self.grad_fn is None and GradMode.enabled:
            raise _leaf_inplace_error(name)

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
                    f"tensor's shape {self.shape}"
                ) from None
        if GradMode.enabled and isinstance(src, Tensor) and src.requires_grad:
            return self._inplace("copy_", lambda t: _ops.add(t * 0, src), src)
        self._check_inplace_leaf("copy_")
        np.copyto(self.data, src_data, casting="unsafe")
        self._version[0] += 1
        return self

    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        self._check_inplace_leaf("fill_")
        self.data.fill(_data_of(value))
        self._version[0] += 1
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
        from chainrule.random import _np_generator

        self._check_inplace_leaf("uniform_")
        self.data[...] = _np_generator(generator).uniform(a, b, self.shape)
        self._version[0] += 1
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
        from chainrule.random import _np_generator

        self._check_inplace_leaf("normal_")
        self.data[...] = _np_generator(generator).normal(mean, std, self.shape)
        self._version[0] += 1
        return self

    # -- operations as methods (see chainrule.ops for the rules) ----------------------
    def add(self, other: Any, alpha: Any = 1) -> Tensor:
        return _ops.add(self, other, alpha)

    def sub(self, other: Any, alpha: Any = 1) -> Tensor:
        return _ops.sub(self, other, alpha)

    def mul(self, other: Any) -> Tensor:
        return _ops.mul(self, other)

    def div(self, other: Any, rounding_mode: str | None = None) -> Tensor:
        return _ops.div(self, other, rounding_mode=rounding_mode)

    def square(self) -> Tensor:
        return _ops.square(self)

    def log1p(self) -> Tensor:
        return _ops.log1p(self)

    def sign(self) -> Tensor:
        return _ops.sign(self)

    def neg(self) -> Tensor:
        return _ops.neg(self)

    def reciprocal(self) -> Tensor:
        return _ops.reciprocal(self)

    def pow(self, exponent: Any) -> Tensor:
        return _ops.pow(self, exponent)

    def exp(self) -> Tensor:
        return _ops.exp(self)

    def log(self) -> Tensor:
        return _ops.log(self)

    def sqrt(self) -> Tensor:
        return _ops.sqrt(self)

    def abs(self) -> Tensor:
        return _ops.abs(self)

    def sin(self) -> Tensor:
        return _ops.sin(self)

    def cos(self) -> Tensor:
        return _ops.cos(self)

    def tanh(self) -> Tensor:
        return _ops.tanh(self)

    def sigmoid(self) -> Tensor:
        return _ops.sigmoid(self)

    def relu(self) -> Tensor:
        return _ops.relu(self)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:
        return _ops.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: Any) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.minimum(self, other)

    def sum(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.sum(self, *args, **kwargs)

    def mean(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.mean(self, *args, **kwargs)

    def var(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.var(self, *args, **kwargs)

    def std(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.std(self, *args, **kwargs)

    def max(self, *args: Any, **kwargs: Any) -> Any:
        return _ops.max(self, *args, **kwargs)

    def min(self, *args: Any, **kwargs: Any) -> Any:
        return _ops.min(self, *args, **kwargs)

    def amax(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.amax(self, *args, **kwargs)

    def amin(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.amin(self, *args, **kwargs)

    def argmax(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.argmax(self, *args, **kwargs)

    def argmin(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.argmin(self, *args, **kwargs)

    def logsumexp(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.logsumexp(self, *args, **kwargs)

    def prod(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.prod(self, *args, **kwargs)

    def softmax(self, dim: int) -> Tensor:
        return _ops.softmax(self, dim)

    def log_softmax(self, dim: int) -> Tensor:
        return _ops.log_softmax(self, dim)

    def reshape(self, *shape: Any) -> Tensor:
        return _ops.reshape(self, *shape)

    def view(self, *shape: Any) -> Tensor:
        return _ops.view(self, *shape)

    def view_as(self, other: Tensor) -> Tensor:
        return _ops.view(self, other.shape)

    def reshape_as(self, other: Tensor) -> Tensor:
        return _ops.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        return _ops.flatten(self, start_dim, end_dim)

    def squeeze(self, *args: Any, **kwargs: Any) -> Tensor:
        return _ops.squeeze(self, *args, **kwargs)

    def unsqueeze(self, dim: int) -> Tensor:
        return _ops.unsqueeze(self, dim)

    def transpose(self, dim0: int, dim1: int) -> Tensor:
        return _ops.transpose(self, dim0, dim1)

    swapaxes = transpose
    swapdims = transpose

    def t(self) -> Tensor:
        return _ops.transpose(self, 0, 1) if self.ndim == 2 else self

    def permute(self, *dims: Any) -> Tensor:
        return _ops.permute(self, *dims)

    def expand(self, *sizes: Any) -> Tensor:
        return _ops.expand(self, *sizes)

    def expand_as(self, other: Tensor) -> Tensor:
        return _ops.expand(self, other.shape)

    def broadcast_to(self, shape: Any) -> Tensor:
        return _ops.broadcast_to(self, shape)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops.chunk(self, chunks, dim)

    def flip(self, *dims: Any) -> Tensor:
        return _ops.flip(self, dims[0] if len(dims) == 1 else dims)

    def repeat(self, *sizes: Any) -> Tensor:
        return _ops.repeat(self, *sizes)

    def tile(self, *dims: Any) -> Tensor:
        return _ops.tile(self, dims[0] if len(dims) == 1 else dims)

    def index_put(self, indices: Any, values: Any, accumulate: bool = False) -> Tensor:
        return _ops.index_put(self, indices, values, accumulate=accumulate)

    def dot(self, other: Any) -> Tensor:
        return _ops.dot(self, other)

    def matmul(self, other: Any) -> Tensor:
        return _ops.matmul(self, other)

    def mm(self, other: Any) -> Tensor:
        return _ops.mm(self, other)

    def bmm(self, other: Any) -> Tensor:
        return _ops.bmm(self, other)

    def outer(self, other: Any) -> Tensor:
        return _ops.outer(self, other)

    def where(self, condition: Any, other: Any) -> Tensor:
        return _ops.where(condition, self, other)

    # -- printing -------------------------------------------------------------------
    def __repr__(self) -> str:
        return _format_tensor(self)

    def __format__(self, spec: str) -> str:
        if self.data.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)


_ENGINE: list[Any] = [None]  # the module chainrule.autograd.engine, once imported


class RemovableHandle:
    """Returned by ``register_hook``: ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list[Any], entry: Any) -> None:
        self._hooks, self._entry = hooks, entry

    def remove(self) -> None:
        for i, e in enumerate(self._hooks):
            if e is self._entry:
                del self._hooks[i]
                return


# PyTorch's print options: summarise above 1000 elements, keeping 3 at each edge of
# every dimension; lines of at most 80 characters; 4 digits after the point
_THRESHOLD, _EDGE, _LINEWIDTH, _PRECISION = 1000, 3, 80, 4


def _summary(a: np.ndarray) -> np.ndarray:
    """The elements a summarised print shows: the first and last 3 along each dimension."""
    for axis, n in enumerate(a.shape):
        if n > 2 * _EDGE:
            keep = np.r_[0:_EDGE, n - _EDGE:n]
            a = np.take(a, keep, axis=axis)
    return a


def _number_format(a: np.ndarray) -> tuple[Any, int]:
    """``(format one number, column width)`` chosen from the values ``a`` as PyTorch does.

    Floats: scientific notation when the nonzero finite magnitudes span more than 1000x
    or leave [1e-4, 1e8) (integral values may go down to any size), integral values as
    ``"1."``, else 4 decimals. The width is that of the widest nonzero finite value (zeros,
    nan and inf don't count); others are padded to it.
    """
    if a.dtype.kind != "f":
        width = max((len(str(v)) for v in a.reshape(-1).tolist()), default=1)
        return str, width
    vals = a[np.isfinite(a) & (a != 0)].astype(np.float64)
    if not vals.size:
        return lambda x: f"{x:.0f}" + ("." if math.isfinite(x) else ""), 1
    mag = np.abs(vals)
    integral = bool(np.all(vals == np.ceil(vals)))
    span = mag.max() / mag.min() > 1000 or mag.max() > 1e8
    if span or (not integral and mag.min() < 1e-4):
        spec = f"{{:.{_PRECISION}e}}"
    elif integral:
        spec = "{:.0f}."
    else:
        spec = f"{{:.{_PRECISION}f}}"

    def text(x: float) -> str:
        return spec.format(x) if math.isfinite(x) else f"{x:.0f}"

    # the widest value is the largest, the most negative, or (a 3-digit exponent) the
    # smallest positive or negative one
    pos, neg = vals[vals > 0], vals[vals < 0]
    edges = [vals.max(), vals.min()]
    if pos.size:
        edges.append(pos.min())
    if neg.size:
        edges.append(neg.max())
    width = max(len(text(v)) for v in edges)
    return text, width


def _format_array(a: np.ndarray, indent: int, summarize: bool, text: Any, width: int) -> str:
    """Nested brackets as PyTorch prints them: rows wrapped to the line width."""
    if a.ndim == 0:
        return text(a.item()).rjust(width)
    cut = summarize and a.shape[0] > 2 * _EDGE
    if a.ndim == 1:
        items = a.tolist()
        if cut:
            data = [text(v).rjust(width) for v in items[:_EDGE]] + [" ..."]
            data += [text(v).rjust(width) for v in items[-_EDGE:]]
        else:
            data = [text(v).rjust(width) for v in items]
        per_line = max(1, (_LINEWIDTH - indent) // (width + 2))
        lines = [", ".join(data[i:i + per_line]) for i in range(0, len(data), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = range(a.shape[0])
    if cut:
        rows = [*range(_EDGE), None, *range(a.shape[0] - _EDGE, a.shape[0])]
    parts = [
        "..." if i is None else _format_array(a[i], indent + 1, summarize, text, width)
        for i in rows
    ]
    return "[" + ("," + "\n" * (a.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _format_tensor(t: Tensor) -> str:
    """PyTorch-like repr: ``tensor([[1., 2.]], requires_grad=True)``."""
    a = t.data
    prefix = "tensor("
    indent = len(prefix)
    suffixes = []
    name = f"dtype=chainrule.{_DTYPE_NAMES.get(a.dtype, str(a.dtype))}"
    default = _dtypes.get_default_dtype()
    if a.size == 0:
        if a.ndim != 1:
            suffixes.append(f"size={a.shape}")
        if a.dtype != default:
            suffixes.append(name)
        body = "[]"
    else:
        if a.dtype not in (default, np.dtype("int64"), np.dtype("bool")):
            suffixes.append(name)
        summarize = a.size > _THRESHOLD
        text, width = _number_format(_summary(a) if summarize else a)
        body = _format_array(a, indent, summarize, text, width)
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    # a suffix that would overflow the last line goes on a line of its own
    out = prefix + body
    line = len(out) - out.rfind("\n") + 1
    for suffix in suffixes:
        if line + len(suffix) + 2 > _LINEWIDTH:
            out += ",\n" + " " * indent + suffix
            line = indent + len(suffix)
        else:
            out += ", " + suffix
            line += len(suffix) + 2
    return out + ")"


def _data_of(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _compare(ufunc: Any, a: Any, b: Any) -> Tensor:
    return Tensor._make(np.asarray(ufunc(_data_of(a), _data_of(b))))


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert user data to an ndarray with PyTorch's dtype rules (always a copy)."""
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
    if isinstance(data, Tensor):
        arr = data.data.copy()
    elif isinstance(data, np.ndarray):
        arr = data.copy()
    elif isinstance(data, np.generic):
        arr = np.array(data)
    else:
        arr = np.array(_unwrap_nested(data))
        if arr.dtype.kind == "f" and dtype is None and not _has_numpy_floats(data):
            with np.errstate(over="ignore"):  # 1e300 becomes inf in float32, silently
                arr = arr.astype(_dtypes.get_default_dtype())
        elif arr.dtype.kind == "i":
            arr = arr.astype(np.int64)
        elif arr.dtype.kind == "O":
            raise TypeError(f"tensor(): could not convert data of type {type(data).__name__}")
    if dtype is not None and arr.dtype != dtype:
        with np.errstate(over="ignore", invalid="ignore"):
            arr = arr.astype(dtype)
    return arr


def _unwrap_nested(data: Any) -> Any:
    if isinstance(data, Tensor):
        return data.data
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(x) for x in data]
    return data


def _has_numpy_floats(data: Any) -> bool:
    """True when a nested list holds float64 arrays/tensors, whose dtype is kept."""
    if isinstance(data, Tensor):
        return data.dtype == np.float64
    if isinstance(data, np.ndarray | np.floating):
        return data.dtype == np.float64
    if isinstance(data, (list, tuple)) and data:
        return any(_has_numpy_floats(x) for x in data)
    return False


def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new leaf tensor holding a copy of ``data``.

    Python floats give the default dtype (float32), ints int64, bools bool; an ndarray or
    Tensor keeps its dtype unless ``dtype`` is given.
    """
    t = Tensor._make(_to_array(data, dtype))
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """Like ``tensor`` but shares memory with an ndarray or Tensor of the right dtype."""
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


from chainrule import ops as _ops  # noqa: E402
from chainrule.autograd.grad_mode import no_grad as _no_grad  # noqa: E402
from chainrule.ops._errors import ShapeError  # noqa: E402
