"""Reduction nodes: sum, mean, var, std, logsumexp, prod (max/min: :mod:`.minmax`).

A reduction is the seeds' Sum node; its backward is the Repeat node: ``dY`` gets its
reduced dimensions back as size 1 and is copied along them (broadcast), never looped
over. Arguments follow PyTorch: ``dim`` is an int, a tuple or None (all dimensions), with
``keepdim=False``; NumPy's spellings ``axis``/``keepdims`` are accepted too, and
``axis=()`` keeps NumPy's meaning (reduce nothing) so that backward rules written for
ndarrays mean the same on Tensors, while ``dim=()`` is PyTorch's "all dimensions".
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.autograd.function import Op
from chainrule.ops import _math
from chainrule.ops.arithmetic import cast
from chainrule.tensor import Tensor

__all__ = [
    "sum", "mean", "var", "std", "logsumexp", "prod",
]

Axes = tuple[int, ...] | None  # reduced dimensions, sorted and non-negative; None = all


# -- argument helpers -----------------------------------------------------------------


def _tensor(op: str, input: Any) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(input).__name__}")
    return input


def _one_dim(op: str, d: Any, ndim: int) -> int:
    try:
        d = operator.index(d)
    except TypeError:
        raise TypeError(f"{op}: dim must be an int or a tuple of ints, got {d!r}") from None
    n = ndim or 1  # a 0-d tensor accepts dim 0 and -1
    lo, hi = -n, n - 1
    if not lo <= d <= hi:
        raise IndexError(
            f"{op}: dimension out of range (expected to be in range of [{lo}, {hi}], but got "
            f"{d}) for a tensor of {ndim} dimension(s)"
        )
    return d % n


def _axes(op: str, dim: Any, ndim: int, empty_means_all: bool = True) -> Axes:
    """Normalise ``dim`` (None, int or sequence) to sorted non-negative axes, None for all."""
    if dim is None:
        return None
    if type(dim) is int:  # the common case first
        return (_one_dim(op, dim, ndim),) if ndim else None
    if isinstance(dim, Sequence | np.ndarray):
        axes = [_one_dim(op, d, ndim) for d in dim]
        if not axes:
            return None if empty_means_all else ()
        if len(set(axes)) != len(axes):
            dup = next(d for d in axes if axes.count(d) > 1)
            raise RuntimeError(f"{op}: dim {dup} appears multiple times in the list of dims")
    else:
        axes = [_one_dim(op, dim, ndim)]
    if ndim == 0:  # a 0-d tensor accepts dim 0 or -1; reducing it reduces nothing
        return None
    return tuple(sorted(axes))


def _dims(op: str, x: Tensor, dim: Any, keepdim: Any, axis: Any, keepdims: Any
          ) -> tuple[Axes, bool]:
    """``(axes, keepdim)`` from PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims``."""
    if keepdims is not None:
        keepdim = keepdims
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{op}: got both 'dim' and its alias 'axis'")
        return _axes(op, axis, x._data.ndim, empty_means_all=False), bool(keepdim)
    if dim is None:
        return None, bool(keepdim)
    return _axes(op, dim, x._data.ndim), bool(keepdim)


def _count(shape: tuple[int, ...], axes: Axes) -> int:
    """How many elements each reduction combines."""
    return math.prod(shape) if axes is None else math.prod(shape[a] for a in axes)


def _keep_shape(shape: tuple[int, ...], axes: Axes) -> tuple[int, ...]:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _keep(g: Any, shape: tuple[int, ...], axes: Axes, keepdim: bool) -> Any:
    """``g`` with the reduced dimensions back as size 1, so that it broadcasts against x.

    A full reduction gives a 0-d ``g``, which broadcasts as it is.
    """
    if keepdim or axes is None:
        return g
    return g.reshape(_keep_shape(shape, axes))


def _repeat(g: Any, shape: tuple[int, ...]) -> Any:
    """The seeds' Repeat node: ``g`` (reduced dims of size 1) copied out to ``shape``.

    For arrays this writes one fresh array (writable, unlike a broadcast view); for
    Tensors it records ``broadcast_to`` so that the rule can be differentiated again.
    """
    if isinstance(g, Tensor):
        return _math.broadcast_to(g, shape)
    out = np.empty(shape, g.dtype)
    out[...] = g
    return out


def _check_float(op: str, x: Tensor) -> None:
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(
            f"{op}: only floating point dtypes are supported, got {x._data.dtype} "
            "(convert with .float() first)"
        )


def _check_nonempty(op: str, x: Tensor, axes: Axes) -> None:
    """Max-like reductions have no value for an empty slice (PyTorch raises too)."""
    if x._data.size:
        return
    if axes is None:
        raise RuntimeError(
            f"{op}: expected reduction dim to be specified for an input with no elements "
            f"(shape {tuple(x.shape)}); specify the dimension with the 'dim' argument"
        )
    for a in axes:
        if x._data.shape[a] == 0:
            raise IndexError(
                f"{op}: expected reduction dim {a} to have non-zero size (shape "
                f"{tuple(x.shape)})"
            )


# -- sum and mean ---------------------------------------------------------------------


class Sum(Op):
    """y = x summed over the reduced dimensions (the seeds' Sum node)."""

    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, axes: Axes, keepdim: bool, dtype: Any = None
                ) -> np.ndarray:
        self.axes, self.keepdim = axes, keepdim
        return np.add.reduce(x, axis=axes, dtype=dtype, keepdims=keepdim)

    def backward(self, dY: Any) -> Any:
        """dx = repeat(dY, x.shape)  (*x) = (*y)"""
        # the seeds' Repeat node: each summed element receives the whole dY
        shape = self.input_shapes[0]
        return _repeat(_keep(dY, shape, self.axes, self.keepdim), shape)


class Mean(Op):
    """y = the mean of x over the reduced dimensions."""

    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, axes: Axes, keepdim: bool) -> np.ndarray:
        self.axes, self.keepdim = axes, keepdim
        self.n = n = _count(x.shape, axes)
        total = np.add.reduce(x, axis=axes, keepdims=keepdim)
        if n == 0:  # the mean of nothing is nan, as in PyTorch
            with np.errstate(invalid="ignore"):
                return total / n
        return total / n

    def backward(self, dY: Any) -> Any:
        """dx = repeat(dY / N, x.shape)  (*x) = (*y)"""
        shape = self.input_shapes[0]
        g = dY / self.n if self.n else dY  # n == 0: x is empty, so is its gradient
        return _repeat(_keep(g, shape, self.axes, self.keepdim), shape)


def sum(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
        axis: Any = None, keepdims: bool | None = None) -> Tensor:
    """Sum over ``dim`` (an int, a tuple, or None for all dimensions).

    Bool and integer tensors sum to int64 (as in PyTorch) unless ``dtype`` is given;
    ``dtype`` casts the input first (differentiably between float dtypes).

    Example:
        >>> cr.sum(cr.ones(2, 3), dim=1)
        tensor([3., 3.])
    """
    x = _tensor("sum", input)
    if dim is None and axis is None and keepdims is None and dtype is None and not keepdim:
        kind = x._data.dtype.kind  # the common case, kept short: a full sum
        if kind in "fc":
            return Sum.apply(x, axes=None, keepdim=False)
        return Sum.apply(x, axes=None, keepdim=False, dtype=np.int64)
    axes, keepdim = _dims("sum", x, dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = cast(x, dtype)
    int_dtype = np.int64 if x._data.dtype.kind in "biu" else None
    return Sum.apply(x, axes=axes, keepdim=keepdim, dtype=int_dtype)


def mean(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Any = None, keepdims: bool | None = None) -> Tensor:
    """Mean over ``dim`` (an int, a tuple, or None for all dimensions).

    Integer tensors raise, as in PyTorch, unless a float ``dtype`` is given.
    """
    x = _tensor("mean", input)
    if dim is None and axis is None and keepdims is None and dtype is None and not keepdim \
            and x._data.dtype.kind == "f":  # the common case, kept short: a full mean
        return Mean.apply(x, axes=None, keepdim=False)
    axes, keepdim = _dims("mean", x, dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = cast(x, dtype)
    if x._data.dtype.kind not in "fc":
        raise RuntimeError(
            f"mean: could not infer the output dtype: the input dtype must be floating "
            f"point, got {x._data.dtype} (convert with .float() or pass dtype=cr.float32)"
        )
    return Mean.apply(x, axes=axes, keepdim=keepdim)


# -- variance and standard deviation --------------------------------------------------


class Var(Op):
    """y = sum((x - mean(x))**2) / (N - correction) over the reduced dimensions."""

    save_inputs = (0,)
    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, axes: Axes, correction: float, keepdim: bool
                ) -> np.ndarray:
        self.axes, self.keepdim = axes, keepdim
        self.n = n = _count(x.shape, axes)
        self.dof = dof = n - correction if n > correction else 0
        if n == 0 or dof == 0:  # nan or inf, without a warning (PyTorch warns once)
            with np.errstate(invalid="ignore", divide="ignore"):
                return self._var(x, axes, keepdim, n, dof)
        return self._var(x, axes, keepdim, n, dof)

    def _var(self, x: np.ndarray, axes: Axes, keepdim: bool, n: int, dof: float
             ) -> np.ndarray:
        self.xc = xc = x - np.add.reduce(x, axis=axes, keepdims=True) / n
        return np.add.reduce(xc * xc, axis=axes, keepdims=keepdim) / dof

    def _centered(self) -> Any:
        """x - mean(x): saved by the forward, or recomputed (recorded) under create_graph."""
        x = self.input(0)
        if isinstance(x, Tensor):
            return x - x.sum(axis=self.axes, keepdims=True) / self.n
        return self.xc

    def backward(self, dY: Any) -> Any:
        """dx = dY * 2 (x - mean(x)) / (N - correction)  (*x) = (*y)(*x)"""
        g = _keep(dY, self.input_shapes[0], self.axes, self.keepdim)
        if self.dof == 0:
            with np.errstate(invalid="ignore"):
                return g * self._centered() * math.inf
        return g * self._centered() * (2 / self.dof)


class Std(Var):
    """y = sqrt(var(x)) over the reduced dimensions."""

    save_output = True

    def forward(self, x: np.ndarray, axes: Axes, correction: float, keepdim: bool
                ) -> np.ndarray:
        return np.sqrt(super().forward(x, axes, correction, keepdim))

    def backward(self, dY: Any) -> Any:
        """dx = dY * (x - mean(x)) / ((N - correction) Y)  (*x) = (*y)(*x)(*y)"""
        shape = self.input_shapes[0]
        g = _keep(dY, shape, self.axes, self.keepdim)
        y = _keep(self.output(), shape, self.axes, self.keepdim)
        zero = _math.data(y) == 0
        if zero.any():  # all x equal: x - mean(x) is 0 there, so the gradient is 0 too
            y = _math.where(zero, 1, y)
        if self.dof == 0:
            with np.errstate(divide="ignore", invalid="ignore"):
                return g * self._centered() / (y * self.dof)
        return g * self._centered() / (y * self.dof)


def _correction(op: str, unbiased: Any, correction: Any) -> float:
    if correction is not None:
        if unbiased is not None:
            raise TypeError(f"{op}: pass either 'unbiased' or 'correction', not both")
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        *, correction: float | None = None, axis: Any = None,
        keepdims: bool | None = None) -> Tensor:
    """Variance over ``dim``, divided by ``N - correction`` (PyTorch 2 semantics).

    Args:
        dim: an int, a tuple, or None for all dimensions.
        unbiased: False is ``correction=0`` (divide by N); True (default) is Bessel's
            ``correction=1``.
        correction: subtracted from N; if ``N - correction <= 0`` the result is inf or nan.
    """
    x = _tensor("var", input)
    if isinstance(dim, bool):  # var(x, False): the unbiased flag given positionally
        dim, unbiased = None, dim
    axes, keepdim = _dims("var", x, dim, keepdim, axis, keepdims)
    _check_float("var", x)
    return Var.apply(x, axes=axes, correction=_correction("var", unbiased, correction),
                     keepdim=keepdim)


def std(input: Tensor, dim: Any = None, unbiased: bool | None = None, keepdim: bool = False,
        *, correction: float | None = None, axis: Any = None,
        keepdims: bool | None = None) -> Tensor:
    """Standard deviation over ``dim``: ``sqrt(var(...))`` with the same arguments.

    Where the standard deviation is 0 its gradient is 0 (as in PyTorch), not nan.
    """
    x = _tensor("std", input)
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    axes, keepdim = _dims("std", x, dim, keepdim, axis, keepdims)
    _check_float("std", x)
    return Std.apply(x, axes=axes, correction=_correction("std", unbiased, correction),
                     keepdim=keepdim)


# -- logsumexp and prod ---------------------------------------------------------------


class Logsumexp(Op):
    """y = log(sum(exp(x))) over the reduced dimensions, computed as m + log(sum(exp(x - m)))."""

    save_inputs = (0,)
    save_output = True
    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, axes: Axes, keepdim: bool) -> np.ndarray:
        self.axes, self.keepdim = axes, keepdim
        if x.size == 0:  # an empty sum: log(0) = -inf
            self.m, self.s, self.quiet = 0, 1, False
            with np.errstate(divide="ignore"):
                return np.log(np.add.reduce(np.exp(x), axis=axes, keepdims=keepdim))
        m = np.maximum.reduce(x, axis=axes, keepdims=True)
        finite = np.isfinite(m)
        self.quiet = not finite.all()
        if self.quiet:  # slices of -inf (sum 0), or holding +inf or nan: shift those by 0
            m = np.where(finite, m, 0)
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                self.s = s = np.add.reduce(np.exp(x - m), axis=axes, keepdims=True)
                y = np.log(s) + m
        else:
            self.s = s = np.add.reduce(np.exp(x - m), axis=axes, keepdims=True)
            y = np.log(s) + m
        self.m = m
        if keepdim:
            return y
        return y.reshape(()) if axes is None else np.squeeze(y, axis=axes)

    def backward(self, dY: Any) -> Any:
        """dx = dY * exp(x - Y)  (*x) = (*y)(*x)"""
        # exp(x - Y) is the softmax of x over the reduced dimensions
        shape, axes, keepdim = self.input_shapes[0], self.axes, self.keepdim
        g = _keep(dY, shape, axes, keepdim)
        x = self.input(0)
        if isinstance(x, Tensor):  # recorded: differentiable in x, also through Y
            return g * _math.exp(x - _keep(self.output(), shape, axes, keepdim))
        # exp(x - Y) as PyTorch computes it, so float32 gradients equal PyTorch's where Y
        # is rounded (|x| ~ 1e4); -inf slices give exp(-inf - -inf) = nan, as PyTorch
        with np.errstate(invalid="ignore", over="ignore"):
            return g * np.exp(x - _keep(self.output(), shape, axes, keepdim))


def logsumexp(input: Tensor, dim: Any = None, keepdim: bool = False, *, axis: Any = None,
              keepdims: bool | None = None) -> Tensor:
    """``log(sum(exp(input), dim))``, stable for inputs of any size (1e4 is fine).

    ``dim`` (an int or a tuple) is required, as in PyTorch. Integer inputs give the
    default float dtype; an empty reduction gives -inf.
    """
    x = _tensor("logsumexp", input)
    if dim is None and axis is None:
        raise TypeError("logsumexp: missing the required argument 'dim' (an int or a tuple)")
    axes, keepdim = _dims("logsumexp", x, dim, keepdim, axis, keepdims)
    if x._data.dtype.kind in "biu":
        x = Tensor._make(x._data.astype(dtypes.get_default_dtype()))
    return Logsumexp.apply(x, axes=axes, keepdim=keepdim)


class Prod(Op):
    """y = the product of x over the reduced dimensions."""

    save_inputs = (0,)
    save_output = True
    shapes = {"x": "(*x)", "Y": "(*y)"}

    def forward(self, x: np.ndarray, axes: Axes, keepdim: bool, dtype: Any = None
                ) -> np.ndarray:
        self.axes, self.keepdim = axes, keepdim
        return np.multiply.reduce(x, axis=axes, dtype=dtype, keepdims=keepdim)

    def backward(self, dY: Any) -> Any:
        """dx = dY * Y / x  (*x) = (*y)(*y)(*x)"""
        shape, axes, keepdim = self.input_shapes[0], self.axes, self.keepdim
        x = self.input(0)
        g = _keep(dY, shape, axes, keepdim)
        zero = _math.data(x) == 0
        if not zero.any():
            return g * _keep(self.output(), shape, axes, keepdim) / x
        # The gradient of x_i is the product of the others: of the nonzero others (divide
        # by 1 in place of each zero), times the product of the zeros other than x_i. The
        # latter is 0 in value but not in derivative (create_graph), so keep the zeros as
        # factors: for a nonzero x_i, all the slice's zeros; for a zero x_i, the other zero
        # of a slice with two (their sum minus x_i), 1 with one, 0 with three or more
        # (whose derivative is 0 too: a product of at least two zeros).
        zeros = np.count_nonzero(zero, axis=axes, keepdims=True)
        x_safe = _math.where(zero, 1, x)
        x_zeros = _math.where(zero, x, 1)
        if isinstance(x, Tensor):
            nonzero_product = Prod.apply(x_safe, axes=axes, keepdim=True)
            zero_product = Prod.apply(x_zeros, axes=axes, keepdim=True)
        else:
            nonzero_product = np.multiply.reduce(x_safe, axis=axes, keepdims=True)
            zero_product = np.multiply.reduce(x_zeros, axis=axes, keepdims=True)
        other_zero = (zeros == 1).astype(zero_product.dtype)
        if (zeros == 2).any():
            pair_sum = _math.where(zero, x, 0).sum(axis=axes, keepdims=True)
            other_zero = _math.where(zeros == 2, pair_sum - x, other_zero)
        return g * nonzero_product / x_safe * _math.where(zero, other_zero, zero_product)


def prod(input: Tensor, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         axis: Any = None, keepdims: bool | None = None) -> Tensor:
    """Product over ``dim`` (an int, a tuple, or None for all dimensions).

    The gradient is exact with zeros in the input: where a slice holds one zero, that
    element's gradient is the product of the others. Integer tensors give int64.
    """
    x = _tensor("prod", input)
    axes, keepdim = _dims("prod", x, dim, keepdim, axis, keepdims)
    if dtype is not None:
        x = cast(x, dtype)
    int_dtype = np.int64 if x._data.dtype.kind in "biu" else None
    return Prod.apply(x, axes=axes, keepdim=keepdim, dtype=int_dtype)
