"""Small NumPy helpers shared by the optimizers of the Adam family: PyTorch's ``lerp``,
Adam's two moment updates and decoupled weight decay, computed in the same order as
PyTorch's CPU kernels. (The gradient a step uses is ``Optimizer._grad_for_update``.)"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["adam_moments_", "decay_weights_", "lerp_"]


def lerp_(m: np.ndarray, g: np.ndarray, weight: float) -> None:
    """``m <- lerp(m, g, weight)`` in place, with PyTorch's two branches (the second keeps
    ``lerp(m, g, 1) == g`` exact)."""
    if weight < 0.5:
        m += weight * (g - m)
    else:
        m[...] = g - (g - m) * (1 - weight)


def adam_moments_(m: np.ndarray, v: np.ndarray, g: np.ndarray, beta1: float,
                  beta2: float) -> None:
    """Adam's moments in place: ``m <- lerp(m, g, 1 - beta1)`` and
    ``v <- beta2 * v + ((1 - beta2) * g) * g``."""
    lerp_(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g


def decay_weights_(a: np.ndarray, weight_decay: float, decoupled: bool, shrink: Any) -> float:
    """Decoupled weight decay (AdamW's): if ``decoupled`` (and ``weight_decay != 0``),
    ``a <- a * shrink`` in place, ``shrink`` being ``1 - lr * weight_decay``.

    Returns the L2 coefficient the gradient still takes: ``weight_decay``, or 0 when the
    decay was decoupled.
    """
    if not decoupled:
        return weight_decay
    if weight_decay != 0:
        np.multiply(a, shrink, out=a)
    return 0.0
