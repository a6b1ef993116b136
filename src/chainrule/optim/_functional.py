"""Small NumPy helpers shared by the optimizers added beside Adam: PyTorch's ``lerp`` and
the gradient a step uses, computed in the same order as PyTorch's CPU kernels."""

from __future__ import annotations

import numpy as np

__all__ = ["lerp_", "step_grad"]


def lerp_(m: np.ndarray, g: np.ndarray, weight: float) -> None:
    """``m <- lerp(m, g, weight)`` in place, with PyTorch's two branches (the second keeps
    ``lerp(m, g, 1) == g`` exact)."""
    if weight < 0.5:
        m += weight * (g - m)
    else:
        m[...] = g - (g - m) * (1 - weight)


def step_grad(a: np.ndarray, g: np.ndarray, weight_decay: float, maximize: bool) -> np.ndarray:
    """``(-g if maximize else g) + weight_decay * a`` as a new array (``g`` is not changed)."""
    d = -g if maximize else g
    if weight_decay != 0:
        d = d + weight_decay * a
    return d
