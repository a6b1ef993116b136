"""Gradient clipping: ``clip_grad_norm_`` (rescale all gradients so their joint norm is at
most ``max_norm``) and ``clip_grad_value_`` (clamp each gradient entry), as PyTorch's.

Both work in place on the ``.grad`` arrays, outside any graph; a gradient array that is
read-only (a broadcast view handed out by backward) is replaced by a scaled copy.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterable

import numpy as np

from chainrule import dtypes as _dtypes
from chainrule.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]

TensorsT = Tensor | Iterable[Tensor]


def _tensors(parameters: TensorsT) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def _norm(a: np.ndarray, p: float) -> np.ndarray:
    """The p-norm of all entries of ``a``, as a 0-d array of ``a``'s dtype."""
    x = np.abs(a.reshape(-1))
    if x.size == 0:
        return np.zeros((), a.dtype)
    if p == math.inf:
        return np.asarray(x.max())
    if p == -math.inf:
        return np.asarray(x.min())
    if p == 0:
        return np.asarray((x != 0).sum(), a.dtype)
    if p == 1:
        return np.asarray(x.sum())
    if p == 2:
        return np.asarray(np.sqrt(np.dot(x, x) if x.dtype.kind == "f" else (x * x).sum()))
    return np.asarray((x**p).sum() ** (1.0 / p), a.dtype)


def get_total_norm(tensors: TensorsT, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of the norms of ``tensors`` (= the norm of all their entries
    taken as one vector); 0 for no tensors."""
    arrays = [t._data for t in _tensors(tensors) if t is not None]
    norm_type = float(norm_type)
    if not arrays:
        return Tensor._make(np.zeros((), _dtypes.get_default_dtype()))
    norms = [_norm(a, norm_type) for a in arrays]
    dtype = np.result_type(*norms)
    total = _norm(np.stack([n.astype(dtype) for n in norms]), norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`")
    return Tensor._make(total)


def clip_grads_with_norm_(parameters: TensorsT, max_norm: float, total_norm: Tensor | float,
                          foreach: bool | None = None) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))``, in place."""
    params = [p for p in _tensors(parameters) if p.grad is not None]
    if not params:
        return
    total = total_norm._data if isinstance(total_norm, Tensor) else np.asarray(total_norm)
    coef = np.minimum(float(max_norm) / (total + 1e-6), 1.0)
    for p in params:
        g = p.grad._data
        scale = coef.astype(g.dtype) if g.dtype.kind == "f" else coef
        if g.flags.writeable:
            np.multiply(g, scale, out=g)
            p.grad._version[0] += 1
        else:
            p.grad = Tensor._make(g * scale)


def clip_grad_norm_(parameters: TensorsT, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale the gradients of ``parameters`` in place so that their total norm (as one
    vector) is at most ``max_norm``; return the total norm before clipping.

    Args:
        parameters: a tensor or an iterable of tensors whose ``.grad`` is clipped.
        max_norm: the largest allowed total norm.
        norm_type: the p of the p-norm (``float("inf")`` for the largest entry).
        error_if_nonfinite: raise RuntimeError if the total norm is nan or inf.
        foreach: accepted for PyTorch compatibility.

    The gradients are multiplied by ``min(1, max_norm / (total_norm + 1e-6))``.
    """
    params = _tensors(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(params, max_norm, total, foreach)
    return total


def clip_grad_norm(parameters: TensorsT, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated spelling of :func:`clip_grad_norm_` (it warns, as PyTorch)."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters: TensorsT, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient entry of ``parameters`` to ``[-clip_value, clip_value]``."""
    clip_value = float(clip_value)
    for p in _tensors(parameters):
        if p.grad is None:
            continue
        g = p.grad._data
        if g.flags.writeable:
            np.clip(g, -clip_value, clip_value, out=g)
            p.grad._version[0] += 1
        else:
            p.grad = Tensor._make(np.clip(g, -clip_value, clip_value))


