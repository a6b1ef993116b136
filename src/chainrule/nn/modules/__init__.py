"""The layers of ``cr.nn``: Module, containers, linear layers, activations, losses."""

from chainrule.nn.modules.activation import (
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.modules.activations_more import *  # noqa: F403
from chainrule.nn.modules.activations_more import __all__ as _activations_more_all
from chainrule.nn.modules.attention import MultiheadAttention
from chainrule.nn.modules.container import ModuleDict, ModuleList, Sequential
from chainrule.nn.modules.dropout import Dropout
from chainrule.nn.modules.flatten import Flatten
from chainrule.nn.modules.layer_norm import LayerNorm, RMSNorm
from chainrule.nn.modules.linear import Bilinear, Identity, Linear
from chainrule.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from chainrule.nn.modules.loss_more import (
    CosineEmbeddingLoss,
    CosineSimilarity,
    GaussianNLLLoss,
    HingeEmbeddingLoss,
    HuberLoss,
    KLDivLoss,
    MarginRankingLoss,
    MultiMarginLoss,
    PairwiseDistance,
    PoissonNLLLoss,
    SmoothL1Loss,
    SoftMarginLoss,
    TripletMarginLoss,
    TripletMarginWithDistanceLoss,
)
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.normalization import BatchNorm1d
from chainrule.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from chainrule.nn.modules.sparse import Embedding
from chainrule.nn.modules.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)

__all__ = [
    "Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Bilinear",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Dropout", "Flatten",
    "BatchNorm1d", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss",
    "BCEWithLogitsLoss",
    # numerics: more losses and the distance modules
    "SmoothL1Loss", "HuberLoss", "KLDivLoss", "PoissonNLLLoss", "GaussianNLLLoss",
    "MarginRankingLoss", "HingeEmbeddingLoss", "SoftMarginLoss", "MultiMarginLoss",
    "CosineEmbeddingLoss", "TripletMarginLoss", "TripletMarginWithDistanceLoss",
    "CosineSimilarity", "PairwiseDistance",
    # seq
    *_activations_more_all, "LayerNorm", "RMSNorm", "Embedding", "MultiheadAttention",
    "TransformerEncoderLayer", "TransformerEncoder", "TransformerDecoderLayer",
    "TransformerDecoder", "Transformer", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell",
]
