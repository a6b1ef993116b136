"""``cr.set_printoptions``: how tensors print, as ``torch.set_printoptions``.

The options live beside the tensor formatter (the module that defines ``_PRECISION``,
``_THRESHOLD``, ``_EDGE`` and ``_LINEWIDTH``); this sets them there.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["set_printoptions", "get_printoptions"]

_NAMES = {"precision": "_PRECISION", "threshold": "_THRESHOLD", "edgeitems": "_EDGE",
          "linewidth": "_LINEWIDTH"}
_PROFILES = {"default": (4, 1000, 3, 80), "short": (2, 1000, 2, 80),
             "full": (4, sys.maxsize, 3, 80)}


def _formatter() -> Any:
    """The module holding the print options (the tensor formatter's)."""
    for name, module in list(sys.modules.items()):
        if name.startswith("chainrule") and module is not None and hasattr(module,
                                                                           "_PRECISION"):
            return module
    raise RuntimeError("set_printoptions: the tensor formatter's options were not found")


def set_printoptions(precision: int | None = None, threshold: int | None = None,
                     edgeitems: int | None = None, linewidth: int | None = None,
                     profile: str | None = None, sci_mode: bool | None = None) -> None:
    """Set the digits after the point (``precision``), the element count above which a
    tensor prints summarised (``threshold``), the items kept at each edge
    (``edgeitems``) and the line width; ``profile`` is ``'default'``, ``'short'`` or
    ``'full'``. ``sci_mode`` is accepted; notation is chosen from the values."""
    module = _formatter()
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}")
        for key, value in zip(_NAMES, _PROFILES[profile], strict=True):
            setattr(module, _NAMES[key], value)
    for key, value in (("precision", precision), ("threshold", threshold),
                       ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            setattr(module, _NAMES[key], int(value))


def get_printoptions() -> dict[str, Any]:
    module = _formatter()
    return {key: getattr(module, attr) for key, attr in _NAMES.items()}
