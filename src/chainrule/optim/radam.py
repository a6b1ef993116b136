"""``RAdam``: Adam whose adaptive step is switched on once its variance is tractable."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from chainrule.optim._functional import adam_moments_, decay_weights_
from chainrule.optim.adam import Adam, _adam_options
from chainrule.optim.optimizer import Optimizer, ParamsT
from chainrule.tensor import Tensor

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2019), with PyTorch's update equations.

    At step ``t``, for each parameter ``p`` with gradient ``g`` (``-g`` if ``maximize``)::

        p = p * (1 - lr * weight_decay)                if decoupled_weight_decay
        g = g + weight_decay * p                       otherwise
        m = m + (1 - beta1) * (g - m);  v = beta2 * v + (1 - beta2) * g * g
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:  r = sqrt((rho_t-4)(rho_t-2) rho_inf / ((rho_inf-4)(rho_inf-2) rho_t))
                       p = p - lr * m / (1 - beta1**t) * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r
        else:          p = p - lr * m / (1 - beta1**t)

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: learning rate.
        betas: decay rates ``(beta1, beta2)``.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty (or decoupled decay).
        decoupled_weight_decay: decay the weights directly (RAdamW).
        foreach, capturable, differentiable: accepted for PyTorch compatibility.
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step``, ``exp_avg`` and ``exp_avg_sq``.
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    _check_group = Adam._check_group

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        return (*_adam_options(group), bool(group["decoupled_weight_decay"]))

    def _update(self, p: Tensor, lr: float, beta1: float, beta2: float, eps: float,
                weight_decay: float, maximize: bool, decoupled: bool) -> None:
        """One RAdam update of parameter ``p``, in place on its array and state buffers."""
        state, t = self._step_state(p, "exp_avg", "exp_avg_sq")
        a = p._data
        l2 = decay_weights_(a, weight_decay, decoupled, 1 - lr * weight_decay)
        g = self._grad_for_update(a, p.grad._data, l2, maximize)
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        adam_moments_(m, v, g, beta1, beta2)
        bias_correction1 = 1 - beta1**t
        bias_correction2 = 1 - beta2**t
        corrected = m / bias_correction1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * beta2**t / bias_correction2
        if rho_t > 5.0:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = bias_correction2**0.5 / (np.sqrt(v) + eps)
            a -= corrected * lr * adaptive * rect
        else:
            a -= corrected * lr
