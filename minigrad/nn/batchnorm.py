"""Batch normalisation layers: ``BatchNorm1d`` for (N, C) and ``BatchNorm2d`` for (N, C, H, W)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ..functional.normalization import checked_batch_norm
from ..tensor import Tensor
from .module import Module, floating_dtype, positive_int, real_number
from .parameter import Parameter


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d (they differ in the input ranks they accept)."""

    ranks: tuple = ()
    layout: str = ""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        self.num_features = positive_int(num_features, "num_features", name)
        if momentum is not None and not 0 <= real_number(momentum, "momentum", name) <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        if not real_number(eps, "eps", name) > 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        dtype = floating_dtype(dtype, name)
        self.eps = float(eps)
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        if affine:
            self.weight = Parameter(np.ones(self.num_features, dtype=dtype))    # γ
            self.bias = Parameter(np.zeros(self.num_features, dtype=dtype))     # β
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.array(0, dtype=np.int64))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batches counted."""
        if self.track_running_stats:
            self.running_mean[...] = 0
            self.running_var[...] = 1
            self.num_batches_tracked[...] = 0

    def forward(self, x: Tensor) -> Tensor:
        return checked_batch_norm(x, self.running_mean, self.running_var, self.weight,
                                  self.bias, self.training, self.momentum, self.eps,
                                  self.num_batches_tracked, type(self).__name__,
                                  (self.ranks, self.layout, self.num_features))

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) inputs (or (N, C, L)) per feature C.

    Training: ``y = γ (x − μ_B) / √(σ²_B + ε) + β`` with the batch mean μ_B and biased variance
    σ²_B, and ``running = (1 − momentum)·running + momentum·batch`` (variance unbiased).
    Evaluation: the running statistics replace μ_B and σ²_B. The book's momentum 0.9 (weight
    of the *old* running value) is ``momentum=0.1`` here, as in PyTorch.
    Backward: ``dx = γ/(m σ) · (m·dy − Σdy − x̂·Σ(dy·x̂))``, ``dγ = Σ dy·x̂``, ``dβ = Σ dy``,
    m the number of values per channel.

    Parameters
    ----------
    num_features : int
        C, the number of channels (axis 1 of the input).
    eps : float
        ε added to the variance.
    momentum : float or None
        Weight of the new batch in the running averages; None: cumulative average.
    affine : bool
        Learn γ (``weight``, ones) and β (``bias``, zeros); without them y = x̂.
    track_running_stats : bool
        Keep ``running_mean`` (zeros), ``running_var`` (ones) and ``num_batches_tracked``
        buffers; without them evaluation also uses the batch statistics.
    dtype : numpy dtype
        Floating dtype of the parameters and running statistics (float32 by default).
    """

    ranks = (2, 3)
    layout = "(N, C) or (N, C, L)"


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) inputs per channel C (statistics over N, H, W).

    The same formulas as ``BatchNorm1d`` with m = N·H·W values per channel.
    """

    ranks = (4,)
    layout = "(N, C, H, W)"
