"""``NAdam``: Adam with Nesterov momentum (Dozat, 2016), momentum decay as PyTorch's."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim._functional import adam_moments_, decay_weights_
from chainrule.optim.adam import Adam, _adam_options
from chainrule.optim.optimizer import Optimizer, ParamsT, _check_option
from chainrule.tensor import Tensor

__all__ = ["NAdam"]

#: NAdam's extra state: the product of the momentum factors, starting at 1
_MU_PRODUCT = (("mu_product", 1.0),)


class NAdam(Optimizer):
    r"""NAdam, with PyTorch's update equations.

    At step ``t``, for each parameter ``p`` with gradient ``g`` (``-g`` if ``maximize``)::

        p = p * (1 - lr * weight_decay)                if decoupled_weight_decay
        g = g + weight_decay * p                       otherwise
        mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_prod = mu_prod * mu_t                       (the product of mu_1 .. mu_t)
        m = m + (1 - beta1) * (g - m)
        v = beta2 * v + (1 - beta2) * g * g
        denom = sqrt(v / (1 - beta2**t)) + eps
        p = p - lr (1 - mu_t) / (1 - mu_prod) * g / denom
              - lr mu_{t+1} / (1 - mu_prod mu_{t+1}) * m / denom

    ``mu_product`` is kept as a 0-d tensor of the step's dtype (float32 unless float64 is
    the default dtype), as PyTorch keeps it, so its rounding is PyTorch's; loading a state
    dict casts it to the parameter's dtype, as PyTorch's ``load_state_dict`` does.

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: learning rate.
        betas: decay rates ``(beta1, beta2)``.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty (or decoupled decay).
        momentum_decay: the momentum schedule's decay ``psi``.
        decoupled_weight_decay: decay the weights directly (NAdamW).
        foreach, capturable, differentiable: accepted for PyTorch compatibility.
        maximize: ascend the objective instead of descending it.

    State per parameter: ``step``, ``mu_product``, ``exp_avg`` and ``exp_avg_sq``.
    """

    def __init__(self, params: ParamsT, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay,
                    "decoupled_weight_decay": decoupled_weight_decay, "maximize": maximize}
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        Adam._check_group(self, group)
        _check_option("NAdam", "momentum_decay value", group["momentum_decay"])

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        return (*_adam_options(group), float(group["momentum_decay"]),
                bool(group["decoupled_weight_decay"]))

    def _update(self, p: Tensor, lr: float, beta1: float, beta2: float, eps: float,
                weight_decay: float, maximize: bool, psi: float, decoupled: bool) -> None:
        """One NAdam update of parameter ``p``, in place on its array and state buffers."""
        state, t = self._step_state(p, "exp_avg", "exp_avg_sq", scalars=_MU_PRODUCT)
        a = p._data
        bias_correction2 = 1 - beta2**t
        l2 = decay_weights_(a, weight_decay, decoupled, 1 - lr * weight_decay)
        g = self._grad_for_update(a, p.grad._data, l2, maximize)
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * psi))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * psi))
        mu_prod_t = state["mu_product"]._data
        mu_prod_t *= mu  # in the state's own dtype, as PyTorch
        mu_prod = mu_prod_t.item()
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        adam_moments_(m, v, g, beta1, beta2)
        denom = np.sqrt(v / bias_correction2)
        denom += eps
        a += (-lr * (1.0 - mu) / (1.0 - mu_prod)) * g / denom
        a += (-lr * mu_next / (1.0 - mu_prod * mu_next)) * m / denom
