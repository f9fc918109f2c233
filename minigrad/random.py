"""The generator behind initialisation, dropout and the random factories.

``mg.manual_seed(seed)`` replaces it with a freshly seeded ``numpy.random.Generator`` so runs
repeat exactly; any function that takes ``rng=`` uses that generator instead.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: Optional[int]) -> np.random.Generator:
    """Reseed minigrad's default generator and return it."""
    global _generator
    if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"manual_seed: seed must be a non-negative integer, got {seed!r}")
    _generator = np.random.default_rng(seed)
    return _generator


def default_rng() -> np.random.Generator:
    """The generator used when no ``rng`` is given."""
    return _generator
