"""Recurrent layers: ``RNN``, ``LSTM``, ``GRU`` (stacked, bidirectional) and their cells, with
PyTorch's parameter names (``weight_ih_l0``, ``bias_hh_l1_reverse``), layouts, gate order
(i,f,g,o / r,z,n) and initialisation, so state dicts move both ways.

Each layer and direction is one node of ``ops/recurrent.py`` that runs the whole sequence;
its backward is backpropagation through time.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from chainrule import dtypes
from chainrule.nn import init
from chainrule.nn.modules.module import Module
from chainrule.nn.parameter import Parameter
from chainrule.ops import recurrent as R
from chainrule.ops import shape as _shape
from chainrule.ops.dropout import dropout as _dropout
from chainrule.tensor import Tensor

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def _run_layer(mode: str, x: Tensor, h0: Any, c0: Any, weights: list[Any],
               reverse: bool) -> tuple[Tensor, ...]:
    """One layer, one direction: (Y, h_T) or, for the LSTM, (Y, h_T, c_T)."""
    if mode == "LSTM":
        return R.LSTM.apply(x, h0, c0, *weights, reverse=reverse)
    if mode == "GRU":
        return R.GRU.apply(x, h0, *weights, reverse=reverse)
    return R.RNN.apply(x, h0, *weights, relu=mode == "RNN_RELU", reverse=reverse)


class RNNBase(Module):
    """The stacked, optionally bidirectional recurrent layer behind RNN, LSTM and GRU."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the "
                             "probability of an element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"dropout option adds dropout after all but last recurrent layer, so "
                          f"non-zero dropout expects num_layers greater than 1, but got "
                          f"dropout={dropout} and num_layers={num_layers}", stacklevel=2)
        if not isinstance(hidden_size, int) or hidden_size <= 0:
            raise ValueError(f"hidden_size must be a positive integer, got {hidden_size}")
        if num_layers <= 0:
            raise ValueError(f"num_layers must be greater than or equal to 1, got {num_layers}")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable "
                             "projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        G = _GATES[mode] * hidden_size
        D = 2 if bidirectional else 1
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        for layer in range(num_layers):
            for d in range(D):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                n_in = input_size if layer == 0 else real_hidden * D
                names = [("weight_ih" + suffix, (G, n_in)),
                         ("weight_hh" + suffix, (G, real_hidden))]
                if bias:
                    names += [("bias_ih" + suffix, (G,)), ("bias_hh" + suffix, (G,))]
                if proj_size:
                    names += [("weight_hr" + suffix, (proj_size, hidden_size))]
                for name, shape in names:
                    setattr(self, name, Parameter(np.empty(shape, dt)))
                    self._flat_weights_names.append(name)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """PyTorch compacts cuDNN's weights here; NumPy's are used as they are (a no-op)."""

    @property
    def all_weights(self) -> list[list[Parameter]]:
        per = (4 if self.bias else 2) + (1 if self.proj_size else 0)
        names = self._flat_weights_names
        return [[getattr(self, n) for n in names[k:k + per]] for k in range(0, len(names), per)]

    def _weights(self, layer: int, d: int) -> list[Any]:
        suffix = f"_l{layer}" + ("_reverse" if d else "")
        ws = [getattr(self, "weight_ih" + suffix), getattr(self, "weight_hh" + suffix)]
        if self.bias:
            ws += [getattr(self, "bias_ih" + suffix), getattr(self, "bias_hh" + suffix)]
        else:
            ws += [None, None]
        if self.mode == "LSTM":  # the projection of h (PyTorch's proj_size), or none
            ws.append(getattr(self, "weight_hr" + suffix) if self.proj_size else None)
        return ws

    def _check_input(self, input: Tensor) -> None:
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: Expected input to be 2D or 3D, got "
                             f"{input.ndim}D tensor of shape {tuple(input.shape)}")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{type(self).__name__}: input.size(-1) must be equal to "
                               f"input_size. Expected {self.input_size}, got {input.shape[-1]}")

    def _state(self, hx: Any, batched: bool, N: int, dtype: np.dtype, what: str) -> Any:
        """The initial state as ``(L*D, N, H)``: zeros when ``hx`` is None."""
        D = 2 if self.bidirectional else 1
        size = self.proj_size if self.proj_size and what == "hidden" else self.hidden_size
        expected = (self.num_layers * D, N, size)
        if hx is None:
            return np.zeros(expected, dtype)
        if not batched:
            if hx.ndim != 2:
                raise RuntimeError(f"{type(self).__name__}: for unbatched 2-D input, {what} "
                                   f"should also be 2-D but got {hx.ndim}-D tensor")
            hx = hx.unsqueeze(1)
        elif hx.ndim != 3:
            raise RuntimeError(f"{type(self).__name__}: for batched 3-D input, {what} should "
                               f"also be 3-D but got {hx.ndim}-D tensor")
        if tuple(hx.shape) != expected:
            raise RuntimeError(f"{type(self).__name__}: Expected {what} size {expected}, got "
                               f"{list(hx.shape)}")
        return hx

    def _forward(self, input: Tensor, h0: Any, c0: Any = None) -> tuple[Tensor, ...]:
        """Run the stack on ``(T, N, in)`` input; return output, h_n (and c_n)."""
        D = 2 if self.bidirectional else 1
        x = input
        hs, cs = [], []
        for layer in range(self.num_layers):
            outs = []
            for d in range(D):
                k = layer * D + d
                res = _run_layer(self.mode, x, h0[k], None if c0 is None else c0[k],
                                 self._weights(layer, d), reverse=bool(d))
                outs.append(res[0])
                hs.append(res[1])
                if c0 is not None:
                    cs.append(res[2])
            x = outs[0] if D == 1 else _shape.cat(outs, dim=2)  # (T,N,D*H)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = _dropout(x, self.dropout)
        h_n = _stack(hs)
        return (x, h_n) if c0 is None else (x, h_n, _stack(cs))

    def _prepare(self, input: Tensor) -> tuple[Tensor, bool]:
        self._check_input(input)
        batched = input.ndim == 3
        if not batched:
            input = input.unsqueeze(1)
        elif self.batch_first:
            input = input.transpose(0, 1)
        return input, batched

    def _restore(self, output: Tensor, batched: bool) -> Tensor:
        if not batched:
            return output.squeeze(1)
        return output.transpose(0, 1) if self.batch_first else output

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _stack(states: list[Tensor]) -> Tensor:
    return _shape.stack(states, dim=0)


class RNN(RNNBase):
    """Elman RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)`` (or relu).

    Shape: input ``(T, N, input_size)`` (``batch_first``: ``(N, T, ...)``; unbatched
    ``(T, input_size)``), h_0 ``(num_layers * D, N, hidden_size)`` -> output
    ``(T, N, D * hidden_size)``, h_n like h_0 (D = 2 if bidirectional else 1).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 nonlinearity: str = "tanh", bias: bool = True, batch_first: bool = False,
                 dropout: float = 0.0, bidirectional: bool = False, device: Any = None,
                 dtype: Any = None, *, proj_size: int = 0) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or "
                             f"'relu'.")
        self.nonlinearity = nonlinearity
        mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, batched = self._prepare(input)
        h0 = self._state(hx, batched, x.shape[1], x._data.dtype, "hidden")
        out, h_n = self._forward(x, h0)
        return self._restore(out, batched), h_n if batched else h_n.squeeze(1)


class LSTM(RNNBase):
    """Long short-term memory: input, forget, cell and output gates (i, f, g, o),
    ``c_t = f * c_{t-1} + i * g``, ``h_t = o * tanh(c_t)``.

    Shape: as RNN, with ``hx = (h_0, c_0)``; returns ``output, (h_n, c_n)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, proj_size: int = 0, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, dtype=dtype)

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x, batched = self._prepare(input)
        N, dt = x.shape[1], x._data.dtype
        if hx is not None and not (isinstance(hx, tuple | list) and len(hx) == 2):
            raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
        h0 = self._state(None if hx is None else hx[0], batched, N, dt, "hidden")
        c0 = self._state(None if hx is None else hx[1], batched, N, dt, "cell")
        out, h_n, c_n = self._forward(x, h0, c0)
        if not batched:
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return self._restore(out, batched), (h_n, c_n)


class GRU(RNNBase):
    """Gated recurrent unit: reset and update gates (r, z) and candidate n,
    ``h_t = (1 - z) * n + z * h_{t-1}``. Shapes as RNN."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0,
                 bidirectional: bool = False, device: Any = None, dtype: Any = None, *,
                 proj_size: int = 0) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout,
                         bidirectional, proj_size, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> tuple[Tensor, Tensor]:
        x, batched = self._prepare(input)
        h0 = self._state(hx, batched, x.shape[1], x._data.dtype, "hidden")
        out, h_n = self._forward(x, h0)
        return self._restore(out, batched), h_n if batched else h_n.squeeze(1)


# -- cells: one time step ------------------------------------------------------------------


class RNNCellBase(Module):
    """One step of a recurrent layer: parameters ``weight_ih (G*H, in)``,
    ``weight_hh (G*H, H)``, ``bias_ih``, ``bias_hh`` (G = 1, 4 or 3), U(-1/sqrt(H), 1/sqrt(H))."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, gates: int,
                 dtype: Any = None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
        G = gates * hidden_size
        self.weight_ih = Parameter(np.empty((G, input_size), dt))
        self.weight_hh = Parameter(np.empty((G, hidden_size), dt))
        if bias:
            self.bias_ih = Parameter(np.empty(G, dt))
            self.bias_hh = Parameter(np.empty(G, dt))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for p in self.parameters():
            init.uniform_(p, -stdv, stdv)

    def _check(self, input: Tensor, hx: Any) -> tuple[Tensor, bool]:
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        if input.shape[-1] != self.input_size:
            raise RuntimeError(f"{name}: input has inconsistent input_size: got "
                               f"{input.shape[-1]} expected {self.input_size}")
        batched = input.ndim == 2
        return (input if batched else input.unsqueeze(0)), batched

    def _hidden(self, h: Any, batched: bool, N: int, dtype: np.dtype) -> Any:
        if h is None:
            return np.zeros((N, self.hidden_size), dtype)
        h = h if batched else h.unsqueeze(0)
        if tuple(h.shape) != (N, self.hidden_size):
            raise RuntimeError(f"{type(self).__name__}: hidden state of shape "
                               f"{tuple(h.shape)}, expected {(N, self.hidden_size)}")
        return h

    def _weights(self) -> list[Any]:
        return [self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        nonlinearity = getattr(self, "nonlinearity", "tanh")
        return s + (f", nonlinearity={nonlinearity}" if nonlinearity != "tanh" else "")


class RNNCell(RNNCellBase):
    """``h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)`` (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 nonlinearity: str = "tanh", device: Any = None, dtype: Any = None) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, 1, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._check(input, hx)
        h = self._hidden(hx, batched, x.shape[0], x._data.dtype)
        _, h1 = R.RNN.apply(x.unsqueeze(0), h, *self._weights(),
                            relu=self.nonlinearity == "relu")
        return h1 if batched else h1.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: returns ``(h', c')``; gates i, f, g, o stacked in ``weight_ih``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, dtype)

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        x, batched = self._check(input, hx)
        N, dt = x.shape[0], x._data.dtype
        h = self._hidden(None if hx is None else hx[0], batched, N, dt)
        c = self._hidden(None if hx is None else hx[1], batched, N, dt)
        _, h1, c1 = R.LSTM.apply(x.unsqueeze(0), h, c, *self._weights())
        return (h1, c1) if batched else (h1.squeeze(0), c1.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step: gates r, z and candidate n stacked in ``weight_ih``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        x, batched = self._check(input, hx)
        h = self._hidden(hx, batched, x.shape[0], x._data.dtype)
        _, h1 = R.GRU.apply(x.unsqueeze(0), h, *self._weights())
        return h1 if batched else h1.squeeze(0)
