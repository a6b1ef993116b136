"""``Adagrad``: per-coordinate steps scaled by the root of the summed squared gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, _check_option
from chainrule.tensor import Tensor

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, with PyTorch's update equations.

    At step ``t``, for each parameter ``p`` with gradient ``g`` (``-g`` if ``maximize``)::

        g = g + weight_decay * p
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g * g                           (sum, starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(s) + eps)

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: learning rate.
        lr_decay: learning-rate decay per step.
        weight_decay: L2 penalty added to the gradient.
        initial_accumulator_value: starting value of the sum of squared gradients.
        eps: added to the denominator for numerical stability.
        foreach: accepted for PyTorch compatibility; NumPy has a single implementation.
        maximize: ascend the objective instead of descending it.

    State per parameter (created at construction, as in PyTorch): ``step`` and ``sum``.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "lr_decay": lr_decay,
            "eps": eps,
            "weight_decay": weight_decay,
            "initial_accumulator_value": initial_accumulator_value,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_option("Adagrad", "learning rate", group["lr"])
        _check_option("Adagrad", "lr_decay value", group["lr_decay"])
        _check_option("Adagrad", "weight_decay value", group["weight_decay"])
        _check_option(
            "Adagrad", "initial_accumulator_value value", group["initial_accumulator_value"]
        )
        _check_option("Adagrad", "epsilon value", group["eps"])

    def _init_group_state(self, group: dict[str, Any]) -> None:
        for p in group["params"]:
            self._init_state(p, group)

    def _init_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        state = self.state[p]
        state["step"] = self._new_step()
        init = float(group["initial_accumulator_value"])
        state["sum"] = Tensor._make(np.full(p._data.shape, init, p._data.dtype))
        return state

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        return (
            float(group["lr"]),
            float(group["lr_decay"]),
            float(group["eps"]),
            float(group["weight_decay"]),
            bool(group["maximize"]),
            group,
        )

    def _update(self, p: Tensor, lr: float, lr_decay: float, eps: float, weight_decay: float,
                maximize: bool, group: dict[str, Any]) -> None:
        """One Adagrad update of parameter ``p``, in place on its array and state buffers."""
        state = self.state[p]
        if len(state) == 0:  # e.g. a state dict without this parameter was loaded
            state = self._init_state(p, group)
        step_t = state["step"]._data
        step_t += 1
        clr = lr / (1 + (step_t.item() - 1) * lr_decay)

        a = p._data
        s0, s1 = self._scratch(a, 0), self._scratch(a, 1)
        d = self._grad_for_update(a, p.grad._data, weight_decay, maximize, s0)
        acc = state["sum"]._data  # s <- s + d * d
        np.add(acc, np.multiply(d, d, out=s1), out=acc)
        std = np.sqrt(acc, out=s1)  # sqrt(s) + eps
        np.add(std, eps, out=std)
        update = np.multiply(d, -clr, out=s0)  # (-clr * d) / std
        np.divide(update, std, out=update)
        np.add(a, update, out=a)
