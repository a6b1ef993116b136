"""``LayerNorm`` and ``RMSNorm``: per-sample normalisation over the trailing dims, as PyTorch."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.normalization import _affine_parameters, _reset_affine
from chainrule.nn.parameter import Parameter
from chainrule.ops.normalization import layer_norm, rms_norm
from chainrule.tensor import Tensor

__all__ = ["LayerNorm", "RMSNorm"]


def _shape(normalized_shape: Any) -> tuple[int, ...]:
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(int(n) for n in normalized_shape)


class LayerNorm(Module):
    """``y = (x - mean) / sqrt(var + eps) * weight + bias`` over the last dims of each sample.

    ``weight`` (ones) and ``bias`` (zeros) have shape ``normalized_shape``; ``bias=False``
    keeps the scale only, ``elementwise_affine=False`` neither.

    Shape:
        input ``(*, *normalized_shape)`` -> output of the same shape.
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        _affine_parameters(self, self.normalized_shape, dt, elementwise_affine, bias)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        return layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """``y = x / sqrt(mean(x**2) + eps) * weight`` over the last dims of each sample.

    ``eps=None`` uses the input dtype's machine epsilon, as PyTorch.
    """

    def __init__(self, normalized_shape: Any, eps: float | None = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dt))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self) -> None:
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input: Tensor) -> Tensor:
        return rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
