"""Losses under ``torch.nn.functional``'s names: ``cross_entropy`` and ``mse_loss``."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..tensor import Tensor
from .layers import _REDUCTIONS, check_floating, checked_softmax_cross_entropy


def cross_entropy(input: Any, target: Any, weight: Optional[Any] = None, *,  # noqa: A002
                  ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """PyTorch's ``F.cross_entropy``: ``softmax_cross_entropy`` of logits (N, C) against
    integer class labels (N,) or class probabilities (N, C).

    ``ℓₙ = −Σ_c t_nc log softmax(zₙ)_c``, reduced by ``reduction`` ('mean', 'sum', 'none').
    ``weight``, ``label_smoothing`` and a non-default ``ignore_index`` are not supported: they
    raise rather than being ignored (a label of -100 is out of range, not skipped).
    """
    if weight is not None:
        raise NotImplementedError("cross_entropy: class weights (weight=) are not supported "
                                  "in minigrad")
    if ignore_index != -100:
        raise NotImplementedError("cross_entropy: ignore_index is not supported in minigrad "
                                  "(every label must be a class in [0, C))")
    if label_smoothing != 0.0:
        raise NotImplementedError("cross_entropy: label_smoothing is not supported in minigrad")
    return checked_softmax_cross_entropy(input, target, reduction, "cross_entropy")


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:  # noqa: A002
    """Mean squared error ``ℓ = (x − t)²`` elementwise, then 'mean' (Σ ℓ / n), 'sum' or
    'none'; differentiable in both ``input`` and ``target``: dℓ/dx = 2(x − t).

    The shapes must be equal: PyTorch broadcasts (N, 1) against (N,) to (N, N) with a warning,
    a silent wrong loss that minigrad refuses.
    """
    check_floating(input, "mse_loss")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"mse_loss: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if isinstance(target, Tensor):
        if target.dtype != input.dtype:
            raise TypeError(f"mse_loss: input has dtype {input.dtype} but target {target.dtype}; "
                            "convert one, e.g. target.to(input.dtype)")
    else:
        try:
            target = np.asarray(target, dtype=input.dtype)   # constants in the input's dtype
        except (TypeError, ValueError) as error:
            raise ValueError(f"mse_loss: target is not an array of numbers ({error})") from None
    if target.shape != input.shape:
        raise ValueError(f"mse_loss: input of shape {tuple(input.shape)} and target of shape "
                         f"{tuple(target.shape)} differ; reshape one (broadcasting them would "
                         "compare every input with every target)")
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.mean() if reduction == "mean" else squared.sum()
