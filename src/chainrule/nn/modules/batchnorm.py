"""``BatchNorm2d`` (per-channel batch normalisation of images) and ``GroupNorm``."""

from __future__ import annotations

from chainrule import dtypes
from chainrule.nn import functional as F
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.normalization import BatchNorm1d, _affine_parameters, _reset_affine
from chainrule.ops._errors import ShapeError
from chainrule.tensor import Tensor

__all__ = ["BatchNorm2d", "GroupNorm"]


class BatchNorm2d(BatchNorm1d):
    """Normalise each channel of ``(N, C, H, W)`` over the batch and the positions.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` per channel, the statistics over
    ``N*H*W`` values; running estimates as ``BatchNorm1d`` (same arguments, state dict).
    """

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim != 4:
            raise ValueError(f"BatchNorm2d: expected 4D input (got {input.ndim}D input of "
                             f"shape {tuple(input.shape)})")
        if input.shape[1] != self.num_features:
            raise ShapeError(f"BatchNorm2d: input of shape {tuple(input.shape)} has "
                             f"{input.shape[1]} channels (dim 1), expected {self.num_features}")
        return self._normalize(input)


class GroupNorm(Module):
    """Normalise groups of ``num_channels / num_groups`` channels per sample, then scale
    and shift each channel (``weight`` ones, ``bias`` zeros), as PyTorch.

    Shape: ``(N, C, *)`` -> the same.
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: object = None, dtype: object = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        if num_groups <= 0 or num_channels % num_groups:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        _affine_parameters(self, num_channels, dt, affine, bias)

    def reset_parameters(self) -> None:
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim < 2 or input.shape[1] != self.num_channels:
            raise ShapeError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected an "
                             f"input (N, {self.num_channels}, *), got shape "
                             f"{tuple(input.shape)}")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")
