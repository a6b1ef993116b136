"""The backward engine: an iterative topological walk of the graph (no recursion).

1. Every node carries a creation number ``seq``, and its inputs were made before it, so
   every edge leads to an older node. Running the nodes newest first is therefore a
   topological order: a priority queue by ``-seq`` holds the nodes that have received a
   gradient, and when a node is popped every node that can still send it one has run.
   (This is the order of Kahn's algorithm with the newest ready node first, as PyTorch
   runs, without a pass that counts each node's consumers.) Gradients that reach the
   same tensor from several consumers are summed: the seeds' Branch node.
2. After a node has run, its saved buffers are released unless ``retain_graph=True``.

Time and memory are linear in the number of nodes, so a chain of 100,000 ops is fine.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from chainrule.autograd import anomaly, backward_hooks
from chainrule.autograd.function import Node, _norm
from chainrule.autograd.grad_mode import GradMode

__all__ = ["run_backward"]

#: record each gradient's norm on its node, for ``cr.explain``
record_grad_norms = True


#: gradients with at most this many elements are kept by reference for a lazy norm
SMALL_GRAD = 4096


def _norm_or_ref(g: Any) -> Any:
    """What the engine records for ``cr.explain``: a norm, or a small gradient itself."""
    if g is None:
        return None
    a = g if type(g) is np.ndarray else g.data
    if a.size <= SMALL_GRAD:
        return a
    return _norm(a)


_TENSOR: Any = None


def _tensor_class() -> Any:
    """chainrule.tensor.Tensor (imported late: the tensor module imports this one)."""
    global _TENSOR
    if _TENSOR is None:
        from chainrule.tensor import Tensor

        _TENSOR = Tensor
    return _TENSOR


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
    elif isinstance(g, np.ndarray) and type(g) is not np.ndarray:
        data = g = np.asarray(g)
    if data.shape != shape:
        raise RuntimeError(
            f"{node.name()} returned a gradient of shape {data.shape} for input {i}, "
            f"expected {shape}"
        )
    if dtype is not None and data.dtype != dtype:
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
    Post-accumulate-grad hooks and queued callbacks: ``backward_hooks``.
    """
    frame = backward_hooks.begin(roots, inputs is None)
    try:
        return _run_backward(roots, grad_roots, retain_graph, create_graph, inputs,
                             allow_unused, frame)
    finally:
        backward_hooks.end(frame)


def _run_backward(
    roots: Sequence[Any],
    grad_roots: Sequence[Any],
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Any] | None,
    allow_unused: bool,
    frame: backward_hooks.Frame,
) -> list[Any] | None:
    Tensor = _tensor_class()

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

    # 1. seed the roots. Every edge leads from a node to an older one (smaller ``seq``), so
    # running nodes newest first is a topological order: when a node is popped, every
    # node that can send it a gradient has already run. No discovery pass is needed; a
    # node is queued when its first gradient arrives. A gradient that reaches a tensor
    # from several consumers is summed (Branch); `owned` holds the ids of sums the engine
    # allocated itself, the only arrays it may add into in place.
    buffers: dict[Node, list[Any]] = {}
    owned: set[int] = set()
    leaf_grads: dict[int, list[Any]] = {}  # id(leaf) -> [tensor, summed gradient]
    ready: list[tuple[int, Node]] = []
    for root, g in zip(roots, grad_roots, strict=True):
        fn = root.grad_fn
        if fn is None:
            _add_leaf(leaf_grads, root, g, owned, create_graph)
            continue
        buf = buffers.get(fn)
        if buf is None:
            buf = buffers[fn] = [None] * len(fn.out_shapes)
            heapq.heappush(ready, (-fn.seq, fn))
        buf[root._output_nr] = _sum(buf[root._output_nr], g, owned, create_graph)

    norms = record_grad_norms
    pending = frame.pending  # leaves with post-accumulate hooks, by their oldest consumer
    push, pop = heapq.heappush, heapq.heappop
    prev_mode, prev_backward = GradMode.enabled, anomaly.in_backward
    GradMode.enabled = create_graph
    anomaly.in_backward = True  # ops run by a backward are checked as that node's output
    try:
        while ready:
            node = pop(ready)[1]
            if pending and pending[-1][0] > node.seq:  # their consumers have all run
                in_grads = g = None  # a gradient only its leaf holds is adopted, not copied
                frame.flush(node.seq, leaf_grads, _finish_leaf, create_graph)
            grads = buffers.pop(node)
            if node.freed:
                raise _freed_error(node)
            if owned:
                for g in grads:
                    owned.discard(id(g))
            if node.hooks:
                _run_node_hooks(node, grads, create_graph)
            if norms:
                g = grads[0]
                if len(grads) == 1 and type(g) is np.ndarray and g.size <= SMALL_GRAD:
                    node.grad_norms = grads  # a small gradient itself: its norm is lazy
                else:
                    node.grad_norms = [_norm_or_ref(g) for g in grads]
            if node.retained:
                for ref, nr in node.retained:
                    t = ref()
                    if t is not None and grads[nr] is not None:
                        _set_grad(t, grads[nr])
            if capture:
                for nr, g in enumerate(grads):
                    k = capture.get((node, nr))
                    if k is not None:
                        captured[k] = g
            versions = node._saved_versions
            if versions:
                saved = node._saved_inputs
                for i, v in versions:
                    if saved[i]._version[0] != v:
                        node.check_versions()  # raises, naming the tensor
            out_version = node._out_version
            if out_version is not None and out_version[0][0] != out_version[1]:
                node.check_versions()  # raises: the output was changed in place
            if node.single_output:
                g = grads[0]
                if g is None:
                    in_grads: tuple[Any, ...] = ()  # nothing flows through this node
                elif create_graph:
                    node.create_graph = True
                    if not isinstance(g, Tensor):
                        g = Tensor._make(g, False)
                    in_grads = node.backward(g)
                    node.create_graph = False
                else:
                    in_grads = node.backward(g)
                if type(in_grads) is not tuple:
                    in_grads = (in_grads,)
            elif all(g is None for g in grads):
                in_grads = ()
            else:
                if create_graph:
                    grads = [
                        g if g is None or isinstance(g, Tensor) else Tensor._make(g, False)
                        for g in grads
                    ]
                    node.create_graph = True
                in_grads = node.run_backward(tuple(grads))
                node.create_graph = False
            if anomaly.enabled:
                anomaly.check_backward(node, in_grads)
            n_grads = len(in_grads)
            shapes = node.input_shapes
            i = -1
            for edge in node.next_edges:
                i += 1
                if edge is None:
                    continue
                g = in_grads[i] if i < n_grads else None
                target = edge[0]
                if isinstance(target, Node):
                    if g is not None and (type(g) is not np.ndarray or g.shape != shapes[i]):
                        g = _check_grad(node, i, g, shapes[i], None)
                    buf = buffers.get(target)
                    if buf is None:  # the first gradient for this node: queue it
                        if target.single_output:
                            buffers[target] = [g]
                        else:
                            buffers[target] = buf = [None] * len(target.out_shapes)
                            buf[edge[1]] = g
                        push(ready, (-target.seq, target))
                    elif g is not None:
                        buf[edge[1]] = _sum(buf[edge[1]], g, owned, create_graph)
                elif g is not None:
                    if (
                        type(g) is not np.ndarray
                        or g.shape != shapes[i]
                        or g.dtype != target.data.dtype
                    ):
                        g = _check_grad(node, i, g, shapes[i], target.data.dtype)
                    entry = leaf_grads.get(id(target))  # _add_leaf, inlined
                    if entry is None:
                        leaf_grads[id(target)] = [target, g]
                    else:
                        entry[1] = _sum(entry[1], g, owned, create_graph)
            if not retain_graph:
                node.__dict__.clear()  # release saved values; shapes stay for explain
                node.freed = True
    finally:
        GradMode.enabled, anomaly.in_backward = prev_mode, prev_backward

    # 3. leaves: accumulate into .grad, or hand back to autograd.grad
    in_grads = grads = g = None  # drop the loop's references (see the refcount test below)
    if capture:
        for entry in leaf_grads.values():
            t = entry[0]
            if t._hooks:
                entry[1] = _run_hooks(t._hooks, entry[1], t.shape, t.dtype, create_graph)
            k = capture.get(id(t))
            if k is not None:
                captured[k] = entry[1]
    else:
        for entry in leaf_grads.values():
            _finish_leaf(entry, create_graph)
        entry = None
    if inputs is None:
        if frame.pending or frame.callbacks:
            frame.finish(set(leaf_grads))
        return None
    for k, g in enumerate(captured):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {k} was not used in the graph of the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return captured


def _finish_leaf(entry: list[Any], create_graph: bool) -> None:
    """Write a leaf's summed gradient ``entry = [tensor, gradient]`` into its ``.grad``."""
    t = entry[0]
    if t._hooks:
        entry[1] = _run_hooks(t._hooks, entry[1], t.shape, t.dtype, create_graph)
    if t.grad is None and not create_graph:
        # As in PyTorch, a leaf gets a buffer of its own: a gradient that is a view,
        # read-only (a broadcast, a shared constant) or still referenced elsewhere
        # (another leaf's gradient, the user's `gradient=` array) is copied, so that
        # changing one .grad in place never changes another. Fresh results such as
        # dW = dY.T @ X are adopted as they are. References counted: entry[1], g and
        # getrefcount's argument.
        g = entry[1]
        if (type(g) is not np.ndarray or g.base is not None
                or not g.flags.writeable or sys.getrefcount(g) > 3):
            g = g.copy()
        t.grad = _tensor_class()._make(g, False)
    else:
        _accumulate_leaf(t, entry[1], create_graph)


def _run_hooks(hooks: list[Any], g: Any, shape: tuple[int, ...], dtype: Any,
               create_graph: bool) -> Any:
    """Pass a tensor's gradient ``g`` through its hooks (each may replace it)."""
    Tensor = _tensor_class()
    for hook in list(hooks):
        arg = g if isinstance(g, Tensor) else Tensor._make(g, False)
        new = hook(arg)
        if new is None:
            continue
        data = new.data if isinstance(new, Tensor) else np.asarray(new)
        if data.shape != tuple(shape):
            raise RuntimeError(
                f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                f"{tuple(data.shape)} for a tensor of shape {tuple(shape)}"
            )
        if data.dtype != dtype:
            data = data.astype(dtype)
        if create_graph and isinstance(new, Tensor):
            g = new
        elif create_graph:
            g = Tensor._make(data, False)
        else:
            # a copy: the engine may add into this array in place
            g = data.copy() if data is np.asarray(g) or isinstance(new, Tensor) else data
    return g


def _run_node_hooks(node: Node, grads: list[Any], create_graph: bool) -> None:
    """Hooks of non-leaf tensors: registered on their grad_fn with the output number."""
    for nr, hook in list(node.hooks):
        g = grads[nr]
        if g is not None:
            grads[nr] = _run_hooks([hook], g, node.out_shapes[nr], np.asarray(g).dtype,
                                   create_graph)


def _sum(old: Any, g: Any, owned: set[int], create_graph: bool) -> Any:
    """old + g, in place only into an array the engine allocated itself."""
    if old is None:
        return g
    if create_graph or not isinstance(old, np.ndarray) or not isinstance(g, np.ndarray):
        new = old + g
        # NumPy turns the sum of two 0-d arrays into a scalar; keep it an array
        return new if isinstance(new, np.ndarray | _tensor_class()) else np.asarray(new)
    if id(old) in owned:
        old += g
        return old
    new = np.asarray(old + g)
    owned.add(id(new))
    return new


def _add_leaf(leaf_grads: dict[int, list[Any]], t: Any, g: Any, owned: set[int],
              create_graph: bool) -> None:
    entry = leaf_grads.get(id(t))
    if entry is None:
        leaf_grads[id(t)] = [t, g]
    else:
        entry[1] = _sum(entry[1], g, owned, create_graph)


def _set_grad(t: Any, g: Any) -> None:
    Tensor = _tensor_class()
    t.grad = g if isinstance(g, Tensor) else Tensor._make(g, False)


def _accumulate_leaf(t: Any, g: Any, create_graph: bool) -> None:
    Tensor = _tensor_class()
    if t.grad is None:
        t.grad = g if isinstance(g, Tensor) else Tensor._make(g, False)
    elif create_graph or isinstance(g, Tensor):
        t.grad = t.grad + g
    else:
        # out of place: the old .grad may share memory with another leaf's gradient
        t.grad = Tensor._make(np.asarray(t.grad.data + g), False)
