"""The ONNX graph under construction: nodes, initializers and fresh value names.

Translations (:mod:`chainrule.onnx._translate`) call :meth:`Graph.node` to append ONNX
nodes and :meth:`Graph.const` / :meth:`Graph.initializer` for the values they read.
Nothing here knows about chainrule's ops; it only wraps ``onnx.helper``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

__all__ = ["Graph", "onnx_dtype"]


def onnx_dtype(dtype: Any) -> int:
    """The ``TensorProto`` element type of a NumPy dtype (``float32`` -> ``FLOAT``)."""
    return helper.np_dtype_to_tensor_dtype(np.dtype(dtype))


class Graph:
    """Nodes in execution order and initializers by name, with unique names for both.

    ``state`` maps the model's state-dict names to their arrays: a parameter or buffer
    an op reads becomes an initializer of that name. ``reserved`` are names the caller
    uses itself (graph inputs and outputs), so that no generated name collides with them.
    """

    def __init__(self, state: dict[str, np.ndarray] | None = None,
                 reserved: Iterable[str] = ()) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}
        self.state = dict(state or {})
        self._state_ids = {}
        for name, arr in self.state.items():
            self._state_ids.setdefault(id(arr), name)  # a tied parameter: its first name
        self.used: set[str] = set(reserved) | set(self.state)
        # set by the tracer: the graph value an ndarray is the data of, if any
        self.traced_array: Callable[[np.ndarray], str | None] = lambda a: None
        self._counts: dict[str, int] = {}
        self._consts: dict[tuple[str, tuple[int, ...], bytes], str] = {}

    def fresh(self, base: str) -> str:
        """A name not used yet: ``base_0``, ``base_1``, ..."""
        while True:
            k = self._counts.get(base, 0)
            self._counts[base] = k + 1
            name = f"{base}_{k}"
            if name not in self.used:
                self.used.add(name)
                return name

    def node(self, op_type: str, inputs: Sequence[str], n_out: int = 1,
             **attrs: Any) -> str:
        """Append one node and return its (first) output's name.

        ``attrs`` become ONNX attributes; those set to None are left out.
        """
        name = self.fresh(op_type)
        outputs = [f"{name}_output_{i}" for i in range(n_out)]
        self.used.update(outputs)
        attrs = {k: v for k, v in attrs.items() if v is not None}
        self.nodes.append(helper.make_node(op_type, list(inputs), outputs, name=name, **attrs))
        return outputs[0]

    def initializer(self, name: str, array: np.ndarray) -> str:
        """Store ``array`` under ``name`` (a parameter's state-dict name) once; return name."""
        if name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(np.asarray(array), name)
            self.used.add(name)
        return name

    def state_initializer(self, array: np.ndarray, hint: str | None = None) -> str | None:
        """The initializer of the state entry that is ``array`` (or, failing that, the
        entry ``hint`` if it holds equal values); None if ``array`` is not model state."""
        name = self._state_ids.get(id(array))
        if name is None and hint in self.state:
            candidate = self.state[hint]
            if candidate.shape == np.shape(array) and np.array_equal(candidate, array):
                name = hint
        if name is None:
            return None
        arr = self.state[name]
        if arr.dtype != np.asarray(array).dtype:  # read through a cast: store what was read
            return self.const(array)
        return self.initializer(name, arr)

    def const(self, value: Any, dtype: Any = None) -> str:
        """An initializer holding ``value`` (a number or an array), shared between equal ones."""
        arr = np.asarray(value, dtype=dtype)
        key = (arr.dtype.str, arr.shape, arr.tobytes())
        name = self._consts.get(key)
        if name is None:
            name = self.fresh("const")
            self.initializers[name] = numpy_helper.from_array(arr, name)
            self._consts[key] = name
        return name

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 constant (shapes, axes, indices as ONNX takes them)."""
        return self.const(np.asarray(list(values), dtype=np.int64).reshape(len(values)))

    def signature(self) -> list[bytes]:
        """Every node and initializer serialised, to compare two traces of one model."""
        out = [n.SerializeToString() for n in self.nodes]
        out += [t.SerializeToString() for t in self.initializers.values()]
        return out
