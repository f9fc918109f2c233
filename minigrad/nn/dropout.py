"""``Dropout``: inverted dropout (scale kept units by 1/(1 − p) in training)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import functional as F
from ..random import check_rng
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    """Zero each unit with probability p in training and scale the rest by 1/(1 − p).

    ``y = x ⊙ m / (1 − p)`` with m ~ Bernoulli(1 − p), so ``E[y] = x`` and evaluation is the
    identity. The book drops units in training without scaling and multiplies by (1 − p) at
    test time instead: the same network up to that constant factor. Masks come from ``rng``
    if given, else from minigrad's default generator (``mg.manual_seed``) at each call.
    Backward: ``dx = dy ⊙ m / (1 − p)``.

    Parameters
    ----------
    p : float
        Probability of zeroing a unit, in [0, 1).
    rng : numpy.random.Generator, optional
        Source of the masks instead of minigrad's default generator.
    """

    def __init__(self, p: float = 0.5, rng: Optional[np.random.Generator] = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or \
                not 0 <= p < 1:
            raise ValueError(f"Dropout: p must be a probability in [0, 1), got {p!r}")
        self.p = float(p)
        self.rng = check_rng(rng, "Dropout")

    def forward(self, x: Tensor) -> Tensor:
        return F.dropout(x, self.p, self.training, self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"
