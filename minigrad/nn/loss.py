"""Losses: ``SoftmaxCrossEntropy`` (the book's SoftmaxWithLoss; alias ``CrossEntropyLoss``)."""
from __future__ import annotations

from typing import Any

from ..functional.layers import checked_softmax_cross_entropy
from ..tensor import Tensor
from .module import Module


class SoftmaxCrossEntropy(Module):
    """Cross-entropy of softmax(logits) against integer labels (N,) or probabilities (N, C).

    ``ℓₙ = −Σ_c t_nc log softmax(zₙ)_c``, reduced by ``reduction`` ('mean', 'sum', 'none').
    Backward ``dz = (softmax(z)·Σ_c t_c − t) · dy`` (/ N for 'mean'; ``softmax(z) − t`` for labels
    or probability rows), honouring the upstream gradient.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}
        Σₙ ℓₙ / N, Σₙ ℓₙ, or the vector of per-sample losses ℓ.
    """

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"SoftmaxCrossEntropy: reduction must be 'mean', 'sum' or 'none', "
                             f"got {reduction!r}")
        self.reduction = reduction

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return checked_softmax_cross_entropy(logits, target, self.reduction,
                                             type(self).__name__)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


CrossEntropyLoss = SoftmaxCrossEntropy
