"""Shared checks for the layer tests: gradients of a layer's input and parameters."""
from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import strategies as mst


def leaf(array: Any, dtype: Any = np.float64) -> mg.Tensor:
    """A fresh tensor that requires grad (a copy)."""
    return mg.tensor(array, dtype=dtype, requires_grad=True)


def check_layer_gradients(layer: mg.nn.Module, x: mg.Tensor, *extra: Any) -> None:
    """gradcheck dx and every parameter's gradient of ``layer(x, *extra)`` (float64)."""
    params = list(layer.parameters())
    inputs = (x, *params)
    # gradcheck perturbs each input's array in place, so the layer sees its perturbed weights.
    assert mg.gradcheck(lambda x_, *_: layer(x_, *extra), inputs, seed=0)


@st.composite
def batch_and_features(draw: Any, max_batch: int = 5, max_features: int = 5,
                       **array_kwargs: Any) -> np.ndarray:
    """A (N, F) float64 batch with N in 2..max_batch, F in 1..max_features."""
    n = draw(st.integers(2, max_batch))
    f = draw(st.integers(1, max_features))
    return draw(mst.arrays(shape=(n, f), **array_kwargs))
