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
    given, is x − μ already computed (for the variance), and ``ones`` the vector that summed
    over the batch (``batch_ones``), kept for backward's sums. x̂ is never stored: forward computes
    y = (x − μ)·(γ/σ) + β (one pass over x fewer than x̂ then γ x̂) and backward reads x̂ as
    (x − μ)/σ per channel, within float rounding of the textbook order.
    """

    once_differentiable = True

    def forward(self, x: np.ndarray, weight: Optional[np.ndarray] = None,
                bias: Optional[np.ndarray] = None, mean: Any = None, var: Any = None,
                eps: float = 1e-5, training: bool = True,
                centered: Optional[np.ndarray] = None,
                ones: Optional[np.ndarray] = None) -> np.ndarray:
        self.training, self.mean, self.var, self.eps = training, mean, var, eps   # (for export)
        self.axes = (0,) + tuple(range(2, x.ndim))
        self.ones = ones
        inv_std = 1 / np.sqrt(var + x.dtype.type(eps))                   # 1/σ, shape (C,)
        scale = inv_std if weight is None else inv_std * weight          # γ/σ
        if centered is None:
            centered = x - per_channel(mean, x.ndim)                     # x − μ
        self.save_for_backward(centered, inv_std, scale)
        y = centered * per_channel(scale, x.ndim)                        # γ x̂ = (x − μ)·γ/σ
        if bias is not None:
            y += per_channel(bias, x.ndim)
        return y

    def backward(self, gy: Tensor) -> tuple:
        # the closed form below works on arrays (so the op is once differentiable)
        return tuple(None if g is None else Tensor(g) for g in self.backward_arrays(gy.data))

    def backward_arrays(self, gy: np.ndarray) -> tuple:
        centered, inv_std, scale = self.saved_tensors
        affine = len(self.inputs) == 3
        needs = self.needs_input_grad
        gx = gw = gb = None
        if self.training or (affine and (needs[1] or needs[2])):
            ones = self.ones if self.ones is not None else batch_ones(gy)
            sum_gy = sum_per_channel(gy, self.axes, ones)                    # Σ dy = dβ
            sum_gy_xhat = sum_per_channel(gy * centered, self.axes, ones)
            sum_gy_xhat *= inv_std                          # Σ dy·x̂ = Σ dy·(x − μ) / σ = dγ
        if needs[0] and self.training:
            m = centered.size // centered.shape[1]           # values per channel
            # dx = γ/(m σ) · (m·dy − Σdy − x̂·Σ(dy·x̂)) = γ/σ · (dy − Σdy/m − x̂·Σ(dy·x̂)/m),
            # with x̂·Σ(dy·x̂)/m = (x − μ)·(Σ(dy·x̂)/(m σ))
            gx = centered * per_channel(sum_gy_xhat * (inv_std / m), gy.ndim)
            np.subtract(gy, gx, out=gx)
            gx -= per_channel(sum_gy / m, gy.ndim)
            gx *= per_channel(scale, gy.ndim)
        elif needs[0]:
            gx = gy * per_channel(scale, gy.ndim)            # dx = γ/σ · dy (constant stats)
        if affine and needs[1]:
            gw = sum_gy_xhat
        if affine and needs[2]:
            gb = sum_gy
        return (gx, gw, gb) if affine else (gx,)


def per_channel(a: np.ndarray, ndim: int) -> np.ndarray:
    """A per-channel array of shape (C,) shaped to broadcast along axis 1 of an ndim-d input:
    as it is for (N, C) (NumPy broadcasts it along the last axis: no reshape call)."""
    return a if ndim == 2 else a.reshape((1, -1) + (1,) * (ndim - 2))


def batch_ones(x: np.ndarray) -> Optional[np.ndarray]:
    """ones(N) in x's dtype if x is (N, C) float32/float64 (then sums over the batch are the
    product ones @ a), else None (np.add.reduce)."""
    if x.ndim != 2 or x.dtype.char not in "fd":
        return None
    ones = np.empty(x.shape[0], x.dtype)
    ones.fill(1)
    return ones


def sum_per_channel(a: np.ndarray, axes: tuple, ones: Optional[np.ndarray]) -> np.ndarray:
    """Σ of ``a`` over ``axes`` (every axis but 1). Given ``batch_ones``, as the product
    ones @ a (BLAS): 2-2.5x faster than np.add.reduce over axis 0 of an (N, C) array, whose
    inner loop is one row of C values, and the same sum up to float rounding (the terms are
    added in another order)."""
    return np.add.reduce(a, axis=axes) if ones is None else ones @ a


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
        ones = batch_ones(data)
        mean = _mean(data, axes, m, ones)
        centered = data - per_channel(mean, data.ndim)
        var = _mean(np.square(centered), axes, m, ones)    # biased: Σ(x − μ)²/m
        if training and running_mean is not None:
            _update_running(running_mean, running_var, mean, var, m, momentum,
                            num_batches_tracked)
    else:
        mean, var, centered, ones = running_mean, running_var, None, None
    inputs = (x,) if weight is None else (x, weight, bias)
    return BatchNorm.apply(*inputs, mean=mean, var=var, eps=eps, training=use_batch,
                           centered=centered, ones=ones)


def _mean(a: np.ndarray, axes: tuple, m: int, ones: Optional[np.ndarray]) -> np.ndarray:
    """``a.mean(axis=axes)`` (m values each) without ndarray.mean's Python layer: Σ / m
    (float16 keeps NumPy's float32 accumulation)."""
    if a.dtype.char == "e":
        return a.mean(axis=axes)
    return sum_per_channel(a, axes, ones) / m


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
