"""Tracing: run the model once and translate every op it applies, as it applies it.

Every built-in differentiable operation goes through ``Op.apply`` (see
:mod:`chainrule.autograd.function`). While a :class:`Tracer` is active, ``Op.apply`` is
wrapped: after the op has run, its class is looked up in the translation table and its
ONNX nodes are appended to the graph at once. An op without a translation therefore
raises inside the model's forward, where ``Module.__call__`` prefixes the error with the
path of the submodule that ran it (``model.1 (LeakyReLU(...)): ...``).

Operands are matched to graph values by identity: a tensor an earlier op produced, a
graph input, a parameter or buffer of the model (an initializer named by its state-dict
name), else a constant frozen at its traced value. Gradient recording stays on, so a
tensor updated in place under recording (which takes the new op's ``grad_fn``) is still
found; ``autograd.Function`` calls are traced through their forward.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from chainrule.autograd.function import Function, Op
from chainrule.onnx._errors import UnsupportedOperatorError
from chainrule.onnx._graph import Graph
from chainrule.onnx._translate import Arg, translation_for
from chainrule.tensor import Tensor

__all__ = ["Tracer"]

_lock = threading.Lock()  # one trace at a time: the wrapper is installed process-wide


class Tracer:
    """Maps the tensors of one forward pass to the values of ``graph``."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self._thread = threading.get_ident()
        # id(tensor) -> (tensor, name, version): the tensor is kept alive so ids stay unique
        self._values: dict[int, tuple[Tensor, str, int]] = {}
        # (id(grad_fn), output_nr) -> (grad_fn, name): finds tensors rebased by an in-place op
        self._nodes: dict[tuple[int, int], tuple[Any, str]] = {}
        # id(ndarray) -> (ndarray, name): finds wrappers of a traced array (Function outputs)
        self._arrays: dict[int, tuple[np.ndarray, str]] = {}
        graph.traced_array = self.traced_array

    # -- binding and resolving ------------------------------------------------------
    def bind(self, t: Tensor, name: str) -> None:
        """Record that tensor ``t`` (as it is now) is the graph value ``name``."""
        self._values[id(t)] = (t, name, t._version[0])
        if t.grad_fn is not None:
            self._nodes[(id(t.grad_fn), t._output_nr)] = (t.grad_fn, name)
        self._arrays[id(t._data)] = (t._data, name)

    def traced_array(self, a: np.ndarray) -> str | None:
        """The graph value whose array ``a`` is (an op handed a tensor's ``._data`` on)."""
        hit = self._arrays.get(id(a))
        return None if hit is None else hit[1]

    def resolve(self, x: Any) -> Arg:
        """The operand ``x`` of an op as a graph value, or as a constant."""
        if x is None:
            return Arg("", None)
        if not isinstance(x, Tensor):
            if isinstance(x, np.ndarray):
                name = self.traced_array(x)  # e.g. where(mask, ...) with a mask input
                return Arg(name, x) if name is not None else Arg(None, x.copy())
            return Arg(None, x.item() if isinstance(x, np.generic) else x)
        entry = self._values.get(id(x))
        if entry is not None and entry[2] == x._version[0]:
            return Arg(entry[1], x._data)
        if x.grad_fn is not None:
            hit = self._nodes.get((id(x.grad_fn), x._output_nr))
            if hit is not None:
                return Arg(hit[1], x._data)
        if entry is not None:
            raise UnsupportedOperatorError(
                f"onnx.export: a tensor of shape {tuple(x.shape)} (the graph value "
                f"{entry[1]!r}) was changed in place outside a recorded operation, which "
                "export cannot follow; compute a new tensor instead (y = x + 1, not x += 1)"
            )
        hit = self._arrays.get(id(x._data))
        if hit is not None:  # shares the array of a traced value: x.detach(), Function output
            return Arg(hit[1], x._data)
        state = self.graph.state_initializer(x._data)
        if state is not None:
            return Arg(state, x._data)
        return Arg(None, x._data.copy())  # a constant, frozen at its traced value

    # -- the hooks ---------------------------------------------------------------------
    def record(self, cls: type, inputs: tuple[Any, ...], kwargs: dict[str, Any],
               out: Tensor) -> None:
        """Translate one applied op and bind its output."""
        translate = translation_for(cls)
        if translate is None:
            raise UnsupportedOperatorError(
                f"onnx.export: operator {cls.__name__} ({cls.__module__}.{cls.__qualname__}) "
                "has no ONNX translation; see the list of supported operations in "
                "chainrule.onnx"
            )
        args = [self.resolve(x) for x in inputs]
        self.bind(out, translate(self.graph, args, out._data, **kwargs))

    def record_function(self, cls: type, outputs: Any) -> None:
        """Bind the outputs of an ``autograd.Function`` to the values its forward traced."""
        for o in outputs if isinstance(outputs, tuple) else (outputs,):
            if not isinstance(o, Tensor):
                continue
            hit = self._arrays.get(id(o._data))
            if hit is not None:
                self.bind(o, hit[1])
            elif o.requires_grad:  # depends on the inputs, computed outside chainrule's ops
                raise UnsupportedOperatorError(
                    f"onnx.export: autograd.Function {cls.__name__} computes its output "
                    f"(shape {tuple(o.shape)}) outside chainrule's operations (e.g. with "
                    "NumPy), which export cannot trace; write its forward with chainrule ops"
                )

    @contextmanager
    def active(self) -> Iterator[Tracer]:
        """Install the ``Op.apply`` and ``Function.apply`` wrappers for this thread."""
        op_apply = Op.__dict__["apply"]
        fn_apply = Function.__dict__["apply"]
        tracer = self

        def traced_op_apply(cls: type, *inputs: Any, **kwargs: Any) -> Any:
            out = op_apply.__func__(cls, *inputs, **kwargs)
            if threading.get_ident() == tracer._thread:
                tracer.record(cls, inputs, kwargs, out)
            return out

        def traced_fn_apply(cls: type, *args: Any, **kwargs: Any) -> Any:
            out = fn_apply.__func__(cls, *args, **kwargs)
            if threading.get_ident() == tracer._thread:
                tracer.record_function(cls, out)
            return out

        with _lock:
            Op.apply = classmethod(traced_op_apply)  # type: ignore[method-assign, assignment]
            Function.apply = classmethod(traced_fn_apply)  # type: ignore[method-assign]
            try:
                yield self
            finally:
                Op.apply = op_apply  # type: ignore[method-assign]
                Function.apply = fn_apply  # type: ignore[method-assign]
