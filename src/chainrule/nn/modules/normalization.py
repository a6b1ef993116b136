"""``BatchNorm1d``: per-feature batch normalisation with running statistics, as PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

__all__ = ["BatchNorm1d"]


def _affine_parameters(module: Module, shape: Any, dt: Any, affine: bool, bias: bool) -> None:
    """A normalisation layer's ``weight`` (ones) and ``bias`` (zeros) of ``shape``, as
    PyTorch's: both None without ``affine``, the bias None with ``bias=False``."""
    if affine:
        module.weight = Parameter(np.ones(shape, dt))
        if bias:
            module.bias = Parameter(np.zeros(shape, dt))
        else:
            module.register_parameter("bias", None)
    else:
        module.register_parameter("weight", None)
        module.register_parameter("bias", None)


def _reset_affine(module: Module) -> None:
    """``weight`` back to ones and ``bias`` to zeros (each where it exists)."""
    if module.weight is not None:
        init.ones_(module.weight)
    if module.bias is not None:
        init.zeros_(module.bias)


class BatchNorm1d(Module):
    """Normalise each feature (channel) over the batch, then scale and shift.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``. In training the batch mean and
    biased variance are used and the running estimates are updated with ``momentum``
    (the running variance with the unbiased batch variance; ``momentum=None`` gives a
    cumulative average); in eval mode the running estimates are used.

    ``bias=False`` (keyword) keeps the scale but drops the shift, as PyTorch 2.x.

    Shape:
        input ``(N, C)`` or ``(N, C, L)`` -> output of the same shape.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: object = None,
                 dtype: object = None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        _affine_parameters(self, num_features, dt, affine, bias)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor._make(np.zeros(num_features, dt)))
            self.register_buffer("running_var", Tensor._make(np.ones(num_features, dt)))
            self.register_buffer("num_batches_tracked",
                                 Tensor._make(np.zeros((), np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0
            for t in (self.running_mean, self.running_var, self.num_batches_tracked):
                t._version[0] += 1

    def reset_parameters(self) -> None:
        self.reset_running_stats()
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim not in (2, 3):
            raise ValueError(f"BatchNorm1d: expected 2D or 3D input (got {input.ndim}D input "
                             f"of shape {tuple(input.shape)})")
        if input.shape[1] != self.num_features:  # a RuntimeError in PyTorch: both
            raise ShapeError(f"BatchNorm1d: input of shape {tuple(input.shape)} has "
                             f"{input.shape[1]} features (dim 1), expected "
                             f"{self.num_features}")
        return self._normalize(input)

    def _normalize(self, input: Tensor) -> Tensor:
        """``F.batch_norm`` with this layer's statistics (shared by BatchNorm1d and 2d)."""
        momentum = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            self.num_batches_tracked._version[0] += 1
            if self.momentum is None:  # cumulative moving average
                momentum = 1.0 / int(self.num_batches_tracked._data)
        use_batch_stats = self.training or self.running_mean is None
        stats = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if stats else None,
                            self.running_var if stats else None, self.weight, self.bias,
                            use_batch_stats, momentum, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")
