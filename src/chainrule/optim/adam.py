"""``Adam`` (with AMSGrad) and ``AdamW`` (Adam with decoupled weight decay)."""

from __future__ import annotations

from typing import Any

import numpy as np

from chainrule.optim._functional import decay_weights_
from chainrule.optim.optimizer import Optimizer, ParamsT, _check_option

__all__ = ["Adam", "AdamW"]


def _adam_options(group: dict[str, Any]) -> tuple[float, float, float, float, float, bool]:
    """The options every optimizer of the Adam family reads once per step:
    ``(lr, beta1, beta2, eps, weight_decay, maximize)`` as floats and a bool."""
    beta1, beta2 = (float(b) for b in group["betas"])
    return (float(group["lr"]), beta1, beta2, float(group["eps"]),
            float(group["weight_decay"]), bool(group["maximize"]))


class Adam(Optimizer):
    r"""Adam, with PyTorch's update equations.

    At step ``t``, for each parameter ``p`` with gradient ``g`` (``-g`` if ``maximize``)::

        p = p * (1 - lr * weight_decay)        if decoupled_weight_decay (AdamW)
        g = g + weight_decay * p               otherwise (L2 penalty)
        m = m + (1 - beta1) * (g - m)          (first moment, a lerp towards g)
        v = beta2 * v + (1 - beta2) * g * g    (second moment)
        v_max = max(v_max, v)                  if amsgrad (and v_max replaces v below)
        denom = sqrt(v) / sqrt(1 - beta2**t) + eps
        p = p - (lr / (1 - beta1**t)) * m / denom

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: learning rate.
        betas: decay rates ``(beta1, beta2)`` of the first and second moments.
        eps: added to the denominator for numerical stability.
        weight_decay: L2 penalty (or decoupled decay with ``decoupled_weight_decay``).
        amsgrad: use the maximum of the past second moments (AMSGrad).
        maximize: ascend the objective instead of descending it.
        foreach: accepted for PyTorch compatibility; NumPy has a single implementation.
        decoupled_weight_decay: decay the weights directly, as AdamW does.

    State per parameter: ``step`` (a 0-d float tensor), ``exp_avg``, ``exp_avg_sq`` and,
    with amsgrad, ``max_exp_avg_sq``.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = {
            "lr": lr,
            "betas": betas,
            "eps": eps,
            "weight_decay": weight_decay,
            "amsgrad": amsgrad,
            "maximize": maximize,
            "decoupled_weight_decay": decoupled_weight_decay,
        }
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        name = type(self).__name__
        _check_option(name, "learning rate", group["lr"])
        _check_option(name, "epsilon value", group["eps"])
        betas = group["betas"]
        if not isinstance(betas, tuple | list) or len(betas) != 2:
            raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}")
        _check_option(name, "beta parameter at index 0", betas[0], high=1.0)
        _check_option(name, "beta parameter at index 1", betas[1], high=1.0)
        _check_option(name, "weight_decay value", group["weight_decay"])

    def _options(self, group: dict[str, Any]) -> tuple[Any, ...]:
        return (*_adam_options(group), bool(group["amsgrad"]),
                bool(group["decoupled_weight_decay"]))

    def _update(
        self,
        p: Any,
        lr: float,
        beta1: float,
        beta2: float,
        eps: float,
        weight_decay: float,
        maximize: bool,
        amsgrad: bool,
        decoupled: bool,
    ) -> None:
        """One Adam update of parameter ``p``, in place on its array and state buffers."""
        a = p._data
        state, step = self._step_state(p, "exp_avg", "exp_avg_sq",
                                       "max_exp_avg_sq" if amsgrad else None)
        m = state["exp_avg"]._data
        v = state["exp_avg_sq"]._data
        s0, s1 = self._scratch(a, 0), self._scratch(a, 1)
        one_m_b1, b2, one_m_b2, bc2_sqrt, eps_, neg_step_size, shrink = self._factors(
            a.dtype, lr, beta1, beta2, eps, weight_decay, step)
        l2 = decay_weights_(a, weight_decay, decoupled, shrink)  # p * (1 - lr * weight_decay)
        d = self._grad_for_update(a, p.grad._data, l2, maximize, s0)

        np.subtract(d, m, out=s1)  # m <- m + (1 - beta1) * (d - m)
        np.multiply(s1, one_m_b1, out=s1)
        np.add(m, s1, out=m)
        np.multiply(v, b2, out=v)  # v <- beta2 * v + ((1 - beta2) * d) * d
        np.multiply(d, one_m_b2, out=s1)
        np.multiply(s1, d, out=s1)
        np.add(v, s1, out=v)

        if amsgrad:
            v_max = self._buffer(p, "max_exp_avg_sq")  # made if amsgrad was switched on late
            np.maximum(v_max, v, out=v_max)
            v = v_max
        denom = np.sqrt(v, out=s1)  # sqrt(v) / sqrt(bc2) + eps
        np.divide(denom, bc2_sqrt, out=denom)
        np.add(denom, eps_, out=denom)
        update = np.multiply(m, neg_step_size, out=s0)  # (-step_size * m) / denom
        np.divide(update, denom, out=update)
        np.add(a, update, out=a)

    def _factors(self, dtype: Any, lr: float, beta1: float, beta2: float, eps: float,
                 weight_decay: float, step: float) -> tuple[np.ndarray, ...]:
        """The step's scalar factors as 0-d arrays of the parameters' dtype, made once per
        step and shared by its parameters: the same products as with Python floats (NumPy
        casts those to the array's dtype), without converting them in every ufunc call.

        ``(1 - beta1, beta2, 1 - beta2, sqrt(1 - beta2**t), eps, -lr / (1 - beta1**t),
        1 - lr * weight_decay)``.
        """
        cache = self.__dict__.setdefault("_factor_cache", {})
        key = (dtype, lr, beta1, beta2, eps, weight_decay, step)
        factors = cache.get(key)
        if factors is None:
            if len(cache) > 8:
                cache.clear()
            step_size = lr / (1 - beta1**step)
            bias_correction2_sqrt = (1 - beta2**step) ** 0.5
            factors = cache[key] = tuple(
                np.asarray(x, dtype) for x in (1 - beta1, beta2, 1 - beta2,
                                               bias_correction2_sqrt, eps, -step_size,
                                               1 - lr * weight_decay)
            )
        return factors


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    Each step first shrinks the weights, ``p = p * (1 - lr * weight_decay)``, then takes
    the Adam step with the plain gradient (see :class:`Adam` for the equations).

    Args:
        params: parameters, ``(name, parameter)`` pairs or parameter groups (dicts).
        lr: learning rate.
        betas: decay rates ``(beta1, beta2)`` of the first and second moments.
        eps: added to the denominator for numerical stability.
        weight_decay: decoupled weight decay coefficient.
        amsgrad: use the maximum of the past second moments (AMSGrad).
        maximize: ascend the objective instead of descending it.
        foreach: accepted for PyTorch compatibility; NumPy has a single implementation.
    """

    def __init__(
        self,
        params: ParamsT,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            decoupled_weight_decay=True,
        )
