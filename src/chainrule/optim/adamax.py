"""``Adamax``: Adam with the infinity norm of past gradients in the denominator."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim._functional import lerp_
from chainrule.optim.adam import Adam, _adam_options
from chainrule.optim.optimizer import Optimizer, ParamsT
from chainrule.tensor import Tensor

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2014, section 7), with PyTorch's update equations.

    At step ``t``, for each parameter ``p`` with gradient ``g`` (``-g`` if ``maximize``)::

        g = g + weight_decay * p
        m = m + (1 - beta1) * (g - m)                 (exp_avg, a lerp towards g)
        u = max(beta2 * u, |g| + eps)                 (exp_inf)
        p = p - lr / (1 - beta1**t) * m / u

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: learning rate.
        betas: decay rates ``(beta1, beta2)``.
        eps: added to ``|g|`` for numerical stability.
        weight_decay: L2 penalty added to the gradient.
        foreach, differentiable, capturable: accepted for PyTorch compatibility.
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step``, ``exp_avg`` and ``exp_inf``.
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "maximize": maximize}
        super().__init__(params, defaults)

    _check_group = Adam._check_group

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        return _adam_options(group)

    def _update(self, p: Tensor, lr: float, beta1: float, beta2: float, eps: float,
                weight_decay: float, maximize: bool) -> None:
        """One Adamax update of parameter ``p``, in place on its array and state buffers."""
        state, t = self._step_state(p, "exp_avg", "exp_inf")
        a = p._data
        g = self._grad_for_update(a, p.grad._data, weight_decay, maximize)
        m, u = state["exp_avg"]._data, state["exp_inf"]._data
        lerp_(m, g, 1 - beta1)
        u *= beta2
        np.maximum(u, np.abs(g) + eps, out=u)
        clr = lr / (1 - beta1**t)
        a += (-clr * m) / u
