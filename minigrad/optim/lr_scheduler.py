"""Learning-rate schedules with PyTorch's semantics: ``StepLR``, ``MultiStepLR``,
``ExponentialLR``, ``CosineAnnealingLR`` and ``ReduceLROnPlateau`` (which steps on a metric).

Usage, as in PyTorch: make the scheduler after the optimizer, then once per epoch call
``optimizer.step()`` for every batch and ``scheduler.step()`` at the end of the epoch. A
scheduler writes ``group["lr"]`` of each parameter group; it multiplies the current value
(PyTorch's "chainable" form), so a manual change of ``group["lr"]`` carries on.
"""
from __future__ import annotations

import collections
import math
import numbers
from typing import Any, Callable, Dict, List, Sequence, Tuple

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


def _check_milestones(owner: str, key: str, value: Any, low: int) -> List[int]:
    """``value`` as a sorted list of epochs, or ValueError naming ``owner`` unless it is a
    sequence of integers >= low (a repeated epoch decays that many times, as PyTorch's)."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, set)):
        raise ValueError(f"{owner}: Invalid {key}: {value!r} (a list of epochs)")
    return sorted(_check_int(owner, key, epoch, low) for epoch in value)


class _Scheduler:
    """What every scheduler shares: ``get_last_lr()``, ``state_dict()`` and the key check of
    ``load_state_dict``."""

    optimizer: Optimizer
    _last_lr: List[float]

    def get_last_lr(self) -> List[float]:
        """The learning rates set by the last ``step()``."""
        return list(self._last_lr)

    def state_dict(self) -> Dict[str, Any]:
        """The scheduler's counters and settings (everything but the optimizer)."""
        return {key: (list(value) if isinstance(value, list) else value)
                for key, value in vars(self).items() if key != "optimizer"}

    def _check_keys(self, state_dict: Any) -> None:
        """ValueError unless ``state_dict`` is a dict with exactly this scheduler's keys."""
        expected = set(vars(self)) - {"optimizer"}
        if not isinstance(state_dict, dict) or set(state_dict) != expected:
            got = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"{type(self).__name__}.load_state_dict: expected keys "
                             f"{sorted(expected)}, got {got}")


class LRScheduler(_Scheduler):
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

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore a ``state_dict()`` of a scheduler of the same kind.

        Every value is validated as the constructor validates it (e.g. ``step_size >= 1``, so
        a later ``step()`` cannot divide by zero); a bad one is a ValueError and nothing is
        changed.
        """
        self._check_keys(state_dict)
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


class MultiStepLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` at each epoch listed in ``milestones``.

    Closed form, when nothing else changes the rate::

        lr(epoch) = initial_lr · γ^(number of milestones <= epoch)

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are scheduled.
    milestones : list of int
        Epochs (>= 1) at which to decay; an epoch listed twice decays twice.
    gamma : float
        Factor γ >= 0 of each decay.
    last_epoch : int
        -1 for a fresh run (see ``LRScheduler``).
    """

    _settings = {"milestones": (_check_milestones, 1), "gamma": (_check_real, 0.0)}

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1,
                 last_epoch: int = -1) -> None:
        self._set_settings(milestones=milestones, gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        decays = collections.Counter(self.milestones)[self.last_epoch]
        return [group["lr"] * self.gamma ** decays for group in self.optimizer.param_groups]


class ExponentialLR(LRScheduler):
    r"""Multiply the learning rate by ``gamma`` every epoch.

    Closed form, when nothing else changes the rate::

        lr(epoch) = initial_lr · γ^epoch

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are scheduled.
    gamma : float
        Factor γ >= 0 of each epoch.
    last_epoch : int
        -1 for a fresh run (see ``LRScheduler``).
    """

    _settings = {"gamma": (_check_real, 0.0)}

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self._set_settings(gamma=gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> List[float]:
        factor = 1.0 if self.last_epoch == 0 else self.gamma
        return [group["lr"] * factor for group in self.optimizer.param_groups]


class ReduceLROnPlateau(_Scheduler):
    r"""Multiply the learning rate by ``factor`` once a metric has stopped improving for more
    than ``patience`` epochs, as PyTorch's; call ``step(metric)`` once per epoch.

    An epoch improves on the best value so far when (mode 'min', threshold_mode 'rel')
    ``metric < best · (1 − threshold)``; 'abs' compares with ``best − threshold``, and mode
    'max' looks for ``metric > best · (1 + threshold)`` or ``best + threshold``. After more
    than ``patience`` epochs in a row without improvement, every group's rate becomes
    ``max(lr · factor, min_lr)`` (unchanged when that moves it by no more than ``eps``), and
    the next ``cooldown`` epochs do not count as bad ones.

    Parameters
    ----------
    optimizer : Optimizer
        The optimizer whose learning rates are scheduled.
    mode : {'min', 'max'}
        Whether the metric should fall (a loss) or rise (an accuracy).
    factor : float
        0 <= factor < 1.
    patience : int
        Bad epochs (>= 0) tolerated before a reduction.
    threshold : float
        The least improvement that counts (>= 0).
    threshold_mode : {'rel', 'abs'}
        Relative or absolute improvement.
    cooldown : int
        Epochs (>= 0) after a reduction during which bad epochs are not counted.
    min_lr : float or list of float
        The lowest rate, for all groups or one per group.
    eps : float
        The smallest change of a rate that is applied.
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr: Any = 0.0, eps: float = 1e-8) -> None:
        name = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{name}: {type(optimizer).__name__} is not an Optimizer")
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        factor = _check_real(name, "factor", factor)
        if factor >= 1.0:
            raise ValueError(f"{name}: Invalid factor: {factor!r} (a number in [0, 1): the "
                             "rate must fall)")
        groups = len(optimizer.param_groups)
        rates = min_lr if isinstance(min_lr, (list, tuple)) else [min_lr] * groups
        if len(rates) != groups:
            raise ValueError(f"{name}: expected {groups} min_lr values, one per parameter "
                             f"group, got {len(rates)}")
        self.optimizer = optimizer
        self.mode, self.threshold_mode, self.factor = mode, threshold_mode, factor
        self.patience = _check_int(name, "patience", patience, 0)
        self.threshold = _check_real(name, "threshold", threshold)
        self.cooldown = _check_int(name, "cooldown", cooldown, 0)
        self.min_lrs = [_check_real(name, f"min_lr[{i}]", lr) for i, lr in enumerate(rates)]
        self.eps = _check_real(name, "eps", eps)
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0
        self.last_epoch = 0
        self._last_lr = [group["lr"] for group in optimizer.param_groups]

    def _is_better(self, current: float) -> bool:
        """Whether ``current`` improves on ``self.best`` by more than the threshold."""
        if self.threshold_mode == "rel":
            scale = 1 - self.threshold if self.mode == "min" else 1 + self.threshold
            bar = self.best * scale
        else:
            bar = self.best - self.threshold if self.mode == "min" else \
                self.best + self.threshold
        return current < bar if self.mode == "min" else current > bar

    def step(self, metrics: Any) -> None:
        """Record one epoch's ``metrics`` (a number or a one-element tensor) and reduce the
        learning rates if it is time to."""
        try:
            current = float(metrics)
        except (TypeError, ValueError):
            raise TypeError(f"{type(self).__name__}.step: metrics must be a number, got "
                            f"{metrics!r}") from None
        if math.isnan(current):
            raise ValueError(f"{type(self).__name__}.step: metrics is NaN")
        self.last_epoch += 1
        if self._is_better(current):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0                       # bad epochs in cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce()
            self.cooldown_counter, self.num_bad_epochs = self.cooldown, 0
        self._last_lr = [group["lr"] for group in self.optimizer.param_groups]

    def _reduce(self) -> None:
        """lr ← max(lr · factor, min_lr) in every group, when that moves it by more than eps."""
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            raise ValueError(f"{type(self).__name__}: the optimizer has {len(groups)} parameter "
                             f"groups but min_lr has {len(self.min_lrs)} values")
        for group, min_lr in zip(groups, self.min_lrs):
            new_lr = max(group["lr"] * self.factor, min_lr)
            if group["lr"] - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore a ``state_dict()``: the settings are validated by the constructor's rules
        (a bad value is a ValueError and nothing changes), then the counters are restored."""
        self._check_keys(state_dict)
        settings = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown",
                    "eps")
        fresh = type(self)(self.optimizer, min_lr=state_dict["min_lrs"],
                           **{key: state_dict[key] for key in settings})
        counters = {key: state_dict[key] for key in ("best", "num_bad_epochs",
                                                     "cooldown_counter", "last_epoch")}
        owner = f"{type(self).__name__}.load_state_dict"
        for key in ("num_bad_epochs", "cooldown_counter", "last_epoch"):
            _check_int(owner, key, counters[key], 0)
        _check_real(owner, "best", counters["best"], -math.inf)
        vars(self).update(vars(fresh))
        vars(self).update(counters, _last_lr=list(state_dict["_last_lr"]))
