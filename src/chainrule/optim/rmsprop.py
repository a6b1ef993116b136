"""``RMSprop``: steps scaled by a running root-mean-square of the gradients."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim.optimizer import Optimizer, ParamsT, _check_option

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop, with PyTorch's update equations.

    For each parameter ``p`` with gradient ``g`` (``-g`` if ``maximize``)::

        g = g + weight_decay * p
        v = alpha * v + (1 - alpha) * g * g          (square_avg)
        avg = sqrt(v) + eps
        if centered:                                  (grad_avg, a lerp towards g)
            ga = ga + (1 - alpha) * (g - ga)
            avg = sqrt(v - ga * ga) + eps
        if momentum > 0:
            b = momentum * b + g / avg;  p = p - lr * b
        else:
            p = p - lr * g / avg

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: learning rate.
        alpha: smoothing constant of the running average of squared gradients.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty added to the gradient.
        momentum: momentum factor.
        centered: normalise by an estimate of the gradient's variance instead of its
            second moment.
        maximize: ascend the objective instead of descending it.
        foreach: accepted for PyTorch compatibility; NumPy has a single implementation.

    State per parameter: ``step``, ``square_avg``, ``momentum_buffer`` (if momentum > 0)
    and ``grad_avg`` (if centered).
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        defaults = {
            "lr": lr,
            "momentum": momentum,
            "alpha": alpha,
            "eps": eps,
            "centered": centered,
            "weight_decay": weight_decay,
            "maximize": maximize,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        _check_option("RMSprop", "learning rate", group["lr"])
        _check_option("RMSprop", "epsilon value", group["eps"])
        _check_option("RMSprop", "momentum value", group["momentum"])
        _check_option("RMSprop", "weight_decay value", group["weight_decay"])
        _check_option("RMSprop", "alpha value", group["alpha"])

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        return (
            float(group["lr"]),
            float(group["alpha"]),
            float(group["eps"]),
            float(group["weight_decay"]),
            float(group["momentum"]),
            bool(group["centered"]),
            bool(group["maximize"]),
        )

    def _update(
        self,
        p: Any,
        lr: float,
        alpha: float,
        eps: float,
        weight_decay: float,
        momentum: float,
        centered: bool,
        maximize: bool,
    ) -> None:
        """One RMSprop update of parameter ``p``, in place on its array and state buffers."""
        a = p._data
        state, _ = self._step_state(p, "square_avg", "momentum_buffer" if momentum > 0 else None,
                                    "grad_avg" if centered else None)
        s0, s1 = self._scratch(a, 0), self._scratch(a, 1)
        d = self._grad_for_update(a, p.grad._data, weight_decay, maximize, s0)

        v = state["square_avg"]._data  # v <- alpha * v + ((1 - alpha) * d) * d
        np.multiply(v, alpha, out=v)
        np.add(v, np.multiply(np.multiply(d, 1 - alpha, out=s1), d, out=s1), out=v)
        if centered:
            ga = self._buffer(p, "grad_avg")  # ga <- ga + (1 - alpha) * (d - ga)
            np.add(ga, np.multiply(np.subtract(d, ga, out=s1), 1 - alpha, out=s1), out=ga)
            avg = np.subtract(v, np.multiply(ga, ga, out=s1), out=s1)  # v - ga * ga
            np.sqrt(avg, out=avg)
        else:
            avg = np.sqrt(v, out=s1)
        np.add(avg, eps, out=avg)

        if momentum > 0:
            b = self._buffer(p, "momentum_buffer")  # b <- momentum * b + d / avg
            np.multiply(b, momentum, out=b)
            np.add(b, np.divide(d, avg, out=avg), out=b)
            update = np.multiply(b, -lr, out=s1)
        else:
            update = np.multiply(d, -lr, out=s0)  # (-lr * d) / avg
            np.divide(update, avg, out=update)
        np.add(a, update, out=a)
