"""Reverse-mode automatic differentiation: ``backward``, ``grad``, ``Function`` and checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd.anomaly import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from chainrule.autograd.engine import accumulate_grad, run_backward
from chainrule.autograd.function import Function, FunctionCtx, Node, Op
from chainrule.autograd.grad_mode import (
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from chainrule.autograd.inference_mode import inference_mode
from chainrule.autograd.variable import Variable
from chainrule.tensor import Tensor

__all__ = [
    "backward", "grad", "Function", "FunctionCtx", "Node", "Op",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
    "gradcheck", "gradgradcheck", "GradcheckError",
    "inference_mode", "Variable",
]


def _as_seq(x: Any) -> list[Any]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _root_grads(outputs: list[Any], grad_outputs: list[Any], create_graph: bool,
                who: str) -> list[Any]:
    if grad_outputs and len(grad_outputs) != len(outputs):
        raise RuntimeError(
            f"{who}: got {len(grad_outputs)} gradients for {len(outputs)} outputs"
        )
    grads = []
    for k, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"{who}: output {k} is a {type(out).__name__}, not a Tensor")
        if not out.requires_grad:
            raise RuntimeError(
                f"{who}: element {k} of tensors does not require grad and does not have a "
                "grad_fn (was it computed under no_grad, or from tensors without "
                "requires_grad=True?)"
            )
        g = grad_outputs[k] if grad_outputs else None
        if g is None:
            if out._data.size != 1:
                raise RuntimeError(
                    f"{who}: grad can be implicitly created only for scalar outputs; output "
                    f"{k} has shape {tuple(out.shape)}: pass gradient= (a tensor of that shape)"
                )
            g = np.ones(out.shape, out.dtype)
        else:
            gdata = g._data if isinstance(g, Tensor) else np.asarray(g, dtype=out.dtype)
            if gdata.shape != out.shape:
                raise RuntimeError(
                    f"{who}: gradient of shape {tuple(gdata.shape)} does not match output "
                    f"{k} of shape {tuple(out.shape)}"
                )
            if gdata.dtype != out.dtype:
                gdata = gdata.astype(out.dtype)
            if create_graph and isinstance(g, Tensor):
                g = g if g.dtype == out.dtype else g.to(out.dtype)
            else:
                g = gdata
        if create_graph and not isinstance(g, Tensor):
            g = Tensor._make(g, False)
        grads.append(g)
    return grads


def backward(
    tensors: Any,
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Sequence[Any] | None = None,
) -> None:
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the graph's leaves."""
    outputs = _as_seq(tensors)
    grads = _root_grads(outputs, _as_seq(grad_tensors), create_graph, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    if inputs is not None:
        inputs = _as_seq(inputs)
        result = run_backward(outputs, grads, retain_graph, create_graph, inputs, True)
        for t, g in zip(inputs, result or [], strict=False):
            if g is not None:
                accumulate_grad(t, g, create_graph)
        return
    run_backward(outputs, grads, retain_graph, create_graph)


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple[Any, ...]:
    """The gradients of ``outputs`` with respect to ``inputs`` (no ``.grad`` is changed).

    With ``create_graph=True`` the returned gradients carry a graph of their own, so they
    can be differentiated again (Hessian-vector products, gradient penalties).
    """
    outs = _as_seq(outputs)
    ins = _as_seq(inputs)
    grads = _root_grads(outs, _as_seq(grad_outputs), create_graph, "autograd.grad")
    if retain_graph is None:
        retain_graph = create_graph
    result = run_backward(outs, grads, retain_graph, create_graph, ins, allow_unused) or []
    wrapped = []
    for g in result:
        if g is None or isinstance(g, Tensor):
            wrapped.append(g)
        else:
            wrapped.append(Tensor._make(g, False))
    return tuple(wrapped)


from chainrule.autograd.gradcheck import (  # noqa: E402
    GradcheckError,
    gradcheck,
    gradgradcheck,
)
