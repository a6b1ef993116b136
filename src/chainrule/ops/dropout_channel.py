"""Channel dropout (``F.dropout1d``, ``F.dropout2d``): whole feature maps are zeroed.

``Y = X * mask / (1 - p)`` with one mask value per ``(sample, channel)``, broadcast over the
spatial dimensions; the backward is the same product: ``dX = dY * mask / (1 - p)``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from chainrule.autograd.function import Op
from chainrule.ops._errors import ShapeError
from chainrule.random import _np_generator
from chainrule.tensor import Tensor

__all__: list[str] = []  # the functional forms live in nn.functional


class ChannelDropout(Op):
    """Y = X * mask / (1 - p), one mask value per channel of each sample."""

    shapes = {"X": "(N,C,*S)", "Y": "(N,C,*S)"}

    def forward(self, X: np.ndarray, p: float) -> np.ndarray:
        shape = X.shape[:2] + (1,) * (X.ndim - 2)
        if p == 1:
            self.mask = np.zeros(shape, X.dtype)
        else:
            keep = _np_generator(None).random(shape, dtype=np.float32) >= p
            self.mask = keep * np.asarray(1 / (1 - p), X.dtype)
        return X * self.mask

    def backward(self, dY: Any) -> Any:
        """dX = dY * mask / (1 - p)  (N,C,*S) = (N,C,*S)(N,C,1)"""
        return dY * self.mask


def _channel_dropout(op: str, d: int, input: Tensor, p: float, training: bool) -> Tensor:
    if not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")
    x = input
    if x.ndim not in (d + 1, d + 2):
        if d == 1:
            raise ShapeError(f"{op}: Expected 2D or 3D input, but received a {x.ndim}D input "
                             f"of shape {tuple(x.shape)}. Note that dropout1d exists to "
                             "provide channel-wise dropout on inputs with 1 spatial dimension")
        warnings.warn(f"{op}: Received a {x.ndim}-D input of shape {tuple(x.shape)}; expected "
                      "(N, C, H, W) or (C, H, W). Channels are taken as dimension 1.",
                      UserWarning, stacklevel=3)
    elif d == 2 and x.ndim == 3:
        warnings.warn(f"{op}: Received a 3D input to dropout2d and assuming that channel-wise "
                      "1D dropout behavior is desired - input is interpreted as shape (N, C, "
                      "L). In the future, it will be (C, H, W); use dropout1d for (N, C, L).",
                      UserWarning, stacklevel=3)
    if not training or p == 0:
        return input
    if d == 1 and x.ndim == 2:  # unbatched (C, L)
        return ChannelDropout.apply(x.unsqueeze(0), p=float(p)).squeeze(0)
    return ChannelDropout.apply(x, p=float(p))


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of ``(N, C, L)`` or ``(C, L)`` with probability ``p``, scaling
    the rest by ``1/(1-p)`` (the default generator draws the mask)."""
    return _channel_dropout("dropout1d", 1, input, p, training)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (feature maps) of ``(N, C, H, W)`` with probability ``p``, scaling
    the rest by ``1/(1-p)``. A 3-D input is taken as ``(N, C, L)``, as PyTorch does."""
    return _channel_dropout("dropout2d", 2, input, p, training)
