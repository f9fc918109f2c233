"""Batch normalisation: y = γ (x − μ) / √(σ² + ε) + β per channel.

The op stays pure: the wrapper computes the batch statistics and passes them in as constants,
and updates the running statistics itself, outside the differentiable op.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _checks as checks
from ..autograd import Function
from ..tensor import Tensor


class BatchNorm(Function):
    """y = γ x̂ + β with x̂ = (x − μ) / √(σ² + ε) per channel (axis 1).

    μ and σ² are given as constants: the batch statistics in training (then the backward
    treats them as functions of x), the running averages in evaluation. ``centered``, if
    given, is x − μ already computed (for the variance) and becomes x̂ in place.
    """

    once_differentiable = True

    def forward(self, x: np.ndarray, weight: Optional[np.ndarray] = None,
                bias: Optional[np.ndarray] = None, mean: Any = None, var: Any = None,
                eps: float = 1e-5, training: bool = True,
                centered: Optional[np.ndarray] = None) -> np.ndarray:
        self.training, self.mean, self.var, self.eps = training, mean, var, eps   # (for export)
        self.axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)              # broadcast per channel
        inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
        inv_std = inv_std.reshape(shape)
        x_hat = x - mean.reshape(shape) if centered is None else centered
        x_hat *= inv_std
        self.save_for_backward(x_hat, inv_std)
        if weight is None:
            return x_hat.copy()
        y = x_hat * weight.reshape(shape)
        y += bias.reshape(shape)
        return y

    def backward(self, gy: Tensor) -> tuple:
        x_hat, inv_std = self.saved_tensors
        gy = gy.data
        shape = inv_std.shape
        affine = len(self.inputs) == 3
        needs = self.needs_input_grad
        gx = gw = gb = None
        if self.training or (affine and (needs[1] or needs[2])):
            sum_gy = np.add.reduce(gy, axis=self.axes)                  # Σ dy = dβ
            sum_gy_xhat = np.add.reduce(gy * x_hat, axis=self.axes)     # Σ dy·x̂ = dγ
        if needs[0]:
            scale = inv_std * self.inputs[1].data.reshape(shape) if affine else inv_std
            if self.training:
                m = x_hat.size // x_hat.shape[1]             # values per channel
                # dx = γ/(m σ) · (m·dy − Σdy − x̂·Σ(dy·x̂)) = γ/σ · (dy − Σdy/m − x̂·Σ(dy·x̂)/m)
                gx = x_hat * (sum_gy_xhat / m).reshape(shape)
                np.subtract(gy, gx, out=gx)
                gx -= (sum_gy / m).reshape(shape)
                gx *= scale
            else:
                gx = gy * scale                              # dx = γ/σ · dy (constant stats)
        if affine and needs[1]:
            gw = Tensor(sum_gy_xhat)
        if affine and needs[2]:
            gb = Tensor(sum_gy)
        gx = Tensor(gx) if gx is not None else None
        return (gx, gw, gb) if affine else gx


def batch_norm(x: Any, running_mean: Optional[np.ndarray], running_var: Optional[np.ndarray],
               weight: Any = None, bias: Any = None, training: bool = False,
               momentum: Optional[float] = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation per channel (axis 1) of x of shape (N, C, ...).

    ``y = γ (x − μ) / √(σ² + ε) + β``. In training μ and σ² are the batch mean and biased
    variance over every axis but 1, and the running statistics (ndarrays, updated in place,
    outside the differentiable op) become ``(1 − momentum)·running + momentum·batch`` (the
    variance unbiased); ``momentum=None`` gives the cumulative average, counting in
    ``num_batches_tracked``. In evaluation the running statistics are used. Backward (training):
    ``dx = γ/(m σ) · (m·dy − Σdy − x̂·Σ(dy·x̂))``, m = values per channel.

    Parameters
    ----------
    x : Tensor
        Floating, shape (N, C, ...).
    running_mean, running_var : ndarray of shape (C,) or None
        Updated in place in training; used in evaluation. None: always batch statistics.
    weight, bias : Tensor of shape (C,), optional
        γ and β (both or neither).
    training : bool
        Batch statistics (and running update) or running statistics.
    momentum : float
        Weight of the new batch in the running averages.
    eps : float
        ε added to the variance.
    """
    return checked_batch_norm(x, running_mean, running_var, weight, bias, training, momentum,
                              eps, None, "batch_norm")


def checked_batch_norm(x: Any, running_mean: Optional[np.ndarray],
                       running_var: Optional[np.ndarray], weight: Any, bias: Any,
                       training: bool, momentum: Optional[float], eps: float,
                       num_batches_tracked: Optional[np.ndarray], op: str,
                       layout: Optional[checks.Layout] = None) -> Tensor:
    """``batch_norm`` counting batches in ``num_batches_tracked``, with errors naming ``op``
    (a layer passes its ``layout``: the ranks and channels it accepts)."""
    eps, momentum = checks.batch_norm(x, running_mean, running_var, weight, bias, training,
                                      momentum, eps, num_batches_tracked, op, layout)
    data = x.data if isinstance(x, Tensor) else x
    use_batch = training or running_mean is None
    if use_batch:
        m = checks.values_per_channel(data, op)
        axes = (0,) + tuple(range(2, data.ndim))
        mean = _mean(data, axes, m)
        centered = data - mean.reshape((1, -1) + (1,) * (data.ndim - 2))
        var = _mean(np.square(centered), axes, m)          # biased: Σ(x − μ)²/m
        if training and running_mean is not None:
            _update_running(running_mean, running_var, mean, var, m, momentum,
                            num_batches_tracked)
    else:
        mean, var, centered = running_mean, running_var, None
    inputs = (x,) if weight is None else (x, weight, bias)
    return BatchNorm.apply(*inputs, mean=mean, var=var, eps=eps, training=use_batch,
                           centered=centered)


def _mean(a: np.ndarray, axes: tuple, m: int) -> np.ndarray:
    """``a.mean(axis=axes)`` (m values each) without ndarray.mean's Python layer: Σ / m, the
    same bits for float32 and wider (float16 keeps NumPy's float32 accumulation)."""
    if a.dtype.char == "e":
        return a.mean(axis=axes)
    return np.add.reduce(a, axis=axes) / m


def _update_running(running_mean: np.ndarray, running_var: np.ndarray, mean: np.ndarray,
                    var: np.ndarray, m: int, momentum: Optional[float],
                    num_batches_tracked: Optional[np.ndarray]) -> None:
    """running = (1 − momentum)·running + momentum·batch, in place (unbiased variance)."""
    if num_batches_tracked is not None:
        num_batches_tracked[()] += 1     # as a scalar: 10x faster than a ufunc on a 0-d array
    if momentum is None:                                     # cumulative moving average
        momentum = 1.0 / float(num_batches_tracked)
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += (momentum * m / (m - 1)) * var


__all__ = ["batch_norm"]
