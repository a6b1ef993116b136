"""Graph nodes: the built-in ``Op`` base class and the user-facing ``autograd.Function``.

Every differentiable operation is a subclass of ``Op`` with two methods side by side:

* ``forward(self, *arrays)`` computes the output from NumPy arrays;
* ``backward(self, dY)`` returns the gradient of each input, its docstring stating the
  rule with shapes, as the seeds write it (``dX = dY @ W  (N,in) = (N,out)(out,in)``).

Backward rules are written with operators and methods that NumPy arrays and chainrule
Tensors share (``*``, ``@``, ``.T``, ``.sum(axis=..., keepdims=...)``, ``.reshape``) plus
the helpers of :mod:`chainrule.ops._math`. The engine calls them with NumPy arrays
(fast, nothing recorded) or, under ``create_graph=True``, with Tensors, so the very same
rule is recorded as a graph and can be differentiated again.

What a backward needs from the forward is declared once per class: ``save_inputs``
(indices of inputs whose values the rule reads, fetched with ``self.input(i)``) and
``save_output`` (``self.output()``). Everything else the forward leaves on ``self``
(masks, axes) lives in the instance ``__dict__``, which the engine clears after the node
has run, so saved buffers are released as soon as backward has used them.
"""

from __future__ import annotations

import itertools
import math
from typing import Any, ClassVar

import numpy as np

from chainrule.autograd.grad_mode import GradMode

__all__ = ["Node", "Op", "Function", "FunctionCtx"]

_sequence = itertools.count()
_new_object = object.__new__


class Node:
    """A node of the backward graph (a tensor's ``grad_fn``).

    Attributes:
        next_edges: one entry per forward input: ``(node, output_nr)`` for an input made by
            another node, ``(tensor, 0)`` for a leaf that requires grad, ``None`` otherwise.
        needs_input_grad: per input, whether a gradient must flow to it.
        input_shapes: per input, its shape (``()`` for a number); kept after the graph is
            freed, for ``cr.explain`` and for the engine's check of every gradient.
        out_shapes, out_dtypes: per output, its shape and dtype (the engine checks each
            gradient that arrives at an output against them).
        seq: creation order; among ready nodes the engine runs the newest first.
        grad_norms: norms of the gradients that reached the outputs (after a backward).

    Engine-facing state that every node has lives in slots. Saved values and op-specific
    state (masks, axes) live in the instance ``__dict__``, so
    the class-level defaults below cost nothing for nodes that never set them. The engine
    clears that ``__dict__`` after the node has run (unless ``retain_graph``), so saved
    buffers are released as soon as the backward has used them.
    """

    __slots__ = (
        "next_edges",
        "needs_input_grad",
        "input_shapes",
        "out_shapes",
        "out_dtypes",
        "seq",
        "grad_norms",
        "__dict__",
        "__weakref__",
    )

    # defaults, overridden per instance only when needed (and cleared by release())
    save_inputs: tuple[int, ...] = ()  # indices of the inputs kept for backward
    freed = False
    create_graph = False
    keep_saved = False  # set by the engine under retain_graph: backward must not free buffers
    retained: list[Any] | None = None
    hooks: list[Any] | None = None  # [output_nr, hook] pairs of Tensor.register_hook
    _saved_inputs: tuple[Any, ...] | None = None
    _saved_versions: tuple[int | None, ...] = ()  # per input, its version when saved
    _out_data: np.ndarray | None = None
    _out_version: Any = None

    def gradient_norms(self) -> list[float | None]:
        """Norm of the gradient that reached each output in the last backward (or None).

        The engine stores large gradients' norms at once and small gradients themselves
        (computing a norm costs more than storing a reference); this resolves both.
        """
        norms = self.grad_norms
        if norms is None:
            return [None] * len(self.out_shapes)
        resolved = [
            None if g is None else g if isinstance(g, float) else _norm(g) for g in norms
        ]
        self.grad_norms = resolved
        return resolved

    def name(self) -> str:
        """The node's name as PyTorch prints it, e.g. ``MulBackward``."""
        return type(self).__name__ + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self) -> tuple[tuple[Any, int], ...]:
        """PyTorch's view of the edges: ``(node or leaf tensor or None, output_nr)``."""
        return tuple((None, 0) if e is None else e for e in self.next_edges)

    # -- saved values ---------------------------------------------------------------
    def input(self, i: int) -> Any:
        """Input ``i`` as saved at forward: an ndarray, or a Tensor under create_graph.

        Raises if the tensor was changed in place since the forward (checked here, where
        the saved value is read, as PyTorch checks when it unpacks a saved tensor).
        """
        x = self._saved_inputs[i]
        if not isinstance(x, Tensor):
            return x  # a number or an array: nothing can change it behind our back
        if x._version[0] != self._saved_versions[i]:
            raise self._modified_error(f"input {i}", x.shape, x._version[0],
                                       self._saved_versions[i])
        return x if self.create_graph else x._data

    def output(self, index: int = 0) -> Any:
        """The forward output: an ndarray, or a Tensor of this node under create_graph.

        Raises if the output was changed in place since it was saved."""
        counter, version = self._out_version
        if counter[0] != version:
            raise self._modified_error("the output", self.out_shapes[index], counter[0],
                                       version)
        if self.create_graph:
            return Tensor._make(self._out_data, True, self, index)
        return self._out_data

    def _modified_error(self, what: str, shape: tuple[int, ...], now: int,
                        expected: int) -> RuntimeError:
        return RuntimeError(
            f"one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: {what} of {self.name()}, of shape {tuple(shape)}, is at "
            f"version {now}; expected version {expected}. Clone it before changing it in "
            "place."
        )

    def run_backward(self, grads: list[Any]) -> tuple[Any, ...]:
        """Gradients of the inputs, one per ``next_edges`` entry (None where none).

        ``grads`` holds one gradient per output (None for an output none reached).
        """
        raise NotImplementedError


def _norm(g: Any) -> float:
    """Euclidean norm of a gradient (ndarray or Tensor)."""
    a = g if isinstance(g, np.ndarray) else g._data
    if a.dtype.kind not in "fc":
        return float("nan")
    return math.sqrt(float(np.vdot(a, a).real))


class Op(Node):
    """Base class of every built-in differentiable operation (single output).

    Subclasses define ``forward(self, *arrays, **kwargs) -> ndarray`` and
    ``backward(self, dY) -> grad | tuple of grads`` (one per forward input, None allowed),
    and declare ``save_inputs`` / ``save_output`` for what the backward reads.

    The rule is written once, in the backward docstring (``dX = dY @ W  (N,in) =
    (N,out)(out,in)``), with ``shapes`` giving each operand's symbolic shape (inputs by
    their forward parameter names, the output as ``Y``): ``{"X": "(N,in)", "W":
    "(out,in)", "Y": "(N,out)"}``. The grammar is :mod:`chainrule.autograd.rules`'s.
    """

    save_output: ClassVar[bool] = False
    shapes: ClassVar[dict[str, str]] = {}

    def forward(self, *args: Any, **kwargs: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, dY: Any) -> Any:  # pragma: no cover
        raise NotImplementedError

    @classmethod
    def apply(cls, *inputs: Any, **kwargs: Any) -> Tensor:
        """Run the forward on the inputs' arrays and, if a gradient is needed, record a node.

        Inputs are Tensors, ndarrays or numbers; ``kwargs`` go to ``forward`` unchanged.
        The node's bookkeeping is kept in tuples: after one pass of Python's cyclic GC,
        tuples of plain values are no longer tracked, which keeps collections cheap.
        """
        arrays = []  # what forward computes on: numbers and arrays pass as they are
        edges = []  # where each input's gradient goes: (its producer or leaf, nr), or None
        needs = []
        shapes = []
        versions = []  # kept with saved inputs: a later in-place change is caught
        for x in inputs:
            if isinstance(x, Tensor):
                a = x._data
                r = x._requires_grad
                edges.append((x.grad_fn or x, x._output_nr) if r else None)
                versions.append(x._version[0])
            else:
                a, r = x, False
                edges.append(None)
                versions.append(None)
            arrays.append(a)
            needs.append(r)
            shapes.append(a.shape if type(a) is np.ndarray else ())
        node = _new_object(cls)
        out = node.forward(*arrays, **kwargs)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if _anomaly.AnomalyMode.enabled:
            _anomaly.check_forward(node, out)
        result = _new_object(Tensor)  # Tensor._make(out, ...), inlined
        result._data = out
        result._version = [0]
        if not (True in needs and GradMode.enabled):
            result._requires_grad, result.grad_fn = False, None  # nothing to differentiate
            return result
        result._requires_grad, result.grad_fn = True, node
        node.next_edges, node.needs_input_grad = tuple(edges), tuple(needs)
        node.input_shapes = tuple(shapes)
        node.out_shapes, node.out_dtypes = (out.shape,), (out.dtype,)
        node.seq = next(_sequence)
        node.grad_norms = None
        if cls.save_inputs:  # kept with their versions: a later in-place change is caught
            node._saved_inputs, node._saved_versions = inputs, tuple(versions)
        if cls.save_output:
            node._out_data = out
            node._out_version = (result._version, 0)
        return result

    def run_backward(self, grads: list[Any]) -> tuple[Any, ...]:
        dY = grads[0]
        if dY is None:  # no gradient reached the output: none flows to the inputs
            return (None,) * len(self.next_edges)
        out = self.backward(dY)
        return out if type(out) is tuple else (out,)


class FunctionCtx:
    """The ``ctx`` API of ``autograd.Function`` (implemented by its backward node)."""

    __slots__ = ()

    def save_for_backward(self, *tensors: Any) -> None:
        self._ctx_saved = [
            (t, t._version[0]) if isinstance(t, Tensor) else (t, None) for t in tensors
        ]

    @property
    def saved_tensors(self) -> tuple[Any, ...]:
        if getattr(self, "freed", False):
            raise RuntimeError(
                "Trying to backward through the graph a second time (or directly access saved "
                "tensors after they have already been freed). Specify retain_graph=True if you "
                "need to backward through the graph a second time."
            )
        out = []
        for t, version in self.__dict__.get("_ctx_saved", ()):
            if version is not None and t._version[0] != version:
                raise self._modified_error("a saved tensor", t.shape, t._version[0], version)
            out.append(t)
        return tuple(out)

    def mark_non_differentiable(self, *tensors: Any) -> None:
        self._non_diff = {id(t) for t in tensors}

    def set_materialize_grads(self, value: bool) -> None:
        self._materialize = bool(value)


class _FunctionMeta(type):
    """Gives each user ``Function`` subclass its own backward-node class (``MyFnBackward``)."""

    def __init__(cls, name: str, bases: tuple[type, ...], ns: dict[str, Any]) -> None:
        super().__init__(name, bases, ns)
        cls._backward_cls = type(name + "Backward", (FunctionNode,), {"_fn_cls": cls})


class FunctionNode(FunctionCtx, Node):
    """Backward node of a user-defined ``autograd.Function``; it is also the ``ctx``."""

    _fn_cls: ClassVar[type]

    def name(self) -> str:
        return type(self).__name__

    def run_backward(self, grads: list[Any]) -> tuple[Any, ...]:
        if all(g is None for g in grads):
            return ()
        materialize = self.__dict__.get("_materialize", True)
        tensor_grads = []
        for g, shape, dtype in zip(grads, self.out_shapes, self.out_dtypes, strict=True):
            if g is None and materialize:
                g = np.zeros(shape, dtype)
            if g is not None and not isinstance(g, Tensor):
                g = Tensor._make(g, False, None, 0)
            tensor_grads.append(g)
        result = self._fn_cls.backward(self, *tensor_grads)
        if not isinstance(result, tuple):
            result = (result,)
        n_in = len(self.next_edges)
        # extra trailing Nones are allowed, as in PyTorch; extra gradients are an error
        if len(result) < n_in or any(g is not None for g in result[n_in:]):
            raise RuntimeError(
                f"function {self.name()} returned an incorrect number of gradients "
                f"(expected {n_in}, got {len(result)})"
            )
        out = []
        for g, edge in zip(result[:n_in], self.next_edges, strict=True):
            if g is None or edge is None:
                out.append(None)
            elif self.create_graph:
                out.append(g if isinstance(g, Tensor) else Tensor._make(np.asarray(g), False))
            else:
                out.append(g._data if isinstance(g, Tensor) else np.asarray(g))
        return tuple(out)


class Function(metaclass=_FunctionMeta):
    """User-defined differentiable operations, exactly as ``torch.autograd.Function``.

    Example::

        class Cube(cr.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 3

            @staticmethod
            def backward(ctx, dy):
                (x,) = ctx.saved_tensors
                return dy * 3 * x ** 2

        y = Cube.apply(x)
    """

    @staticmethod
    def forward(ctx: Any, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("autograd.Function subclasses must define forward")

    @staticmethod
    def backward(ctx: Any, *grad_outputs: Any) -> Any:
        raise NotImplementedError("autograd.Function subclasses must define backward")

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        node = cls._backward_cls.__new__(cls._backward_cls)
        node.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        prev = GradMode.enabled
        GradMode.enabled = False
        try:
            raw = cls.forward(node, *args, **kwargs)
        finally:
            GradMode.enabled = prev
        outputs = raw if isinstance(raw, tuple) else (raw,)
        record = prev and any(node.needs_input_grad)
        non_diff = node.__dict__.get("_non_diff", set())
        wrapped = []
        for i, o in enumerate(outputs):
            if not isinstance(o, Tensor):
                wrapped.append(o)
                continue
            diff = record and id(o) not in non_diff and o.dtype.kind in "fc"
            if diff:
                out = Tensor._make(o._data, True, node, i)
                out._version = o._version  # in-place changes to the output are seen
                wrapped.append(out)
            else:
                wrapped.append(Tensor._make(o._data, False, None, 0))
        if record:
            saved = node.__dict__.get("_ctx_saved")
            if saved:
                # an output saved for backward is the recorded output (as in PyTorch), so
                # a backward that reads it can itself be differentiated
                mine = {id(o): w for o, w in zip(outputs, wrapped, strict=True) if w is not o}
                node._ctx_saved = [(mine.get(id(t), t), v) for t, v in saved]
            node.next_edges = tuple(
                (a.grad_fn or a, a._output_nr) if isinstance(a, Tensor) and a.requires_grad
                else None
                for a in args
            )
            node.input_shapes = tuple(a.shape if isinstance(a, Tensor) else () for a in args)
            node.out_shapes = tuple(o.shape if isinstance(o, Tensor) else () for o in outputs)
            node.out_dtypes = tuple(
                o.dtype if isinstance(o, Tensor) else np.dtype("float64") for o in outputs
            )
            node.seq = next(_sequence)
            node.grad_norms = None
        return tuple(wrapped) if isinstance(raw, tuple) else wrapped[0]


# the cycle's partners, imported once Op exists (see chainrule/tensor.py's docstring)
from chainrule.autograd import anomaly as _anomaly  # noqa: E402
from chainrule.tensor import Tensor  # noqa: E402
