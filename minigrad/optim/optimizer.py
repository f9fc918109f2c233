"""The ``Optimizer`` base class: parameter groups, lazy per-parameter state, state dicts.

A subclass supplies three things: its hyperparameter checks (``_check_group``), the names of the
state it keeps per parameter (``_state_keys``) with their initial values (``_init_state``), and
the update of one parameter array (``_update``) - or, to share per-step work across a group, of
all of a group's parameters at once (``_update_group``). Everything else - groups, skipping
parameters without a gradient, ``no_grad``, version bumps, the multi-tensor step over a group's
small parameters, saving and restoring - lives here, once.
"""
from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Callable, Dict, Iterable, List, Optional, Tuple, Union

import numpy as np

from ..autograd import enable_grad, no_grad
from ..tensor import Tensor
from .multi_tensor import SMALL, FlatGroup

ParamGroup = Dict[str, Any]
Params = Union[Iterable[Tensor], Iterable[ParamGroup]]


class Optimizer:
    """Base class of minigrad's optimizers (PyTorch's ``torch.optim.Optimizer`` API).

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The tensors to optimise, or parameter groups: dicts with a ``"params"`` entry and any
        hyperparameters that override ``defaults`` for that group (e.g. ``weight_decay=0`` for
        biases). Each tensor must be a floating leaf and may appear only once overall.
    defaults : dict
        The hyperparameters of a group that does not set them.

    Attributes
    ----------
    param_groups : list of dict
        One dict per group: ``"params"`` (a list of tensors) and every hyperparameter, defaults
        filled in. Changing ``group["lr"]`` between steps changes the learning rate (that is
        how the schedulers in ``minigrad.optim.lr_scheduler`` work).
    state : dict
        ``state[p]`` is a dict of the algorithm's buffers for parameter ``p`` (arrays of ``p``'s
        dtype and shape, and plain numbers such as ``"step"``), created at ``p``'s first update.

    Notes
    -----
    ``step()`` updates every parameter whose ``.grad`` is not None, in place on ``p.data`` (the
    array is never replaced, so anything else holding it sees the new values) and under
    ``no_grad``; it bumps ``p._version`` and never writes into ``p.grad``. The small
    parameters of a group are updated together, in one multi-tensor update with the same bits
    (``minigrad.optim.multi_tensor``); their ``state[p]`` arrays are then views into one buffer
    per group, so editing one in place edits the optimizer's state, as it always did.
    """

    #: State arrays that must be >= 0 (sums or averages of squared gradients), checked by
    #: ``load_state_dict``.
    _nonnegative_state: Tuple[str, ...] = ()

    def __init__(self, params: Params, defaults: Dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self._check_group(self.defaults)
        self.state: Dict[Tensor, Dict[str, Any]] = {}
        self.param_groups: List[ParamGroup] = []
        self._flat: Dict[int, Any] = {}    # group index -> (its params then, FlatGroup)
        if isinstance(params, (Tensor, dict)):
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, "
                            f"got a single {type(params).__name__}; wrap it in a list")
        groups = self._as_list(params)
        if not groups:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    @property
    def _name(self) -> str:
        return type(self).__name__

    # -- the parts a subclass writes ---------------------------------------------------------
    def _check_group(self, group: ParamGroup) -> None:
        """Validate (and normalise to Python floats) the hyperparameters in ``group``."""
        raise NotImplementedError

    def _state_keys(self, group: ParamGroup) -> Tuple[str, ...]:
        """The names of the state a parameter of ``group`` has after its first update."""
        raise NotImplementedError

    def _init_state(self, param: np.ndarray, group: ParamGroup) -> Dict[str, Any]:
        """The state of a parameter before its first update."""
        raise NotImplementedError

    def _update(self, param: np.ndarray, grad: np.ndarray, state: Dict[str, Any],
                group: ParamGroup) -> None:
        """Update ``param`` in place from ``grad``; never write into ``grad``."""
        raise NotImplementedError

    def _update_group(self, params: List[Tensor], group: ParamGroup) -> None:
        """Update ``params`` (the tensors of ``group`` with a gradient), one ``_update`` each;
        an algorithm overrides this to share per-step work across the group."""
        for p in params:
            self._update(p.data, p._grad.data, self._state_of(p, group), group)

    def _state_of(self, p: Tensor, group: ParamGroup) -> Dict[str, Any]:
        """``p``'s state, created just before its first update."""
        state = self.state.get(p)
        if state is None:
            state = self.state[p] = self._init_state(p.data, group)
        return state

    # -- groups -------------------------------------------------------------------------------
    def add_param_group(self, param_group: ParamGroup) -> None:
        """Add a group of parameters (a dict with ``"params"``), filling in the defaults.

        Raises ValueError for an empty group, a non-floating or non-leaf tensor, or a tensor that
        is already optimised (in this group or another one), and for invalid hyperparameters.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"{self._name}: a parameter group must be a dict, got "
                            f"{type(param_group).__name__} (do not mix Tensors and dicts)")
        if "params" not in param_group:
            raise ValueError(f"{self._name}: a parameter group needs a 'params' entry, got keys "
                             f"{sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        else:
            params = self._as_list(params)
        if not params:
            raise ValueError(f"{self._name}: optimizer got an empty parameter list")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for i, p in enumerate(params):
            self._check_param(p, i)
            if id(p) in seen:
                raise ValueError(f"{self._name}: parameter {i} (shape {p.shape}) is given twice "
                                 "(in this group or in another one); each tensor may be "
                                 "optimised only once")
            seen.add(id(p))
        group = dict(self.defaults)
        group.update(param_group)
        group["params"] = params
        self._check_group(group)
        self.param_groups.append(group)

    def _as_list(self, params: Any) -> list:
        """``params`` as a list; a set is refused, since its order would fix the ids."""
        if isinstance(params, (set, frozenset)):
            raise TypeError(f"{self._name}: parameters must be given in an ordered collection "
                            "(list or tuple), not a set: the order fixes the state_dict ids")
        try:
            return list(params)
        except TypeError:
            raise TypeError(f"{self._name}: params must be an iterable of Tensors or of dicts, "
                            f"got {type(params).__name__}") from None

    def _check_param(self, p: Any, index: int) -> None:
        if not isinstance(p, Tensor):
            raise TypeError(f"{self._name}: parameter {index} must be a Tensor, got "
                            f"{type(p).__name__}")
        if p.dtype.kind != "f":
            raise ValueError(f"{self._name}: parameter {index} has dtype {p.dtype}; only "
                             "floating tensors can be optimised")
        if not p.is_leaf:
            raise ValueError(f"{self._name}: parameter {index} (shape {p.shape}) is not a leaf "
                             "(it was computed by an op); optimise the tensors you created")
        if not p.data.flags.writeable:
            raise ValueError(f"{self._name}: parameter {index} (shape {p.shape}) has a "
                             "read-only array, which step() could not update in place; give "
                             "it a copy (e.g. mg.tensor(array.copy(), requires_grad=True))")

    # -- the step ----------------------------------------------------------------------------
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient: to None (default) or to a new array of zeros.

        A gradient array is never zeroed in place, since other tensors may share it.
        """
        for group in self.param_groups:
            for p in group["params"]:
                if p._grad is not None:
                    p._grad = None if set_to_none else Tensor(np.zeros_like(p.data))

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()`` if given.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with grad
        mode on, before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for index, group in enumerate(self.param_groups):
                params = [p for p in group["params"] if p._grad is not None]
                try:
                    self._step_group(index, group, params)
                finally:     # also after an error part-way: a graph built before must not
                    Tensor._mark_written(params)    # trust a parameter that may have changed
        return loss

    def _step_group(self, index: int, group: ParamGroup, params: List[Tensor]) -> None:
        """Update ``params`` (those of group ``index`` with a gradient): the small ones in one
        multi-tensor step where it gives the same bits (see ``multi_tensor``), the rest one by
        one."""
        flat = self._flat_group(index, group)
        if flat is not None and len(flat.params) <= len(params) and \
                all(p._grad is not None for p in flat.params) and flat.step(self, group):
            params = [p for p in params if p.data.size > SMALL]
        self._update_group(params, group)

    def _flat_group(self, index: int, group: ParamGroup) -> Optional[FlatGroup]:
        """The multi-tensor buffers of group ``index`` (None if it has under two small
        parameters of one dtype), made at the first step and again when the group changes."""
        params = group["params"]
        known = self._flat.get(index)
        if known is not None and len(known[0]) == len(params) and \
                all(map(operator.is_, params, known[0])) and \
                (known[1] is None or known[1].holds_shapes()):
            return known[1]
        small = [p for p in params if p.data.size <= SMALL]
        flat = None
        if len(small) > 1 and len({p.data.dtype for p in small}) == 1:
            flat = FlatGroup(small)
        self._flat[index] = (list(params), flat)
        return flat

    # -- saving and restoring ----------------------------------------------------------------
    def state_dict(self) -> Dict[str, Any]:
        """A snapshot of the optimizer: ``{"state": {id: {name: value}}, "param_groups": [...]}``.

        Parameters are numbered 0, 1, ... in group order; each group lists its ids under
        ``"params"`` next to its hyperparameters. State values are copies (ndarrays or plain
        Python numbers), so later steps do not change the snapshot.
        """
        ids: Dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            start = len(ids)
            ids.update((id(p), start + i) for i, p in enumerate(group["params"]))
            saved = {k: v for k, v in group.items() if k != "params"}
            saved["params"] = [ids[id(p)] for p in group["params"]]
            groups.append(saved)
        state = {ids[id(p)]: {k: _copy_value(v) for k, v in s.items()}
                 for p, s in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Dict[str, Any]) -> None:
        """Restore a ``state_dict()`` so that training continues exactly where it stopped.

        The groups must have the same sizes as this optimizer's; the saved hyperparameters
        replace the current ones (and are validated), parameter ids are integers, every ``step``
        is a non-negative integer and every state array has its parameter's shape and finite
        values (averages of squared gradients also >= 0). Arrays are copied into the
        parameter's dtype. Anything invalid is a ValueError or TypeError naming the optimizer,
        and then nothing is changed.
        """
        where = f"{self._name}.load_state_dict"
        if not isinstance(state_dict, dict) or set(state_dict) != {"state", "param_groups"}:
            keys = sorted(state_dict) if isinstance(state_dict, dict) else type(state_dict)
            raise ValueError(f"{where}: expected a dict with keys 'state' and 'param_groups', "
                             f"got {keys}")
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, (list, tuple)):
            raise TypeError(f"{where}: 'param_groups' must be a list of dicts, got "
                            f"{type(saved_groups).__name__}")
        if not isinstance(state_dict["state"], dict):
            raise TypeError(f"{where}: 'state' must be a dict of parameter ids to dicts, got "
                            f"{type(state_dict['state']).__name__}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{self._name}.load_state_dict: the state dict has "
                             f"{len(saved_groups)} parameter groups, this optimizer has "
                             f"{len(self.param_groups)}")
        groups, params = self._restore_groups(saved_groups)
        state = {}
        for key, saved_state in state_dict["state"].items():
            if not _is_id(key):
                raise TypeError(f"{where}: the keys of 'state' must be integer parameter ids, "
                                f"got {key!r}")
            if not isinstance(saved_state, dict):
                raise TypeError(f"{where}: the state of parameter {key} must be a dict, got "
                                f"{type(saved_state).__name__}")
            if int(key) not in params:
                raise ValueError(f"{self._name}.load_state_dict: state for parameter id {key}, "
                                 f"which no group lists")
            p, group = params[int(key)]
            state[p] = self._restore_state(p, group, int(key), saved_state)
        self.param_groups = groups
        self.state = state

    def _restore_groups(self, saved_groups: Any) -> Tuple[List[ParamGroup], Dict[int, Any]]:
        """The groups a state dict restores (validated) and, by saved id, each parameter with
        its new group."""
        where = f"{self._name}.load_state_dict"
        params: Dict[int, Tuple[Tensor, ParamGroup]] = {}
        groups = []
        for i, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if not isinstance(saved, dict):
                raise TypeError(f"{where}: param_groups[{i}] must be a dict, got "
                                f"{type(saved).__name__}")
            ids = saved.get("params", ())
            if isinstance(ids, range):
                ids = list(ids)
            if not isinstance(ids, (list, tuple)) or not all(_is_id(k) for k in ids):
                raise TypeError(f"{where}: param_groups[{i}]['params'] must be a list of "
                                f"integer parameter ids, got {ids!r}")
            if len(ids) != len(group["params"]):
                raise ValueError(f"{self._name}.load_state_dict: group {i} has {len(ids)} "
                                 f"parameters in the state dict and {len(group['params'])} here")
            new = dict(group)
            new.update((k, v) for k, v in saved.items() if k != "params")
            self._check_group(new)
            groups.append(new)
            for k, p in zip(ids, group["params"]):
                if int(k) in params:
                    raise ValueError(f"{self._name}.load_state_dict: parameter id {k} is "
                                     "listed twice in the state dict's groups")
                params[int(k)] = (p, new)
        return groups, params

    def _restore_state(self, p: Tensor, group: ParamGroup, key: int,
                       saved: Dict[str, Any]) -> Dict[str, Any]:
        """Check one saved per-parameter state against ``p`` and copy it into ``p``'s dtype."""
        where = f"{self._name}.load_state_dict: state of parameter {key}"
        expected = set(self._state_keys(group))
        if set(saved) != expected:
            raise ValueError(f"{where} has entries {sorted(saved)}, expected {sorted(expected)}")
        restored: Dict[str, Any] = {}
        for name, value in saved.items():
            if name == "step":
                if not _is_int(value) or value < 0:
                    raise ValueError(f"{where}: 'step' must be a non-negative integer, got "
                                     f"{value!r}")
                restored[name] = int(value)
                continue
            value = np.asarray(value)
            if value.shape != p.shape or value.dtype.kind != "f":
                raise ValueError(f"{where}: {name!r} has shape {value.shape} and dtype "
                                 f"{value.dtype}, the parameter has shape {p.shape} and dtype "
                                 f"{p.dtype}")
            with np.errstate(over="ignore"):
                copied = value.astype(p.dtype, copy=True)
            if not np.isfinite(copied).all():
                raise ValueError(f"{where}: {name!r} has values that are NaN, infinite or "
                                 f"beyond the range of {p.dtype}")
            if name in self._nonnegative_state and (copied < 0).any():
                raise ValueError(f"{where}: {name!r} must be >= 0 (it accumulates squared "
                                 f"gradients), got a minimum of {copied.min()}")
            restored[name] = copied
        return restored

    def __repr__(self) -> str:
        lines = [f"{self._name} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines + [")"])


def _is_int(value: Any) -> bool:
    """Whether ``value`` is a Python or NumPy integer (not a bool)."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_id(value: Any) -> bool:
    """Whether ``value`` can be a parameter id: an integer, or its digits (a state dict that
    went through JSON has string keys)."""
    return _is_int(value) or (isinstance(value, str) and value.isdigit())


def _copy_value(value: Any) -> Any:
    """A copy of one state value: arrays copied, numbers as they are."""
    return value.copy() if isinstance(value, np.ndarray) else value


# -- hyperparameter checks shared by the algorithms ----------------------------------------------
def check_number(owner: str, group: ParamGroup, key: str, label: str, low: float = 0.0,
                 high: float = math.inf, high_open: bool = False) -> float:
    """Check ``low <= group[key] <= high`` (``< high`` if ``high_open``), store it as a float.

    The message follows PyTorch: ``Invalid learning rate: -0.1``.
    """
    value = group[key]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {label} must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    value = float(value)
    above = value >= high if high_open else value > high
    if not value >= low or above:     # written so that NaN fails too
        raise ValueError(f"{owner}: Invalid {label}: {value} (must be in "
                         f"[{low}, {high}{')' if high_open else ']'})")
    group[key] = value
    return value


def check_flag(owner: str, group: ParamGroup, key: str) -> bool:
    """Check that ``group[key]`` is a bool (Python or NumPy) or 0 / 1, and store it as a bool.

    A string such as ``"False"`` is refused: ``bool("False")`` would turn the option on.
    """
    value = group[key]
    if not isinstance(value, (bool, np.bool_)) and not (_is_int(value) and value in (0, 1)):
        raise TypeError(f"{owner}: {key} must be True or False, got {value!r} "
                        f"({type(value).__name__})")
    group[key] = bool(value)
    return group[key]


def check_lr_eps_decay(owner: str, group: ParamGroup) -> None:
    """The checks every algorithm shares: ``lr``, ``eps`` (if used) and ``weight_decay`` >= 0."""
    check_number(owner, group, "lr", "learning rate")
    if "eps" in group:
        check_number(owner, group, "eps", "epsilon value")
    check_number(owner, group, "weight_decay", "weight_decay value")


def add_weight_decay(param: np.ndarray, grad: np.ndarray, weight_decay: float) -> np.ndarray:
    """``g + λW``, the gradient of the loss plus ½λ‖W‖², in a new array (``grad`` untouched)."""
    if weight_decay == 0.0:
        return grad
    decayed = np.empty_like(param)
    np.multiply(param, weight_decay, out=decayed)
    decayed += grad
    return decayed


def lerp_(target: np.ndarray, end: np.ndarray, weight: float,
          scratch: np.ndarray) -> None:
    """``target ← target + w (end − target)`` in place, exact at w = 0 and w = 1 (as torch.lerp).

    For w >= 0.5 it computes ``end − (1 − w)(end − target)``, which keeps more digits there.
    ``scratch`` is an array of target's shape that may be overwritten.
    """
    np.subtract(end, target, out=scratch)
    if weight < 0.5:
        scratch *= weight
        target += scratch
    else:
        scratch *= 1.0 - weight
        np.subtract(end, scratch, out=target)
