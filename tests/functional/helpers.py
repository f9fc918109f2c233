"""Shared checks for the op tests: forward against NumPy, first and second derivatives."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import strategies as mst


def leaf(array: Any, dtype: Any = None) -> mg.Tensor:
    """A fresh float tensor that requires grad (a copy, so checks never share data)."""
    return mg.tensor(array, dtype=dtype, requires_grad=True)


def check_op(op: Callable, reference: Callable, *arrays: np.ndarray,
             second_order: bool = True) -> None:
    """op(*tensors) equals reference(*arrays); its gradients (and their gradients) are right."""
    tensors = [leaf(a) for a in arrays]
    out = op(*tensors)
    expected = reference(*arrays)
    assert out.shape == np.shape(expected)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert mg.gradcheck(op, tensors, seed=0)
    if second_order:
        assert mg.gradgradcheck(op, tensors, seed=1)


@st.composite
def array_pairs(draw: Any, min_side: int = 1, max_side: int = 4, first: dict = None,
                second: dict = None) -> tuple:
    """Two float64 arrays of mutually broadcastable shapes (0-d included)."""
    shape_a, shape_b = draw(mst.broadcastable_shapes(min_side=min_side, max_side=max_side))
    a = draw(mst.arrays(shape_a, **(first or {})))
    b = draw(mst.arrays(shape_b, **(second or {})))
    return a, b
