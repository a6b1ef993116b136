"""``cr.inference_mode``: ``no_grad`` for evaluation code, as ``torch.inference_mode``.

chainrule has no separate inference tensors, so inference mode is grad mode switched
off: nothing is recorded inside it. Like PyTorch's it is a context manager and a
decorator, with or without parentheses; ``inference_mode(False)`` changes nothing.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any

from chainrule.autograd.grad_mode import is_grad_enabled, set_grad_enabled

__all__ = ["inference_mode", "is_inference_mode_enabled"]

class _Depth(threading.local):
    """How many enabled inference_mode blocks this thread has open (grad mode is per
    thread, as in PyTorch, so inference mode is too)."""

    n = 0


_depth = _Depth()


class inference_mode:  # noqa: N801 - PyTorch's name
    """Turn graph recording off inside the block (``mode=True``, the default)."""

    def __new__(cls, mode: Any = True) -> Any:
        if callable(mode):  # ``@inference_mode`` without parentheses
            return cls()(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(is_grad_enabled())
        if self.mode:
            set_grad_enabled(False)
            _depth.n += 1

    def __exit__(self, *exc: object) -> None:
        if self.mode:
            _depth.n -= 1
        set_grad_enabled(self._prev.pop())

    def __call__(self, func: Callable[..., Any]) -> Callable[..., Any]:
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return func(*args, **kwargs)

        return wrapper

    def clone(self) -> inference_mode:
        return inference_mode(self.mode)


def is_inference_mode_enabled() -> bool:
    """True inside an enabled ``inference_mode`` block."""
    return _depth.n > 0
