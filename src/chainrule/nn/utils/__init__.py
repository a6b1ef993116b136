"""``cr.nn.utils``: helpers around layers (``rnn``: padding sequences)."""

from chainrule.nn.utils import rnn

__all__ = ["rnn"]
