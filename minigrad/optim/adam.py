"""Adam: momentum on the gradient and RMSprop's scaling, both bias-corrected."""
from __future__ import annotations

import math
import weakref
from typing import Any, Dict, Tuple

import numpy as np

from .optimizer import Optimizer, ParamGroup, Params, add_weight_decay, check_flag, \
    check_lr_eps_decay, check_number, lerp_


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as ``torch.optim.Adam``.

    Algorithm (for each parameter W with gradient g; m, v start at 0, t at 0)::

        t ← t + 1
        g ← g + λ W                                 if weight_decay λ ≠ 0
        m ← m + (1 − β1)(g − m)                     (= β1 m + (1 − β1) g)
        v ← β2 v + (1 − β2) g²
        v̂ ← max(v̂, v) if amsgrad else v            (v̂ kept as state only with amsgrad)
        W ← W − η/(1 − β1ᵗ) · m / (√v̂ / √(1 − β2ᵗ) + ε)

    Book form (defaults η = 0.001, β1 = 0.9, β2 = 0.999)::

        lr_t = η √(1 − β2ᵗ) / (1 − β1ᵗ)
        W ← W − lr_t · m / (√v + 1e-7)

    Multiplying the update above by √(1 − β2ᵗ)/√(1 − β2ᵗ) gives
    ``W ← W − lr_t · m / (√v + ε √(1 − β2ᵗ))``: the same step, except that the book adds its
    ε = 1e-7 to the uncorrected √v while PyTorch (and minigrad) add ε = 1e-8 to the corrected
    √v̂. The two agree whenever ε is small next to √v; no constant ε makes them identical.

    Parameters
    ----------
    params : iterable of Tensor or of dict
        Parameters or parameter groups (see ``Optimizer``).
    lr : float
        Learning rate η >= 0.
    betas : (float, float)
        β1, β2 in [0, 1): decay rates of the first and second moment averages.
    eps : float
        ε >= 0 added to the denominator.
    weight_decay : float
        λ >= 0; adds λW to the gradient (L2 penalty; see ``AdamW`` for decoupled decay).
    amsgrad : bool
        Use the running maximum of v (AMSGrad).
    """

    _nonnegative_state = ("exp_avg_sq", "max_exp_avg_sq")

    def __init__(self, params: Params, lr: float = 0.001,
                 betas: Tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      amsgrad=amsgrad))
        # one work array per state array, kept across steps as a hand-written loop keeps it (a
        # fresh multi-megabyte temporary each step can be faulted in again); not state, never
        # saved, renewed whenever the state array it serves is replaced
        self._work: Dict[int, Tuple[Any, np.ndarray]] = {}

    def _check_group(self, group: ParamGroup) -> None:
        check_lr_eps_decay(self._name, group)
        betas = group["betas"]
        if not isinstance(betas, (tuple, list, np.ndarray)) or len(betas) != 2:  # not a set
            raise ValueError(f"{self._name}: Invalid betas: {betas!r} (need a pair (β1, β2) "
                             "as a tuple or list)")
        pair = {"beta0": betas[0], "beta1": betas[1]}
        for i in range(2):
            check_number(self._name, pair, f"beta{i}", f"beta parameter at index {i}",
                         0.0, 1.0, high_open=True)
        group["betas"] = (pair["beta0"], pair["beta1"])
        check_flag(self._name, group, "amsgrad")

    def _state_keys(self, group: ParamGroup) -> Tuple[str, ...]:
        keys = ("step", "exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if group["amsgrad"] else keys

    def _init_state(self, param: np.ndarray, group: ParamGroup) -> Dict[str, Any]:
        state: Dict[str, Any] = {"step": 0}
        for key in self._state_keys(group)[1:]:
            state[key] = np.zeros_like(param)
        return state

    def _decay(self, param: np.ndarray, grad: np.ndarray, group: ParamGroup) -> np.ndarray:
        """Weight decay as an L2 penalty: the gradient plus λW."""
        return add_weight_decay(param, grad, group["weight_decay"])

    def _update(self, param: np.ndarray, grad: np.ndarray, state: Dict[str, Any],
                group: ParamGroup) -> None:
        beta1, beta2 = group["betas"]
        state["step"] += 1
        t = state["step"]
        step_size = group["lr"] / (1.0 - beta1 ** t)       # Python floats, so that float32
        bias_correction2_sqrt = math.sqrt(1.0 - beta2 ** t)  # stays float32
        g = self._decay(param, grad, group)
        m, v = state["exp_avg"], state["exp_avg_sq"]
        scratch = self._scratch(m)
        lerp_(m, g, 1.0 - beta1, scratch)                # m ← m + (1 − β1)(g − m)
        np.multiply(g, g, out=scratch)
        scratch *= 1.0 - beta2
        v *= beta2
        v += scratch                                     # v ← β2 v + (1 − β2) g²
        if group["amsgrad"]:
            np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            v = state["max_exp_avg_sq"]
        denom = np.sqrt(v, out=scratch)                  # √v̂ / √(1 − β2ᵗ) + ε
        denom /= bias_correction2_sqrt
        denom += group["eps"]
        np.divide(m, denom, out=denom)                   # W ← W − step_size · m / denom
        denom *= step_size
        param -= denom

    def _scratch(self, m: np.ndarray) -> np.ndarray:
        """The work array kept for state array ``m`` (renewed when ``m`` was replaced)."""
        kept = self._work.get(id(m))
        if kept is None or kept[0]() is not m:
            self._work = {k: w for k, w in self._work.items() if w[0]() is not None}
            kept = self._work[id(m)] = (weakref.ref(m), np.empty_like(m))
        return kept[1]
