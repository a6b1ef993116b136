"""``detect_anomaly``: stop at the first op whose forward or backward made NaN or inf."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]

enabled = False
#: set by the engine while it runs backward rules: the ops they run (under create_graph,
#: or inside a user Function's backward) are checked as that node's gradients instead
in_backward = False


def is_anomaly_enabled() -> bool:
    return enabled


def _array(a: Any) -> Any:
    return a if isinstance(a, np.ndarray) else getattr(a, "data", a)


def _bad(a: Any) -> bool:
    data = _array(a)
    return (
        isinstance(data, np.ndarray)
        and data.dtype.kind in "fc"
        and not bool(np.isfinite(data).all())
    )


def check_forward(node: Any, out: np.ndarray) -> None:
    """Called by every op's forward while anomaly mode is on."""
    if not in_backward and _bad(out):
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
        global enabled
        self._prev = enabled
        enabled = self.check_nan

    def __exit__(self, *exc: object) -> None:
        global enabled
        enabled = self._prev


class set_detect_anomaly(detect_anomaly):
    """``set_detect_anomaly(mode)``: like ``detect_anomaly`` but switches at once too."""

    def __init__(self, mode: bool) -> None:
        global enabled
        self._prev = enabled
        enabled = bool(mode)

    def __enter__(self) -> None:
        pass
