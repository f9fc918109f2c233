"""Losses: ``SoftmaxCrossEntropy`` (the book's SoftmaxWithLoss; alias ``CrossEntropyLoss``) and
``MSELoss``."""
from __future__ import annotations

from typing import Any

from .._checks import check_reduction
from ..functional.losses import checked_softmax_cross_entropy, mse_loss
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
        check_reduction(reduction, "SoftmaxCrossEntropy")
        self.reduction = reduction

    def forward(self, logits: Tensor, target: Any) -> Tensor:
        return checked_softmax_cross_entropy(logits, target, self.reduction,
                                             type(self).__name__)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


CrossEntropyLoss = SoftmaxCrossEntropy


class MSELoss(Module):
    """Mean squared error ``ℓ = (x − t)²`` of an input and a target of the same shape,
    reduced by ``reduction`` ('mean': Σ ℓ / n, 'sum', 'none'); see ``F.mse_loss``."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        check_reduction(reduction, "MSELoss")
        self.reduction = reduction

    def forward(self, input: Tensor, target: Any) -> Tensor:  # noqa: A002 (torch's name)
        return mse_loss(input, target, self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
