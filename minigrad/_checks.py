"""Argument checks shared across the package (each error names the function that was called)."""
from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def real_number(value: Any, what: str, owner: str) -> float:
    """``value`` as a float: a Python or NumPy real number, or a 0-d array or Tensor holding one.

    Anything else (a bool, a string, None, an array of several values) is a TypeError naming
    ``owner`` and ``what``. Range checks are the caller's.
    """
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{owner}: {what} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    if isinstance(value, numbers.Real):
        return float(value)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 0 or array.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: {what} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    return float(array)
