"""``cr.accelerator``: PyTorch 2's device-agnostic probes. chainrule has no accelerator,
so it answers as PyTorch does on a CPU-only machine."""

from __future__ import annotations

from typing import Any

__all__ = ["is_available", "current_accelerator", "device_count", "synchronize"]


def is_available() -> bool:
    """False: no accelerator (scripts then fall back to ``'cpu'``)."""
    return False


def current_accelerator(check_available: bool = False) -> Any:
    """None: there is no accelerator (``torch.accelerator.current_accelerator()`` on a CPU)."""
    return None


def device_count() -> int:
    return 0


def synchronize(device: Any = None) -> None:
    """Nothing to wait for on the CPU."""
