"""The Tensor methods of PyTorch's everyday API that call functions defined elsewhere.

``Tensor`` inherits these (no monkeypatching: they are ordinary methods of a base class),
which keeps ``tensor.py`` to the tensor's core. Each is a thin call of the function of
the same name in :mod:`chainrule.ops` (or a factory), with PyTorch's signature.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from chainrule.tensor import Tensor

__all__ = ["TensorMethods"]


def _ops() -> Any:
    from chainrule import ops

    return ops


def _sizes(size: tuple[Any, ...]) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], tuple | list):
        size = tuple(size[0])
    return tuple(int(s) for s in size)


class TensorMethods:
    """PyTorch's ``Tensor`` methods built on chainrule's functions (a base of Tensor)."""

    __slots__ = ()
    data: np.ndarray

    # -- factories that take this tensor's dtype ----------------------------------------
    def _new(self, make: Any, dtype: Any, device: Any, requires_grad: bool, op: str
             ) -> Tensor:
        """``make(dtype)``, with this tensor's dtype unless ``dtype`` is given, as a leaf."""
        from chainrule import dtypes
        from chainrule.device import check_device
        from chainrule.tensor import Tensor

        check_device(device, op)
        t = Tensor._make(make(self._data.dtype if dtype is None else dtypes.as_dtype(dtype)))
        return t.requires_grad_(True) if requires_grad else t

    def new_zeros(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
        """Zeros of ``size`` with this tensor's dtype (unless ``dtype`` is given)."""
        return self._new(lambda d: np.zeros(_sizes(size), d), dtype, device, requires_grad,
                         "new_zeros")

    def new_ones(self, *size: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        return self._new(lambda d: np.ones(_sizes(size), d), dtype, device, requires_grad,
                         "new_ones")

    def new_empty(self, *size: Any, dtype: Any = None, device: Any = None,
                  requires_grad: bool = False) -> Tensor:
        return self._new(lambda d: np.empty(_sizes(size), d), dtype, device, requires_grad,
                         "new_empty")

    def new_full(self, size: Any, fill_value: Any, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False) -> Tensor:
        return self._new(lambda d: np.full(_sizes((size,)), fill_value, d), dtype, device,
                         requires_grad, "new_full")

    def new_tensor(self, data: Any, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False) -> Tensor:
        """A copy of ``data`` as a new leaf with this tensor's dtype (unless ``dtype``)."""
        from chainrule.tensor import _to_array

        return self._new(lambda d: _to_array(data, d), dtype, device, requires_grad,
                         "new_tensor")

    # -- views ----------------------------------------------------------------------
    def narrow(self, dim: int, start: Any, length: int) -> Tensor:
        return _ops().narrow(self, dim, start, length)

    # -- elementwise (ops/pointwise.py) -----------------------------------------------
    def floor(self) -> Tensor:
        return _ops().floor(self)

    def ceil(self) -> Tensor:
        return _ops().ceil(self)

    def round(self, *, decimals: int = 0) -> Tensor:
        return _ops().round(self, decimals=decimals)

    def trunc(self) -> Tensor:
        return _ops().trunc(self)

    fix = trunc

    def frac(self) -> Tensor:
        return _ops().frac(self)

    def remainder(self, other: Any) -> Tensor:
        return _ops().remainder(self, other)

    def fmod(self, other: Any) -> Tensor:
        return _ops().fmod(self, other)

    def atan2(self, other: Any) -> Tensor:
        return _ops().atan2(self, other)

    arctan2 = atan2

    def log2(self) -> Tensor:
        return _ops().log2(self)

    def log10(self) -> Tensor:
        return _ops().log10(self)

    def expm1(self) -> Tensor:
        return _ops().expm1(self)

    def erf(self) -> Tensor:
        return _ops().erf(self)

    def rsqrt(self) -> Tensor:
        return _ops().rsqrt(self)

    def nan_to_num(self, nan: float = 0.0, posinf: float | None = None,
                   neginf: float | None = None) -> Tensor:
        return _ops().nan_to_num(self, nan, posinf, neginf)

    # -- tests without gradient (ops/comparison.py) -----------------------------------
    def isclose(self, other: Any, rtol: float = 1e-05, atol: float = 1e-08,
                equal_nan: bool = False) -> Tensor:
        return _ops().isclose(self, other, rtol, atol, equal_nan)

    def isinf(self) -> Tensor:
        return _ops().isinf(self)

    def isposinf(self) -> Tensor:
        return _ops().isposinf(self)

    def isneginf(self) -> Tensor:
        return _ops().isneginf(self)

    def count_nonzero(self, dim: Any = None) -> Tensor:
        return _ops().count_nonzero(self, dim)

    def logical_not(self) -> Tensor:
        return _ops().logical_not(self)

    def logical_and(self, other: Any) -> Tensor:
        return _ops().logical_and(self, other)

    def logical_or(self, other: Any) -> Tensor:
        return _ops().logical_or(self, other)

    def logical_xor(self, other: Any) -> Tensor:
        return _ops().logical_xor(self, other)

    def nelement(self) -> int:
        return int(self._data.size)

    # -- norms (ops/norms.py) ---------------------------------------------------------
    def norm(self, p: Any = "fro", dim: Any = None, keepdim: bool = False,
             dtype: Any = None) -> Tensor:
        return _ops().norm(self, p, dim, keepdim, dtype)

    # -- indexing (ops/indexing.py) ---------------------------------------------------
    def gather(self, dim: int, index: Any, *, sparse_grad: bool = False) -> Tensor:
        return _ops().gather(self, dim, index)

    def scatter(self, dim: int, index: Any, src: Any = None, *, value: Any = None,
                reduce: str | None = None) -> Tensor:
        return _ops().scatter(self, dim, index, src, value=value, reduce=reduce)

    def scatter_add(self, dim: int, index: Any, src: Any) -> Tensor:
        return _ops().scatter_add(self, dim, index, src)

    def index_select(self, dim: int, index: Any) -> Tensor:
        return _ops().index_select(self, dim, index)

    def index_add(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
        return _ops().index_add(self, dim, index, source, alpha=alpha)

    def index_fill(self, dim: int, index: Any, value: Any) -> Tensor:
        return _ops().index_fill(self, dim, index, value)

    def take_along_dim(self, indices: Any, dim: int | None = None) -> Tensor:
        return _ops().take_along_dim(self, indices, dim)

    def masked_fill(self, mask: Any, value: Any) -> Tensor:
        return _ops().masked_fill(self, mask, value)

    def tril(self, diagonal: int = 0) -> Tensor:
        return _ops().tril(self, diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        return _ops().triu(self, diagonal)

    # in place: the out-of-place op written into this tensor (Tensor._inplace records it)
    def masked_fill_(self, mask: Any, value: Any) -> Tensor:
        return self._inplace("masked_fill_", lambda t: _ops().masked_fill(t, mask, value),
                             value)

    def scatter_(self, dim: int, index: Any, src: Any = None, *, value: Any = None,
                 reduce: str | None = None) -> Tensor:
        return self._inplace("scatter_", lambda t: _ops().scatter(
            t, dim, index, src, value=value, reduce=reduce), src)

    def scatter_add_(self, dim: int, index: Any, src: Any) -> Tensor:
        return self._inplace("scatter_add_",
                             lambda t: _ops().scatter_add(t, dim, index, src), src)

    def index_add_(self, dim: int, index: Any, source: Any, *, alpha: Any = 1) -> Tensor:
        return self._inplace("index_add_", lambda t: _ops().index_add(
            t, dim, index, source, alpha=alpha), source)

    def index_fill_(self, dim: int, index: Any, value: Any) -> Tensor:
        return self._inplace("index_fill_",
                             lambda t: _ops().index_fill(t, dim, index, value), value)

    def tril_(self, diagonal: int = 0) -> Tensor:
        return self._inplace("tril_", lambda t: _ops().tril(t, diagonal))

    def triu_(self, diagonal: int = 0) -> Tensor:
        return self._inplace("triu_", lambda t: _ops().triu(t, diagonal))

    # -- cumulative, sorting, rearranging (ops/cumulative.py, ops/sorting.py) ----------
    def cumsum(self, dim: int | None = None, *, dtype: Any = None) -> Tensor:
        return _ops().cumsum(self, dim, dtype=dtype)

    def cumprod(self, dim: int | None = None, *, dtype: Any = None) -> Tensor:
        return _ops().cumprod(self, dim, dtype=dtype)

    def sort(self, dim: int = -1, descending: bool = False, stable: bool = False) -> Any:
        return _ops().sort(self, dim, descending, stable)

    def argsort(self, dim: int = -1, descending: bool = False, stable: bool = False
                ) -> Tensor:
        return _ops().argsort(self, dim, descending, stable)

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> Any:
        return _ops().topk(self, k, dim, largest, sorted)

    def roll(self, shifts: Any, dims: Any = None) -> Tensor:
        return _ops().roll(self, shifts, dims)

    def repeat_interleave(self, repeats: Any = None, dim: int | None = None, *,
                          output_size: int | None = None) -> Tensor:
        return _ops().repeat_interleave(self, repeats, dim, output_size=output_size)

    def multinomial(self, num_samples: int, replacement: bool = False, *,
                    generator: Any = None) -> Tensor:
        return _ops().multinomial(self, num_samples, replacement, generator=generator)

    # -- composites (ops/composite.py) ------------------------------------------------
    def unbind(self, dim: int = 0) -> tuple[Tensor, ...]:
        return _ops().unbind(self, dim)

    def diag(self, diagonal: int = 0) -> Tensor:
        return _ops().diag(self, diagonal)

    def diagonal(self, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
        return _ops().diagonal(self, offset, dim1, dim2)

    def trace(self) -> Tensor:
        return _ops().trace(self)

    def masked_select(self, mask: Any) -> Tensor:
        return _ops().masked_select(self, mask)

    def addmm(self, mat1: Any, mat2: Any, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
        return _ops().addmm(self, mat1, mat2, beta=beta, alpha=alpha)

    def unique(self, sorted: bool = True, return_inverse: bool = False,
               return_counts: bool = False, dim: int | None = None) -> Any:
        return _ops().unique(self, sorted, return_inverse, return_counts, dim)

    def nonzero(self, *, as_tuple: bool = False) -> Any:
        return _ops().nonzero(self, as_tuple=as_tuple)

    def argwhere(self) -> Tensor:
        return _ops().argwhere(self)

    def is_contiguous(self, memory_format: Any = None) -> bool:
        """True: chainrule's tensors behave as contiguous (``contiguous()`` returns self)."""
        return True

    def apply_(self, callable: Any) -> Tensor:
        """Replace each element by ``callable(element)`` in place (not differentiable)."""
        self._check_inplace_leaf("apply_")
        if self._data.size:
            self._data[...] = np.vectorize(callable, otypes=[self._data.dtype])(self._data)
        self._version[0] += 1
        return self

    # -- memory and device queries (CPU, contiguous, NumPy-owned) -----------------------
    def get_device(self) -> int:
        """-1: the tensor is on the CPU, as PyTorch answers for CPU tensors."""
        return -1

    def ndimension(self) -> int:
        return self._data.ndim

    def stride(self, dim: int | None = None) -> Any:
        """Strides in elements (NumPy's byte strides divided by the item size)."""
        strides = tuple(s // self._data.itemsize for s in self._data.strides)
        return strides if dim is None else strides[dim]

    def is_pinned(self) -> bool:
        return False

    def pin_memory(self) -> Tensor:
        """Pinned memory is for accelerator transfers: it raises, as PyTorch without one."""
        raise RuntimeError("pin_memory: cannot access accelerator device when none is "
                           "available (chainrule runs on the CPU only)")

    def share_memory_(self) -> Tensor:
        """A no-op: chainrule does not share tensors across processes."""
        return self  # type: ignore[return-value]

    # -- more of PyTorch's everyday methods -----------------------------------------
    def type_as(self, other: Any) -> Tensor:
        return self.to(other.dtype)  # type: ignore[attr-defined]

    def byte(self) -> Tensor:
        return self.to(np.uint8)  # type: ignore[attr-defined]

    def char(self) -> Tensor:
        return self.to(np.int8)  # type: ignore[attr-defined]

    def short(self) -> Tensor:
        return self.to(np.int16)  # type: ignore[attr-defined]

    def select(self, dim: int, index: int) -> Tensor:
        return _ops().select(self, dim, index)

    def movedim(self, source: Any, destination: Any) -> Tensor:
        return _ops().movedim(self, source, destination)

    moveaxis = movedim

    def mv(self, vec: Any) -> Tensor:
        return _ops().mv(self, vec)

    def addcmul(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        return _ops().addcmul(self, tensor1, tensor2, value=value)

    def addcdiv(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        return _ops().addcdiv(self, tensor1, tensor2, value=value)

    def lerp(self, end: Any, weight: Any) -> Tensor:
        return _ops().lerp(self, end, weight)

    def logaddexp(self, other: Any) -> Tensor:
        return _ops().logaddexp(self, other)

    def hypot(self, other: Any) -> Tensor:
        return _ops().hypot(self, other)

    def clamp_min(self, min: Any) -> Tensor:
        return _ops().clamp_min(self, min)

    def clamp_max(self, max: Any) -> Tensor:
        return _ops().clamp_max(self, max)

    def tan(self) -> Tensor:
        return _ops().tan(self)

    def asin(self) -> Tensor:
        return _ops().asin(self)

    def acos(self) -> Tensor:
        return _ops().acos(self)

    def atan(self) -> Tensor:
        return _ops().atan(self)

    arcsin, arccos, arctan = asin, acos, atan

    def sinh(self) -> Tensor:
        return _ops().sinh(self)

    def cosh(self) -> Tensor:
        return _ops().cosh(self)

    # in place: the out-of-place op written back (Tensor._inplace records or refuses it)
    def _unary_(self, name: str, fn: Any) -> Tensor:
        return self._inplace(name, fn)  # type: ignore[attr-defined]

    def exp_(self) -> Tensor:
        return self._unary_("exp_", lambda t: _ops().exp(t))

    def neg_(self) -> Tensor:
        return self._unary_("neg_", lambda t: _ops().neg(t))

    def sqrt_(self) -> Tensor:
        return self._unary_("sqrt_", lambda t: _ops().sqrt(t))

    def abs_(self) -> Tensor:
        return self._unary_("abs_", lambda t: _ops().abs(t))

    def relu_(self) -> Tensor:
        return self._unary_("relu_", lambda t: _ops().relu(t))

    def sigmoid_(self) -> Tensor:
        return self._unary_("sigmoid_", lambda t: _ops().sigmoid(t))

    def tanh_(self) -> Tensor:
        return self._unary_("tanh_", lambda t: _ops().tanh(t))

    def floor_(self) -> Tensor:
        return self._unary_("floor_", lambda t: _ops().floor(t))

    def round_(self, *, decimals: int = 0) -> Tensor:
        return self._unary_("round_", lambda t: _ops().round(t, decimals=decimals))

    def clamp_min_(self, min: Any) -> Tensor:
        return self._unary_("clamp_min_", lambda t: _ops().clamp(t, min=min))

    def clamp_max_(self, max: Any) -> Tensor:
        return self._unary_("clamp_max_", lambda t: _ops().clamp(t, max=max))

    def addcmul_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        return self._inplace("addcmul_", lambda t: _ops().addcmul(  # type: ignore[attr-defined]
            t, tensor1, tensor2, value=value), tensor1, tensor2)

    def addcdiv_(self, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
        return self._inplace("addcdiv_", lambda t: _ops().addcdiv(  # type: ignore[attr-defined]
            t, tensor1, tensor2, value=value), tensor1, tensor2)

    def lerp_(self, end: Any, weight: Any) -> Tensor:
        return self._inplace("lerp_", lambda t: _ops().lerp(  # type: ignore[attr-defined]
            t, end, weight), end, weight)

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> Tensor:
        """Fill with 1 (probability ``p``) or 0, from chainrule's seeded generator."""
        from chainrule.random import _np_generator

        self._check_inplace_leaf("bernoulli_")  # type: ignore[attr-defined]
        prob = p._data if hasattr(p, "_data") and not isinstance(p, float) else p
        draw = _np_generator(generator).random(self._data.shape) < prob
        self._data[...] = draw
        self._version[0] += 1  # type: ignore[attr-defined]
        return self  # type: ignore[return-value]

    def _reshape_(self, name: str, shape: tuple[int, ...]) -> Tensor:
        from chainrule.autograd.grad_mode import is_grad_enabled

        if is_grad_enabled() and self.requires_grad:  # type: ignore[attr-defined]
            raise RuntimeError(f"{name}: changing the shape of a tensor that requires grad in "
                               f"place is not supported; use the out-of-place form")
        self._data = self._data.reshape(shape)
        return self  # type: ignore[return-value]

    def unsqueeze_(self, dim: int) -> Tensor:
        d = dim if dim >= 0 else dim + self._data.ndim + 1
        shape = self._data.shape
        return self._reshape_("unsqueeze_", shape[:d] + (1,) + shape[d:])

    def squeeze_(self, dim: Any = None) -> Tensor:
        return self._reshape_("squeeze_", tuple(_ops().squeeze(self.detach(), *(  # type: ignore
            () if dim is None else (dim,))).shape))

    def t_(self) -> Tensor:
        from chainrule.autograd.grad_mode import is_grad_enabled

        if is_grad_enabled() and self.requires_grad:  # type: ignore[attr-defined]
            raise RuntimeError("t_: transposing a tensor that requires grad in place is not "
                               "supported; use t()")
        self._data = self._data.T
        return self  # type: ignore[return-value]
