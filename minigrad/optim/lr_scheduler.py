"""Learning-rate schedules with PyTorch's semantics: ``StepLR`` and ``CosineAnnealingLR``.

Usage, as in PyTorch: make the scheduler after the optimizer, then once per epoch call
``optimizer.step()`` for every batch and ``scheduler.step()`` at the end of the epoch. A
scheduler writes ``group["lr"]`` of each parameter group; it multiplies the current value
(PyTorch's "chainable" form), so a manual change of ``group["lr"]`` carries on.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Dict, List

from .optimizer import Optimizer


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
    learning rates, computed from the current ones, for epoch ``last_epoch``.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: {type(optimizer).__name__} is not an Optimizer")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, numbers.Integral) \
                or last_epoch < -1:
            raise ValueError(f"{name}: Invalid last_epoch: {last_epoch!r} (an integer >= -1)")
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
        """Restore a ``state_dict()`` of a scheduler of the same kind."""
        expected = set(vars(self)) - {"optimizer"}
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected keys "
                             f"{sorted(expected)}, got {got}")
        for key, value in state_dict.items():
            setattr(self, key, list(value) if isinstance(value, (list, tuple)) else value)


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

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, numbers.Integral) \
                or step_size < 1:
            raise ValueError(f"StepLR: Invalid step_size: {step_size!r} (an integer >= 1)")
        if isinstance(gamma, bool) or not isinstance(gamma, numbers.Real) or not gamma >= 0:
            raise ValueError(f"StepLR: Invalid gamma: {gamma!r} (a number >= 0)")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
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

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1) -> None:
        if isinstance(T_max, bool) or not isinstance(T_max, numbers.Integral) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: Invalid T_max: {T_max!r} (an integer >= 1)")
        if isinstance(eta_min, bool) or not isinstance(eta_min, numbers.Real) \
                or not eta_min >= 0:
            raise ValueError(f"CosineAnnealingLR: Invalid eta_min: {eta_min!r} (a number >= 0)")
        self.T_max = int(T_max)
        self.eta_min = float(eta_min)
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
