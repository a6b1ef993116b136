"""Dropout as a graph node: ``Y = X * mask / (1 - p)``, the mask drawn from chainrule's
seeded generator (``cr.manual_seed``), its backward the same mask: ``dX = dY * mask``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.random import _np_generator
from chainrule.tensor import Tensor

__all__ = ["dropout"]


class Dropout(Op):
    """Y = X * mask / (1 - p), each element kept with probability 1 - p."""

    shapes = {"X": "(*)", "Y": "(*)"}

    def forward(self, X: np.ndarray, p: float) -> np.ndarray:
        if p == 1:
            self.mask = np.zeros(X.shape, X.dtype)
        else:
            keep = _np_generator(None).random(X.shape, dtype=np.float32) >= p
            self.mask = keep * np.asarray(1 / (1 - p), X.dtype)  # 0 or 1/(1-p), X's dtype
        return X * self.mask

    def backward(self, dY: Any) -> Any:
        """dX = dY * mask / (1 - p)  (*) = (*)(*)"""
        return dY * self.mask




def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``.

    The mask comes from the default generator (``cr.manual_seed``). With ``training=False``
    or ``p=0`` the input is returned unchanged; ``p=1`` gives zeros.
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return input
    return Dropout.apply(input, p=float(p))

