"""The backward engine: an iterative walk of the graph (no recursion), in five phases.

``run_backward`` is one loop over named phases:

1. **seed the roots**: each root's gradient goes into the input buffer of the node that
   made the root (or, for a leaf root, straight to the leaf).
2. **visit nodes in order**: every node carries a creation number ``seq`` and its inputs
   were made before it, so every edge leads to an older node. Running the nodes newest
   first is therefore a topological order: a priority queue by ``-seq`` holds the nodes
   that have received a gradient, and when a node is popped every node that can still
   send it one has run. (Kahn's order with the newest ready node first, as PyTorch runs,
   without a pass that counts each node's consumers.) :func:`backward_order` gives the
   same order without running anything; ``cr.explain`` prints it.
3. **deliver gradients to inputs**: each gradient a node returns is checked against the
   input's shape and dtype (an error names the node that produced it) and sent along its
   edge: added into the buffer of the node that made that input (the seeds' Branch:
   gradients that reach a tensor from several consumers are summed), or to a leaf. After
   a node has run, its saved buffers are released unless ``retain_graph=True``.
4. **finish leaves and captures**: each leaf's hooks run, its ``.grad`` accumulates, then
   its post-accumulate-grad hooks run (PyTorch's order); ``autograd.grad`` gets the
   gradients of its inputs instead. A leaf with post-accumulate-grad hooks is finished
   inside the loop, as soon as its last consumer has run (``DistributedDataParallel``
   exchanges its gradient while the rest of the backward runs); the others at the end.
5. **run queued callbacks**: what hooks queued with ``backward_hooks.queue_callback``
   runs once every ``.grad`` is written, before ``run_backward`` returns.

Time and memory are linear in the number of nodes, so a chain of 100,000 ops is fine.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from heapq import heappop, heappush
from typing import Any

import numpy as np

from chainrule.autograd import anomaly, backward_hooks
from chainrule.autograd.function import Node, _norm
from chainrule.autograd.grad_mode import GradMode
from chainrule.tensor import Tensor

__all__ = ["run_backward", "backward_order"]

#: record each gradient's norm on its node, for ``cr.explain``
record_grad_norms = True

#: gradients with at most this many elements are kept by reference for a lazy norm
SMALL_GRAD = 4096


class _Pass:
    """The state of one backward pass.

    ``buffers``: per queued node, the gradient of each of its outputs so far. ``ready``:
    the queue, a heap of ``(-seq, node)``. ``leaves``: per leaf (by id), ``[tensor,
    summed gradient]``. ``capture``: for ``autograd.grad``, the position of
    each requested tensor (leaves by id, non-leaves by ``(node, output_nr)``). ``hooked``:
    ``(seq of its oldest consumer, leaf)`` for the leaves with post-accumulate-grad hooks
    not finished yet, the next to finish last. ``callbacks``: ``queue_callback``'s queue.
    """

    __slots__ = ("buffers", "ready", "leaves", "capture", "captured", "create_graph",
                 "hooked", "callbacks")

    def __init__(self, create_graph: bool, inputs: Sequence[Any] | None) -> None:
        self.buffers: dict[Node, list[Any]] = {}
        self.ready: list[tuple[int, Node]] = []
        self.leaves: dict[int, list[Any]] = {}
        self.create_graph = create_graph
        self.capture: dict[Any, int] = {}
        self.captured: list[Any] = [None] * len(inputs or ())
        self.hooked: list[tuple[int, Any]] = []
        self.callbacks: list[Any] = []
        for k, t in enumerate(inputs or ()):
            if not t.requires_grad:
                raise RuntimeError(
                    f"autograd.grad: input {k} does not require grad (set requires_grad=True)"
                )
            self.capture[id(t) if t.grad_fn is None else (t.grad_fn, t._output_nr)] = k


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
    run = _Pass(create_graph, inputs)
    _seed(run, roots, grad_roots)
    if backward_hooks.active and inputs is None:  # when is each hooked leaf's .grad final?
        run.hooked = backward_hooks.hooked_leaves(roots)
    buffers, hooked = run.buffers, run.hooked
    prev_mode, prev_backward = GradMode.enabled, anomaly.in_backward
    GradMode.enabled = create_graph  # a rule or hook records a graph only under create_graph
    anomaly.in_backward = True  # ops run by a rule are checked as that node's output
    backward_hooks.running.append(run.callbacks)  # where queue_callback adds
    try:
        for node in _visit(run.ready):
            grads = buffers.pop(node)
            if retain_graph:  # a rule may free its largest buffer early otherwise (conv)
                node.keep_saved = True
            in_grads = _run_node(run, node, grads)
            _deliver(run, node, in_grads)
            if hooked and hooked[-1][0] >= node.seq:  # node was a hooked leaf's last consumer
                grads = in_grads = None  # delivered: the leaf may adopt its array
                _finish_hooked(run, node.seq)
            if not retain_graph:  # release what the rule needed; shapes stay for explain
                node.__dict__.clear()
                node.freed = True
        grads = in_grads = None  # the last gradients: a leaf may adopt its array (_accumulate)
        result = _finish(run, inputs is not None, allow_unused)
        _run_callbacks(run.callbacks)
    finally:
        GradMode.enabled, anomaly.in_backward = prev_mode, prev_backward
        backward_hooks.running.pop()
    return result


def backward_order(root: Node) -> list[Node]:
    """The nodes reachable from ``root`` in the order ``run_backward`` visits them."""
    ready = [(-root.seq, root)]
    queued = {root}
    order = []
    for node in _visit(ready):
        order.append(node)
        for edge in node.next_edges:
            if edge is not None and isinstance(edge[0], Node) and edge[0] not in queued:
                queued.add(edge[0])
                heappush(ready, (-edge[0].seq, edge[0]))
    return order


# -- 1. seed the roots -------------------------------------------------------------------


def _seed(run: _Pass, roots: Sequence[Any], grad_roots: Sequence[Any]) -> None:
    for root, g in zip(roots, grad_roots, strict=True):
        fn = root.grad_fn
        if fn is None:
            _to_leaf(run, root, g)
        else:
            _to_node(run, fn, root._output_nr, g)


# -- 2. visit nodes in order -------------------------------------------------------------


def _visit(ready: list[tuple[int, Node]]) -> Iterator[Node]:
    """Pop queued nodes newest first until none is left (a topological order, see above).

    The caller may queue more nodes while iterating."""
    while ready:
        yield heappop(ready)[1]


def _run_node(run: _Pass, node: Node, grads: list[Any]) -> tuple[Any, ...]:
    """The gradients of a node's inputs, from the gradients that reached its outputs.

    The rule checks, as it reads them, that its saved tensors were not changed in place
    since the forward (``Node.input`` and ``Node.output``)."""
    if node.freed:
        raise _freed_error(node)
    if node.hooks or node.retained or run.capture:
        _observe(run, node, grads)
    if record_grad_norms:  # for cr.explain: a small gradient itself, its norm if asked
        g = grads[0]
        if len(grads) == 1 and type(g) is np.ndarray and g.size <= SMALL_GRAD:
            node.grad_norms = grads
        else:
            node.grad_norms = [_norm_or_ref(g) for g in grads]
    if run.create_graph:
        return _run_recorded(node, grads)
    in_grads = node.run_backward(grads)
    if anomaly.AnomalyMode.enabled:
        anomaly.check_backward(node, in_grads)
    return in_grads


def _observe(run: _Pass, node: Node, grads: list[Any]) -> None:
    """What users asked to see of a node's output gradients: hooks (which may replace a
    gradient), ``retain_grad()``, and ``autograd.grad`` of a non-leaf."""
    if node.hooks:
        for nr, hook in list(node.hooks):
            if grads[nr] is not None:
                grads[nr] = _run_hooks([hook], grads[nr], node.out_shapes[nr],
                                       node.out_dtypes[nr], run.create_graph)
    for ref, nr in node.retained or ():
        t = ref()
        if t is not None and grads[nr] is not None:
            t.grad = _as_tensor(grads[nr])
    for nr, g in enumerate(grads):
        k = run.capture.get((node, nr))
        if k is not None:
            run.captured[k] = g


def _norm_or_ref(g: Any) -> Any:
    """A large gradient's norm now, a small gradient itself (computing its norm costs more
    than keeping a reference; ``Node.gradient_norms`` does it if asked)."""
    if g is None:
        return None
    a = g if type(g) is np.ndarray else g._data
    return a if a.size <= SMALL_GRAD else _norm(a)


def _run_recorded(node: Node, grads: list[Any]) -> tuple[Any, ...]:
    """create_graph: the rule runs on Tensors, so its own graph is recorded."""
    grads = [g if g is None or isinstance(g, Tensor) else Tensor._make(g) for g in grads]
    node.create_graph = True
    try:
        in_grads = node.run_backward(grads)
    finally:
        node.create_graph = False
    if anomaly.AnomalyMode.enabled:
        anomaly.check_backward(node, in_grads)
    return in_grads


def _freed_error(node: Node) -> RuntimeError:
    return RuntimeError(
        f"Trying to backward through the graph a second time (at {node.name()}): its saved "
        "values were freed after the first backward. Specify retain_graph=True on the first "
        "backward() if you need to backward through the graph a second time, or recompute "
        "the forward."
    )


# -- 3. deliver gradients to inputs ------------------------------------------------------


def _deliver(run: _Pass, node: Node, in_grads: tuple[Any, ...]) -> None:
    """Send each input's gradient along its edge, checked against the input's shape and
    dtype (an error names ``node``, the node that produced the gradient)."""
    edges = node.next_edges
    if len(in_grads) != len(edges):
        raise RuntimeError(f"{node.name()} returned {len(in_grads)} gradients for "
                           f"{len(edges)} inputs (one per input, None where there is none)")
    for i, (edge, g, shape) in enumerate(zip(edges, in_grads, node.input_shapes)):  # noqa: B905
        if edge is None:
            continue  # the input needs no gradient
        target, nr = edge
        if isinstance(target, Node):  # made by another node: into its output's buffer
            if g is not None:
                dtype = target.out_dtypes[nr]
                if type(g) is not np.ndarray or g.shape != shape or g.dtype is not dtype:
                    g = _check_grad(node, i, g, shape, dtype)
            _to_node(run, target, nr, g)  # queued even for a None, to run in order
        elif g is not None:  # a leaf: summed here, written to .grad when the pass ends
            dtype = target._data.dtype
            if type(g) is not np.ndarray or g.shape != shape or g.dtype is not dtype:
                g = _check_grad(node, i, g, shape, dtype)
            _to_leaf(run, target, g)


def _to_node(run: _Pass, node: Node, nr: int, g: Any) -> None:
    """Add ``g`` to the gradient of ``node``'s output ``nr``; queue the node on its first.

    A node is queued even when ``g`` is None, so that it runs (and is released) in order.
    """
    buf = run.buffers.get(node)
    if buf is None:
        buf = run.buffers[node] = [None] * len(node.out_shapes)
        heappush(run.ready, (-node.seq, node))
    if g is not None:
        buf[nr] = g if buf[nr] is None else _sum(buf[nr], g)


def _to_leaf(run: _Pass, t: Any, g: Any) -> None:
    entry = run.leaves.get(id(t))
    if entry is None:
        run.leaves[id(t)] = [t, g]
    else:
        entry[1] = _sum(entry[1], g)


def _check_grad(node: Node, i: int, g: Any, shape: tuple[int, ...], dtype: Any) -> Any:
    """The engine's invariant: a gradient has its input's shape and dtype."""
    data = g._data if isinstance(g, Tensor) else g
    if not isinstance(data, np.ndarray):
        data = np.asarray(data, dtype=dtype)  # a number: a 0-d gradient
        g = data
    elif type(g) is not np.ndarray and not isinstance(g, Tensor):
        data = g = np.asarray(g)  # an ndarray subclass
    if data.shape != shape:
        raise RuntimeError(
            f"{node.name()} returned a gradient of shape {tuple(data.shape)} for input {i}, "
            f"expected {tuple(shape)}"
        )
    if data.dtype != dtype:
        raise RuntimeError(
            f"{node.name()} returned a {data.dtype} gradient for input {i} of dtype {dtype}"
        )
    return g


def _sum(old: Any, g: Any) -> Any:
    """old + g, the seeds' Branch. Out of place: either array may be shared (a rule may
    send one array to two inputs, or keep the dY it was given)."""
    new = old + g  # with Tensors (create_graph), recorded
    # NumPy turns the sum of two 0-d arrays into a scalar; keep it an array
    return new if isinstance(new, np.ndarray | Tensor) else np.asarray(new)


# -- 4. finish leaves and captures -------------------------------------------------------


def _finish(run: _Pass, capturing: bool, allow_unused: bool) -> list[Any] | None:
    """Leaves: their hooks run, then ``.grad`` accumulates and the post-accumulate-grad
    hooks run (``backward``), or the gradients of the requested inputs are returned
    (``autograd.grad``)."""
    for entry in run.leaves.values():
        t = entry[0]
        if t._hooks:
            entry[1] = _run_hooks(t._hooks, entry[1], t.shape, t.dtype, run.create_graph)
    if not capturing:
        for entry in run.leaves.values():
            t = entry[0]
            _accumulate(entry, run.create_graph)
            if t._post_acc_hooks:  # a leaf root: no consumer finished it in the loop
                _run_post_accumulate_hooks(t)
        return None
    for key, entry in run.leaves.items():
        k = run.capture.get(key)
        if k is not None:
            run.captured[k] = entry[1]
    for k, g in enumerate(run.captured):
        if g is None and not allow_unused:
            raise RuntimeError(
                f"autograd.grad: input {k} was not used in the graph of the outputs; "
                "pass allow_unused=True to get None for it"
            )
    return run.captured


def _accumulate(entry: list[Any], create_graph: bool) -> None:
    """``t.grad += g`` for ``entry = [t, g]``.

    As in PyTorch, a leaf's first gradient is a buffer of its own: a gradient that is a
    view, read-only (a broadcast, a shared constant) or still referenced elsewhere
    (another leaf's gradient, the user's ``gradient=`` array) is copied, so that changing
    one ``.grad`` in place never changes another. Fresh results such as
    ``dW = dY.T @ X`` are adopted as they are.
    """
    t, g = entry
    if t.grad is not None or create_graph:
        accumulate_grad(t, g, create_graph)
        return
    entry[1] = None  # now only `g` (and getrefcount's argument) refer to the array
    if (type(g) is not np.ndarray or g.base is not None or not g.flags.writeable
            or sys.getrefcount(g) > 2):
        g = g.copy()
    t.grad = Tensor._make(g)


def _finish_hooked(run: _Pass, seq: int) -> None:
    """Finish now the hooked leaves whose consumers have all run (the oldest has ``seq``)
    as ``_finish`` does at the end: hooks, ``.grad``, post-accumulate-grad hooks."""
    hooked = run.hooked
    while hooked and hooked[-1][0] >= seq:
        t = hooked.pop()[1]
        entry = run.leaves.pop(id(t), None)
        if entry is None:
            continue  # every path to it carried no gradient: nothing to announce
        if t._hooks:
            entry[1] = _run_hooks(t._hooks, entry[1], t.shape, t.dtype, run.create_graph)
        _accumulate(entry, run.create_graph)
        _run_post_accumulate_hooks(t)


def _run_post_accumulate_hooks(t: Any) -> None:
    for hook in list(t._post_acc_hooks):
        hook(t)


def accumulate_grad(t: Any, g: Any, create_graph: bool) -> None:
    """Add ``g`` to ``t.grad`` (out of place: the old ``.grad`` may be shared)."""
    if t.grad is None:
        t.grad = _as_tensor(g)
    elif create_graph or isinstance(g, Tensor):
        t.grad = t.grad + g
    else:
        t.grad = Tensor._make(np.asarray(t.grad._data + g))


def _as_tensor(g: Any) -> Tensor:
    return g if isinstance(g, Tensor) else Tensor._make(g)


def _run_hooks(hooks: list[Any], g: Any, shape: tuple[int, ...], dtype: Any,
               create_graph: bool) -> Any:
    """Pass a tensor's gradient ``g`` through its hooks (each may replace it)."""
    for hook in list(hooks):
        new = hook(_as_tensor(g))
        if new is None:
            continue
        data = new._data if isinstance(new, Tensor) else np.asarray(new)
        if data.shape != tuple(shape):
            raise RuntimeError(
                f"hook {getattr(hook, '__name__', hook)!r} returned a gradient of shape "
                f"{tuple(data.shape)} for a tensor of shape {tuple(shape)}"
            )
        if data.dtype != dtype:
            data = data.astype(dtype)
        if create_graph:
            g = new if isinstance(new, Tensor) else Tensor._make(data)
        else:
            g = data  # never changed in place: a leaf adopts it only if no one else holds it
    return g


# -- 5. run queued callbacks -------------------------------------------------------------


def _run_callbacks(callbacks: list[Any]) -> None:
    """Each callback once, in order; one queued by a callback runs too (the iteration
    sees what is appended)."""
    for fn in callbacks:
        fn()
