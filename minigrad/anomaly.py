"""Anomaly mode (``mg.detect_anomaly()``) and the errors that point at the user's line.

Inside ``with mg.detect_anomaly():`` every op remembers the line of the user's code that created
it, and the first op whose forward or backward produces NaN or Inf raises a RuntimeError naming
the op, the shapes, the input or gradient that went bad and that line. Outside the block the
engine pays one boolean test per op and per backward.

Anomaly mode is process-wide (as in PyTorch): a block in one thread turns it on for all. The
ops run inside a checked backward rule are not checked one by one; that pause is per thread.
It plugs into a backward through ``watch.Watched`` (see ``autograd.Step``).
"""
from __future__ import annotations

import functools
import linecache
import os
import sys
import threading
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import autograd

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep

enabled = False   # process-wide; set only by detect_anomaly (others read it: Function.apply)


class _Pause(threading.local):
    """Per thread: whether a checked backward rule is running (its own ops go unchecked)."""

    in_rule = False


_pause = _Pause()


class detect_anomaly:
    """Context manager (or decorator) that checks every op's forward and backward for NaN/Inf.

    Examples
    --------
    >>> with mg.detect_anomaly():
    ...     loss = model(x).log().sum()
    ...     loss.backward()     # raises at the first op that produced NaN or Inf

    The error names the op (e.g. ``Log``), the shapes, which output, input or gradient holds
    non-finite values, and ``file:line`` of the user's code where the op was created. Anomaly
    mode is for debugging: every op records where it was created and every array is scanned,
    which makes a step several times slower.
    """

    def __init__(self) -> None:
        self._previous: list = []

    def __enter__(self) -> "detect_anomaly":
        global enabled
        self._previous.append(enabled)
        enabled = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        global enabled
        enabled = self._previous.pop()

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return func(*args, **kwargs)
        return wrapper


def is_anomaly_enabled() -> bool:
    """Whether ``mg.detect_anomaly()`` is active (and no checked backward rule is running in
    this thread)."""
    return enabled and not _pause.in_rule


def creation_site() -> str:
    """``file:line in function`` and the source line of the innermost frame outside minigrad."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame = frame.f_back
    if frame is None:
        return "<inside minigrad>"
    filename, line = frame.f_code.co_filename, frame.f_lineno
    source = linecache.getline(filename, line).strip()
    site = f"{filename}:{line} in {frame.f_code.co_name}"
    return f"{site}\n    {source}" if source else site


def where_created(fn: Any) -> str:
    """The sentence that says where ``fn`` was created (or how to find out)."""
    site = fn.__dict__.get("_created_at")
    if site is None:
        return ("(run under `with mg.detect_anomaly():` to see the line of your code that "
                "created this op)")
    return f"The op was created at {site}"


def _array(value: Any) -> Any:
    """The ndarray of a Tensor, or the value itself."""
    return value.data if isinstance(value, autograd.Tensor) else value


def _badness(array: Any) -> Optional[str]:
    """'NaN', 'Inf' or 'NaN and Inf' if a floating array holds such values, else None."""
    array = _array(array)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in "fc":
        return None
    if np.isfinite(array).all():
        return None
    nan, inf = bool(np.isnan(array).any()), bool(np.isinf(array).any())
    return "NaN and Inf" if nan and inf else "NaN" if nan else "Inf"


def _describe(label: str, array: Any) -> str:
    array = _array(array)
    bad = _badness(array)
    state = f"contains {bad}" if bad else "finite"
    return f"{label} shape {np.shape(array)} {getattr(array, 'dtype', '')} ({state})"


def check_forward(fn: Any, tensors: Sequence[Any], raw: Any) -> None:
    """Remember where ``fn`` was created and raise if its forward produced NaN or Inf."""
    if _pause.in_rule:
        return
    fn._created_at = creation_site()
    outputs = raw if type(raw) is tuple else (raw,)
    for index, out in enumerate(outputs):
        bad = _badness(out)
        if bad is None:
            continue
        inputs = "; ".join(_describe(f"input {i}", t) for i, t in enumerate(tensors))
        already = [i for i, t in enumerate(tensors) if _badness(t) is not None]
        cause = (f"input {already[0]} already held non-finite values, so they came from before "
                 "this op (data, or an op run outside anomaly mode)" if already else
                 "all inputs were finite, so this op produced them")
        raise RuntimeError(f"detect_anomaly: {fn.name} produced {bad} in output {index} (shape "
                           f"{np.shape(out)}); {cause}. Inputs: {inputs}. {where_created(fn)}")


def checked_backward(fn: Any, grads: Sequence[Any], create_graph: bool) -> tuple:
    """Run ``fn.backward`` and raise if it returned a gradient holding NaN or Inf.

    The ops inside the backward are not checked one by one (a backward may divide by zero
    and mask the result away); what counts is the gradient it returns.
    """
    paused, _pause.in_rule = _pause.in_rule, True
    try:
        in_grads = higher_order.call_rule(fn, grads, create_graph)
    finally:
        _pause.in_rule = paused
    for index, grad in enumerate(in_grads):
        bad = _badness(grad)
        if bad is None:
            continue
        upstream = "; ".join(_describe(f"output {i} gradient", g) for i, g in enumerate(grads))
        inputs = "; ".join(_describe(f"input {i}", t) for i, t in enumerate(fn.inputs))
        raise RuntimeError(f"detect_anomaly: {fn.name}.backward returned {bad} in the gradient "
                           f"of input {index} (shape {np.shape(_array(grad))}). "
                           f"Upstream: {upstream}. Inputs: {inputs}. {where_created(fn)}")
    return in_grads


from . import higher_order  # noqa: E402
from .inplace import modified_error  # noqa: E402,F401  (its old home)
