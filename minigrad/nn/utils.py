"""``clip_grad_norm_``: rescale gradients whose global norm is too large."""
from __future__ import annotations

import math
from typing import Iterable, Union

import numpy as np

from ..tensor import Tensor
from .module import real_number


def clip_grad_norm_(parameters: Union[Tensor, Iterable[Tensor]], max_norm: float,
                    norm_type: float = 2.0) -> float:
    """Scale every gradient by ``min(1, max_norm / (‖g‖ + 1e-6))``, ‖g‖ the global norm.

    ``‖g‖ = (Σ_p Σ |g_p|^norm_type)^(1/norm_type)`` over all parameters' gradients together
    (``norm_type=inf``: the largest |g|). Gradients are replaced, never modified in place.
    Parameters
    ----------
    parameters : Tensor or iterable of Tensors
        Those without a gradient are skipped.
    max_norm : float
        The largest global norm kept.
    norm_type : float or 'inf'
        p of the p-norm (``float('inf')`` or ``'inf'`` for the max norm).

    Returns
    -------
    float
        The global norm before clipping.
    """
    if isinstance(parameters, Tensor):
        params = [parameters]
    else:
        params = list(parameters) if hasattr(parameters, "__iter__") else [parameters]
    if not all(isinstance(p, Tensor) for p in params):
        raise TypeError("clip_grad_norm_: expected a Tensor or an iterable of Tensors")
    if not real_number(max_norm, "max_norm", "clip_grad_norm_") >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be non-negative, got {max_norm!r}")
    if isinstance(norm_type, str):                # PyTorch takes float(norm_type): 'inf', '2'
        try:
            norm_type = float(norm_type)
        except ValueError:
            raise ValueError(f"clip_grad_norm_: norm_type must be a positive number or 'inf', "
                             f"got {norm_type!r}") from None
    norm_type = real_number(norm_type, "norm_type", "clip_grad_norm_")
    if not norm_type > 0:
        raise ValueError(f"clip_grad_norm_: norm_type must be positive, got {norm_type!r}")
    grads = [p for p in params if p.grad is not None]
    if not grads:
        return 0.0
    if math.isinf(norm_type):
        total = max(float(np.max(np.abs(p.grad.data))) if p.grad.size else 0.0 for p in grads)
    else:
        total = sum(float(np.sum(np.abs(p.grad.data, dtype=np.float64) ** norm_type))
                    for p in grads) ** (1.0 / norm_type)
    scale = max_norm / (total + 1e-6)
    if scale < 1:
        for p in grads:
            p.grad = Tensor(p.grad.data * np.asarray(scale, dtype=p.grad.dtype))
    return total
