"""Process-wide switches scripts set at start-up, with PyTorch's names.

chainrule computes with NumPy on the CPU: its results are deterministic, its only device
is the CPU, and NumPy's BLAS threads are fixed when NumPy loads (set ``OMP_NUM_THREADS``
before starting Python). These functions accept what scripts pass and report it back.
"""

from __future__ import annotations

import os
from typing import Any

from chainrule.device import CPU, check_device, device

__all__ = [
    "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
    "set_num_threads", "get_num_threads", "set_default_device", "get_default_device",
]

_state: dict[str, Any] = {"deterministic": False, "threads": None}


def use_deterministic_algorithms(mode: bool, *, warn_only: bool = False) -> None:
    """Record the flag: chainrule's algorithms are deterministic either way."""
    _state["deterministic"] = bool(mode)


def are_deterministic_algorithms_enabled() -> bool:
    return _state["deterministic"]


def set_num_threads(num: int) -> None:
    """Record the thread count (NumPy's BLAS threads are set by ``OMP_NUM_THREADS``)."""
    if int(num) < 1:
        raise ValueError(f"set_num_threads: expected a positive number of threads, got {num}")
    _state["threads"] = int(num)


def get_num_threads() -> int:
    if _state["threads"] is not None:
        return _state["threads"]
    return int(os.environ.get("OMP_NUM_THREADS", 0)) or os.cpu_count() or 1


def set_default_device(d: Any) -> None:
    """Only the CPU (or None) is accepted: chainrule has no other device."""
    check_device(d, "set_default_device")


def get_default_device() -> device:
    return CPU
