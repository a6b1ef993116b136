"""The errors ``cr.onnx.export`` raises (importable without the ``onnx`` package)."""

from __future__ import annotations

__all__ = ["OnnxExporterError", "UnsupportedOperatorError"]


class OnnxExporterError(RuntimeError):
    """``cr.onnx.export`` could not produce a model that computes what the model computes."""


class UnsupportedOperatorError(OnnxExporterError):
    """An operation of the model has no ONNX translation (the message names it and, for a
    Module, the path of the submodule that ran it)."""
