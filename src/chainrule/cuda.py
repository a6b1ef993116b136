"""``cr.cuda``: the probes scripts use to pick a device. chainrule has no GPU: every
answer is "not available", as PyTorch's on a machine without CUDA."""

from __future__ import annotations

from typing import Any

__all__ = [
    "is_available", "device_count", "manual_seed", "manual_seed_all", "synchronize",
    "empty_cache", "is_bf16_supported", "current_device",
]


def is_available() -> bool:
    """False: chainrule computes on the CPU."""
    return False


def device_count() -> int:
    return 0


def manual_seed(seed: int) -> None:
    """Seeding CUDA without CUDA does nothing, as in PyTorch."""


def manual_seed_all(seed: int) -> None:
    """Seeding CUDA without CUDA does nothing, as in PyTorch."""


def synchronize(device: Any = None) -> None:
    raise RuntimeError("cuda.synchronize: chainrule runs on the CPU only; there is no CUDA "
                       "device to synchronize")


def empty_cache() -> None:
    """Nothing is cached on a device that does not exist."""


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def current_device() -> int:
    raise RuntimeError("cuda.current_device: chainrule runs on the CPU only (no CUDA device)")
