"""Weight initialisation, in place: ``normal_``, ``uniform_``, ``zeros_``, ``ones_``,
``constant_``, ``xavier_normal_`` and ``he_normal_``.

Samples come from ``rng`` if given, else from minigrad's default generator (seeded by
``mg.manual_seed``). Each function fills ``tensor.data`` in place (its dtype unchanged) and
returns the tensor.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

from ..random import default_rng
from ..tensor import Tensor


def _checked(tensor: Any) -> Tensor:
    """``tensor``, if it is one."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor or Parameter, got {type(tensor).__name__}")
    return tensor


def _fill(tensor: Tensor, values: Any) -> Tensor:
    _checked(tensor).data[...] = values
    tensor._version += 1                     # a graph built before cannot be differentiated
    return tensor


def fan_in(tensor: Tensor) -> int:
    """The number of inputs of each output unit: shape[0] of an (in, out) weight (in general
    the product of every axis but the last)."""
    if _checked(tensor).ndim < 2:
        raise ValueError(f"init: fan_in needs a weight of at least 2 dimensions, got shape "
                         f"{tensor.shape}")
    return math.prod(tensor.shape[:-1])


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            rng: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with samples of N(mean, std²)."""
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, (rng or default_rng()).normal(mean, std, _checked(tensor).shape))


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             rng: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with samples of U(a, b)."""
    if a > b:
        raise ValueError(f"uniform_: a ({a}) must not exceed b ({b})")
    return _fill(tensor, (rng or default_rng()).uniform(a, b, _checked(tensor).shape))


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with ``value``."""
    return _fill(tensor, value)


def xavier_normal_(tensor: Tensor, rng: Optional[np.random.Generator] = None) -> Tensor:
    """The book's Xavier initialisation: N(0, 1/fan_in), std = √(1/n).

    (PyTorch's ``xavier_normal_`` uses √(2/(fan_in + fan_out)); the book uses fan-in only.)
    """
    return normal_(tensor, 0.0, math.sqrt(1.0 / fan_in(tensor)), rng)


def he_normal_(tensor: Tensor, rng: Optional[np.random.Generator] = None) -> Tensor:
    """He initialisation for ReLU networks: N(0, 2/fan_in), std = √(2/n)."""
    return normal_(tensor, 0.0, math.sqrt(2.0 / fan_in(tensor)), rng)
