"""Differentiating a backward again (``create_graph=True``) and ops that cannot be.

With ``create_graph`` the engine runs the rules with grad mode on, so a rule written with
Tensor ops records itself and its result can be differentiated. A rule that works on raw saved
arrays cannot; its op sets ``once_differentiable = True`` and its gradients are connected to a
node whose own backward raises, instead of silently giving a wrong second derivative.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .autograd import Function, checked_count, no_grad


def call_rule(fn: Function, grads: list, create_graph: bool) -> tuple:
    """Call ``fn.backward`` and return one gradient per input."""
    if create_graph and fn.once_differentiable:
        with no_grad():
            result = fn.backward(*grads)
        result = _mark_once_differentiable(fn, result)
    else:
        result = fn.backward(*grads)
    return checked_count(fn, result)


class _OnceDifferentiable(Function):
    """Stands in for the backward of a ``once_differentiable`` op; differentiating it raises."""

    def forward(self, *arrays: np.ndarray, count: int = 1, op: str = "") -> Any:
        self.op = op
        return arrays[:count] if count > 1 else arrays[0]   # the gradients, passed through

    def backward(self, *grads: Any) -> Any:
        raise RuntimeError(f"{self.op} is once_differentiable: its backward is not itself "
                           "differentiable, so no second-order gradient through it exists here")


def _mark_once_differentiable(fn: Function, result: Any) -> Any:
    """Connect gradients computed without a graph to one that raises when differentiated."""
    results = result if type(result) is tuple else (result,)
    present = [i for i, g in enumerate(results) if g is not None]
    if not present:
        return result
    marked = _OnceDifferentiable.apply(*[results[i] for i in present], *fn.inputs,
                                       count=len(present), op=fn.name)
    if type(marked) is not tuple:
        marked = (marked,)
    out = list(results)
    for i, g in zip(present, marked):
        out[i] = g
    return tuple(out)
