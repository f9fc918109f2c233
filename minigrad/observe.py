"""Watching a backward: ``autograd.observe_backward(callback)`` sees each node's raw gradients.

The observers are per thread: a block in one thread never sees another thread's backward.
``viz.trace_backward`` and the gradient checkers are built on it.
"""
from __future__ import annotations

import threading
from typing import Any, Callable


class _Observers(threading.local):
    """The callbacks of the ``observe_backward`` blocks active in this thread."""

    callbacks: tuple = ()


_observers = _Observers()


def active() -> tuple:
    """The callbacks to call after each node's backward in this thread (usually none)."""
    return _observers.callbacks


class observe_backward:
    """Context manager: ``callback(fn, grad_outputs, grad_inputs)`` is called after each node's
    ``backward`` in this block, with exactly what the rule returned (before the engine sums a
    broadcast gradient back to its input's shape or casts its dtype). Used by
    ``viz.trace_backward`` and by the gradient checkers to see a layer's raw gradients.
    Only backward passes run by this thread are observed."""

    def __init__(self, callback: Callable[[Any, Any, Any], None]) -> None:
        self.callback = callback

    def __enter__(self) -> "observe_backward":
        _observers.callbacks = _observers.callbacks + (self.callback,)
        return self

    def __exit__(self, *exc_info: Any) -> None:
        callbacks = list(_observers.callbacks)
        callbacks.remove(self.callback)
        _observers.callbacks = tuple(callbacks)
