"""``TensorBase``: what a tensor is without its operations (data, flags, hooks, printing).

:class:`chainrule.tensor.Tensor` adds the operations (operators, methods, in-place
updates), which delegate to :mod:`chainrule.ops`. This half needs no op, so it imports
nothing that imports the tensor back. Never instantiated on its own: the methods here that
build a tensor call ``self._make``, which ``Tensor`` defines.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from chainrule import dtypes as _dtypes
from chainrule._tensor_str import format_tensor
from chainrule.autograd.grad_mode import GradMode
from chainrule.device import CPU as _CPU
from chainrule.device import check_device, device
from chainrule.random import _np_generator
from chainrule.size import Size

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

__all__ = ["TensorBase", "RemovableHandle"]


def _leaf_inplace_error(op: str) -> RuntimeError:
    return RuntimeError(
        f"{op}: a leaf tensor that requires grad is being used in an in-place operation. "
        "Wrap the update in `with cr.no_grad():` (as optimizers do) or work on a clone."
    )




class TensorBase:
    """A NumPy array with the autograd state of a tensor (see :class:`chainrule.tensor.Tensor`).

    Attributes:
        data: PyTorch's ``.data``: a new leaf Tensor sharing this tensor's memory, outside
            autograd (see the property); assigning a Tensor to it swaps the memory.
        requires_grad: whether operations on it are recorded for backward.
        grad: the accumulated gradient (a Tensor) after ``backward()``, or None.
        grad_fn: the backward node that produced this tensor (None for leaves).
        _data: the ``numpy.ndarray`` that holds the values. The library's own code reads and
            writes the array here (``x._data``), never through ``.data``, which would wrap
            it in a new Tensor on every access; ``numpy()`` returns it without copying.
    """

    __slots__ = ("_data", "_requires_grad", "grad_fn", "_version", "__dict__", "__weakref__")

    # defaults that most tensors never change (set per instance only when they do)
    grad: Tensor | None = None
    _output_nr = 0
    _retains_grad = False
    _hooks: list[Any] | None = None  # a leaf's gradient hooks (Tensor.register_hook)
    _post_acc_hooks: list[Any] | None = None  # register_post_accumulate_grad_hook

    __array_ufunc__ = None  # make NumPy defer to our reflected operators (ndarray + Tensor)

    def __init__(self, *args: Any, requires_grad: bool = False, dtype: Any = None,
                 device: Any = None) -> None:
        """PyTorch's legacy constructor: ``Tensor(data)`` copies data, ``Tensor(2, 3)``
        (or a ``Size``) makes a tensor of that size, ``Tensor()`` an empty one; all in the
        default float dtype unless ``dtype`` is given (``cr.tensor`` infers the dtype)."""
        check_device(device, "Tensor")
        dtype = _dtypes.get_default_dtype() if dtype is None else dtype
        if not args:
            arr = np.empty((0,), _dtypes.as_dtype(dtype))
        elif (all(isinstance(a, int | np.integer) and not isinstance(a, bool) for a in args)
              or (len(args) == 1 and isinstance(args[0], Size))):
            arr = np.zeros(Size(args[0] if isinstance(args[0], Size) else args),
                           _dtypes.as_dtype(dtype))
        elif len(args) == 1:
            arr = _to_array(args[0], dtype)
        else:
            raise TypeError(f"Tensor(): expected data or sizes (ints), got {args!r}")
        self._data = arr
        self._requires_grad = False
        self.grad_fn = None
        self._version = [0]
        if requires_grad:
            self.requires_grad_(True)


    # -- attributes -----------------------------------------------------------------
    @property
    def data(self) -> Tensor:
        """The values as a new leaf Tensor that shares this tensor's memory, as PyTorch.

        It does not require grad and has no history, and it has its own version counter:
        in-place changes through it (``p.data.add_(p.grad, alpha=-lr)``,
        ``m.weight.data.normal_(0, 0.02)``) are neither recorded nor seen by autograd's
        checks of saved tensors. ``t.data = other`` makes ``t`` share ``other``'s memory
        (any shape and dtype; ``t`` keeps its own grad, history and version counter).
        """
        return self._make(self._data)

    @data.setter
    def data(self, new: Tensor) -> None:
        if not isinstance(new, TensorBase):
            raise TypeError(
                f"Tensor.data: the new data has to be a Tensor, got {type(new).__name__} "
                "(wrap an array with cr.from_numpy)"
            )
        if self._requires_grad and new._data.dtype.kind not in "fc":
            raise RuntimeError(
                "Tensor.data: data set to a tensor that requires gradients must be of "
                f"floating point or complex dtype, got {new._data.dtype}"
            )
        self._data = new._data

    @data.deleter
    def data(self) -> None:
        raise RuntimeError("Tensor.data: deleting a tensor's data is not allowed; delete the "
                           "tensor instead")

    @property
    def shape(self) -> Size:
        return _new_tuple(Size, self._data.shape)  # Size(...) without re-checking the ints

    @property
    def ndim(self) -> int:
        return self._data.ndim

    @property
    def dtype(self) -> Any:
        """The element type, e.g. ``chainrule.float32`` (equal to NumPy's ``float32``)."""
        return _dtypes.wrap(self._data.dtype)

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def device(self) -> device:
        return _CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    def size(self, dim: int | None = None) -> Any:
        return _new_tuple(Size, self._data.shape) if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def dim(self) -> int:
        return self._data.ndim

    def element_size(self) -> int:
        return self._data.itemsize

    def item(self) -> Any:
        if self._data.size != 1:
            raise RuntimeError(
                f"item(): a Tensor with {self._data.size} elements cannot be converted to "
                "a Python number; only one-element tensors can"
            )
        return self._data.reshape(-1)[0].item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The underlying array, without copying (shares memory with the tensor).

        As in PyTorch, a tensor that requires grad refuses (a write through the array
        would bypass the version counter that guards its graph): use
        ``detach().numpy()`` (or ``numpy(force=True)``, the same).
        """
        if self._requires_grad and GradMode.enabled and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self._data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._data if dtype is None else self._data.astype(dtype)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of a Tensor with {self._data.size} values is ambiguous"
            )
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be used as an index")
        return int(self.item())

    __hash__ = object.__hash__

    # -- autograd -------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        if requires_grad and self._data.dtype.kind not in "fc":
            raise RuntimeError(
                f"requires_grad: only tensors of floating point dtype can require gradients, "
                f"got {self._data.dtype} (convert with .float() or .double() first)"
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
        t = self._make(self._data, False)
        t._version = self._version
        return t

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

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

        Runs during the backward, right after the engine has accumulated the leaf's last
        gradient into ``.grad`` (``DistributedDataParallel`` starts its gradient exchange
        so); ``autograd.grad`` does not run it. Returns a handle whose ``remove()``
        unregisters the hook.
        """
        from chainrule.autograd import backward_hooks  # at call time: it imports the engine's Node

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


    def cpu(self) -> Tensor:
        return self

    def cuda(self, device: Any = None, non_blocking: bool = False) -> Tensor:
        check_device("cuda" if device is None else device, "Tensor.cuda")
        return self

    def contiguous(self) -> Tensor:
        return self

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"


    def __floordiv__(self, other: Any) -> Tensor:
        return _compare(np.floor_divide, self, other)


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
        return self._make(np.asarray(inv(self._data)))

    eq = __eq__
    ne = __ne__
    lt = __lt__
    le = __le__
    gt = __gt__
    ge = __ge__

    def _check_inplace_leaf(self, name: str) -> None:
        if self.requires_grad and self.grad_fn is None and GradMode.enabled:
            raise _leaf_inplace_error(name)


    def zero_(self) -> Tensor:
        return self.fill_(0)

    def fill_(self, value: Any) -> Tensor:
        self._check_inplace_leaf("fill_")
        self._data.fill(_data_of(value))
        self._version[0] += 1
        return self

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator: Any = None) -> Tensor:
        self._check_inplace_leaf("uniform_")
        self._data[...] = _np_generator(generator).uniform(a, b, self.shape)
        self._version[0] += 1
        return self

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator: Any = None) -> Tensor:
        self._check_inplace_leaf("normal_")
        self._data[...] = _np_generator(generator).normal(mean, std, self.shape)
        self._version[0] += 1
        return self


    # -- printing -------------------------------------------------------------------
    def __repr__(self) -> str:
        return format_tensor(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:  # f"{loss}" prints the number, as PyTorch
            return format(self.item(), spec)
        return repr(self)


_ENGINE: list[Any] = [None]  # the module chainrule.autograd.engine, once imported
_new_tuple = tuple.__new__


class RemovableHandle:
    """Returned by ``register_hook``: ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list[Any], entry: Any) -> None:
        self._hooks, self._entry = hooks, entry

    def remove(self) -> None:
        for i, e in enumerate(self._hooks):
            if e is self._entry:
                del self._hooks[i]
                return


def _data_of(x: Any) -> Any:
    return x._data if isinstance(x, TensorBase) else x


def _compare(ufunc: Any, a: Any, b: Any) -> Tensor:
    return a._make(np.asarray(ufunc(_data_of(a), _data_of(b))))


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Convert user data to an ndarray with PyTorch's dtype rules (always a copy)."""
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
    if isinstance(data, TensorBase):
        arr = data._data.copy()
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
    if isinstance(data, TensorBase):
        return data._data
    if isinstance(data, (list, tuple)):
        return [_unwrap_nested(x) for x in data]
    return data


def _has_numpy_floats(data: Any) -> bool:
    """True when a nested list holds float64 arrays/tensors, whose dtype is kept."""
    if isinstance(data, TensorBase):
        return data.dtype == np.float64
    if isinstance(data, np.ndarray | np.floating):
        return data.dtype == np.float64
    if isinstance(data, (list, tuple)) and data:
        return any(_has_numpy_floats(x) for x in data)
    return False


