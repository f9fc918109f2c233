"""AdamW: Adam with weight decay applied to the weights, not added to the gradient."""
from __future__ import annotations

from typing import Tuple

import numpy as np

from .adam import Adam
from .optimizer import ParamGroup, Params


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019), as ``torch.optim.AdamW``.

    Algorithm: Adam's (see ``Adam``) with the weight-decay line replaced by a shrink of the
    weights before the update::

        W ← W (1 − η λ)
        ... Adam's update of m, v and W from the raw gradient g

    With Adam's L2 form (``g ← g + λW``) the decay is divided by √v̂ like the rest of the
    gradient, so weights with large gradients are barely decayed; here every weight shrinks by
    the same factor. The book has no AdamW.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate η >= 0.
    betas : (float, float)
        β1, β2 in [0, 1).
    eps : float
        ε >= 0 added to the denominator.
    weight_decay : float
        λ >= 0 (default 0.01, as in PyTorch).
    amsgrad : bool
        Use the running maximum of v (AMSGrad).
    """

    def __init__(self, params: Params, lr: float = 0.001,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.01, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad)

    def _decay(self, param: np.ndarray, grad: np.ndarray, group: ParamGroup) -> np.ndarray:
        """Decoupled weight decay: W ← W(1 − ηλ); the gradient is left as it is."""
        if group["weight_decay"] != 0.0:
            param *= 1.0 - group["lr"] * group["weight_decay"]
        return grad
