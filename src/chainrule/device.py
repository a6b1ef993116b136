"""``cr.device``: where a tensor lives. chainrule computes on the CPU only.

``cr.device("cpu")`` behaves as ``torch.device("cpu")`` (equality, ``str``, ``repr``,
``type``, ``index``). Other device types can be named (a script may build
``cr.device("cuda")`` before probing), but putting a tensor there raises a clear error.
"""

from __future__ import annotations

import operator
from typing import Any

__all__ = ["device", "check_device"]

_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hpu", "mtia", "xla", "ipu", "privateuseone")


class device:  # noqa: N801 - PyTorch's name (torch.device)
    """A device description: ``device("cpu")``, ``device("cuda:0")``, ``device("cuda", 1)``."""

    __slots__ = ("_type", "_index")

    def __init__(self, type: Any, index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            if index is not None:
                raise TypeError("device(): an index cannot be given with a device object")
            self._type, self._index = type._type, type._index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            type, index = "cuda", type  # a bare ordinal means an accelerator, as PyTorch
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string or device, got {type!r}")
        name, sep, ordinal = type.partition(":")
        if name not in _TYPES:
            raise RuntimeError(
                f"Expected one of {', '.join(_TYPES)} device type at start of device string: "
                f"{type}"
            )
        if sep:
            if index is not None:
                raise RuntimeError(f"device(): type (string) '{type}' must not include an "
                                   "index because index was passed explicitly")
            if not ordinal.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(ordinal)
        if index is not None:
            index = operator.index(index)
            if index < 0:
                raise RuntimeError(f"Device index must not be negative, got {index}")
        self._type, self._index = name, index

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> int | None:
        return self._index

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return self._type == other._type and self._index == other._index

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        if self._index is None:
            return f"device(type='{self._type}')"
        return f"device(type='{self._type}', index={self._index})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (device, (self._type, self._index))

    def __enter__(self) -> device:  # ``with cr.device("cpu"):`` as PyTorch 2 allows
        check_device(self, "device")
        return self

    def __exit__(self, *exc: object) -> None:
        pass


CPU = device("cpu")


def check_device(d: Any, op: str) -> None:
    """Accept ``None``, ``"cpu"`` (``"cpu:0"``) or a cpu device; explain anything else."""
    if d is None or d is CPU:
        return
    dev = d if isinstance(d, device) else device(d)
    if dev._type != "cpu":
        raise RuntimeError(
            f"{op}: device '{dev}' is not available: chainrule runs on the CPU only. Use "
            "device='cpu' (scripts can pick it with "
            "`device = 'cuda' if cr.cuda.is_available() else 'cpu'`, which gives 'cpu')"
        )
