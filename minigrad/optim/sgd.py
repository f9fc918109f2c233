"""Stochastic gradient descent, with optional (Nesterov) momentum and weight decay."""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from .optimizer import Optimizer, ParamGroup, Params, add_weight_decay, check_flag, \
    check_lr_eps_decay, check_number


class SGD(Optimizer):
    r"""Stochastic gradient descent, as ``torch.optim.SGD``.

    Algorithm (for each parameter W with gradient g, at step t)::

        g ← g + λ W                                  if weight_decay λ ≠ 0
        if momentum μ ≠ 0:
            b ← g                                    at the first step
            b ← μ b + (1 − τ) g                      afterwards (τ = dampening)
            g ← g + μ b  if nesterov  else  b
        W ← W − η g

    Book form: plain SGD is ``W ← W − η g`` (book default η = 0.01). The book's ``Momentum``
    (``v ← αv − ηg; W ← W + v``) is this with ``v = −ηb`` at a constant η, and the book's
    ``Nesterov`` (``v ← αv − ηg; W ← W + α²v − (1 + α)ηg``) is ``nesterov=True``; see also
    ``minigrad.optim.Momentum``, which keeps the book's velocity.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate η >= 0.
    momentum : float
        Momentum factor μ in [0, 1].
    dampening : float
        Dampening τ in [0, 1] of the gradient added to the momentum buffer.
    weight_decay : float
        λ >= 0; adds λW to the gradient (the gradient of ½λ‖W‖²).
    nesterov : bool
        Nesterov momentum; needs μ > 0 and τ = 0.
    """

    def __init__(self, params: Params, lr: float = 0.01, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov)
        super().__init__(params, defaults)

    def _check_group(self, group: ParamGroup) -> None:
        check_lr_eps_decay(self._name, group)
        momentum = check_number(self._name, group, "momentum", "momentum value", 0.0, 1.0)
        dampening = check_number(self._name, group, "dampening", "dampening value", 0.0, 1.0)
        if check_flag(self._name, group, "nesterov") and (momentum <= 0.0 or dampening != 0.0):
            raise ValueError(f"{self._name}: Nesterov momentum requires a momentum and zero "
                             f"dampening, got momentum={momentum}, dampening={dampening}")

    def _state_keys(self, group: ParamGroup) -> Tuple[str, ...]:
        return ("momentum_buffer",) if group["momentum"] != 0.0 else ()

    def _init_state(self, param: np.ndarray, group: ParamGroup) -> Dict[str, Any]:
        return {}      # the momentum buffer starts as the first gradient, see _update

    def _update(self, param: np.ndarray, grad: np.ndarray, state: Dict[str, Any],
                group: ParamGroup) -> None:
        g = add_weight_decay(param, grad, group["weight_decay"])
        momentum = group["momentum"]
        if momentum != 0.0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = g.copy()        # b ← g
            else:
                buf *= momentum                                  # b ← μb + (1 − τ)g
                buf += g if group["dampening"] == 0.0 else g * (1.0 - group["dampening"])
            g = g + momentum * buf if group["nesterov"] else buf
        param -= group["lr"] * g                                 # W ← W − ηg
