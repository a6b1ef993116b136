"""``detect_anomaly``: stop at the first op whose forward or backward made NaN or inf.

The two flags, ``anomaly.enabled`` and ``anomaly.in_backward``, are per thread (as
PyTorch's anomaly mode): they read like module globals, but each thread sees and sets its
own, so one thread's ``detect_anomaly`` block does not check or slow another's ops.
"""

from __future__ import annotations

import sys
import threading
import types
from typing import Any

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


class _AnomalyState(threading.local):
    """The calling thread's flags (class attributes are the defaults of a new thread)."""

    enabled: bool = False
    #: set by the engine while it runs backward rules: the ops they run (under
    #: create_graph, or inside a user Function's backward) are checked as that node's
    #: gradients instead
    in_backward: bool = False


#: the calling thread's flags; the per-op checks read ``AnomalyMode.enabled`` directly
#: (an attribute of a thread-local object, like ``GradMode.enabled``: no call per op)
AnomalyMode = _AnomalyState()


def _thread_flag(name: str) -> property:
    """A module attribute that reads and writes the calling thread's ``AnomalyMode.<name>``."""

    def get(_module: types.ModuleType) -> bool:
        return getattr(AnomalyMode, name)

    def set_(_module: types.ModuleType, value: bool) -> None:
        setattr(AnomalyMode, name, value)

    return property(get, set_)


class _AnomalyModule(types.ModuleType):
    """This module's type: ``anomaly.enabled`` / ``anomaly.in_backward`` are the thread's."""

    enabled = _thread_flag("enabled")
    in_backward = _thread_flag("in_backward")


sys.modules[__name__].__class__ = _AnomalyModule


def is_anomaly_enabled() -> bool:
    return AnomalyMode.enabled


def _array(a: Any) -> Any:
    return a if isinstance(a, np.ndarray) else getattr(a, "_data", a)


def _bad(a: Any) -> bool:
    data = _array(a)
    return (
        isinstance(data, np.ndarray)
        and data.dtype.kind in "fc"
        and not bool(np.isfinite(data).all())
    )


def check_forward(node: Any, out: np.ndarray) -> None:
    """Called by every op's forward while anomaly mode is on."""
    if not AnomalyMode.in_backward and _bad(out):
        kind = "NaN" if np.isnan(out).any() else "inf"
        raise RuntimeError(
            f"detect_anomaly: the forward of {type(node).__name__} produced {kind} "
            f"(output shape {tuple(out.shape)})"
        )


def check_backward(node: Any, grads: tuple[Any, ...]) -> None:
    """Called by the engine after each node's backward while anomaly mode is on."""
    for i, g in enumerate(grads):
        if g is not None and _bad(g):
            data = _array(g)
            kind = "NaN" if np.isnan(data).any() else "inf"
            raise RuntimeError(
                f"detect_anomaly: function {node.name()} returned {kind} values in its "
                f"gradient for input {i} (shape {tuple(data.shape)})"
            )


class detect_anomaly:
    """Context manager: raise at the op whose forward or backward first gives NaN/inf.

    ``log`` of a negative number still returns NaN outside this mode, as in NumPy.
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> None:
        self._prev = AnomalyMode.enabled
        AnomalyMode.enabled = self.check_nan

    def __exit__(self, *exc: object) -> None:
        AnomalyMode.enabled = self._prev


class set_detect_anomaly(detect_anomaly):
    """``set_detect_anomaly(mode)``: like ``detect_anomaly`` but switches at once too."""

    def __init__(self, mode: bool) -> None:
        self._prev = AnomalyMode.enabled
        AnomalyMode.enabled = bool(mode)

    def __enter__(self) -> None:
        pass
