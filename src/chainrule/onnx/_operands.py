"""The operands an ONNX translation receives, and how one becomes a graph value.

:class:`Arg` is one operand of a traced op; :func:`_in` gives its graph value, storing a
constant on first use. Shared by the translation modules (``_translate*.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from chainrule.onnx._graph import Graph

__all__ = ["Arg"]


_INT64_MAX = np.iinfo(np.int64).max
_INT64_MIN = np.iinfo(np.int64).min


@dataclass
class Arg:
    """One operand of a traced op.

    ``name`` is the graph value holding it ('' for an absent optional operand, None for
    a constant not yet in the graph); ``value`` is what the op saw: an ndarray, a Python
    number, or None.
    """

    name: str | None
    value: Any

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(np.shape(self.value))

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def dtype(self) -> np.dtype:
        return np.asarray(self.value).dtype


def _in(g: Graph, arg: Arg, dtype: Any = None) -> str:
    """The graph value of an operand; a constant is stored on first use.

    A Python number takes ``dtype`` (the op's result dtype: NumPy computed ``x * 2.0`` in
    x's dtype, and ONNX wants both operands of one type); arrays keep their own dtype.
    """
    if arg.name is not None:
        return arg.name
    if isinstance(arg.value, np.ndarray):
        return g.const(arg.value)
    return g.const(arg.value, dtype)


def _axes(axes: tuple[int, ...] | None) -> list[int] | None:
    return None if axes is None else list(axes)
