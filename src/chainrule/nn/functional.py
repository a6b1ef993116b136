"""``cr.nn.functional`` (``import chainrule.nn.functional as F``): stateless layer functions.

Everything here is an op of :mod:`chainrule.ops` under PyTorch's functional name and
signature; the layers of ``cr.nn`` call these. The call chain reads top-down:
``nn.Linear`` -> ``F.linear`` -> ``ops.linalg.Linear.apply``.
"""

from __future__ import annotations

from chainrule.ops import elementwise as _elementwise
from chainrule.ops.activation import leaky_relu, log_softmax, one_hot, softmax
from chainrule.ops.activations_more import (
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    logsigmoid,
    mish,
    prelu,
    relu6,
    selu,
    silu,
    softmin,
    softplus,
    softsign,
    tanhshrink,
)
from chainrule.ops.attention import scaled_dot_product_attention
from chainrule.ops.distance import cosine_similarity, pairwise_distance
from chainrule.ops.dropout import dropout
from chainrule.ops.elementwise import sigmoid, tanh
from chainrule.ops.embedding import embedding
from chainrule.ops.linalg import bilinear, linear
from chainrule.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
)
from chainrule.ops.loss_margin import (
    cosine_embedding_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    soft_margin_loss,
    triplet_margin_loss,
    triplet_margin_with_distance_loss,
)
from chainrule.ops.loss_regression import (
    gaussian_nll_loss,
    huber_loss,
    kl_div,
    poisson_nll_loss,
    smooth_l1_loss,
)
from chainrule.ops.normalization import batch_norm, layer_norm, rms_norm
from chainrule.tensor import Tensor

__all__ = [
    "linear", "bilinear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax",
    "dropout", "one_hot", "batch_norm", "cross_entropy", "nll_loss", "mse_loss", "l1_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
    # numerics: regression, margin and distance losses
    "smooth_l1_loss", "huber_loss", "kl_div", "poisson_nll_loss", "gaussian_nll_loss",
    "margin_ranking_loss", "hinge_embedding_loss", "soft_margin_loss", "multi_margin_loss",
    "cosine_embedding_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss",
    "cosine_similarity", "pairwise_distance",
    # seq
    "gelu", "silu", "elu", "selu", "celu", "softplus", "logsigmoid", "mish", "softsign",
    "tanhshrink", "hardtanh", "relu6", "hardsigmoid", "hardswish", "prelu", "softmin",
    "embedding", "layer_norm", "rms_norm", "scaled_dot_product_attention",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)`` elementwise (gradient 0 at 0). ``inplace`` is accepted for
    PyTorch compatibility; the result is always a new tensor."""
    return _elementwise.relu(input)
