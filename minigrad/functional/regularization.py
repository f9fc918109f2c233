"""Regularisation: inverted dropout, y = x ⊙ mask, the mask drawn by the wrapper and passed in
as a constant (so a gradient check can hold it fixed)."""
from __future__ import annotations

from typing import Any, Optional

import numpy as np

from .. import _checks as checks
from ..autograd import Function
from ..random import default_rng
from ..tensor import Tensor


class Dropout(Function):
    """y = x ⊙ mask, where mask holds 0 for dropped units and 1/(1 − p) for kept ones."""

    def forward(self, x: np.ndarray, mask: Any = None) -> np.ndarray:
        self.mask = mask
        return x * mask

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.mask                                # dx = dy ⊙ mask

    backward_arrays = backward      # the same product on ndarrays (a plain backward: no Tensors)


def dropout(x: Any, p: float = 0.5, training: bool = True,
            rng: Optional[np.random.Generator] = None, mask: Any = None) -> Tensor:
    """Inverted dropout: zero each unit with probability p, scale the rest by 1/(1 − p).

    ``E[y] = x``, so evaluation (``training=False``) is the identity. The mask is drawn from
    ``rng`` or, if None, from minigrad's default generator at call time (``mg.manual_seed``
    makes it repeat); or pass ``mask``, a boolean array of x's shape (True = kept), to hold it
    fixed. Backward: ``dx = dy ⊙ mask / (1 − p)``.

    Parameters
    ----------
    x : Tensor
        Floating input.
    p : float
        Drop probability in [0, 1).
    training : bool
        False: return x unchanged.
    rng : numpy.random.Generator, optional
        Source of the mask.
    mask : boolean array, optional
        The units kept; overrides ``rng``.
    """
    checks.dropout(x, p)
    data = x.data if isinstance(x, Tensor) else x
    if not training or (p == 0 and mask is None):
        return x if isinstance(x, Tensor) else Tensor(x)
    if mask is None:
        draw_dtype = data.dtype if data.dtype.char in "fd" else np.float64  # float32/64 only
        keep = (rng or default_rng()).random(data.shape, dtype=draw_dtype) >= p
    else:
        keep = checks.dropout_mask(mask, data)
    return Dropout.apply(x, mask=keep * data.dtype.type(1 / (1 - p)))   # 0 or 1/(1 − p)


__all__ = ["dropout"]
