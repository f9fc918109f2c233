"""The book's Momentum: a velocity that remembers past gradients."""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from .optimizer import Optimizer, ParamGroup, Params, add_weight_decay, check_lr_eps_decay, \
    check_number


class Momentum(Optimizer):
    r"""Momentum in the book's form: a velocity ``v`` that the gradient pushes.

    Algorithm (for each parameter W with gradient g)::

        g ← g + λ W                 if weight_decay λ ≠ 0
        v ← α v − η g               (v starts at 0)
        W ← W + v

    Book form: exactly this, with defaults η = 0.01, α = 0.9. At a constant learning rate it
    follows the same trajectory as ``SGD(lr=η, momentum=α)`` (PyTorch's form ``b ← αb + g;
    W ← W − ηb``, with ``v = −ηb``) up to rounding. The forms differ when η changes during
    training: here a new η only scales new gradients, in ``SGD`` it also rescales the stored
    buffer.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate η >= 0.
    momentum : float
        α in [0, 1], the fraction of the velocity kept each step.
    weight_decay : float
        λ >= 0; adds λW to the gradient.
    """

    def __init__(self, params: Params, lr: float = 0.01, momentum: float = 0.9,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))

    def _check_group(self, group: ParamGroup) -> None:
        check_lr_eps_decay(self._name, group)
        check_number(self._name, group, "momentum", "momentum value", 0.0, 1.0)

    def _state_keys(self, group: ParamGroup) -> Tuple[str, ...]:
        return ("velocity",)

    def _init_state(self, param: np.ndarray, group: ParamGroup) -> Dict[str, Any]:
        return {"velocity": np.zeros_like(param)}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: Dict[str, Any],
                group: ParamGroup) -> None:
        g = add_weight_decay(param, grad, group["weight_decay"])
        v = state["velocity"]
        v *= group["momentum"]              # v ← αv − ηg
        v -= group["lr"] * g
        param += v                          # W ← W + v
