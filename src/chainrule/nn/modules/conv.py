"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``.

PyTorch's arguments, parameter names (``weight`` ``(C_out, C_in/groups, *k)``, for the
transposed layers ``(C_in, C_out/groups, *k)``; ``bias``), default initialisation
(``kaiming_uniform_(a=sqrt(5))``, bias ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and reprs,
so state dicts move both ways. Each ``forward`` calls ``F.conv*d``; shape errors name
the layer.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.nn import functional as F
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops._errors import ShapeError
from chainrule.ops.conv import _same_pads
from chainrule.ops.fold import ntuple
from chainrule.tensor import Tensor

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What every convolution layer shares: arguments, parameters, init and repr."""

    _dims = 2
    transposed = False

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, dilation: Any, groups: int, bias: bool, padding_mode: str,
                 output_padding: Any = 0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        name, d = type(self).__name__, self._dims
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer, got {groups}")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels must be divisible by groups (in_channels="
                             f"{in_channels}, groups={groups})")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels must be divisible by groups (out_channels="
                             f"{out_channels}, groups={groups})")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {list(_PADDING_MODES)}, but "
                             f"got padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = ntuple(kernel_size, d, "kernel_size", name)
        self.stride = ntuple(stride, d, "stride", name)
        self.dilation = ntuple(dilation, d, "dilation", name)
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: Invalid padding string {padding!r}, should be one "
                                 "of ['valid', 'same']")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError(f"{name}: padding='same' is not supported for strided "
                                 "convolutions")
            self.padding: Any = padding
        else:
            self.padding = ntuple(padding, d, "padding", name)
        self.output_padding = ntuple(output_padding, d, "output_padding", name)
        self.groups = groups
        self.padding_mode = padding_mode
        self.transposed = type(self).transposed
        if self.transposed:
            shape = (in_channels, out_channels // groups, *self.kernel_size)
        else:
            shape = (out_channels, in_channels // groups, *self.kernel_size)
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        self.weight = Parameter(np.empty(shape, dt))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dt))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's init: kaiming_uniform_(a=sqrt(5)), bias ~ U(-1/sqrt(fan_in), ...)."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.weight.shape[1] * math.prod(self.weight.shape[2:])
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _pad_pairs(self) -> tuple[int, ...]:
        """The explicit padding for ``F.pad`` (last dimension first), for non-zero modes."""
        if self.padding == "valid":
            return (0, 0) * self._dims
        if self.padding == "same":
            pairs = _same_pads(self.kernel_size, self.dilation)
        else:
            pairs = tuple((p, p) for p in self.padding)
        return tuple(v for lo_hi in reversed(pairs) for v in lo_hi)

    def _layer_error(self, err: ShapeError) -> ShapeError:
        return ShapeError(f"{self._repr_line()}: {err}")

    def _repr_line(self) -> str:
        return f"{type(self).__name__}({self.extra_repr()})"

    def extra_repr(self) -> str:
        d = self._dims
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * d:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * d:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * d:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, dilation: Any = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, 0, device, dtype)

    def forward(self, input: Tensor) -> Tensor:
        fn = F.conv1d if self._dims == 1 else F.conv2d
        try:
            if self.padding_mode != "zeros":
                x = F.pad(input, self._pad_pairs(), mode=self.padding_mode)
                return fn(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)
            return fn(input, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups)
        except ShapeError as e:
            raise self._layer_error(e) from None


class Conv1d(_Conv):
    """1-D convolution over ``(N, C_in, L)`` (or ``(C_in, L)``): ``Y = W @ im2col(X) + b``.

    Args: ``in_channels, out_channels, kernel_size, stride=1, padding=0`` (an int, or
    ``'valid'``/``'same'``), ``dilation=1, groups=1, bias=True, padding_mode='zeros'``
    (``'reflect'``, ``'replicate'``, ``'circular'``). Weight ``(C_out, C_in/groups, k)``.
    """

    _dims = 1


class Conv2d(_Conv):
    """2-D convolution over ``(N, C_in, H, W)`` (or ``(C_in, H, W)``): ``Y = W @ im2col(X) + b``.

    Args: ``in_channels, out_channels, kernel_size, stride=1, padding=0`` (an int, a pair,
    ``'valid'`` or ``'same'``), ``dilation=1, groups=1, bias=True, padding_mode='zeros'``
    (``'reflect'``, ``'replicate'``, ``'circular'``). Weight ``(C_out, C_in/groups, kH,
    kW)``, bias ``(C_out,)``, initialised as PyTorch's.

    Shape: ``(N, C_out, H', W')``, ``H' = (H + 2p - d(kH-1) - 1) // s + 1``.

    Example::

        >>> conv = nn.Conv2d(1, 6, 5, padding=2)
        >>> conv(cr.randn(64, 1, 28, 28)).shape
        (64, 6, 28, 28)
    """

    _dims = 2


class _ConvTranspose(_ConvNd):
    transposed = True

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1,
                 padding: Any = 0, output_padding: Any = 0, groups: int = 1, bias: bool = True,
                 dilation: Any = 1, padding_mode: str = "zeros", device: Any = None,
                 dtype: Any = None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'{type(self).__name__}: only "zeros" padding mode is supported, '
                             f"got {padding_mode!r}")
        if isinstance(padding, str):
            raise ValueError(f"{type(self).__name__}: padding must be an int or a tuple, got "
                             f"{padding!r}")
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, output_padding, device, dtype)

    def _output_padding(self, input: Tensor, output_size: Any) -> tuple[int, ...]:
        """The output_padding that gives ``output_size`` (PyTorch's rule), else the layer's."""
        if output_size is None:
            return self.output_padding
        d = self._dims
        size = tuple(output_size)[-d:]
        out = []
        for i in range(d):
            n = input.shape[input.ndim - d + i]
            smallest = ((n - 1) * self.stride[i] - 2 * self.padding[i]
                        + self.dilation[i] * (self.kernel_size[i] - 1) + 1)
            if not smallest <= size[i] < smallest + self.stride[i]:
                raise ValueError(f"{self._repr_line()}: requested an output size of {size}, "
                                 f"but valid sizes range from {smallest} to "
                                 f"{smallest + self.stride[i] - 1} (for an input of "
                                 f"{tuple(input.shape[2:])})")
            out.append(size[i] - smallest)
        return tuple(out)

    def forward(self, input: Tensor, output_size: Any = None) -> Tensor:
        fn = F.conv_transpose1d if self._dims == 1 else F.conv_transpose2d
        try:
            return fn(input, self.weight, self.bias, self.stride, self.padding,
                      self._output_padding(input, output_size), self.groups, self.dilation)
        except ShapeError as e:
            raise self._layer_error(e) from None


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution (the adjoint of Conv1d with respect to its input).

    Weight ``(C_in, C_out/groups, k)``; output length ``(L-1)s - 2p + d(k-1) +
    output_padding + 1``; ``forward(input, output_size=None)``.
    """

    _dims = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution (the adjoint of Conv2d with respect to its input).

    Weight ``(C_in, C_out/groups, kH, kW)``; output ``H' = (H-1)s - 2p + d(kH-1) +
    output_padding + 1``; ``forward(input, output_size=None)`` picks the output_padding
    that gives ``output_size``.
    """

    _dims = 2
