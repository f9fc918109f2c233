"""Finite differences and kinks: the one home shared by gradcheck, gradgradcheck and check_layer.

Every checker compares a backward's ``vᵀ ∂y/∂x`` with differences of the scalar
``s(x) = ⟨v, y(x)⟩``, given here as ``weighted``, a function of no arguments that reads the
array being varied (the functions below write each element into that array in place and put
it back). At a kink of a piecewise op (ReLU at exactly 0, max at a tie) the central difference
is the mean of two different one-sided slopes, a value no backward returns; any value between
the two slopes is a valid (sub)gradient, so an element there is a kink, not a mistake.
"""
from __future__ import annotations

from typing import Callable, Tuple

import numpy as np

Weighted = Callable[[], float]          # s = ⟨v, y⟩ at the current contents of the array
Shifted = Callable[[float], float]      # h ↦ s with the input moved by h (along eᵢ or u)


def central(shifted: Shifted, eps: float) -> float:
    """The central difference of s along a shift: ``(s(+h) − s(−h)) / 2h`` with h = ``eps``."""
    # (⟨v, f(x + h eᵢ)⟩ − ⟨v, f(x − h eᵢ)⟩) / 2h
    return (shifted(eps) - shifted(-eps)) / (2 * eps)


def one_sided(shifted: Shifted, eps: float) -> Tuple[float, float]:
    """The left and right difference quotients ``(s(0) − s(−h)) / h`` and ``(s(h) − s(0)) / h``."""
    centre = shifted(0.0)
    return (centre - shifted(-eps)) / eps, (shifted(eps) - centre) / eps


def slopes_differ(left: float, right: float, eps: float) -> bool:
    """Whether the one-sided slopes jump (a kink), not just bend (a smooth f, where
    ``right − left ≈ h·f''``); below h = 10⁻⁶ rounding sets the scale instead of h."""
    # a kink: |right − left| > 10³ · max(h, 10⁻⁶) · (1 + max(|left|, |right|))
    return abs(right - left) > 1e3 * max(eps, 1e-6) * (1 + max(abs(left), abs(right)))


def along(weighted: Weighted, array: np.ndarray, index: Tuple[int, ...]) -> Shifted:
    """h ↦ s with ``array[index]`` moved by h; the element is restored after each call."""
    def shifted(h: float) -> float:
        original = array[index]
        array[index] = original + h      # written into the input itself, whatever its layout
        try:
            return float(weighted())
        finally:
            array[index] = original
    return shifted


def central_difference(weighted: Weighted, array: np.ndarray, eps: float) -> np.ndarray:
    """∂s/∂array by central differences, one element at a time, restoring each.

    Returns a float64 array of ``array``'s shape: element i is
    ``(s(x + h eᵢ) − s(x − h eᵢ)) / 2h`` with h = ``eps``.
    """
    gradient = np.zeros(array.shape, dtype=np.float64)
    for index in np.ndindex(array.shape):
        gradient[index] = central(along(weighted, array, index), eps)
    return gradient


def at_kink(weighted: Weighted, array: np.ndarray, analytic: np.ndarray, suspects: np.ndarray,
            eps: float, atol: float, rtol: float) -> np.ndarray:
    """Which ``suspects`` (elements whose analytic and numerical gradients disagree) sit at a
    kink with the analytic value a valid one there: the one kink rule of every checker.

    An element is at a kink when its one-sided slopes differ (``slopes_differ``) and the
    analytic value lies between them, within ``atol + rtol·max(|left|, |right|)``; a wrong
    gradient next to a kink (outside both slopes) is not excused. Returns a boolean mask.
    """
    kink = np.zeros(array.shape, dtype=bool)
    for index in map(tuple, np.argwhere(suspects)):
        left, right = one_sided(along(weighted, array, index), eps)
        slack = atol + rtol * max(abs(left), abs(right))
        # kink: slopes differ, min(left, right) − slack ≤ analytic ≤ max(left, right) + slack
        kink[index] = slopes_differ(left, right, eps) and \
            min(left, right) - slack <= analytic[index] <= max(left, right) + slack
    return kink
