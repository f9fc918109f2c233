"""Anomaly mode (``mg.detect_anomaly()``) and the errors that point at the user's line.

Inside ``with mg.detect_anomaly():`` every op remembers the line of the user's code that created
it, and the first op whose forward or backward produces NaN or Inf raises a RuntimeError naming
the op, the shapes, the input or gradient that went bad and that line. Outside the block the
engine pays one boolean test per op and per backward step.

This module also words the error for a tensor modified in place after an op saved it (see
``minigrad/inplace.py``).
"""
from __future__ import annotations

import functools
import linecache
import os
import sys
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import autograd

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


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
        self._previous.append(autograd._anomaly_enabled)
        autograd._anomaly_enabled = True
        return self

    def __exit__(self, *exc_info: Any) -> None:
        autograd._anomaly_enabled = self._previous.pop()

    def __call__(self, func: Callable) -> Callable:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with detect_anomaly():
                return func(*args, **kwargs)
        return wrapper


def is_anomaly_enabled() -> bool:
    """Whether ``mg.detect_anomaly()`` is active."""
    return autograd._anomaly_enabled


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


def _created(fn: Any) -> str:
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
                           f"{np.shape(out)}); {cause}. Inputs: {inputs}. {_created(fn)}")


def checked_backward(fn: Any, grads: Sequence[Any], create_graph: bool) -> tuple:
    """Run ``fn.backward`` and raise if it returned a gradient holding NaN or Inf.

    The ops inside the backward are not checked one by one (a backward may divide by zero
    and mask the result away); what counts is the gradient it returns.
    """
    autograd._anomaly_enabled = False
    try:
        in_grads = autograd._call_backward(fn, grads, create_graph)
    finally:
        autograd._anomaly_enabled = True
    for index, grad in enumerate(in_grads):
        bad = _badness(grad)
        if bad is None:
            continue
        upstream = "; ".join(_describe(f"output {i} gradient", g) for i, g in enumerate(grads))
        inputs = "; ".join(_describe(f"input {i}", t) for i, t in enumerate(fn.inputs))
        raise RuntimeError(f"detect_anomaly: {fn.name}.backward returned {bad} in the gradient "
                           f"of input {index} (shape {np.shape(_array(grad))}). "
                           f"Upstream: {upstream}. Inputs: {inputs}. {_created(fn)}")
    return in_grads


def modified_error(fn: Any) -> RuntimeError:
    """The error for a backward whose input or output was modified in place after forward."""
    for index, tensor in enumerate(fn.inputs):
        if tensor._written > fn._writes:
            what, changed = f"input {index}", tensor
            break
    else:
        changed = next(o for o in fn.outputs if o is not None and o._written > fn._writes)
        what = "its output"
    return RuntimeError(
        f"{fn.name}: {what} (a tensor of shape {changed.shape}) was modified by an in-place "
        f"operation after {fn.name} used it (it is now at version {changed._version}), so its "
        f"backward would compute a wrong gradient. Do the in-place update after "
        f"backward(), or on a copy (e.g. `x = x + 1` instead of `x += 1`). {_created(fn)}")
