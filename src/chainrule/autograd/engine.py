"""The backward engine: an iterative topological walk of the graph (no recursion).

1. Discover: walk ``next_edges`` from the roots with an explicit stack, counting for each
   node how many gradients it will receive (its consumers in this graph).
2. Execute: a node runs once all its gradients have arrived (Kahn's algorithm; among ready
   nodes the most recently created runs first, as in PyTorch). Gradients that reach the
   same tensor from several consumers are summed: the seeds' Branch node.
3. After a node has run, its saved buffers are released unless ``retain_graph=True``.

Time and memory are linear in the number of nodes, so a chain of 100,000 ops is fine.
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd import anomaly
from chainrule.autograd.function import Node
from chainrule.autograd.grad_mode import GradMode

__all__ = ["run_backward"]

#: record each gradient's norm on its node, for ``cr.explain``
record_grad_norms = True


def _norm(g: Any) -> float:
    a = g.data if not isinstance(g, np.ndarray) else g
    if a.dtype.kind not in "fc":
        return float("nan")
    flat = a.reshape(-1)
    return float(np.sqrt(np.dot(flat, flat)))


def _freed_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time (at {node.name()}): its saved "
        "values were freed after the first backward. Specify retain_graph=True on the first "
        "backward() if you need to backward through the graph a second time, or recompute "
        "the forward."
    )


def _check_grad(node: Node, i: int, g: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """The engine's invariant: a gradient has its tensor's shape and dtype."""
    data = g if isinstance(g, np.ndarray) else getattr(g, "data", None)
    if data is None or not isinstance(data, np.ndarray):
        data = np.asarray(g, dtype=dtype)
        g = data
    if data.shape != shape:
        raise RuntimeError(
            f"{node.name()} returned a gradient of shape {data.shape} for input {i}, "
            f"expected {shape}"
        )
    if data.dtype != dtype:
        raise RuntimeError(
            f"{node.name()} returned a {data.dtype} gradient for input {i} of dtype {dtype}"
        )
    return g


def run_backward(
    roots: Sequence[Any],
    grad_roots: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Any] | None = None,
    allow_unused: bool = False,
) -> list[Any] | None:
    """Backpropagate ``grad_roots`` from ``roots``.

    With ``inputs=None`` gradients accumulate into the ``.grad`` of leaves (``backward``);
    otherwise the gradients of ``inputs`` are returned and no ``.grad`` changes
    (``autograd.grad``). Gradients are ndarrays, or Tensors when ``create_graph``.
    """
    from chainrule.tensor import Tensor

    # Targets captured for autograd.grad: leaf tensors by id, non-leaves by (node, nr).
    capture: dict[Any, int] = {}
    if inputs is not None:
        for k, t in enumerate(inputs):
            if not t.requires_grad:
                raise RuntimeError(
                    f"autograd.grad: input {k} does not require grad (set requires_grad=True)"
                )
            key = id(t) if t.grad_fn is None else (t.grad_fn, t._output_nr)
            capture[key] = k
    captured: list[Any] = [None] * (len(inputs) if inputs is not None else 0)

    # 1. discover the graph and count each node's incoming gradients
    deps: dict[Node, int] = {}
    buffers: dict[Node, list[Any]] = {}
    owned: set[int] = set()  # ids of arrays the engine allocated (safe to add into)
    leaf_grads: dict[int, list[Any]] = {}  # id(leaf) -> [tensor, summed grad]
    stack = []
    for root in roots:
        fn = root.grad_fn
        if fn is not None and fn not in deps:
            deps[fn] = 0
            stack.append(fn)
    while stack:
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            child = edge[0]
            if isinstance(child, Node):
                if child in deps:
                    deps[child] += 1
                else:
                    deps[child] = 1
                    stack.append(child)

    def add(old: Any, g: Any) -> Any:
        if old is None:
            return g
        if create_graph:
            return old + g
        if id(old) in owned:
            old += g
            return old
        new = old + g
        owned.add(id(new))
        return new

    def deliver(edge: tuple[Any, int], g: Any) -> None:
        target, nr = edge
        if isinstance(target, Node):
            buf = buffers.get(target)
            if buf is None:
                buf = buffers[target] = [None] * len(target.out_shapes)
            if g is not None:
                buf[nr] = add(buf[nr], g)
            deps[target] -= 1
            if deps[target] == 0:
                heapq.heappush(ready, (-target.seq, id(target), target))
        elif g is not None:  # a leaf tensor
            entry = leaf_grads.get(id(target))
            if entry is None:
                leaf_grads[id(target)] = [target, g]
            else:
                entry[1] = add(entry[1], g)

    # seed the roots
    ready: list[tuple[int, int, Node]] = []
    for root, g in zip(roots, grad_roots, strict=True):
        fn = root.grad_fn
        if fn is None:
            deliver((root, 0), g)
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * len(fn.out_shapes)
        buf[root._output_nr] = add(buf[root._output_nr], g)
    for root in roots:
        fn = root.grad_fn
        if fn is not None and deps[fn] == 0 and fn in buffers:
            heapq.heappush(ready, (-fn.seq, id(fn), fn))
            deps[fn] = -1  # queued

    # 2. execute in topological order
    prev_mode = GradMode.enabled
    GradMode.enabled = create_graph
    try:
        while ready:
            node = heapq.heappop(ready)[2]
            grads = buffers.pop(node)
            for g in grads:
                if g is not None:
                    owned.discard(id(g))
            if node.freed:
                raise _freed_error(node)
            if record_grad_norms:
                node.grad_norms = [None if g is None else _norm(g) for g in grads]
            if node.retained:
                for ref, nr in node.retained:
                    t = ref()
                    if t is not None and grads[nr] is not None:
                        _set_grad(t, grads[nr], create_graph)
            if capture:
                for nr, g in enumerate(grads):
                    k = capture.get((node, nr))
                    if k is not None:
                        captured[k] = g
            if node._saved_versions or node._out_version is not None:
                node.check_versions()
            if all(g is None for g in grads):  # nothing flows through this node
                for edge in node.next_edges:
                    if edge is not None:
                        deliver(edge, None)
                continue
            if create_graph:
                grads = tuple(
                    g if g is None or isinstance(g, Tensor) else Tensor._make(g, False)
                    for g in grads
                )
                node.create_graph = True
            in_grads = node.run_backward(tuple(grads))
            node.create_graph = False
            if anomaly.enabled:
                anomaly.check_backward(node, in_grads)
            shapes = node.input_shapes
            n_grads = len(in_grads)
            for i, edge in enumerate(node.next_edges):
                if edge is None:
                    continue
                g = in_grads[i] if i < n_grads else None
                if g is not None:
                    target = edge[0]
                    dtype = (
                        target.out_dtypes[edge[1]]
                        if isinstance(target, Node)
                        else target.data.dtype
                    )
                    g = _check_grad(node, i, g, shapes[i], dtype)
                deliver(edge, g)
            if not retain_graph:
                node.release()
    finally:
        GradMode.enabled = prev_mode

    # 3. leaves: accumulate into .grad, or hand back to autograd.grad
    for t, g in leaf_grads.values():
        if capture:
            k = capture.get(id(t))
            if k is not None:
                captured[k] = g
        else:
            _accumulate_leaf(t, g, create_graph)
    if inputs is None:
        return None
    for k, g in enumerate(captured):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {k} was not used in the graph of the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return captured


def _set_grad(t: Any, g: Any, create_graph: bool) -> None:
    from chainrule.tensor import Tensor

    t.grad = g if isinstance(g, Tensor) else Tensor._make(g, False)


def _accumulate_leaf(t: Any, g: Any, create_graph: bool) -> None:
    from chainrule.tensor import Tensor

    if t.grad is None:
        t.grad = g if isinstance(g, Tensor) else Tensor._make(g, False)
    elif create_graph or isinstance(g, Tensor):
        t.grad = t.grad + g
    else:
        # out of place: the old .grad may share memory with another leaf's gradient
        t.grad = Tensor._make(t.grad.data + g, False)
