"""``Parameter``: a Tensor that a Module registers as one of its learnable weights."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad and is registered when assigned to a Module attribute.

    ``Parameter(data)`` takes an ndarray (used as is, not copied) or a Tensor (its data is
    shared, the graph is not); the data must be floating.
    """

    __slots__ = ()

    def __init__(self, data: Any, requires_grad: bool = True) -> None:
        array = data.data if isinstance(data, Tensor) else np.asarray(data)
        if array.dtype.kind != "f":
            raise TypeError(f"Parameter: data must be floating, got dtype {array.dtype}; "
                            "convert it first, e.g. np.asarray(data, dtype=np.float32)")
        super().__init__(array, requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
