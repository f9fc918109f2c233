"""The old home of the fused layer ops, kept so ``from minigrad.functional.layers import ...``
still works. The ops now live with their kind: ``linear`` (affine), ``losses`` (softmax
cross-entropy), ``normalization`` (batch norm), ``regularization`` (dropout),
``elementwise`` (leaky ReLU); the argument checks in ``minigrad/_checks.py``."""
from .._checks import check_floating, check_same_dtype  # noqa: F401
from .regularization import Dropout, dropout  # noqa: F401
from .elementwise import LeakyReLU, checked_leaky_relu, leaky_relu  # noqa: F401
from .linear import Affine, affine, checked_affine  # noqa: F401
from .losses import (SoftmaxCrossEntropy, checked_softmax_cross_entropy,  # noqa: F401
                     softmax_cross_entropy)
from .normalization import BatchNorm, batch_norm, checked_batch_norm  # noqa: F401

__all__ = ["affine", "softmax_cross_entropy", "batch_norm", "dropout", "leaky_relu"]
