"""Learning-rate schedules with PyTorch's semantics: ``StepLR`` and ``CosineAnnealingLR``.

Usage, as in PyTorch: make the scheduler after the optimizer, then once per epoch call
``optimizer.step()`` for every batch and ``scheduler.step()`` at the end of the epoch. A
scheduler writes ``group["lr"]`` of each parameter group; it multiplies the current value
(PyTorch's "chainable" form), so a manual change of ``group["lr"]`` carries on.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Dict, List, Tuple

from .optimizer import Optimizer


def _check_int(owner: str, key: str, value: Any, low: int) -> int:
    """``value`` as an int, or ValueError naming ``owner`` unless it is an integer >= low."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{owner}: Invalid {key}: {value!r} (an integer >= {low})")
    return int(value)


def _check_real(owner: str, key: str, value: Any, low: float = 0.0) -> float:
    """``value`` as a float, or ValueError naming ``owner`` unless it is a number >= low."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= low:
        raise ValueError(f"{owner}: Invalid {key}: {value!r} (a number >= {low:g})")
    return float(value)


class LRScheduler:
    """Base class: counts epochs in ``last_epoch`` and sets each group's ``lr`` on ``step()``.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are scheduled.
    last_epoch : int
        -1 for a fresh run (each group's ``lr`` is recorded as ``"initial_lr"``); a larger
        value resumes a schedule, and then every group must already have ``"initial_lr"``.

    Notes
    -----
    Constructing a scheduler counts as its first step (``last_epoch`` becomes 0 for a fresh
    run) and leaves the learning rates as they are. A subclass writes ``get_lr()``: the new
    learning rates, computed from the current ones, for epoch ``last_epoch``, and lists its
    own settings in ``_settings`` (name -> (check, lowest value)): the constructor and
    ``load_state_dict`` validate them by the same rules.
    """

    _settings: Dict[str, Tuple[Callable[..., Any], float]] = {}

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: {type(optimizer).__name__} is not an Optimizer")
        last_epoch = _check_int(name, "last_epoch", last_epoch, -1)
        self.optimizer = optimizer
        for i, group in enumerate(optimizer.param_groups):
            if last_epoch == -1:
                group.setdefault("initial_lr", group["lr"])
            elif "initial_lr" not in group:
                raise ValueError(f"{name}: param_groups[{i}] has no 'initial_lr', needed to "
                                 f"resume with last_epoch={last_epoch}; load the optimizer's "
                                 "state dict first")
        self.base_lrs: List[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._step_count = 0
        self.step()

    def get_lr(self) -> List[float]:
        """The learning rates of epoch ``last_epoch``, one per parameter group."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set every group's ``lr``."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self.base_lrs):
            raise ValueError(f"{type(self).__name__}: the optimizer has {len(groups)} parameter "
                             f"groups but the scheduler was made for {len(self.base_lrs)}")
        self._step_count += 1
        self.last_epoch += 1
        if self._step_count > 1:          # the constructor's step leaves the rates as they are
            for group, lr in zip(groups, self.get_lr()):
                group["lr"] = lr
        self._last_lr = [group["lr"] for group in groups]

    def get_last_lr(self) -> List[float]:
        """The learning rates set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> Dict[str, Any]:
        """The scheduler's counters and settings (everything but the optimizer)."""
        return {key: (list(value) if isinstance(value, list) else value)
                for key, value in vars(self).items() if key != "optimizer"}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore a ``state_dict()`` of a scheduler of the same kind.

        Every value is validated as the constructor validates it (e.g. ``step_size >= 1``, so
        a later ``step()`` cannot divide by zero); a bad one is a ValueError and nothing is
        changed.
        """
        expected = set(vars(self)) - {"optimizer"}
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected keys "
                             f"{sorted(expected)}, got {got}")
        for key, value in self._checked_state(state_dict).items():
            setattr(self, key, list(value) if isinstance(value, (list, tuple)) else value)

    def _checked_state(self, state_dict: Dict[str, Any]) -> Dict[str, Any]:
        """``state_dict`` with the base class's values validated (subclasses add theirs)."""
        owner = f"{type(self).__name__}.load_state_dict"
        checked = dict(state_dict)
        checked["last_epoch"] = _check_int(owner, "last_epoch", state_dict["last_epoch"], -1)
        checked["_step_count"] = _check_int(owner, "_step_count", state_dict["_step_count"], 0)
        groups = len(self.optimizer.param_groups)
        for key in ("base_lrs", "_last_lr"):
            rates = state_dict[key]
            if not isinstance(rates, (list, tuple)) or len(rates) != groups:
                raise ValueError(f"{owner}: {key} must be a list of {groups} learning rate(s), "
                                 f"one per parameter group, got {rates!r}")
            checked[key] = [_check_real(owner, f"{key}[{i}]", lr) for i, lr in enumerate(rates)]
        checked.update(self._checked_settings(owner, state_dict))
        return checked

    def _checked_settings(self, owner: str, values: Dict[str, Any]) -> Dict[str, Any]:
        """The subclass's ``_settings`` taken from ``values``, each checked by its rule."""
        return {key: check(owner, key, values[key], low)
                for key, (check, low) in self._settings.items()}

    def _set_settings(self, **values: Any) -> None:
        """Check the constructor's settings (errors name the class) and keep them."""
        for key, value in self._checked_settings(type(self).__name__, values).items():
            setattr(self, key, value)


class StepLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    Closed form, when nothing else changes the rate::

        lr(epoch) = initial_lr · γ^⌊epoch / step_size⌋

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are scheduled.
    step_size : int
        Epochs (>= 1) between two decays.
    gamma : float
        Factor γ >= 0 of each decay.
    last_epoch : int
        -1 for a fresh run (see ``LRScheduler``).
    """

    _settings = {"step_size": (_check_int, 1), "gamma": (_check_real, 0.0)}

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self._set_settings(step_size=step_size, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return [group["lr"] for group in groups]
        return [group["lr"] * self.gamma for group in groups]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate from its initial value to ``eta_min`` along a half cosine.

    Closed form, when nothing else changes the rate (period 2·T_max: after T_max epochs the
    rate climbs back, as in PyTorch)::

        lr(epoch) = η_min + (initial_lr − η_min) · (1 + cos(π · epoch / T_max)) / 2

    Each ``step()`` applies it as PyTorch does, as the ratio of two consecutive values
    times ``lr − η_min``, so that a manual change of the rate is kept; at the bottom of the
    cosine (where that ratio is 0/0) it adds the closed-form increment instead.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are scheduled.
    T_max : int
        Epochs (>= 1) of the descent from the initial rate to ``eta_min``.
    eta_min : float
        The lowest learning rate, >= 0.
    last_epoch : int
        -1 for a fresh run (see ``LRScheduler``).
    """

    _settings = {"T_max": (_check_int, 1), "eta_min": (_check_real, 0.0)}

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        self._set_settings(T_max=T_max, eta_min=eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        groups = self.optimizer.param_groups
        epoch, t_max, eta_min = self.last_epoch, self.T_max, self.eta_min
        if epoch == 0:
            return [group["lr"] for group in groups]
        if (epoch - 1 - t_max) % (2 * t_max) == 0:
            # leaving the bottom: lr(T+1) − lr(T) = (base − η_min)(1 − cos(π/T)) / 2
            rise = (1 - math.cos(math.pi / t_max)) / 2
            return [group["lr"] + (base - eta_min) * rise
                    for base, group in zip(self.base_lrs, groups)]
        ratio = (1 + math.cos(math.pi * epoch / t_max)) / (1 + math.cos(math.pi * (epoch - 1)
                                                                       / t_max))
        return [ratio * (group["lr"] - eta_min) + eta_min for group in groups]
