"""Hypothesis strategies for tensors, shapes and values, for property-based tests of ops.

    from hypothesis import given
    from minigrad.testing import strategies as mst

    @given(mst.arrays(shape=mst.shapes(), away_from=(0.0,)))
    def test_relu_backward(x): ...

Values are bounded (``[-bound, bound]``, default 3) so that exp, pow and friends stay finite,
and ``away_from`` keeps every value at least ``margin`` from given kinks (ReLU at 0, abs at 0),
where a numerical derivative is meaningless (a value too close is moved to the nearest point that
is far enough from every kink and still inside the bound).
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp


def shapes(min_dims: int = 0, max_dims: int = 3, min_side: int = 1,
           max_side: int = 4) -> st.SearchStrategy[Tuple[int, ...]]:
    """Array shapes with ``min_dims..max_dims`` axes of length ``min_side..max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 3,
                         min_side: int = 1,
                         max_side: int = 4) -> st.SearchStrategy[Tuple[Tuple[int, ...], ...]]:
    """Tuples of ``num_shapes`` shapes that broadcast together (some axes stretched from 1)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=min_side,
        max_side=max_side).map(lambda result: result.input_shapes)


def _nearest_valid(kinks: np.ndarray, margin: float, low: float, high: float,
                   dtype: np.dtype) -> np.ndarray:
    """The points kink ± margin, in ``dtype``, at least ``margin`` from every kink and in
    [low, high]: where a value too close to a kink is moved."""
    points = np.concatenate([kinks - margin, kinks + margin]).astype(dtype)
    outward = np.concatenate([-np.ones_like(kinks), np.ones_like(kinks)]) * np.inf
    for _ in range(2):   # rounding to dtype may land a hair inside the margin: step out one ulp
        close = _distance(points, kinks) < margin
        points[close] = np.nextafter(points[close], outward[close].astype(dtype))
    keep = (_distance(points, kinks) >= margin) & (points >= low) & (points <= high)
    return points[keep]


def _distance(values: np.ndarray, kinks: np.ndarray) -> np.ndarray:
    """Distance (in float64) from each value to its nearest kink."""
    values = np.asarray(values, dtype=np.float64)
    return np.min(np.abs(values[..., None] - kinks), axis=-1)


def _push_away(values: np.ndarray, kinks: Sequence[float], margin: float,
               low: float = -np.inf, high: float = np.inf) -> np.ndarray:
    """Move each value closer than ``margin`` to a kink to the nearest point that is at least
    ``margin`` from every kink and inside [low, high]; other values are left as they are."""
    kinks = np.asarray(kinks, dtype=np.float64).ravel()
    near = _distance(values, kinks) < margin if kinks.size else np.zeros(values.shape, bool)
    if not near.any():
        return values
    targets = _nearest_valid(kinks, margin, low, high, values.dtype)
    if targets.size == 0:
        raise ValueError(f"away_from: no value in [{low}, {high}] is {margin} away from every "
                         f"kink in {tuple(kinks)}")
    moved = values.copy()
    close = values[near].astype(np.float64)
    distance = np.abs(close[:, None] - targets)
    # a value exactly between two targets (at a kink, as hypothesis's favourite 0 is) goes up
    # and down by turns, so that an array of zeros does not become one-sided (all of ReLU's
    # gradients 0: a vacuous check)
    upward = (np.arange(close.size) % 2 == 0)[:, None] == (targets > close[:, None])
    distance += np.where(upward, 0.0, margin * 1e-9)
    moved[near] = targets[np.argmin(distance, axis=1)]
    return moved


def away_from(*kinks: float, margin: float = 1e-2) -> Any:
    """A function for ``strategy.map(...)`` that keeps values ``margin`` away from kinks.

    ``strategy.map(away_from(0.0))`` moves each value within ``margin`` of a kink to the
    nearest point at least ``margin`` from every kink; the dtype is kept.
    """
    return lambda values: _push_away(np.asarray(values), kinks, margin)


def arrays(shape: Any = None, dtype: Any = np.float64, bound: float = 3.0,
           away_from: Optional[Sequence[float]] = None, margin: float = 1e-2,
           positive: bool = False) -> st.SearchStrategy[np.ndarray]:
    """Floating arrays with values in [-bound, bound] (or [margin, bound] if ``positive``).

    ``shape`` is a tuple or a strategy of shapes (default: ``shapes()``). Values are drawn in
    ``dtype`` itself, so every promise holds exactly for the array you get; with
    ``away_from`` each value is also at least ``margin`` from every kink.
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"arrays: dtype must be floating, got {dtype}")
    if not bound > 0:
        raise ValueError(f"arrays: bound must be positive, got {bound}")
    if positive and not margin < bound:
        raise ValueError(f"arrays: positive=True needs margin < bound, got margin {margin} and "
                         f"bound {bound}")
    if shape is None:
        shape = shapes()
    low, high = _inside(margin if positive else -bound, bound, dtype)
    elements = st.floats(low, high, allow_nan=False, allow_infinity=False,
                         width=8 * dtype.itemsize)
    strategy = hnp.arrays(dtype, shape, elements=elements)
    if away_from:
        kinks = np.asarray(away_from, dtype=np.float64).ravel()
        if _nearest_valid(kinks, margin, low, high, dtype).size == 0:
            raise ValueError(f"arrays: no value in [{low}, {high}] is {margin} away from every "
                             f"kink in {tuple(kinks)}; lower the margin or raise the bound")
        strategy = strategy.map(lambda values: _push_away(values, kinks, margin, low, high))
    return strategy


def _inside(low: float, high: float, dtype: np.dtype) -> Tuple[float, float]:
    """[low, high] shrunk to the nearest numbers that ``dtype`` represents exactly."""
    lo, hi = np.array(low, dtype=dtype), np.array(high, dtype=dtype)
    if float(lo) < low:
        lo = np.nextafter(lo, dtype.type(np.inf))
    if float(hi) > high:
        hi = np.nextafter(hi, dtype.type(-np.inf))
    return float(lo), float(hi)


def batches(n_features: int, min_batch: int = 2, max_batch: int = 6,
            **array_kwargs: Any) -> st.SearchStrategy[np.ndarray]:
    """Arrays of shape (N, n_features) with N in ``min_batch..max_batch`` (a batch of rows)."""
    return st.integers(min_batch, max_batch).flatmap(
        lambda n: arrays(shape=(n, n_features), **array_kwargs))
