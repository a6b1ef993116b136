"""``SGD``: stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, _check_option
from chainrule.tensor import Tensor

__all__ = ["SGD"]

#: elements per block of the update of a large parameter (256 KiB of float32)
_BLOCK = 65536


class SGD(Optimizer):
    r"""Stochastic gradient descent, with PyTorch's update equations.

    For each parameter ``p`` with gradient ``g`` (``-g`` if ``maximize``)::

        g = g + weight_decay * p
        b = g                                    (first step: a copy of g)
        b = momentum * b + (1 - dampening) * g   (later steps)
        g = g + momentum * b  if nesterov  else  b        (only if momentum != 0)
        p = p - lr * g

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: learning rate.
        momentum: momentum factor (0 disables the buffer).
        dampening: dampening of the gradient's contribution to the momentum.
        weight_decay: L2 penalty added to the gradient.
        nesterov: use Nesterov momentum (needs ``momentum > 0`` and ``dampening == 0``).
        maximize: ascend the objective instead of descending it.
        foreach: accepted for PyTorch compatibility; NumPy has a single implementation.

    Examples:
        >>> opt = cr.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        >>> opt.zero_grad()
        >>> loss_fn(model(x), y).backward()
        >>> opt.step()
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "dampening": dampening,
            "weight_decay": weight_decay,
            "nesterov": nesterov,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_option("SGD", "learning rate", group["lr"])
        _check_option("SGD", "momentum value", group["momentum"])
        _check_option("SGD", "weight_decay value", group["weight_decay"])
        _check_option("SGD", "dampening value", group["dampening"], low=-float("inf"))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                "SGD: Nesterov momentum requires a momentum and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        # the factors as 0-d arrays of each parameter dtype, made on first use: the same
        # products as with Python floats (NumPy casts those to the array's dtype), without
        # converting them in every ufunc call (half the time on small arrays)
        factors: dict[Any, tuple[np.ndarray, np.ndarray]] = {}
        return (
            float(group["lr"]),
            float(group["momentum"]),
            float(group["dampening"]),
            float(group["weight_decay"]),
            bool(group["nesterov"]),
            bool(group["maximize"]),
            factors,
        )

    def _update(self, p: Tensor, lr: float, momentum: float, dampening: float,
                weight_decay: float, nesterov: bool, maximize: bool,
                factors: dict[Any, tuple[np.ndarray, np.ndarray]]) -> None:
        """One SGD update of parameter ``p``, in place on its array and momentum buffer."""
        a = p._data
        f = factors.get(a.dtype)
        if f is None:
            f = factors[a.dtype] = (np.asarray(momentum, a.dtype), np.asarray(-lr, a.dtype))
        d = p.grad._data
        if weight_decay != 0 or maximize:
            d = self._grad_for_update(a, d, weight_decay, maximize, self._scratch(a, 0))
        if momentum != 0:
            d = self._momentum(p, d, f[0], dampening, nesterov)
        if a.size <= _BLOCK or not (a.flags.c_contiguous and d.flags.c_contiguous):
            np.add(a, np.multiply(d, f[1]), out=a)  # p + (-lr) * d
        else:  # the same, block by block: the temporary stays small (no parameter-sized one)
            flat_a, flat_d = a.reshape(-1), d.reshape(-1)
            tmp = self._scratch(flat_a[:_BLOCK], 2)
            for k in range(0, a.size, _BLOCK):
                part = flat_a[k:k + _BLOCK]
                t = np.multiply(flat_d[k:k + _BLOCK], f[1], out=tmp[:part.size])
                np.add(part, t, out=part)

    def _momentum(
        self, p: Tensor, d: np.ndarray, momentum: Any, dampening: float, nesterov: bool
    ) -> np.ndarray:
        """Update ``p``'s momentum buffer with ``d``; return the direction to step along."""
        state = self.state[p]
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = Tensor._make(d.copy())
            b = buf._data
        else:
            b = buf._data
            np.multiply(b, momentum, out=b)
            if dampening != 0:
                np.add(b, np.multiply(d, 1 - dampening, out=self._scratch(b, 1)), out=b)
            else:
                np.add(b, d, out=b)
        if not nesterov:
            return b
        ahead = np.multiply(b, momentum, out=self._scratch(b, 1))
        return np.add(d, ahead, out=ahead)  # d + momentum * b
