"""Tensor hooks in a backward: ``tensor.register_hook(hook)`` (see ``Tensor.register_hook``).

The engine calls ``run`` with a tensor's total gradient when one of its hooks is registered,
before the gradient is used (by the node that made the tensor, or added into a leaf's ``.grad``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from . import autograd


def run(tensor: Any, grad: Any) -> Any:
    """Call the tensor's hooks with its total gradient; a hook may return a replacement."""
    for hook in list(tensor._hooks.values()):
        replaced = hook(grad)
        if replaced is not None:
            if np.shape(replaced) != tensor.shape:     # never silently sum a wrong shape away
                raise ValueError(f"hook {hook!r} returned a gradient of shape "
                                 f"{np.shape(replaced)} for a tensor of shape {tensor.shape}")
            grad = autograd.sum_and_cast(replaced, tensor, hook)
    return grad
