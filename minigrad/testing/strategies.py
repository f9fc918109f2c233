"""Hypothesis strategies for tensors, shapes and values, for property-based tests of ops.

    from hypothesis import given
    from minigrad.testing import strategies as mst

    @given(mst.arrays(shape=mst.shapes(), away_from=(0.0,)))
    def test_relu_backward(x): ...

Values are bounded (``[-bound, bound]``, default 3) so that exp, pow and friends stay finite,
and ``away_from`` keeps every value at least ``margin`` from given kinks (ReLU at 0, abs at 0),
where a numerical derivative is meaningless.
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


def _push_away(values: np.ndarray, kinks: Sequence[float], margin: float) -> np.ndarray:
    """Move each value closer than ``margin`` to a kink out to exactly ``margin`` from it."""
    values = values.copy()
    for kink in kinks:
        near = np.abs(values - kink) < margin
        side = np.where(values[near] >= kink, 1.0, -1.0)
        values[near] = kink + side * margin
    return values


def away_from(*kinks: float, margin: float = 1e-2) -> Any:
    """A function for ``arrays(..., away_from=kinks)``-style use on your own strategies.

    ``strategy.map(away_from(0.0))`` moves values within ``margin`` of a kink away from it.
    """
    return lambda values: _push_away(np.asarray(values), kinks, margin)


def arrays(shape: Any = None, dtype: Any = np.float64, bound: float = 3.0,
           away_from: Optional[Sequence[float]] = None, margin: float = 1e-2,
           positive: bool = False) -> st.SearchStrategy[np.ndarray]:
    """Floating arrays with values in [-bound, bound] (or (margin, bound] if ``positive``).

    ``shape`` is a tuple or a strategy of shapes (default: ``shapes()``).
    """
    if shape is None:
        shape = shapes()
    low = margin if positive else -bound
    elements = st.floats(low, bound, allow_nan=False, allow_infinity=False, width=64)
    strategy = hnp.arrays(np.float64, shape, elements=elements)
    if away_from:
        strategy = strategy.map(lambda values: _push_away(values, away_from, margin))
    return strategy.map(lambda values: values.astype(dtype))


def batches(n_features: int, min_batch: int = 2, max_batch: int = 6,
            **array_kwargs: Any) -> st.SearchStrategy[np.ndarray]:
    """Arrays of shape (N, n_features) with N in ``min_batch..max_batch`` (a batch of rows)."""
    return st.integers(min_batch, max_batch).flatmap(
        lambda n: arrays(shape=(n, n_features), **array_kwargs))
