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
- parameters and gradients are gathered into one buffer each (two ``np.concatenate`` calls), the
  update runs on the buffers, and the parameters are written back in place: ``p.data`` is never
  replaced, so an array a user took from it before keeps following the parameter.

A parameter takes this path when it is small (``SMALL`` elements or fewer: above that, a NumPy
call's fixed cost is small next to its work, and gathering and writing back would only add passes
over memory). The group falls back to the per-parameter update for a step whenever the vector
form could differ from it: parameters of mixed dtypes, a gradient of another dtype, a read-only
parameter (so the step fails where the per-parameter one does), or states that are not at the
same step count (a parameter skipped in some step).
"""
from __future__ import annotations

import operator
from typing import Any, Dict, List, Optional

import numpy as np

#: Parameters with at most this many elements are updated together.
SMALL = 1 << 14


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

    def views(self, flat: np.ndarray) -> List[np.ndarray]:
        """One view of ``flat`` per parameter, in the parameter's shape."""
        return [flat[start:end].reshape(shape) for start, end, shape in self._spans]

    def holds(self, params: List[Any]) -> bool:
        """Whether this is the group of exactly ``params`` (the same tensors, same shapes)."""
        return len(params) == len(self.params) and all(
            p is q and p.data.shape == span[2]
            for p, q, span in zip(params, self.params, self._spans))

    def step(self, optimizer: Any, group: Dict[str, Any]) -> bool:
        """Update every parameter with one call of ``optimizer._update`` on the flat buffers;
        False (and nothing done) when this step must take the per-parameter path."""
        if not self._can_step() or not self._adopt(optimizer, group):
            return False
        np.concatenate([p.data.reshape(-1) for p in self.params], out=self.param)
        np.concatenate([p._grad.data.reshape(-1) for p in self.params], out=self.grad)
        optimizer._update(self.param, self.grad, self.state, group)
        for p, updated in zip(self.params, self.param_views):
            np.copyto(p.data, updated)
        self._link()
        return True

    def _can_step(self) -> bool:
        """Whether parameters and gradients allow the vector form this step."""
        dtype = self.dtype
        return all(p.data.dtype is dtype and p._grad.data.dtype is dtype and
                   p.data.flags.writeable for p in self.params)

    def _adopt(self, optimizer: Any, group: Dict[str, Any]) -> bool:
        """Make ``self.state`` back the optimizer's per-parameter states; False if they cannot
        be one vector (some missing, or at different step counts, or of another dtype)."""
        states = [optimizer.state.get(p) for p in self.params]
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
        """Whether the per-parameter states are still the views of this group's buffers."""
        if self.state is None or not all(map(operator.is_, states, self._states)):
            return False
        step = self.state.get("step")
        return all(s.get("step") == step for s in states) and all(
            all(map(operator.is_, [s.get(name) for s in states], views))
            for name, views in self._linked.items())

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
