"""Multi-tensor steps: one update over all the small parameters of a group, as one vector.

Every optimizer's update is elementwise, so running it once on the concatenation of a group's
parameters gives, element for element, what running it on each parameter gives: the same
operations on the same numbers, so the same bits. It takes a fixed number of NumPy calls instead
of about a dozen per parameter, which is most of an optimizer step's cost for small layers.
PyTorch calls this ``foreach``.

How the numbers are kept:

- each state array (Adam's ``exp_avg``, say) lives in one buffer per group, and every parameter's
  ``optimizer.state[p][name]`` is a view into it: ``state_dict()``, a per-parameter step and a
  user reading the state all see the same numbers;
- the parameters live in one buffer too, once nothing else can see their arrays: at a step, a
  parameter whose array is referenced by its Tensor alone (and is not a view of another array)
  is copied into the group's buffer and ``p.data`` becomes its view there. Nobody held the old
  array, so nobody can notice; from then on the update runs on the buffer in place and
  ``p.data`` (and any array taken from it later) follows every step. A parameter whose array
  someone else holds (a user's variable, a user's array it wraps, a view) keeps its array:
  that step gathers the parameters into the buffer and writes them back in place, so the
  user's array follows the parameter as with the per-parameter update;
- gradients are gathered into one buffer with one ``np.concatenate``.

"""
from __future__ import annotations

import operator
import sys
from itertools import chain
from typing import Any, Dict, List, Optional

import numpy as np

#: Parameters with at most this many elements are updated together.
SMALL = 1 << 14


def references_to_data(holder: Any) -> Optional[int]:
    """How many references the interpreter counts to ``holder.data`` (None if it cannot say,
    as on interpreters without reference counts)."""
    count = getattr(sys, "getrefcount", None)
    return None if count is None else count(holder.data)


class _Holder:
    __slots__ = ("data",)


def _alone() -> Optional[int]:
    """What ``references_to_data`` says of an array that only its holder references: measured
    once with the same call, so that it holds whatever this interpreter counts on its stack."""
    holder = _Holder()
    holder.data = np.empty(0)
    return references_to_data(holder)


#: The reference count of a parameter array nobody but its Tensor holds (None: never known).
ALONE = _alone()


class FlatGroup:
    """The small parameters of one group, with their state as views into flat buffers."""

    def __init__(self, params: List[Any]) -> None:
        self.params = params
        self.dtype = params[0].data.dtype
        sizes = [p.data.size for p in params]
        ends = np.cumsum(sizes).tolist()
        self._spans = [(end - size, end, p.data.shape) for p, size, end in
                       zip(params, sizes, ends)]
        self.param = np.empty(ends[-1], self.dtype)
        self.grad = np.empty_like(self.param)
        self.param_views = self.views(self.param)
        self.state: Optional[Dict[str, Any]] = None    # name -> flat buffer, "step" -> t
        self._states: List[Dict[str, Any]] = []        # the per-parameter dicts it backs
        self._linked: Dict[str, List[np.ndarray]] = {}  # name -> the views in those dicts
        self._held: List[Any] = []                      # what those dicts hold, in order

    def views(self, flat: np.ndarray) -> List[np.ndarray]:
        """One view of ``flat`` per parameter, in the parameter's shape."""
        return [flat[start:end].reshape(shape) for start, end, shape in self._spans]

    def holds_shapes(self) -> bool:
        """Whether every parameter still has the shape it had when the buffers were made (a
        parameter whose array is its view of the buffer has)."""
        return all(p.data is view or p.data.shape == view.shape
                   for p, view in zip(self.params, self.param_views))

    def step(self, optimizer: Any, group: Dict[str, Any]) -> bool:
        """Update every parameter with one call of ``optimizer._update`` on the flat buffers;
        False (and nothing done) when this step must take the per-parameter path."""
        if not self._can_step() or not self._adopt(optimizer, group):
            return False
        moved_in = self._move_in()
        if not moved_in:
            np.concatenate([p.data.reshape(-1) for p in self.params], out=self.param)
        np.concatenate([p._grad.data.reshape(-1) for p in self.params], out=self.grad)
        optimizer._update(self.param, self.grad, self.state, group)
        if not moved_in:
            for p, updated in zip(self.params, self.param_views):
                np.copyto(p.data, updated)
        self._link()
        return True

    def _move_in(self) -> bool:
        """Whether every ``p.data`` is now its view of ``self.param``: the array of a
        parameter that nobody else references (not even as a view's base) is copied in and
        replaced by the view; arrays others can see stay where they are."""
        everyone = True
        for p, view in zip(self.params, self.param_views):
            if p.data is view:
                continue
            if ALONE is not None and p.data.base is None and \
                    references_to_data(p) == ALONE:     # (no local name for p.data: it counts)
                np.copyto(view, p.data)
                p.data = view
            else:
                everyone = False
        return everyone

    def _can_step(self) -> bool:
        """Whether parameters and gradients allow the vector form this step."""
        dtype = self.dtype
        return all(p.data.dtype is dtype and p._grad.data.dtype is dtype and
                   p.data.flags.writeable for p in self.params)

    def _adopt(self, optimizer: Any, group: Dict[str, Any]) -> bool:
        """Make ``self.state`` back the optimizer's per-parameter states; False if they cannot
        be one vector (some missing, or at different step counts, or of another dtype)."""
        states = list(map(optimizer.state.get, self.params))
        if self._still_linked(states):
            return True
        if all(s is None for s in states):
            self.state = optimizer._init_state(self.param, group)
            self._states = [dict() for _ in self.params]
            for p, state in zip(self.params, self._states):
                optimizer.state[p] = state
        elif self._alike(states):
            self.state = {name: self._gather(states, name) for name in states[0]}
            self._states = states
        else:
            return False
        self._linked = {}
        self._link()
        return True

    def _still_linked(self, states: List[Optional[Dict[str, Any]]]) -> bool:
        """Whether the per-parameter states are exactly as ``_link`` left them: the same
        dicts, holding the same objects (the step number and the views of the buffers)."""
        if self.state is None or not all(map(operator.is_, states, self._states)):
            return False
        held = list(chain.from_iterable(map(dict.values, states)))
        return len(held) == len(self._held) and all(map(operator.is_, held, self._held))

    def _alike(self, states: List[Optional[Dict[str, Any]]]) -> bool:
        """Whether existing per-parameter states can be joined into one vector state."""
        if any(s is None for s in states):
            return False
        first = states[0]
        for state, span in zip(states, self._spans):
            if state.keys() != first.keys() or state.get("step") != first.get("step"):
                return False
            for value in state.values():
                if isinstance(value, np.ndarray) and (value.dtype is not self.dtype or
                                                      value.shape != span[2]):
                    return False
        return True

    def _gather(self, states: List[Dict[str, Any]], name: str) -> Any:
        """One state entry of all parameters: arrays concatenated, numbers as they are."""
        if not isinstance(states[0][name], np.ndarray):
            return states[0][name]
        return np.concatenate([s[name].reshape(-1) for s in states])

    def _link(self) -> None:
        """Point every per-parameter state at its part of the flat state (new entries too)."""
        for name, value in self.state.items():
            if not isinstance(value, np.ndarray):
                for state in self._states:
                    state[name] = value
            elif name not in self._linked:
                views = self._linked[name] = self.views(value)
                for state, view in zip(self._states, views):
                    state[name] = view
        self._held = list(chain.from_iterable(map(dict.values, self._states)))
