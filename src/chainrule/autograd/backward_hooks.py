"""Two engine hooks for code that acts during a backward pass (``DistributedDataParallel``).

- ``Tensor.register_post_accumulate_grad_hook(hook)``: ``hook(tensor)`` runs as soon as a
  leaf's ``.grad`` holds its final gradient for this backward, while the engine goes on
  with the rest of the graph (as PyTorch). The engine runs nodes newest first, so a leaf
  is complete once every node that consumes it has run: when a node older than the
  leaf's oldest consumer is about to run, or at the end. The consumers are found by one
  walk of the graph at the start of a backward, done only once some tensor has such a
  hook (``active``).
- ``queue_callback(fn)``: called during a backward (from a hook), runs ``fn()`` once, after
  every leaf's ``.grad`` is written and before ``backward()`` returns (PyTorch's
  ``Variable._execution_engine.queue_callback``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainrule.autograd.function import Node

__all__ = ["Frame", "begin", "end", "queue_callback"]

#: set once any tensor has a post-accumulate-grad hook: from then on backward walks its
#: graph once at the start to find when each hooked leaf is complete
active = False

_frames: list[Frame] = []  # the backward passes running now (nested ones last)


class Frame:
    """One backward pass: its hooked leaves still to complete, and its queued callbacks."""

    __slots__ = ("pending", "callbacks")

    def __init__(self) -> None:
        #: (seq of the oldest consumer, leaf) for hooked leaves, sorted by seq ascending
        self.pending: list[tuple[int, Any]] = []
        self.callbacks: list[Callable[[], Any]] = []

    def flush(self, seq: int, leaf_grads: dict[int, list[Any]], finish_leaf: Callable,
              create_graph: bool) -> None:
        """Write and announce every hooked leaf whose consumers all have ``seq`` above ``seq``."""
        pending = self.pending
        while pending and pending[-1][0] > seq:
            t = pending.pop()[1]
            entry = leaf_grads.pop(id(t), None)
            if entry is None:
                continue  # no gradient reached it (every path carried None)
            finish_leaf(entry, create_graph)
            entry = None
            for hook in list(t._post_acc_hooks or ()):
                hook(t)

    def finish(self, done: set[int]) -> None:
        """At the end: hooks of the leaves the engine has just written (ids in ``done``)."""
        pending, self.pending = self.pending, []
        for _, t in reversed(pending):
            if id(t) in done:
                for hook in list(t._post_acc_hooks or ()):
                    hook(t)
        while self.callbacks:
            callbacks, self.callbacks = self.callbacks, []
            for fn in callbacks:
                fn()


def begin(roots: Sequence[Any], accumulate: bool) -> Frame:
    """Start a backward from ``roots``; ``accumulate``: gradients go to ``.grad``."""
    frame = Frame()
    _frames.append(frame)
    if active and accumulate:
        frame.pending = _hooked_leaves(roots)
    return frame


def end(frame: Frame) -> None:
    """Forget ``frame`` (and any frame an exception left above it)."""
    for i in range(len(_frames) - 1, -1, -1):
        if _frames[i] is frame:
            del _frames[i:]
            return


def queue_callback(fn: Callable[[], Any]) -> None:
    """Run ``fn()`` at the end of the backward pass that is running now."""
    if not callable(fn):
        raise TypeError(f"queue_callback: expected a callable, got {type(fn).__name__}")
    if not _frames:
        raise RuntimeError("queue_callback: no backward pass is running (call it from a "
                           "hook during backward)")
    _frames[-1].callbacks.append(fn)


def _hooked_leaves(roots: Sequence[Any]) -> list[tuple[int, Any]]:
    """Leaves with post-accumulate hooks reachable from ``roots``, by their oldest consumer."""
    oldest: dict[int, list[Any]] = {}
    stack = [r.grad_fn for r in roots if r.grad_fn is not None]
    seen = {id(n) for n in stack}
    while stack:
        node = stack.pop()
        for edge in node.next_edges:
            if edge is None:
                continue
            target = edge[0]
            if isinstance(target, Node):
                if id(target) not in seen:
                    seen.add(id(target))
                    stack.append(target)
            elif target._post_acc_hooks:
                entry = oldest.get(id(target))
                if entry is None:
                    oldest[id(target)] = [node.seq, target]
                elif node.seq < entry[0]:
                    entry[0] = node.seq
    return sorted(((s, t) for s, t in oldest.values()), key=lambda e: e[0])
