"""The error raised when operands' shapes (or size arguments) don't fit an operation."""

from __future__ import annotations


class ShapeError(ValueError, RuntimeError):
    """Shapes that don't fit an op: ``matmul: shapes (2, 3) and (4, 5) are not aligned ...``.

    Both a ``ValueError``, as NumPy raises for such input, and a ``RuntimeError``, as
    PyTorch raises, so that code catching either keeps working when it moves between them.
    """
