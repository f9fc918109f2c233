"""A 2-D toy data set: interleaved spiral arms, one per class."""
from __future__ import annotations

from typing import Optional, Tuple

import numpy as np

from ..random import default_rng


def make_spiral(n_per_class: int = 100, n_classes: int = 3, noise: float = 0.2,
                rng: Optional[np.random.Generator] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Points on ``n_classes`` spiral arms around the origin.

    Point i of class k (r = i / n_per_class) sits at (r sin θ, r cos θ) with
    θ = 4k + 4r + noise·ε, ε ~ N(0, 1): each arm turns once around and gets wider apart
    from the others as r grows.

    Parameters
    ----------
    n_per_class : int
        Points per arm (>= 1).
    n_classes : int
        Number of arms (>= 2).
    noise : float
        Standard deviation of the angle's noise (>= 0).
    rng : numpy.random.Generator, optional
        Source of the noise (default: minigrad's generator, see ``mg.manual_seed``).

    Returns
    -------
    x : ndarray, float32, shape (n_per_class * n_classes, 2)
    y : ndarray, int64, shape (n_per_class * n_classes,), the arm of each point
    """
    for name, value, least in (("n_per_class", n_per_class, 1), ("n_classes", n_classes, 2)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < least:
            raise ValueError(f"make_spiral: {name} must be an integer >= {least}, got {value!r}")
    if isinstance(noise, bool) or not isinstance(noise, (int, float, np.integer, np.floating)) \
            or not 0 <= noise < np.inf:
        raise ValueError(f"make_spiral: noise must be a finite number >= 0, got {noise!r}")
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"make_spiral: rng must be a numpy.random.Generator or None, got "
                        f"{type(rng).__name__}")
    rng = default_rng() if rng is None else rng
    r = np.arange(n_per_class) / n_per_class                          # (n,)
    k = np.arange(n_classes)[:, None]                                  # (c, 1)
    theta = 4.0 * k + 4.0 * r + noise * rng.standard_normal((n_classes, n_per_class))
    x = np.stack([r * np.sin(theta), r * np.cos(theta)], axis=-1).reshape(-1, 2)
    y = np.repeat(np.arange(n_classes, dtype=np.int64), n_per_class)
    return x.astype(np.float32), y
