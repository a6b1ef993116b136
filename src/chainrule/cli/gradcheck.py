"""``chainrule gradcheck``: every built-in op's backward against finite differences.

Each entry of :data:`OPS` names an op, a function of float64 tensors that applies it, and
the shapes (and value range) of its inputs. For each, ``cr.autograd.gradcheck`` compares
the full Jacobian that backward gives with central differences and decides ``ok``; the
table also shows the largest absolute difference between the two gradients of
``sum(v * f(inputs))`` for a random cotangent ``v``. The exit code is 1 if any op fails.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import chainrule as cr
from chainrule.autograd.engine import backward_order
from chainrule.autograd.function import FunctionNode
from chainrule.cli.common import CLIError, non_negative_int
from chainrule.nn import functional

__all__ = ["OPS", "OpCase", "CheckResult", "add_arguments", "check_op", "run", "select",
           "node_names"]


def _F() -> Any:
    return functional


def _recurrent() -> Any:
    from chainrule.ops import recurrent

    return recurrent
def _dropout(a: Any) -> Any:
    """Dropout with the mask drawn from a fixed seed, so every call drops the same elements."""
    cr.manual_seed(0)
    return functional.dropout(a, 0.3, training=True)


@dataclass(frozen=True)
class OpCase:
    """One row of the check: ``fn(*inputs)`` with inputs of ``shapes`` drawn in [low, high]."""

    name: str
    fn: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    low: float = -2.0
    high: float = 2.0


_MASK = np.array([[1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 0]], dtype=bool)
_CLASS_TARGET = np.array([1, 0, 4])  # class indices for 3 samples of 5 classes
_PROB_TARGET = np.array([[0.0, 1.0, 0.3, 0.8], [1.0, 0.0, 0.5, 0.2], [0.6, 0.1, 1.0, 0.0]])
_CLASS_PROBS = _PROB_TARGET[:, [0, 1, 2, 3, 0]]
_CLASS_PROBS = _CLASS_PROBS / _CLASS_PROBS.sum(1, keepdims=True)  # rows of 5 probabilities
POSITIVE = {"low": 0.5, "high": 2.0}

#: The built-in ops, each checked on small float64 inputs (binary ops under broadcasting).
OPS: list[OpCase] = [
    # arithmetic (the seeds' add, multiply and 1/x nodes)
    OpCase("add", lambda a, b: cr.add(a, b), ((2, 3, 4), (3, 1))),
    OpCase("sub", lambda a, b: cr.sub(a, b), ((3, 4), (4,))),
    OpCase("mul", lambda a, b: cr.mul(a, b), ((2, 3, 4), (3, 1))),
    OpCase("div", lambda a, b: cr.div(a, b), ((3, 4), (4,)), **POSITIVE),
    OpCase("neg", lambda a: cr.neg(a), ((3, 4),)),
    OpCase("reciprocal", lambda a: cr.reciprocal(a), ((3, 4),), **POSITIVE),
    OpCase("pow", lambda a, b: cr.pow(a, b), ((3, 4), (4,)), **POSITIVE),
    OpCase("clone", lambda a: cr.clone(a), ((3, 4),)),
    # elementwise
    OpCase("exp", lambda a: cr.exp(a), ((3, 4),)),
    OpCase("log", lambda a: cr.log(a), ((3, 4),), **POSITIVE),
    OpCase("log1p", lambda a: cr.log1p(a), ((3, 4),), **POSITIVE),
    OpCase("sqrt", lambda a: cr.sqrt(a), ((3, 4),), **POSITIVE),
    OpCase("abs", lambda a: cr.abs(a), ((3, 4),)),
    OpCase("sin", lambda a: cr.sin(a), ((3, 4),)),
    OpCase("cos", lambda a: cr.cos(a), ((3, 4),)),
    OpCase("tanh", lambda a: cr.tanh(a), ((3, 4),)),
    OpCase("sigmoid", lambda a: cr.sigmoid(a), ((3, 4),)),
    OpCase("relu", lambda a: cr.relu(a), ((3, 4),)),
    OpCase("sign", lambda a: cr.sign(a), ((3, 4),)),
    OpCase("clamp", lambda a: cr.clamp(a, min=-0.5, max=0.5), ((3, 4),)),
    OpCase("clamp_tensor", lambda a, lo: cr.clamp(a, min=lo, max=lo + 1.0), ((3, 4), (4,))),
    OpCase("maximum", lambda a, b: cr.maximum(a, b), ((3, 4), (4,))),
    OpCase("minimum", lambda a, b: cr.minimum(a, b), ((3, 4), (4,))),
    OpCase("where", lambda a, b: cr.where(cr.from_numpy(_MASK), a, b), ((3, 4), (3, 4))),
    # reductions
    OpCase("sum", lambda a: cr.sum(a, dim=1), ((3, 4),)),
    OpCase("mean", lambda a: cr.mean(a, dim=(0, 2), keepdim=True), ((2, 3, 4),)),
    OpCase("var", lambda a: cr.var(a, dim=1), ((3, 4),)),
    OpCase("std", lambda a: cr.std(a, dim=0), ((3, 4),)),
    OpCase("max", lambda a: cr.max(a, dim=1)[0], ((3, 4),)),
    OpCase("min", lambda a: cr.min(a), ((3, 4),)),
    OpCase("min_dim", lambda a: cr.min(a, dim=0)[0], ((3, 4),)),
    OpCase("amax", lambda a: cr.amax(a, dim=(0, 1)), ((3, 4, 2),)),
    OpCase("amin", lambda a: cr.amin(a, dim=-1, keepdim=True), ((3, 4),)),
    OpCase("logsumexp", lambda a: cr.logsumexp(a, dim=1), ((3, 4),)),
    OpCase("prod", lambda a: cr.prod(a, dim=1), ((3, 4),)),
    # shape (the seeds' Repeat/Sum is expand and its adjoint)
    OpCase("reshape", lambda a: cr.reshape(a, (2, 6)), ((3, 4),)),
    OpCase("view", lambda a: a.view(4, 3), ((3, 4),)),
    OpCase("flatten", lambda a: cr.flatten(a, 1), ((2, 3, 4),)),
    OpCase("squeeze", lambda a: cr.squeeze(a, 1), ((3, 1, 4),)),
    OpCase("unsqueeze", lambda a: cr.unsqueeze(a, 0), ((3, 4),)),
    OpCase("transpose", lambda a: cr.transpose(a, 0, 2), ((2, 3, 4),)),
    OpCase("permute", lambda a: cr.permute(a, (2, 0, 1)), ((2, 3, 4),)),
    OpCase("expand", lambda a: a.expand(2, 3, 4), ((3, 1),)),
    OpCase("cat", lambda a, b: cr.cat([a, b], dim=0), ((2, 3), (4, 3))),
    OpCase("stack", lambda a, b: cr.stack([a, b], dim=1), ((2, 3), (2, 3))),
    OpCase("getitem", lambda a: a[1:, [0, 2, 2]], ((3, 4),)),
    OpCase("index_put", lambda a, v: cr.index_put(a, (slice(None), 1), v), ((3, 4), (3,))),
    OpCase("flip", lambda a: cr.flip(a, (0, 1)), ((3, 4),)),
    OpCase("repeat", lambda a: a.repeat(2, 1, 3), ((3, 4),)),
    # linear algebra
    OpCase("matmul", lambda a, b: cr.matmul(a, b), ((2, 3, 4), (4, 5))),
    OpCase("mm", lambda a, b: cr.mm(a, b), ((3, 4), (4, 5))),
    OpCase("bmm", lambda a, b: cr.bmm(a, b), ((2, 3, 4), (2, 4, 5))),
    OpCase("outer", lambda a, b: cr.outer(a, b), ((3,), (4,))),
    OpCase("einsum", lambda a, b: cr.einsum("bij,kj->bik", a, b), ((2, 3, 4), (5, 4))),
    OpCase("linear", lambda x, w, b: _F().linear(x, w, b), ((3, 4), (5, 4), (5,))),
    OpCase(
        "bilinear", lambda x1, x2, w, b: _F().bilinear(x1, x2, w, b),
        ((3, 2), (3, 4), (5, 2, 4), (5,)),
    ),
    # activations and losses (the seeds' Softmax-with-Loss)
    OpCase("softmax", lambda a: _F().softmax(a, dim=1), ((3, 4),)),
    OpCase("log_softmax", lambda a: _F().log_softmax(a, dim=1), ((3, 4),)),
    OpCase("leaky_relu", lambda a: _F().leaky_relu(a, 0.1), ((3, 4),)),
    OpCase("dropout", _dropout, ((3, 4),)),
    OpCase(
        "batch_norm", lambda x, w, b: _F().batch_norm(x, None, None, w, b, training=True),
        ((4, 3), (3,), (3,)),
    ),
    OpCase(
        "cross_entropy", lambda a: _F().cross_entropy(a, cr.from_numpy(_CLASS_TARGET)), ((3, 5),)
    ),
    OpCase(
        "cross_entropy_probs",
        lambda a: _F().cross_entropy(a, cr.from_numpy(_CLASS_PROBS), label_smoothing=0.2),
        ((3, 5),),
    ),
    OpCase(
        "cross_entropy_smoothing",
        lambda a: _F().cross_entropy(a, cr.from_numpy(_CLASS_TARGET), label_smoothing=0.1),
        ((3, 5),),
    ),
    OpCase("nll_loss", lambda a: _F().nll_loss(a, cr.from_numpy(_CLASS_TARGET)), ((3, 5),)),
    OpCase("mse_loss", lambda a, b: _F().mse_loss(a, b), ((3, 4), (3, 4))),
    OpCase("l1_loss", lambda a, b: _F().l1_loss(a, b), ((3, 4), (3, 4))),
    OpCase(
        "binary_cross_entropy",
        lambda a: _F().binary_cross_entropy(a, cr.from_numpy(_PROB_TARGET)), ((3, 4),),
        low=0.1, high=0.9,
    ),
    OpCase(
        "binary_cross_entropy_with_logits",
        lambda a: _F().binary_cross_entropy_with_logits(a, cr.from_numpy(_PROB_TARGET)),
        ((3, 4),),
    ),
    # numerics: regression, margin and distance losses
    OpCase("smooth_l1_loss", lambda a, b: _F().smooth_l1_loss(a, b, beta=0.7), ((3, 4), (3, 4))),
    OpCase("huber_loss", lambda a, b: _F().huber_loss(a, b, delta=0.7), ((3, 4), (3, 4))),
    OpCase("kl_div", lambda a, b: _F().kl_div(a, b, reduction="batchmean"), ((3, 4), (3, 4)),
           **POSITIVE),
    OpCase("poisson_nll_loss", lambda a, b: _F().poisson_nll_loss(a, b, log_input=False,
                                                                  full=True),
           ((3, 4), (3, 4)), **POSITIVE),
    OpCase("gaussian_nll_loss", lambda a, b, v: _F().gaussian_nll_loss(a, b, v),
           ((3, 4), (3, 4), (3, 1)), **POSITIVE),
    OpCase("margin_ranking_loss", lambda a, b: _F().margin_ranking_loss(
        a, b, cr.tensor([1.0, -1.0, 1.0], dtype=a.dtype), margin=0.1), ((3,), (3,))),
    OpCase("soft_margin_loss", lambda a: _F().soft_margin_loss(
        a, cr.tensor([1.0, -1.0, 1.0], dtype=a.dtype)), ((3,),)),
    OpCase("multi_margin_loss", lambda a: _F().multi_margin_loss(
        a, cr.from_numpy(_CLASS_TARGET), p=2), ((3, 5),)),
    OpCase("cosine_embedding_loss", lambda a, b: _F().cosine_embedding_loss(
        a, b, cr.tensor([1.0, -1.0, 1.0])), ((3, 4), (3, 4))),
    OpCase("triplet_margin_loss", lambda a, p, n: _F().triplet_margin_loss(a, p, n, margin=2.0),
           ((3, 4), (3, 4), (3, 4))),
    OpCase("cosine_similarity", lambda a, b: _F().cosine_similarity(a, b), ((3, 4), (4,))),
    OpCase("pairwise_distance", lambda a, b: _F().pairwise_distance(a, b, p=3.0),
           ((3, 4), (3, 4))),
    # numerics: decompositions (MultivariateNormal's)
    OpCase("cholesky", lambda a: _decomp().cholesky(a @ a.mT + 3 * cr.eye(3, dtype=a.dtype)),
           ((2, 3, 3),)),
    OpCase("solve_triangular", lambda a, b: _decomp().solve_triangular(
        a + 3 * cr.eye(3, dtype=a.dtype), b, upper=False), ((2, 3, 3), (3, 2))),
    # seq: activations, embedding, layer/RMS norm, attention, recurrent cells
    OpCase("gelu", lambda a: _F().gelu(a), ((3, 4),)),
    OpCase("gelu_tanh", lambda a: _F().gelu(a, approximate="tanh"), ((3, 4),)),
    OpCase("silu", lambda a: _F().silu(a), ((3, 4),)),
    OpCase("elu", lambda a: _F().elu(a), ((3, 4),)),
    OpCase("selu", lambda a: _F().selu(a), ((3, 4),)),
    OpCase("celu", lambda a: _F().celu(a, 0.5), ((3, 4),)),
    OpCase("softplus", lambda a: _F().softplus(a, beta=2.0), ((3, 4),)),
    OpCase("logsigmoid", lambda a: _F().logsigmoid(a), ((3, 4),)),
    OpCase("mish", lambda a: _F().mish(a), ((3, 4),)),
    OpCase("softsign", lambda a: _F().softsign(a), ((3, 4),)),
    OpCase("tanhshrink", lambda a: _F().tanhshrink(a), ((3, 4),)),
    OpCase("hardtanh", lambda a: _F().hardtanh(a, -0.5, 0.5), ((3, 4),)),
    OpCase("relu6", lambda a: _F().relu6(a * 4), ((3, 4),)),
    OpCase("hardsigmoid", lambda a: _F().hardsigmoid(a * 2), ((3, 4),)),
    OpCase("hardswish", lambda a: _F().hardswish(a * 2), ((3, 4),)),
    OpCase("prelu", lambda a, w: _F().prelu(a, w), ((3, 4, 2), (4,))),
    OpCase("embedding", lambda w: _F().embedding(cr.from_numpy(_CLASS_TARGET), w), ((5, 3),)),
    OpCase("layer_norm", lambda x, w, b: _F().layer_norm(x, (4,), w, b), ((3, 4), (4,), (4,))),
    OpCase("rms_norm", lambda x, w: _F().rms_norm(x, (4,), w), ((3, 4), (4,))),
    OpCase(
        "scaled_dot_product_attention",
        lambda q, k, v: _F().scaled_dot_product_attention(q, k, v, is_causal=True),
        ((2, 2, 3, 4), (2, 2, 3, 4), (2, 2, 3, 5)),
    ),
    OpCase("lstm", lambda x, h, c, wi, wh, bi, bh: _recurrent().LSTM.apply(
        x, h, c, wi, wh, bi, bh)[0], ((3, 2, 2), (2, 2), (2, 2), (8, 2), (8, 2), (8,), (8,))),
    OpCase("gru", lambda x, h, wi, wh, bi, bh: _recurrent().GRU.apply(
        x, h, wi, wh, bi, bh)[0], ((3, 2, 2), (2, 2), (6, 2), (6, 2), (6,), (6,))),
    OpCase("rnn", lambda x, h, wi, wh, bi, bh: _recurrent().RNN.apply(
        x, h, wi, wh, bi, bh, reverse=True)[0], ((3, 2, 2), (2, 2), (2, 2), (2, 2), (2,), (2,))),
    # conv: convolution (im2col, one GEMM, col2im), pooling, padding, resampling, norms
    OpCase(
        "conv2d", lambda x, w, b: _F().conv2d(x, w, b, stride=2, padding=1, groups=2),
        ((2, 4, 5, 5), (4, 2, 3, 3), (4,)),
    ),
    OpCase("conv1d", lambda x, w: _F().conv1d(x, w, padding="same", dilation=2),
           ((2, 3, 7), (2, 3, 3))),
    OpCase(
        "conv_transpose2d",
        lambda x, w, b: _F().conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
        ((2, 3, 3, 3), (3, 2, 3, 3), (2,)),
    ),
    OpCase("conv_transpose1d", lambda x, w: _F().conv_transpose1d(x, w, stride=2),
           ((2, 3, 4), (3, 2, 3))),
    OpCase("max_pool2d", lambda x: _F().max_pool2d(x, 3, 2, 1, ceil_mode=True),
           ((2, 2, 6, 5),)),
    OpCase("max_pool1d", lambda x: _F().max_pool1d(x, 3, 2, 1), ((2, 3, 8),)),
    OpCase("avg_pool1d", lambda x: _F().avg_pool1d(x, 2), ((2, 3, 8),)),
    OpCase("adaptive_avg_pool1d", lambda x: _F().adaptive_avg_pool1d(x, 3), ((2, 3, 7),)),
    OpCase("adaptive_avg_pool2d_3x2", lambda x: _F().adaptive_avg_pool2d(x, (3, 2)),
           ((2, 3, 7, 5),)),
    OpCase("interpolate_nearest1d", lambda x: _F().interpolate(x, scale_factor=2),
           ((2, 3, 4),)),
    OpCase("interpolate_linear1d", lambda x: _F().interpolate(x, size=7, mode="linear"),
           ((2, 3, 4),)),
    OpCase("interpolate_nearest2d", lambda x: _F().interpolate(x, size=(5, 7)),
           ((2, 3, 3, 4),)),
    OpCase("pad_constant", lambda x: _F().pad(x, (1, 2), value=0.5), ((2, 3, 4),)),
    OpCase("pad_reflect1d", lambda x: _F().pad(x, (2, 1), mode="reflect"), ((2, 3, 4),)),
    OpCase("pad_reflect3d", lambda x: _F().pad(x, (1, 1, 1, 1, 1, 1), mode="reflect"),
           ((1, 2, 3, 3, 3),)),
    OpCase("pad_replicate1d", lambda x: _F().pad(x, (2, 1), mode="replicate"), ((2, 3, 4),)),
    OpCase("pad_replicate2d", lambda x: _F().pad(x, (1, 2, 2, 1), mode="replicate"),
           ((2, 3, 3, 4),)),
    OpCase("pad_replicate3d", lambda x: _F().pad(x, (1, 1, 1, 1, 1, 1), mode="replicate"),
           ((1, 2, 3, 3, 3),)),
    OpCase("pad_circular1d", lambda x: _F().pad(x, (2, 1), mode="circular"), ((2, 3, 4),)),
    OpCase("pad_circular2d", lambda x: _F().pad(x, (1, 2, 2, 1), mode="circular"),
           ((2, 3, 3, 4),)),
    OpCase("pad_circular3d", lambda x: _F().pad(x, (1, 1, 1, 1, 1, 1), mode="circular"),
           ((1, 2, 3, 3, 3),)),
    OpCase("dropout2d", lambda x: _channel_dropout(x), ((2, 4, 3, 3),)),
    OpCase("ceil", lambda a: cr.ceil(a), ((3, 4),)),
    OpCase("trunc", lambda a: cr.trunc(a), ((3, 4),)),
    OpCase("avg_pool2d", lambda x: _F().avg_pool2d(x, 3, 2, 1, count_include_pad=False),
           ((2, 2, 6, 5),)),
    OpCase("adaptive_avg_pool2d", lambda x: _F().adaptive_avg_pool2d(x, (2, 3)),
           ((2, 2, 5, 7),)),
    OpCase("adaptive_max_pool2d", lambda x: _F().adaptive_max_pool2d(x, (2, 3)),
           ((2, 2, 5, 7),)),
    OpCase("pad_reflect", lambda x: _F().pad(x, (1, 2, 2, 0), mode="reflect"),
           ((2, 2, 4, 4),)),
    OpCase("interpolate_bilinear",
           lambda x: _F().interpolate(x, scale_factor=2, mode="bilinear"), ((1, 2, 3, 3),)),
    OpCase("unfold", lambda x: _F().unfold(x, 2, padding=1, stride=2), ((2, 2, 4, 5),)),
    OpCase("fold", lambda x: _F().fold(x, (3, 4), 2), ((2, 8, 6),)),
    OpCase("group_norm", lambda x, w, b: _F().group_norm(x, 2, w, b),
           ((3, 4, 2, 2), (4,), (4,))),
    # parity: pointwise functions, norms, and issue 13's indexing/sorting/cumulative ops
    OpCase("floor", lambda a: cr.floor(a), ((3, 4),)),
    OpCase("round", lambda a: cr.round(a, decimals=1), ((3, 4),)),
    OpCase("frac", lambda a: cr.frac(a), ((3, 4),), low=0.1, high=0.9),
    OpCase("remainder", lambda a, b: cr.remainder(a, b), ((3, 4), (4,)), **POSITIVE),
    OpCase("fmod", lambda a, b: cr.fmod(a, b), ((3, 4), (4,)), **POSITIVE),
    OpCase("atan2", lambda a, b: cr.atan2(a, b), ((3, 4), (4,)), **POSITIVE),
    OpCase("log2", lambda a: cr.log2(a), ((3, 4),), **POSITIVE),
    OpCase("log10", lambda a: cr.log10(a), ((3, 4),), **POSITIVE),
    OpCase("expm1", lambda a: cr.expm1(a), ((3, 4),)),
    OpCase("erf", lambda a: cr.erf(a), ((3, 4),)),
    OpCase("rsqrt", lambda a: cr.rsqrt(a), ((3, 4),), **POSITIVE),
    OpCase("nan_to_num", lambda a: cr.nan_to_num(a), ((3, 4),)),
    OpCase("norm", lambda a: cr.norm(a, dim=1), ((3, 4),)),
    OpCase("gather", lambda a: cr.gather(a, 1, cr.tensor([[0, 2], [1, 1], [3, 0]])), ((3, 4),)),
    OpCase("scatter", lambda a, b: cr.scatter(a, 1, cr.tensor([[0, 2], [1, 3], [3, 0]]), b),
           ((3, 4), (3, 2))),
    OpCase("scatter_add",
           lambda a, b: cr.scatter_add(a, 1, cr.tensor([[0, 0], [1, 3], [3, 3]]), b),
           ((3, 4), (3, 2))),
    OpCase("index_select", lambda a: cr.index_select(a, 1, cr.tensor([3, 0, 3])), ((3, 4),)),
    OpCase("take_along_dim", lambda a: cr.take_along_dim(a, cr.tensor([[2], [0], [1]]), 1),
           ((3, 4),)),
    OpCase("masked_fill", lambda a: cr.masked_fill(a, cr.from_numpy(_MASK), 0.5), ((3, 4),)),
    OpCase("tril", lambda a: cr.tril(a, -1), ((2, 3, 4),)),
    OpCase("triu", lambda a: cr.triu(a, 1), ((3, 4),)),
    OpCase("cumsum", lambda a: cr.cumsum(a, 1), ((3, 4),)),
    OpCase("cumprod", lambda a: cr.cumprod(a, 0), ((3, 4),)),
    OpCase("sort", lambda a: cr.sort(a, 1, descending=True).values, ((3, 4),)),
    OpCase("topk", lambda a: cr.topk(a, 2, dim=0).values, ((3, 4),)),
    OpCase("roll", lambda a: cr.roll(a, (1, -1), (0, 1)), ((3, 4),)),
    OpCase("tile", lambda a: cr.tile(a, (2,)), ((3, 4),)),
    OpCase("repeat_interleave", lambda a: cr.repeat_interleave(a, cr.tensor([1, 0, 2]), 0),
           ((3, 4),)),
    OpCase("tan", lambda a: cr.tan(a), ((3, 4),), low=-1.2, high=1.2),
    OpCase("asin", lambda a: cr.asin(a), ((3, 4),), low=-0.9, high=0.9),
    OpCase("acos", lambda a: cr.acos(a), ((3, 4),), low=-0.9, high=0.9),
    OpCase("atan", lambda a: cr.atan(a), ((3, 4),)),
    OpCase("sinh", lambda a: cr.sinh(a), ((3, 4),)),
    OpCase("cosh", lambda a: cr.cosh(a), ((3, 4),)),
]


def _channel_dropout(a: Any) -> Any:
    """dropout2d with the mask drawn from a fixed seed, so every call drops the same channels."""
    cr.manual_seed(0)
    return functional.dropout2d(a, 0.5, training=True)


def _decomp() -> Any:
    from chainrule.ops import linalg_decomp

    return linalg_decomp
#: Ops no row checks directly, and why (a test keeps OPS and this list covering every op).
NOT_CHECKED = {
    "Cast": "a dtype conversion: float32 rounding swamps central differences; "
            "tests/ops/test_arithmetic.py checks it",
    "LocalScale": "runs inside other ops' backward under create_graph; --second-order checks it",
    "IndexAddZeros": "getitem's backward, as a node under create_graph; --second-order checks it",
    "IndexAddDim": "index_select's backward, as a node under create_graph; --second-order checks "
                   "it",
    "ScatterAddZeros": "gather's backward, as a node under create_graph; --second-order checks it",
    "GELUDerivative": "runs inside gelu's backward under create_graph; --second-order checks it",
}


@dataclass
class CheckResult:
    """The outcome for one op: ``ok`` from gradcheck, the largest gradient difference."""

    case: OpCase
    ok: bool
    max_abs_error: float
    message: str = ""
    second_order: bool | None = None


def _inputs(case: OpCase, rng: np.random.Generator) -> list[cr.Tensor]:
    return [
        cr.tensor(rng.uniform(case.low, case.high, shape), dtype=cr.float64, requires_grad=True)
        for shape in case.shapes
    ]


def _vjp_error(case: OpCase, inputs: list[cr.Tensor], rng: np.random.Generator,
               eps: float) -> float:
    """max |autograd - finite differences| over the gradients of ``sum(v * f(inputs))``."""
    out = case.fn(*inputs)
    v = rng.standard_normal(out.shape)
    analytical = cr.autograd.grad(
        out, inputs, grad_outputs=cr.tensor(v, dtype=cr.float64), allow_unused=True
    )
    worst = 0.0
    with cr.no_grad():
        for x, g in zip(inputs, analytical, strict=True):
            flat = x._data.reshape(-1)  # a view: perturbing it perturbs x
            numerical = np.empty(flat.size)
            for k in range(flat.size):
                original = flat[k]
                flat[k] = original + eps
                plus = float((case.fn(*inputs).detach().numpy() * v).sum())
                flat[k] = original - eps
                minus = float((case.fn(*inputs).detach().numpy() * v).sum())
                flat[k] = original
                numerical[k] = (plus - minus) / (2 * eps)
            got = np.zeros(flat.size) if g is None else g.detach().numpy().reshape(-1)
            worst = max(worst, float(np.abs(got - numerical).max(initial=0.0)))
    return worst


def check_op(
    case: OpCase, seed: int = 0, eps: float = 1e-6, second_order: bool = False
) -> CheckResult:
    """Check one op: ``gradcheck`` (and ``gradgradcheck`` if asked) plus the VJP error."""
    rng = np.random.default_rng(seed)
    inputs = _inputs(case, rng)
    error, ok, message = float("nan"), False, ""
    try:
        error = _vjp_error(case, inputs, rng, eps)
        ok = cr.autograd.gradcheck(case.fn, inputs, eps=eps)
    except Exception as e:  # a wrong gradient (GradcheckError), or an op that fails outright
        message = f"{type(e).__name__}: {' '.join(str(e).split())}"
    result = CheckResult(case, bool(ok), error, message)
    if second_order:
        try:
            result.second_order = bool(cr.autograd.gradgradcheck(case.fn, inputs, eps=eps))
        except Exception as e:
            result.second_order = False
            result.message = result.message or f"gradgradcheck: {' '.join(str(e).split())}"
    return result


def _shapes(case: OpCase) -> str:
    return " ".join(str(tuple(shape)).replace(" ", "") for shape in case.shapes)


def format_table(results: Sequence[CheckResult]) -> str:
    """The results as a plain-text table: op, shapes, max abs error, ok."""
    second = any(r.second_order is not None for r in results)
    header = ["op", "shapes", "max abs error", "ok"] + (["2nd order"] if second else [])
    rows = []
    for r in results:
        row = [r.case.name, _shapes(r.case), f"{r.max_abs_error:.2e}", "ok" if r.ok else "FAIL"]
        if second:
            row.append("ok" if r.second_order else "FAIL")
        rows.append(row)
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip()
             for row in (header, *rows)]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--op", action="append", metavar="NAME", default=None,
                        help="check only this op (repeatable; default: all): a row's name "
                        "(linear) or the op's name as cr.explain prints it (Linear)")
    parser.add_argument("--second-order", action="store_true",
                        help="also check second derivatives (gradgradcheck)")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the random inputs (default: 0)")


def node_names(case: OpCase) -> list[str]:
    """The ops of a case's graph as ``cr.explain`` names them (``Linear``, ``MatMul``),
    the output's own op first."""
    inputs = _inputs(case, np.random.default_rng(0))
    out = case.fn(*inputs)
    if out.grad_fn is None:
        return []
    names = []
    for node in backward_order(out.grad_fn):
        name = node._fn_cls.__name__ if isinstance(node, FunctionNode) else type(node).__name__
        if name not in names:
            names.append(name)
    return names


def select(names: Sequence[str]) -> list[OpCase]:
    """The cases for ``--op`` names: a row's name (``linear``) or an op as ``cr.explain``
    prints it (``Linear``: every row whose output that op makes; failing that, every row
    whose graph holds it). Raises CLIError naming what is unknown."""
    by_name = {case.name: case for case in OPS}
    chosen: list[OpCase] = []
    unknown = []
    graphs: dict[str, list[str]] | None = None
    for name in dict.fromkeys(names):
        if name in by_name:
            found = [by_name[name]]
        else:
            if graphs is None:
                graphs = {case.name: node_names(case) for case in OPS}
            found = [c for c in OPS if graphs[c.name][:1] == [name]]
            found = found or [c for c in OPS if name in graphs[c.name]]
        if not found:
            unknown.append(name)
        chosen.extend(c for c in found if c not in chosen)
    if unknown:
        raise CLIError(
            f"--op: unknown op {', '.join(map(repr, unknown))}; known ops: "
            f"{', '.join(by_name)}, or an op's name as cr.explain prints it (e.g. Linear)",
            code=2,
        )
    return chosen


def run(args: argparse.Namespace) -> int:
    """Run ``chainrule gradcheck``; returns 1 if any op fails."""
    cases = select(args.op) if args.op else OPS
    began = time.perf_counter()
    results = [check_op(case, args.seed, second_order=args.second_order) for case in cases]
    print(format_table(results))
    failed = [r for r in results if not r.ok or r.second_order is False]
    print(
        f"{len(results)} ops checked in float64 against central differences "
        f"(eps=1e-6) in {time.perf_counter() - began:.2f} s: "
        + (f"{len(failed)} failed" if failed else "all ok")
    )
    for r in failed:
        print(f"  {r.case.name}: {r.message or 'gradcheck returned False'}")
    return 1 if failed else 0
