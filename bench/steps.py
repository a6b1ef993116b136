"""The training-step closures the workloads time, written once for all of them.

A workload builds its model, loss and optimizer in each library (chainrule and PyTorch
from the same code, as their APIs are the same) or its hand-written NumPy reference; these
helpers make the closure that is timed: each call trains on the next batch (the batches
in turn, round and round) and returns the loss.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any


def library_step(lib: Any, loss_of: Callable[[Any, Any], Any], optimizer: Any,
                 batches: Sequence[tuple[Any, Any]]) -> Callable[[], Any]:
    """The training step as a user writes it in ``lib`` (chainrule or torch): zero the
    gradients, ``loss = loss_of(x, t)``, backward, optimizer step. The NumPy batches are
    converted with ``lib.from_numpy`` once, beforehand."""
    data = itertools.cycle([(lib.from_numpy(x), lib.from_numpy(t)) for x, t in batches])

    def step() -> Any:
        x, t = next(data)
        optimizer.zero_grad()
        loss = loss_of(x, t)
        loss.backward()
        optimizer.step()
        return loss

    return step


def numpy_step(model: Any, batches: Sequence[tuple[Any, Any]]) -> Callable[[], Any]:
    """The step of a hand-written NumPy reference: ``model.step(x, t)`` trains one step
    and returns the loss."""
    data = itertools.cycle(batches)

    def step() -> Any:
        x, t = next(data)
        return model.step(x, t)

    return step
