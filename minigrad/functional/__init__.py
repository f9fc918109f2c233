"""Differentiable operations, imported as ``from minigrad import functional as F``.

Each op is a ``Function`` subclass (forward on ndarrays, backward on Tensors) beside its
lowercase wrapper; the wrappers are what users call. Grouped by kind: ``arithmetic``,
``elementwise`` (activations too), ``reduction``, ``shape``, ``linear`` (affine),
``normalization``, ``regularization`` (dropout), ``losses``, ``conv`` (convolution and
pooling); the argument checks are in ``minigrad/_checks.py``.
"""
from .arithmetic import add, cast, div, matmul, mul, neg, pow, sub
from .conv import avg_pool2d, conv2d, max_pool2d
from .regularization import dropout
from .elementwise import (abs, clip, exp, leaky_relu, log, maximum, minimum, relu, sigmoid,
                          sqrt, tanh, where)
from .linear import affine
from .losses import cross_entropy, mse_loss, softmax_cross_entropy
from .normalization import batch_norm
from .reduction import (argmax, argmin, extreme_along, log_softmax, logsumexp, max, mean, min,
                        softmax, sum, var)
from .shape import (broadcast_to, clone, concatenate, flatten, getitem, permute, reshape,
                    squeeze, stack, sum_to, swapaxes, transpose, unsqueeze)
from . import layers  # noqa: E402,F401  (the old home of affine, batch_norm...: still there)

__all__ = [
    "add", "sub", "mul", "div", "neg", "pow", "matmul", "cast",
    "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clip", "maximum", "minimum", "where",
    "sum", "mean", "var", "max", "min", "logsumexp", "softmax", "log_softmax",
    "argmax", "argmin",
    "reshape", "transpose", "permute", "swapaxes", "broadcast_to", "sum_to", "squeeze",
    "unsqueeze", "flatten", "getitem", "concatenate", "stack", "clone",
    "affine", "softmax_cross_entropy", "batch_norm", "dropout", "leaky_relu",
    "cross_entropy", "mse_loss",
    "conv2d", "max_pool2d", "avg_pool2d",
]
