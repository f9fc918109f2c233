"""AdaGrad: each weight's step shrinks with the squared gradients it has seen."""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from .optimizer import Optimizer, ParamGroup, Params, add_weight_decay, check_lr_eps_decay, \
    check_number


class AdaGrad(Optimizer):
    r"""AdaGrad (Duchi et al., 2011), as ``torch.optim.Adagrad`` (also exported as ``Adagrad``).

    Algorithm (for each parameter W with gradient g; h starts at
    ``initial_accumulator_value``)::

        t ← t + 1
        g ← g + λ W                 if weight_decay λ ≠ 0
        h ← h + g²
        W ← W − η g / (√h + ε)

    Book form: ``h ← h + g²; W ← W − η g / (√h + 1e-7)`` with η = 0.01, i.e. exactly
    ``AdaGrad(params, lr=0.01, eps=1e-7)``; PyTorch's default ε is 1e-10. PyTorch's
    ``lr_decay`` is not provided.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate η >= 0.
    eps : float
        ε >= 0 added to √h.
    weight_decay : float
        λ >= 0; adds λW to the gradient.
    initial_accumulator_value : float
        The starting value (>= 0) of every entry of h.
    """

    _nonnegative_state = ("sum",)

    def __init__(self, params: Params, lr: float = 0.01, eps: float = 1e-10,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0) -> None:
        super().__init__(params, dict(lr=lr, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value))

    def _check_group(self, group: ParamGroup) -> None:
        check_lr_eps_decay(self._name, group)
        check_number(self._name, group, "initial_accumulator_value",
                     "initial_accumulator_value value")

    def _state_keys(self, group: ParamGroup) -> Tuple[str, ...]:
        return ("step", "sum")

    def _init_state(self, param: np.ndarray, group: ParamGroup) -> Dict[str, Any]:
        return {"step": 0, "sum": np.full_like(param, group["initial_accumulator_value"])}

    def _update(self, param: np.ndarray, grad: np.ndarray, state: Dict[str, Any],
                group: ParamGroup) -> None:
        state["step"] += 1
        g = add_weight_decay(param, grad, group["weight_decay"])
        h = state["sum"]
        scratch = np.multiply(g, g, out=np.empty_like(h))
        h += scratch                                # h ← h + g²
        np.sqrt(h, out=scratch)
        scratch += group["eps"]
        np.divide(g, scratch, out=scratch)          # W ← W − η g / (√h + ε)
        scratch *= group["lr"]
        param -= scratch


Adagrad = AdaGrad
