"""Utilities: ``chainrule.utils.data`` holds datasets and the DataLoader."""

from chainrule.utils import data

__all__ = ["data"]
