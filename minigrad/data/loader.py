"""``DataLoader``: mini-batches of a data set (or of inputs and labels) as Tensors, reshuffled
every epoch."""
from __future__ import annotations

from typing import Any, Iterator, Optional, Tuple

import numpy as np

from ..random import check_rng, default_rng
from ..tensor import Tensor
from .dataset import TensorDataset, collate


class DataLoader:
    """Iterate over a data set in mini-batches of ``batch_size`` samples, in two forms.

    ``DataLoader(dataset, batch_size=1, shuffle=False)`` (PyTorch's): ``dataset`` is any object
    with ``__len__`` and ``__getitem__`` (a ``TensorDataset``, or your own class); each batch
    is its samples stacked by ``collate`` (a ``TensorDataset`` is indexed once per batch).
    ``DataLoader(X, y, batch_size, shuffle=True)`` (minigrad's): inputs and labels with the
    same first dimension, batched as the tuple ``(xb, yb)``.

    Each pass (``for batch in loader``) draws a fresh permutation from ``rng`` when
    ``shuffle`` is true (default: minigrad's generator at the time the pass starts, so
    ``mg.manual_seed`` makes the order repeat). Unshuffled batches of arrays are views, never
    copies. The last batch is smaller when the length is not a multiple of ``batch_size``,
    unless ``drop_last``.

    Parameters
    ----------
    data : data set, or array-like or Tensor X
        The data set, or the inputs (N >= 1 rows).
    y : array-like or Tensor, or int, optional
        The labels of the (X, y) form; an int here is the batch size of the data set form
        (``DataLoader(dataset, 32, True)`` as in PyTorch).
    batch_size : int
        Samples per batch (>= 1).
    shuffle : bool
        Reshuffle at the start of every pass.
    drop_last : bool
        Skip a final incomplete batch.
    rng : numpy.random.Generator, optional
        Source of the permutations.

    Yields
    ------
    tuple of Tensor (or what ``collate`` makes of the samples)
        One batch; ``len(loader)`` is the number of batches.
    """

    def __init__(self, data: Any, y: Any = None, batch_size: Any = None, shuffle: Any = None,
                 drop_last: bool = False, rng: Optional[np.random.Generator] = None) -> None:
        if y is None or _is_integer(y):                  # DataLoader(dataset, batch_size, ...)
            batch_size, shuffle = _dataset_form(y, batch_size, shuffle)
            self.dataset = _checked_dataset(data)
            self.X = self.y = None
        else:                                             # DataLoader(X, y, batch_size, ...)
            self.X, self.y = _checked_rows(data, y)
            if batch_size is None:
                raise TypeError("DataLoader: DataLoader(X, y, batch_size) needs a batch_size")
            self.dataset = TensorDataset(self.X, self.y)
            shuffle = True if shuffle is None else shuffle
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) \
                or batch_size < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, "
                             f"got {batch_size!r}")
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.rng = check_rng(rng, "DataLoader")

    def __len__(self) -> int:
        n, b = len(self.dataset), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        order = (self.rng or default_rng()).permutation(n) if self.shuffle else None
        b = self.batch_size
        for start in range(0, len(self) * b, b):
            index = slice(start, start + b) if order is None else order[start:start + b]
            if isinstance(self.dataset, TensorDataset):
                yield self.dataset[index]                 # one indexing per tensor
            else:
                yield collate([self.dataset[int(i)] for i in range(n)[index]] if order is None
                              else [self.dataset[int(i)] for i in index])


def _is_integer(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _dataset_form(batch_size: Any, shuffle_or_batch_size: Any, shuffle: Any) -> Tuple[Any, Any]:
    """(batch_size, shuffle) of ``DataLoader(dataset, ...)`` with PyTorch's defaults (1, False),
    whether they came by position (then they sit in the (X, y) form's ``y`` and
    ``batch_size`` slots) or by keyword."""
    if batch_size is None:                                # DataLoader(dataset, batch_size=...)
        batch_size = 1 if shuffle_or_batch_size is None else shuffle_or_batch_size
    elif shuffle_or_batch_size is not None:               # DataLoader(dataset, 32, True)
        if not isinstance(shuffle_or_batch_size, (bool, np.bool_)) or shuffle is not None:
            raise TypeError(f"DataLoader: batch_size given twice ({batch_size!r} by position "
                            f"and {shuffle_or_batch_size!r}), or shuffle twice")
        shuffle = shuffle_or_batch_size
    return batch_size, (False if shuffle is None else shuffle)


def _checked_dataset(dataset: Any) -> Any:
    """``dataset``, if it has a length >= 1 and ``__getitem__``."""
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise TypeError(f"DataLoader: expected a data set (an object with __len__ and "
                        f"__getitem__) or X and y, got {type(dataset).__name__}")
    if isinstance(dataset, (np.ndarray, Tensor)) and dataset.ndim == 0:
        raise ValueError("DataLoader: a 0-d array is not a data set of samples")
    if len(dataset) == 0:
        raise ValueError("DataLoader: the data set is empty (0 samples)")
    return dataset


def _checked_rows(X: Any, y: Any) -> Tuple[np.ndarray, np.ndarray]:
    """X and y as arrays with the same number of rows >= 1."""
    X, y = _array(X, "X"), _array(y, "y")
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y):
        raise ValueError(f"DataLoader: X and y need the same number of rows, got shapes "
                         f"{X.shape} and {y.shape}")
    if len(X) == 0:
        raise ValueError("DataLoader: the data set is empty (0 rows)")
    return X, y


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
