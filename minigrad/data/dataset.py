"""``TensorDataset`` and ``collate``: PyTorch's ``torch.utils.data`` pieces that
``DataLoader`` batches."""
from __future__ import annotations

from typing import Any, List, Sequence, Tuple

import numpy as np

from ..tensor import Tensor


class TensorDataset:
    """Samples ``(t1[i], t2[i], ...)`` of tensors (or arrays) with the same first dimension.

    ``dataset[i]`` is a tuple of rows; ``dataset[index]`` with a slice or an integer array is
    a tuple of batches in one indexing each, which is how ``DataLoader`` batches it.
    """

    def __init__(self, *tensors: Any) -> None:
        if not tensors:
            raise ValueError("TensorDataset: needs at least one tensor")
        converted = []
        for k, t in enumerate(tensors):
            t = t if isinstance(t, Tensor) else Tensor(t)    # shares an ndarray's memory
            if t.ndim == 0:
                raise ValueError(f"TensorDataset: tensor {k} is 0-d; each needs a first "
                                 "dimension of samples")
            converted.append(t)
        sizes = [len(t) for t in converted]
        if len(set(sizes)) != 1:
            raise ValueError(f"TensorDataset: the tensors need the same first dimension, got "
                             f"sizes {sizes}")
        self.tensors: Tuple[Tensor, ...] = tuple(converted)

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index: Any) -> Tuple[Tensor, ...]:
        return tuple(t[index] for t in self.tensors)


def collate(samples: Sequence[Any]) -> Any:
    """A list of samples as one batch, as PyTorch's ``default_collate``: tuples and lists field
    by field (a tuple), dicts key by key, and tensors, arrays and numbers stacked along a new
    first axis into a Tensor."""
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(not isinstance(s, (tuple, list)) or len(s) != len(first) for s in samples):
            raise ValueError(f"DataLoader: every sample must have {len(first)} fields, as the "
                             "first one")
        return tuple(collate([s[k] for s in samples]) for k in range(len(first)))
    if isinstance(first, dict):
        return {key: collate([s[key] for s in samples]) for key in first}
    return Tensor(_stacked([s.data if isinstance(s, Tensor) else s for s in samples]))


def _stacked(fields: List[Any]) -> np.ndarray:
    """One field of every sample stacked along a new first axis, or a clear error."""
    try:
        stacked = np.stack([np.asarray(f) for f in fields])
    except ValueError as error:
        raise ValueError(f"DataLoader: the samples of a batch have fields of different shapes "
                         f"({error})") from None
    if stacked.dtype.kind not in "fiub":
        raise TypeError(f"DataLoader: samples must hold numbers, got dtype {stacked.dtype}")
    return stacked
