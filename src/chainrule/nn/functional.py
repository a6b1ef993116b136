"""``cr.nn.functional`` (``import chainrule.nn.functional as F``): stateless layer functions.

Everything here is an op of :mod:`chainrule.ops` under PyTorch's functional name and
signature; the layers of ``cr.nn`` call these. The call chain reads top-down:
``nn.Linear`` -> ``F.linear`` -> ``ops.linalg.Linear.apply``.
"""

from __future__ import annotations

from typing import Any

from chainrule.ops import elementwise as _elementwise
from chainrule.ops import padding as _padding
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
from chainrule.ops.conv import conv1d, conv2d, conv_transpose1d, conv_transpose2d
from chainrule.ops.cross_entropy import cross_entropy, nll_loss
from chainrule.ops.distance import cosine_similarity, pairwise_distance
from chainrule.ops.dropout import dropout
from chainrule.ops.dropout_channel import dropout1d, dropout2d
from chainrule.ops.elementwise import sigmoid, tanh
from chainrule.ops.embedding import embedding
from chainrule.ops.fold import fold, unfold
from chainrule.ops.linalg import bilinear, linear
from chainrule.ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    l1_loss,
    mse_loss,
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
from chainrule.ops.normalization import batch_norm, group_norm, layer_norm, rms_norm
from chainrule.ops.padding import interpolate, pad
from chainrule.ops.pooling import (
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
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
    # conv: convolution, pooling, padding, resampling
    "conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "max_pool2d",
    "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
    "adaptive_max_pool2d", "pad", "unfold", "fold", "interpolate", "dropout1d", "dropout2d",
    "group_norm",
]


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)`` elementwise (gradient 0 at 0). ``inplace`` is accepted for
    PyTorch compatibility; the result is always a new tensor."""
    return _elementwise.relu(input)


# -- conv: adaptive average pooling (thin forms of its op) --------------------------------


def adaptive_avg_pool1d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over ``output_size`` adaptive windows of ``(N, C, L)`` (sizes need not divide)."""
    return _padding.adaptive_avg_pool("adaptive_avg_pool1d", 1, input, output_size)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Mean over ``output_size`` adaptive windows of ``(N, C, H, W)`` or ``(C, H, W)``:
    window i spans ``[floor(i*H/H'), ceil((i+1)*H/H'))``; None keeps that dimension."""
    return _padding.adaptive_avg_pool("adaptive_avg_pool2d", 2, input, output_size)
