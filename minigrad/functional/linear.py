"""The affine map y = x W + b (the book's Affine layer, ``nn.Linear``)."""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from .. import _checks as checks
from ..autograd import Function
from ..tensor import Tensor


def _rows(x: Any) -> Any:
    """x as (N, features), one row per sample (the book's flattening; also for N = 0); a 1-D
    x is one sample, a row. For a Tensor or an ndarray."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(1, x.shape[0])
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


class Affine(Function):
    """y = x W + b, with x flattened to (N, in_features) as the book's Affine layer does; a 1-D
    x (one sample) gives a 1-D y."""

    def forward(self, x: np.ndarray, W: np.ndarray, b: Optional[np.ndarray] = None):
        y = _rows(x) @ W
        if b is not None:
            y += b
        return y[0] if x.ndim == 1 else y

    def backward(self, gy: Tensor) -> tuple:
        x, W = self.inputs[0], self.inputs[1]
        return _affine_grads(gy, x, W, self.needs_input_grad, Tensor.sum)

    def backward_arrays(self, gy: np.ndarray) -> tuple:
        x, W = self.inputs[0].data, self.inputs[1].data
        return _affine_grads(gy, x, W, self.needs_input_grad, np.add.reduce)


def _affine_grads(gy: Any, x: Any, W: Any, needs: tuple, sum_along: Any) -> tuple:
    """(dx, dW, db) = (dy Wᵀ, xᵀ dy, Σₙ dy), None where no gradient is needed (no db without
    a bias); for Tensors or ndarrays alike (``sum_along(a, axis=0)`` sums the rows)."""
    if x.ndim == 1:
        gy = gy.reshape(1, gy.shape[0])                      # one sample: a row, as x
    dx = dW = db = None
    if needs[0]:
        dx = gy @ W.T                                        # dx = dy Wᵀ
        if x.ndim != 2:
            dx = dx.reshape(x.shape)
    if needs[1]:
        dW = _rows(x).T @ gy                                 # dW = xᵀ dy
    if len(needs) == 2:
        return dx, dW
    if needs[2]:
        db = sum_along(gy, axis=0)                           # db = Σₙ dy
    return dx, dW, db


def affine(x: Any, W: Any, b: Any = None) -> Tensor:
    """The affine map ``y = x W + b`` (W of shape (in_features, out_features)).

    ``x`` of shape (N, in_features) gives (N, out_features); an input of more dimensions is
    flattened to (N, -1) first (the book's Affine), a 1-D input is one sample. The backward is
    ``dx = dy Wᵀ``, ``dW = xᵀ dy``, ``db = Σₙ dy`` (itself differentiable).

    Parameters
    ----------
    x : Tensor
        Floating input of shape (N, in_features) (or (N, ...) with in_features values per row).
    W : Tensor
        Weight of shape (in_features, out_features), of x's dtype.
    b : Tensor, optional
        Bias of shape (out_features,).

    Returns
    -------
    Tensor
        Shape (N, out_features).
    """
    return checked_affine(x, W, b, "affine")


def checked_affine(x: Any, W: Any, b: Any, op: str) -> Tensor:
    """``affine`` with errors that name ``op`` (the layer calling it)."""
    checks.affine(x, W, b, op)
    return Affine.apply(x, W) if b is None else Affine.apply(x, W, b)


__all__ = ["affine"]
