"""The generator behind initialisation, dropout and the random factories.

``mg.manual_seed(seed)`` replaces it with a freshly seeded ``numpy.random.Generator`` so runs
repeat exactly; any function that takes ``rng=`` uses that generator instead.
"""
from __future__ import annotations

from typing import Any, Optional

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


def check_rng(rng: Any, owner: str) -> Optional[np.random.Generator]:
    """``rng`` itself if it is None or a ``numpy.random.Generator``, else TypeError naming
    ``owner`` (checked where it is given, not where it is first used)."""
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"{owner}: rng must be a numpy.random.Generator or None, got "
                        f"{type(rng).__name__}")
    return rng
