"""Two engine hooks for code that acts during a backward pass (``DistributedDataParallel``).

- ``Tensor.register_post_accumulate_grad_hook(hook)``: ``hook(tensor)`` runs right after
  the engine has accumulated a leaf's last gradient of this backward into ``.grad``,
  while it goes on with the rest of the graph (as PyTorch). The engine runs nodes newest
  first, so a leaf's gradient is complete once its oldest consumer has run:
  :func:`hooked_leaves` finds that node for each hooked leaf, by one walk of the graph at
  the start of a backward, done only once some tensor has such a hook (``active``); the
  engine finishes the leaf right after that node (``engine._finish_hooked``).
- ``queue_callback(fn)``: called during a backward (from a hook), runs ``fn()`` once, after
  every leaf's ``.grad`` is written and before ``backward()`` returns (PyTorch's
  ``Variable._execution_engine.queue_callback``; the engine's last phase).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from chainrule.autograd.function import Node

__all__ = ["hooked_leaves", "queue_callback"]

#: set once any tensor has a post-accumulate-grad hook: from then on backward walks its
#: graph once at the start to find when each hooked leaf is complete
active = False

#: the callback queues of the backward passes running now (a nested backward's last)
running: list[list[Callable[[], Any]]] = []


def queue_callback(fn: Callable[[], Any]) -> None:
    """Run ``fn()`` at the end of the backward pass that is running now."""
    if not callable(fn):
        raise TypeError(f"queue_callback: expected a callable, got {type(fn).__name__}")
    if not running:
        raise RuntimeError("queue_callback: no backward pass is running (call it from a "
                           "hook during backward)")
    running[-1].append(fn)


def hooked_leaves(roots: Sequence[Any]) -> list[tuple[int, Any]]:
    """``(seq of its oldest consumer, leaf)`` for the leaves with post-accumulate-grad hooks
    reachable from ``roots``, sorted so that the engine pops them from the end in the
    order it finishes them; leaves finished by the same node: last input first (a Linear's
    bias before its weight, as PyTorch, whose bias and weight have separate nodes).
    """
    oldest: dict[int, list[Any]] = {}
    stack = [r.grad_fn for r in roots if r.grad_fn is not None]
    seen = {id(n) for n in stack}
    while stack:
        node = stack.pop()
        for i, edge in enumerate(node.next_edges):
            if edge is None:
                continue
            target = edge[0]
            if isinstance(target, Node):
                if id(target) not in seen:
                    seen.add(id(target))
                    stack.append(target)
            elif target._post_acc_hooks:
                entry = oldest.get(id(target))
                if entry is None or node.seq < entry[0]:
                    oldest[id(target)] = (node.seq, i, target)
    return [(s, t) for s, _, t in sorted(oldest.values(), key=lambda e: e[:2])]
