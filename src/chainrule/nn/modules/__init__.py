"""The layers of ``cr.nn``: Module, containers, linear layers, activations, losses."""

from chainrule.nn.modules.activation import (
    LeakyReLU,
    LogSoftmax,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from chainrule.nn.modules.batchnorm import BatchNorm2d, GroupNorm
from chainrule.nn.modules.container import ModuleDict, ModuleList, Sequential
from chainrule.nn.modules.conv import Conv1d, Conv2d, ConvTranspose1d, ConvTranspose2d
from chainrule.nn.modules.dropout import Dropout, Dropout1d, Dropout2d
from chainrule.nn.modules.flatten import Flatten, Unflatten
from chainrule.nn.modules.linear import Bilinear, Identity, Linear
from chainrule.nn.modules.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    L1Loss,
    MSELoss,
    NLLLoss,
)
from chainrule.nn.modules.module import Module
from chainrule.nn.modules.normalization import BatchNorm1d
from chainrule.nn.modules.pooling import (
    AdaptiveAvgPool1d,
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
)
from chainrule.nn.modules.upsampling import Upsample

__all__ = [
    "Module", "Sequential", "ModuleList", "ModuleDict", "Identity", "Linear", "Bilinear",
    "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "Dropout", "Flatten",
    "BatchNorm1d", "CrossEntropyLoss", "NLLLoss", "MSELoss", "L1Loss", "BCELoss",
    "BCEWithLogitsLoss",
    # conv
    "Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "BatchNorm2d", "GroupNorm", "Dropout1d", "Dropout2d", "Upsample", "Unflatten",
]
