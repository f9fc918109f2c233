"""``DataLoader``: mini-batches of (inputs, labels) as Tensors, reshuffled every epoch."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Tuple

import numpy as np

from ..random import check_rng, default_rng
from ..tensor import Tensor


class DataLoader:
    """Iterate over ``(x, y)`` in mini-batches of ``batch_size`` rows.

    Each pass (``for xb, yb in loader``) draws a fresh permutation from ``rng`` when
    ``shuffle`` is true (default: minigrad's generator at the time the pass starts, so
    ``mg.manual_seed`` makes the order repeat). The data are permuted once per pass; every
    batch is then a view of that copy, so there is no copy per batch. The last batch is
    smaller when ``len(x)`` is not a multiple of ``batch_size``, unless ``drop_last``.

    Parameters
    ----------
    X, y : array-like or Tensor
        Inputs and labels (or targets) with the same first dimension N >= 1.
    batch_size : int
        Rows per batch (>= 1).
    shuffle : bool
        Reshuffle at the start of every pass.
    drop_last : bool
        Skip a final incomplete batch.
    rng : numpy.random.Generator, optional
        Source of the permutations.

    Yields
    ------
    (Tensor, Tensor)
        A batch of inputs and the matching labels; ``len(loader)`` is the number of batches.
    """

    def __init__(self, X: Any, y: Any, batch_size: int, shuffle: bool = True,
                 drop_last: bool = False, rng: Optional[np.random.Generator] = None) -> None:
        self.X = _array(X, "X")
        self.y = _array(y, "y")
        if self.X.ndim == 0 or self.y.ndim == 0 or len(self.X) != len(self.y):
            raise ValueError(f"DataLoader: X and y need the same number of rows, got shapes "
                             f"{self.X.shape} and {self.y.shape}")
        if len(self.X) == 0:
            raise ValueError("DataLoader: the data set is empty (0 rows)")
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.rng = check_rng(rng, "DataLoader")

    def __len__(self) -> int:
        n, b = len(self.X), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[Tuple[Tensor, Tensor]]:
        X, y = self.X, self.y
        if self.shuffle:
            order = (self.rng or default_rng()).permutation(len(X))
            X, y = X[order], y[order]
        b = self.batch_size
        for start in range(0, len(self) * b, b):
            yield Tensor(X[start:start + b]), Tensor(y[start:start + b])


def _array(data: Any, name: str) -> np.ndarray:
    """``data`` as an ndarray (a Tensor gives its own array, never a copy)."""
    if isinstance(data, Tensor):
        return data.data
    try:
        array = np.asarray(data)
    except ValueError as error:
        raise ValueError(f"DataLoader: {name} is not a rectangular array ({error})") from None
    if array.dtype.kind not in "fiub":
        raise TypeError(f"DataLoader: {name} must hold numbers, got dtype {array.dtype}")
    return array
