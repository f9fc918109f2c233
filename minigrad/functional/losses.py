"""Losses: softmax cross-entropy (the book's SoftmaxWithLoss, and ``cross_entropy`` under
``torch.nn.functional``'s name) and the mean squared error ``mse_loss``."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _checks as checks
from ..autograd import Function
from ..tensor import Tensor


class SoftmaxCrossEntropy(Function):
    """loss = −Σ_c t_c log softmax(z)_c per row, then the reduction; t = one-hot(labels) or
    probabilities. Keeps e^(z − max z) and its row sums from forward and divides only in
    backward, into the new gradient array: dz = (softmax(z)·Σ_c t_c − t) · gy (/ N for mean),
    which is softmax(z) − t when the rows of t sum to 1 (one-hot labels always do)."""

    once_differentiable = True

    def forward(self, z: np.ndarray, t: np.ndarray, reduction: str = "mean") -> np.ndarray:
        self.reduction = reduction
        with np.errstate(over="ignore"):   # below −max float: −inf, and e^−inf = 0 exactly
            shifted = z - np.maximum.reduce(z, axis=1, keepdims=True)   # ≤ 0: exp never
        exp = np.exp(shifted)                                           # overflows
        sum_exp = np.add.reduce(exp, axis=1, keepdims=True)
        log_sum_exp = np.log(sum_exp)            # log softmax = shifted − log Σ e^shifted
        self.labels = t.dtype.kind in "iu"
        if self.labels:
            self.rows = np.arange(z.shape[0])
            losses = log_sum_exp[:, 0] - shifted[self.rows, t]   # −log softmax(z)[t]
            log_p = None
        else:
            log_p = shifted
            log_p -= log_sum_exp                  # log softmax, finite for any z
            losses = -(t * log_p).sum(axis=1)
        self.save_for_backward(exp, sum_exp, log_p if self.needs_input_grad[1] else None)
        if reduction == "none":
            return losses
        total = np.add.reduce(losses)
        return total / z.shape[0] if reduction == "mean" else total

    def backward(self, gy: Tensor) -> tuple:
        # the closed form below works on arrays (so the op is once differentiable)
        return tuple(None if g is None else Tensor(g) for g in self.backward_arrays(gy.data))

    def backward_arrays(self, gy: np.ndarray) -> tuple:
        exp, sum_exp, log_p = self.saved_tensors
        t = self.inputs[1].data
        if self.reduction == "none":
            scale = gy[:, None]
        else:
            scale = float(gy)                               # a Python number: NumPy keeps
            if self.reduction == "mean":                    # gz's dtype, and a 0-d array
                scale /= exp.shape[0]                       # would cost a ufunc call
        gz = gt = None
        if self.needs_input_grad[0]:
            gz = exp / sum_exp                              # softmax(z), a new array
            if self.labels:
                gz[self.rows, t] -= 1                       # softmax(z) − one-hot(t)
            else:
                gz *= t.sum(axis=1, keepdims=True)          # softmax(z)·Σ_c t_c − t: any
                gz -= t                                     # t, not only rows summing to 1
            gz *= scale
        if self.needs_input_grad[1]:
            gt = -log_p * scale                             # d loss / dt = −log softmax(z)
        return gz, gt


def softmax_cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of softmax(logits) against integer labels or class probabilities.

    ``logits`` has shape (N, C). ``target`` is integer labels of shape (N,) in [0, C), or
    probabilities / one-hot rows of shape (N, C). Per row ``ℓₙ = −Σ_c t_nc log softmax(zₙ)_c``;
    ``reduction`` 'mean' gives Σₙ ℓₙ / N, 'sum' Σₙ ℓₙ, 'none' the vector ℓ. Backward:
    ``dz = (softmax(z)·Σ_c t_c − t) · dy`` (divided by N for 'mean'), i.e. ``softmax(z) − t``
    for labels or rows that sum to 1; finite for logits of any size.

    Parameters
    ----------
    logits : Tensor
        Floating, shape (N, C).
    target : array or Tensor
        Integer labels (N,) in [0, C), or floating probabilities (N, C) (converted to the
        logits' dtype; if a Tensor that requires grad, it gets ``dt = −log softmax(z) · dy``).
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor
        A scalar, or shape (N,) for 'none'.
    """
    return checked_softmax_cross_entropy(logits, target, reduction, "softmax_cross_entropy")


def checked_softmax_cross_entropy(logits: Any, target: Any, reduction: str, op: str) -> Tensor:
    """``softmax_cross_entropy`` with errors that name ``op`` (the layer calling it)."""
    target = checks.cross_entropy_target(logits, target, reduction, op)
    return SoftmaxCrossEntropy.apply(logits, target, reduction=reduction)


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
    target = checks.mse_target(input, target, reduction)
    diff = input - target
    squared = diff * diff
    if reduction == "none":
        return squared
    return squared.mean() if reduction == "mean" else squared.sum()


__all__ = ["softmax_cross_entropy", "cross_entropy", "mse_loss"]
