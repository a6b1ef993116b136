"""``parameters_to_vector`` and ``vector_to_parameters``: all parameters as one flat
vector and back (for second-order methods, evolution strategies, weight averaging)."""

from __future__ import annotations

from collections.abc import Iterable

from chainrule.tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """The parameters flattened and concatenated, in order (differentiable, as PyTorch)."""
    from chainrule.ops.shape import cat

    flat = [p.reshape(-1) for p in parameters]
    if not flat:
        raise RuntimeError("parameters_to_vector: expected a non-empty list of Tensors")
    return cat(flat)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Set the parameters' values from consecutive slices of the 1-D ``vec``.

    As in PyTorch, each parameter's data becomes a view of ``vec``'s memory (no gradient
    flows; the parameters stay leaves).
    """
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p._data.size for p in params)
    if vec._data.ndim != 1 or vec._data.size != total:
        raise RuntimeError(f"vector_to_parameters: vec of shape {tuple(vec.shape)} does not "
                           f"match the parameters' {total} elements (expected a 1-D vector)")
    offset = 0
    for p in params:
        n = p._data.size
        p._data = vec._data[offset:offset + n].reshape(p._data.shape)
        p._version[0] += 1
        offset += n
