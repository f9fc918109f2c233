"""The backward step with extras: higher order, anomaly mode and observers.

``autograd.run_backward`` uses the plain ``autograd.Step`` unless, when the backward starts,
``watching`` says something needs to see or change how each rule runs; then it uses ``Watched``,
which calls the rule through those extras, each in its own module. ``mg.grad`` adds its own
capture and pruning on top of it (``minigrad/gradients.py``).
"""
from __future__ import annotations

from . import anomaly, higher_order, inplace, observe
from .autograd import Function, Step
from .tensor import Tensor


def watching(create_graph: bool) -> bool:
    """Whether a backward needs ``Watched``: it is differentiated itself, anomaly mode is on,
    or an ``observe_backward`` block is active in this thread."""
    return bool(create_graph or anomaly.enabled or observe.active())


class Watched(Step):
    """``Step`` whose ``call`` runs each rule through the extras that are on."""

    holds = Tensor                               # gradients stay Tensors (higher order needs them)

    def __init__(self, create_graph: bool) -> None:
        self.create_graph = create_graph

    run = Step.run_in_full                       # every node through gather and call

    def call(self, fn: Function, grads: list) -> tuple:
        """Check for in-place writes, run the rule (checked for NaN/Inf in anomaly mode, made
        differentiable or refused with ``create_graph``) and show it to the observers."""
        inplace.check_unmodified(fn)
        if anomaly.enabled:
            in_grads = anomaly.checked_backward(fn, grads, self.create_graph)
        else:
            in_grads = higher_order.call_rule(fn, grads, self.create_graph)
        for callback in observe.active():
            callback(fn, grads, in_grads)
        return in_grads
