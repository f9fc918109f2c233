"""The bundled 8x8 handwritten digits (UCI, CC BY 4.0) with a fixed stratified split."""
from __future__ import annotations

import numbers
import os
from typing import Tuple

import numpy as np

Split = Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]

DIGITS_PATH = os.path.join(os.path.dirname(__file__), "digits.npz")


def stratified_split(labels: np.ndarray, test_fraction: float,
                     rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """Indices of a train/test split that keeps each class's share in both parts.

    Each class c with n_c samples gives round(test_fraction * n_c) of them, drawn at random, to
    the test part. Both index arrays are returned sorted.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"stratified_split: test_fraction must lie in (0, 1), "
                         f"got {test_fraction!r}")
    order = rng.permutation(len(labels))
    order = order[np.argsort(labels[order], kind="stable")]       # grouped by class, shuffled
    classes, starts, counts = np.unique(labels[order], return_index=True, return_counts=True)
    n_test = np.rint(counts * test_fraction).astype(np.int64)
    rank = np.arange(len(labels)) - np.repeat(starts, counts)     # position within its class
    is_test = rank < np.repeat(n_test, counts)
    return np.sort(order[~is_test]), np.sort(order[is_test])


def load_digits(split_seed: int = 0, test_fraction: float = 0.2, flatten: bool = True) -> Split:
    """The 1,797 8x8 handwritten digits, split into training and test parts.

    The images are counts of "on" pixels in 4x4 blocks (0..16), returned as float32 scaled to
    [0, 1] (x = count / 16); labels are int64 digits 0..9. The split is stratified: each digit
    gives ``round(test_fraction * n_digit)`` of its images to the test part, chosen by
    ``split_seed``, so the same seed always gives the same split.

    Parameters
    ----------
    split_seed : int
        Seed of the split (0 is the split every example and ``minigrad train`` use).
    test_fraction : float
        Share of each class that goes to the test part, in (0, 1); one so close to 0 or 1 that it
        leaves either part empty is a ValueError.
    flatten : bool
        Images as rows of 64 values (the default, for an MLP) or as (N, 1, 8, 8).

    Returns
    -------
    ((x_train, y_train), (x_test, y_test))
        With the default arguments 1,438 training and 359 test images.

    Notes
    -----
    The data is the test part of UCI's "Optical Recognition of Handwritten Digits"
    (E. Alpaydin, C. Kaynak, 1998; CC BY 4.0), the copy scikit-learn bundles;
    ``scripts/make_digits.py`` made the bundled file from it.
    """
    if not isinstance(split_seed, (int, np.integer)) or isinstance(split_seed, bool) \
            or split_seed < 0:
        raise ValueError(f"load_digits: split_seed must be a non-negative integer, "
                         f"got {split_seed!r}")
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, numbers.Real):
        raise TypeError(f"load_digits: test_fraction must be a number in (0, 1), got "
                        f"{test_fraction!r} ({type(test_fraction).__name__})")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"load_digits: test_fraction must lie in (0, 1), got {test_fraction!r}")
    with np.load(DIGITS_PATH, allow_pickle=False) as f:
        images, labels = f["images"], f["labels"]
    x = images.astype(np.float32) / np.float32(16.0)
    x = x.reshape(len(x), 64) if flatten else x.reshape(len(x), 1, 8, 8)
    y = labels.astype(np.int64)
    train, test = stratified_split(y, test_fraction, np.random.default_rng(split_seed))
    if len(train) == 0 or len(test) == 0:
        empty = "training" if len(train) == 0 else "test"
        raise ValueError(f"load_digits: test_fraction={test_fraction!r} leaves the {empty} "
                         f"part empty (each class gives round(test_fraction * n) images to the "
                         "test part)")
    return (x[train], y[train]), (x[test], y[test])
