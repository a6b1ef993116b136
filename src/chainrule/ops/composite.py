"""Everyday functions composed of other ops: unbind, diag, trace, masked_select, addmm,
var_mean/std_mean, meshgrid, broadcast_tensors; and unique/nonzero (no gradient).

None of these has a node of its own: each is a few calls of recorded ops (``getitem``,
``index_add_zeros``, ``expand``, ``matmul``, ...), so its gradient comes from their rules
and ``cr.explain`` shows those steps.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.ops._errors import ShapeError
from chainrule.ops.getitem import getitem, index_add_zeros
from chainrule.ops.reduce import mean, std, var
from chainrule.ops.shape import _dim, broadcast_to
from chainrule.tensor import Tensor

__all__ = [
    "unbind", "diag", "diagonal", "trace", "masked_select", "addmm", "var_mean", "std_mean",
    "meshgrid", "broadcast_tensors", "unique", "nonzero", "argwhere", "addcmul", "addcdiv",
    "lerp", "logaddexp", "hypot", "clamp_min", "clamp_max", "mv", "select", "movedim",
    "moveaxis", "hstack", "vstack", "row_stack",
]


def _tensor(op: str, x: Any) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: expected a Tensor, got {type(x).__name__}")
    return x


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """The slices of ``input`` along ``dim``, each without that dimension."""
    x = _tensor("unbind", input)
    d = _dim("unbind", dim, x.ndim)
    return tuple(getitem(x, (slice(None),) * d + (i,)) for i in range(x.shape[d]))


def _diag_index(n_rows: int, n_cols: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.arange(max(0, -k), min(n_rows, n_cols - k))
    return rows, rows + k


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal ``offset`` of the 2-D slices over ``dim1, dim2`` (last dimension)."""
    x = _tensor("diagonal", input)
    d1, d2 = _dim("diagonal", dim1, x.ndim), _dim("diagonal", dim2, x.ndim)
    if (d1, d2) != (x.ndim - 2, x.ndim - 1):  # the two dimensions last
        x = x.permute([i for i in range(x.ndim) if i not in (d1, d2)] + [d1, d2])
    r, c = _diag_index(x.shape[-2], x.shape[-1], offset)
    return getitem(x, (Ellipsis, r, c))


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D input: the square matrix with ``input`` on diagonal ``diagonal``; 2-D input:
    that diagonal as a 1-D tensor."""
    x = _tensor("diag", input)
    if x.ndim == 2:
        r, c = _diag_index(x.shape[0], x.shape[1], diagonal)
        return getitem(x, (r, c))
    if x.ndim != 1:
        raise ShapeError(f"diag: expected a 1-D or 2-D tensor, got shape {tuple(x.shape)}")
    n = x.shape[0] + abs(diagonal)
    r, c = _diag_index(n, n, diagonal)
    return index_add_zeros((n, n), (r, c), x)


def trace(input: Tensor) -> Tensor:
    """The sum of the main diagonal of a 2-D tensor."""
    x = _tensor("trace", input)
    if x.ndim != 2:
        raise ShapeError(f"trace: expected a matrix, got shape {tuple(x.shape)}")
    return diag(x).sum()


def masked_select(input: Tensor, mask: Any) -> Tensor:
    """The elements of ``input`` where the boolean ``mask`` is True, as a 1-D tensor
    (input and mask broadcast together)."""
    x = _tensor("masked_select", input)
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select: expected a boolean mask, got dtype {m.dtype}")
    shape = np.broadcast_shapes(m.shape, tuple(x.shape))
    if tuple(x.shape) != shape:
        x = broadcast_to(x, shape)
    return getitem(x, np.broadcast_to(m, shape))


def addmm(input: Any, mat1: Tensor, mat2: Tensor, *, beta: Any = 1, alpha: Any = 1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    if _tensor("addmm", mat1).ndim != 2 or _tensor("addmm", mat2).ndim != 2:
        raise ShapeError(f"addmm: expected 2-D matrices, got shapes {tuple(mat1.shape)} and "
                         f"{tuple(mat2.shape)}")
    product = mat1 @ mat2
    product = product * alpha if alpha != 1 else product
    if beta == 0:
        return product
    return (input * beta if beta != 1 else input) + product


def var_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: float | None = None
             ) -> tuple[Tensor, Tensor]:
    """``(var(input, dim), mean(input, dim))`` with ``var``'s arguments."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input: Tensor, dim: Any = None, unbiased: bool | None = None,
             keepdim: bool = False, *, correction: float | None = None
             ) -> tuple[Tensor, Tensor]:
    """``(std(input, dim), mean(input, dim))`` with ``std``'s arguments."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def meshgrid(*tensors: Any, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors: with ``'ij'`` output k varies along dimension k;
    ``'xy'`` swaps the first two (NumPy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f"meshgrid: indexing must be 'ij' or 'xy', got {indexing!r}")
    ts = [_tensor("meshgrid", t).reshape(-1) for t in tensors]
    shape = [t.shape[0] for t in ts]
    if indexing == "xy" and len(ts) >= 2:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for k, t in enumerate(ts):
        axis = {0: 1, 1: 0}.get(k, k) if indexing == "xy" and len(ts) >= 2 else k
        view = [1] * len(ts)
        view[axis] = t.shape[0]
        out.append(broadcast_to(t.reshape(view), tuple(shape)))
    return tuple(out)


def broadcast_tensors(*tensors: Tensor) -> tuple[Tensor, ...]:
    """The tensors broadcast to their common shape (gradients summed back)."""
    shape = np.broadcast_shapes(*(tuple(_tensor("broadcast_tensors", t).shape)
                                  for t in tensors))
    return tuple(t if tuple(t.shape) == shape else broadcast_to(t, shape) for t in tensors)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None) -> Any:
    """The distinct elements, sorted (no gradient); optionally the inverse indices and the
    counts, as ``torch.unique``."""
    x = _tensor("unique", input)
    a = x._data
    if dim is None:
        vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        d = _dim("unique", dim, x.ndim)
        vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(-1)
    out: list[Tensor] = [Tensor._make(vals)]
    if return_inverse:
        out.append(Tensor._make(inv.astype(np.int64)))
    if return_counts:
        out.append(Tensor._make(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def nonzero(input: Tensor, *, as_tuple: bool = False) -> Any:
    """The indices of the nonzero elements: ``(N, ndim)`` int64, or one 1-D tensor per
    dimension with ``as_tuple=True``."""
    a = _tensor("nonzero", input)._data
    idx = np.nonzero(a) if a.ndim else np.nonzero(a.reshape(1))
    if as_tuple:
        return tuple(Tensor._make(i.astype(np.int64)) for i in idx)
    return Tensor._make(np.stack(idx, axis=1).astype(np.int64) if a.ndim
                        else np.zeros((int(a != 0), 0), np.int64))


def argwhere(input: Tensor) -> Tensor:
    return nonzero(input)


def addcmul(input: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 * tensor2``."""
    prod = tensor1 * tensor2
    return input + (prod * value if value != 1 else prod)


def addcdiv(input: Tensor, tensor1: Any, tensor2: Any, *, value: Any = 1) -> Tensor:
    """``input + value * tensor1 / tensor2``."""
    quot = tensor1 / tensor2
    return input + (quot * value if value != 1 else quot)


def lerp(input: Tensor, end: Any, weight: Any) -> Tensor:
    """``input + weight * (end - input)`` (e.g. an exponential moving average)."""
    return input + (end - input) * weight


def logaddexp(input: Tensor, other: Any) -> Tensor:
    """``log(exp(input) + exp(other))``, stable for large inputs."""
    from chainrule.ops.reduce import logsumexp
    from chainrule.ops.shape import stack

    a, b = broadcast_tensors(*(x if isinstance(x, Tensor) else Tensor._make(np.asarray(x))
                               for x in (input, other)))
    return logsumexp(stack([a, b]), 0)


def hypot(input: Tensor, other: Any) -> Tensor:
    """``sqrt(input**2 + other**2)`` elementwise."""
    from chainrule.ops.elementwise import sqrt

    return sqrt(input * input + other * other)


def clamp_min(input: Tensor, min: Any) -> Tensor:
    from chainrule.ops.elementwise import clamp

    return clamp(input, min=min)


def clamp_max(input: Tensor, max: Any) -> Tensor:
    from chainrule.ops.elementwise import clamp

    return clamp(input, max=max)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product ``input @ vec`` ((n, m) and (m,) give (n,))."""
    if _tensor("mv", input).ndim != 2 or _tensor("mv", vec).ndim != 1:
        raise ShapeError(f"mv: expected a matrix and a vector, got shapes "
                         f"{tuple(input.shape)} and {tuple(vec.shape)}")
    return input @ vec


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` along ``dim``, without that dimension."""
    x = _tensor("select", input)
    d = _dim("select", dim, x.ndim)
    return getitem(x, (slice(None),) * d + (int(index),))


def movedim(input: Tensor, source: Any, destination: Any) -> Tensor:
    """``input`` with dimensions ``source`` moved to ``destination`` (others keep order)."""
    x = _tensor("movedim", input)
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: source {src} and destination {dst} must have the same "
                           "number of dimensions")
    src = tuple(_dim("movedim", s, x.ndim) for s in src)
    dst = tuple(_dim("movedim", d, x.ndim) for d in dst)
    order = [n for n in range(x.ndim) if n not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return x.permute(order)


moveaxis = movedim


def _stack_along(op: str, tensors: Any, dim: int, min_ndim: int) -> Tensor:
    from chainrule.ops.shape import cat

    ts = [t.reshape(1, -1) if min_ndim == 2 and t.ndim < 2 else t for t in tensors]
    if min_ndim == 1:
        ts = [t.reshape(1) if t.ndim == 0 else t for t in ts]
        dim = 0 if ts and ts[0].ndim == 1 else dim
    return cat(ts, dim)


def hstack(tensors: Any) -> Tensor:
    """Concatenate along the second dimension (the first for 1-D tensors)."""
    return _stack_along("hstack", tensors, 1, 1)


def vstack(tensors: Any) -> Tensor:
    """Concatenate along the first dimension, 1-D tensors becoming rows."""
    return _stack_along("vstack", tensors, 0, 2)


row_stack = vstack
