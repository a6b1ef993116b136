"""``cr.nn.functional`` (``import chainrule.nn.functional as F``): stateless layer functions.

Everything here is an op of :mod:`chainrule.ops` under PyTorch's functional name and
signature; the layers of ``cr.nn`` call these. The call chain reads top-down:
``nn.Linear`` -> ``F.linear`` -> ``ops.linalg.Linear.apply``.
"""

from __future__ import annotations

from chainrule.ops import elementwise as _elementwise
from chainrule.ops.activation import leaky_relu, log_softmax, one_hot, softmax
from chainrule.ops.cross_entropy import cross_entropy, nll_loss
from chainrule.ops.dropout import dropout
from chainrule.ops.elementwise import sigmoid, tanh
from chainrule.ops.linalg import bilinear, linear
from chainrule.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    l1_loss,
    mse_loss,
)
from chainrule.ops.normalization import batch_norm
from chainrule.tensor import Tensor

__all__ = [
    "linear", "bilinear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "dropout", "one_hot", "batch_norm", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)`` elementwise (gradient 0 at 0). ``inplace`` is accepted for
    PyTorch compatibility; the result is always a new tensor."""
    return _elementwise.relu(input)
