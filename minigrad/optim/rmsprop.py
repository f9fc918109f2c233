"""RMSprop: AdaGrad with a forgetting average of the squared gradients."""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from .optimizer import Optimizer, ParamGroup, Params, add_weight_decay, check_flag, \
    check_lr_eps_decay, check_number, lerp_


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, 2012), as ``torch.optim.RMSprop``.

    Algorithm (for each parameter W with gradient g; every buffer starts at 0)::

        t ← t + 1
        g ← g + λ W                             if weight_decay λ ≠ 0
        h ← α h + (1 − α) g²
        if centered:  ḡ ← ḡ + (1 − α)(g − ḡ);  s ← √max(h − ḡ², 0) + ε
        else:         s ← √h + ε
        if momentum μ > 0:  b ← μ b + g / s;  W ← W − η b
        else:               W ← W − η g / s

    Book form: ``h ← ρh + (1 − ρ)g²; W ← W − η g / (√h + 1e-7)`` with η = 0.01, ρ = 0.99,
    i.e. exactly ``RMSprop(params, lr=0.01, alpha=0.99, eps=1e-7)``. The clamp at 0 in the
    centered form only matters where rounding would make the variance estimate negative (a
    constant gradient for thousands of steps), where PyTorch returns NaN.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate η >= 0.
    alpha : float
        α in [0, 1], the fraction of h kept each step (the book's ``decay_rate``).
    eps : float
        ε >= 0 added to the root.
    weight_decay : float
        λ >= 0; adds λW to the gradient.
    momentum : float
        μ in [0, 1].
    centered : bool
        Divide by an estimate of the gradient's standard deviation instead of its RMS.
    """

    _nonnegative_state = ("square_avg",)

    def __init__(self, params: Params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0,
                 centered: bool = False) -> None:
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _check_group(self, group: ParamGroup) -> None:
        check_lr_eps_decay(self._name, group)
        check_number(self._name, group, "alpha", "alpha value", 0.0, 1.0)
        check_number(self._name, group, "momentum", "momentum value", 0.0, 1.0)
        check_flag(self._name, group, "centered")

    def _state_keys(self, group: ParamGroup) -> Tuple[str, ...]:
        keys: Tuple[str, ...] = ("step", "square_avg")
        if group["momentum"] > 0.0:
            keys += ("momentum_buffer",)
        if group["centered"]:
            keys += ("grad_avg",)
        return keys

    def _init_state(self, param: np.ndarray, group: ParamGroup) -> Dict[str, Any]:
        state: Dict[str, Any] = {"step": 0}
        for key in self._state_keys(group)[1:]:
            state[key] = np.zeros_like(param)
        return state

    def _update(self, param: np.ndarray, grad: np.ndarray, state: Dict[str, Any],
                group: ParamGroup) -> None:
        alpha = group["alpha"]
        state["step"] += 1
        g = add_weight_decay(param, grad, group["weight_decay"])
        h = state["square_avg"]
        scratch = np.multiply(g, g, out=np.empty_like(h))
        scratch *= 1.0 - alpha
        h *= alpha
        h += scratch                                    # h ← αh + (1 − α)g²
        if group["centered"]:
            g_avg = state["grad_avg"]
            lerp_(g_avg, g, 1.0 - alpha, scratch)      # ḡ ← ḡ + (1 − α)(g − ḡ)
            np.multiply(g_avg, g_avg, out=scratch)
            np.subtract(h, scratch, out=scratch)
            np.maximum(scratch, 0.0, out=scratch)
            np.sqrt(scratch, out=scratch)               # s ← √max(h − ḡ², 0) + ε
        else:
            np.sqrt(h, out=scratch)                     # s ← √h + ε
        scratch += group["eps"]
        np.divide(g, scratch, out=scratch)
        if group["momentum"] > 0.0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += scratch                              # b ← μb + g/s;  W ← W − ηb
            np.multiply(buf, group["lr"], out=scratch)
        else:
            scratch *= group["lr"]                      # W ← W − η g/s
        param -= scratch
