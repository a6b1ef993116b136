"""``Adadelta``: steps scaled by the ratio of running RMS of updates and of gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, _check_option
from chainrule.tensor import Tensor

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), with PyTorch's update equations.

    At each step, for each parameter ``p`` with gradient ``g`` (``-g`` if ``maximize``)::

        g = g + weight_decay * p
        v = rho * v + (1 - rho) * g * g                 (square_avg)
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta         (acc_delta)
        p = p - lr * delta

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: coefficient that scales delta before it is applied.
        rho: decay rate of the running averages.
        eps: added inside both square roots.
        weight_decay: L2 penalty added to the gradient.
        foreach, capturable, differentiable: accepted for PyTorch compatibility.
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step``, ``square_avg`` and ``acc_delta``.
    """

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False) -> None:
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_option("Adadelta", "learning rate", group["lr"])
        rho = group["rho"]
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Adadelta: Invalid rho value: {rho} (expected 0 <= rho <= 1)")
        _check_option("Adadelta", "epsilon value", group["eps"])
        _check_option("Adadelta", "weight_decay value", group["weight_decay"])

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        return (float(group["lr"]), float(group["rho"]), float(group["eps"]),
                float(group["weight_decay"]), bool(group["maximize"]))

    def _update(self, p: Tensor, lr: float, rho: float, eps: float, weight_decay: float,
                maximize: bool) -> None:
        """One Adadelta update of parameter ``p``, in place on its array and state buffers."""
        state, _ = self._step_state(p, "square_avg", "acc_delta")
        a = p._data
        g = self._grad_for_update(a, p.grad._data, weight_decay, maximize)
        v, u = state["square_avg"]._data, state["acc_delta"]._data
        v *= rho
        v += (1 - rho) * g * g
        std = np.sqrt(v + eps)
        delta = np.sqrt(u + eps)
        delta /= std
        delta *= g
        u *= rho
        u += (1 - rho) * delta * delta
        a += -lr * delta
