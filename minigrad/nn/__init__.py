"""Neural-network building blocks, imported as ``from minigrad import nn``.

``Module`` and ``Parameter``; containers ``Sequential`` and ``ModuleList``; layers ``Linear``
(= ``Affine``), ``Sigmoid``, ``ReLU``, ``Tanh``, ``LeakyReLU``, ``Softmax``, ``LogSoftmax``,
``Identity``, ``Flatten``, ``BatchNorm1d``, ``BatchNorm2d``, ``Dropout``, ``Conv2d``,
``MaxPool2d``, ``AvgPool2d``; the losses ``SoftmaxCrossEntropy`` (= ``CrossEntropyLoss``) and
``MSELoss``; the ``MLP`` and ``SimpleConvNet`` builders; ``nn.init`` and
``nn.utils.clip_grad_norm_``.
"""
from . import init, utils
from .activation import Flatten, Identity, LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .batchnorm import BatchNorm1d, BatchNorm2d
from .cnn import SimpleConvNet
from .container import ModuleList, Sequential
from .conv import AvgPool2d, Conv2d, MaxPool2d
from .dropout import Dropout
from .linear import Affine, Linear
from .loss import CrossEntropyLoss, MSELoss, SoftmaxCrossEntropy
from .mlp import MLP
from .module import Module
from .parameter import Parameter

__all__ = [
    "Module", "Parameter", "Sequential", "ModuleList", "Linear", "Affine", "Sigmoid", "ReLU",
    "Tanh", "LeakyReLU", "Identity", "Flatten", "SoftmaxCrossEntropy", "CrossEntropyLoss",
    "BatchNorm1d", "BatchNorm2d", "Dropout", "MLP", "init", "utils", "MSELoss", "Softmax",
    "LogSoftmax", "Conv2d", "MaxPool2d", "AvgPool2d", "SimpleConvNet",
]
