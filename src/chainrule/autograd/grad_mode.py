"""Gradient recording switches: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

The switches act on the calling thread only, as in PyTorch: a thread evaluating under
``no_grad`` does not stop another thread from recording its graph.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["GradMode", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled"]

F = TypeVar("F", bound=Callable[..., Any])


class _GradModeState(threading.local):
    """The flag every op reads before recording a graph node, one per thread (as PyTorch's).

    ``GradMode.enabled`` reads and writes the calling thread's flag; a new thread starts
    with the class default, True, whatever other threads have switched.
    """

    enabled: bool = True


GradMode = _GradModeState()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are recorded."""
    return GradMode.enabled


class _GradModeContext:
    """Base for the three switches: a context manager that is also a decorator."""

    mode: bool = True

    def __enter__(self) -> None:
        self._prev = GradMode.enabled
        GradMode.enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        GradMode.enabled = self._prev

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._clone():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _clone(self) -> _GradModeContext:
        return self.__class__()


class _NoArgsContext(_GradModeContext):
    """A switch without arguments, so that it also decorates without parentheses."""

    def __new__(cls, func: Any = None) -> Any:
        # ``@no_grad`` as well as ``@no_grad()``, as PyTorch allows
        if func is not None:
            return cls()(func)
        return super().__new__(cls)


class no_grad(_NoArgsContext):
    """Context manager / decorator that turns graph recording off (``torch.no_grad``)."""

    mode = False


class enable_grad(_NoArgsContext):
    """Context manager / decorator that turns graph recording on (``torch.enable_grad``)."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(mode)``: sets recording at once, and restores it on ``__exit__``.

    Like PyTorch's, it works as a plain call (``cr.set_grad_enabled(False)``), as a context
    manager, and as a decorator.
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = GradMode.enabled
        GradMode.enabled = self.mode

    def __enter__(self) -> None:
        pass

    def __exit__(self, *exc: object) -> None:
        GradMode.enabled = self._prev

    def __call__(self, func: F) -> F:
        GradMode.enabled = self._prev  # used as decorator: undo the eager switch
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = GradMode.enabled
            GradMode.enabled = mode
            try:
                return func(*args, **kwargs)
            finally:
                GradMode.enabled = prev

        return wrapper  # type: ignore[return-value]
