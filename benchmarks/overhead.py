"""Per-op overhead: a chain of elementwise multiplications, forward plus backward.

``y = x; repeat n times: y = y * c``, then backward from y with an upstream gradient of ones.
With shapes (1,) and (100,) the arithmetic is negligible, so the time per op is what the
framework adds: one ``Function`` instance, one tape entry and one backward call. The floor is
raw NumPy doing the same multiplications forward only.
"""
from __future__ import annotations

from typing import Any, Dict, Tuple

import numpy as np

from .harness import Step


def numpy_chain(shape: Tuple[int, ...], length: int, dtype: Any) -> Step:
    """The floor: ``length`` NumPy multiplications, no gradient."""
    x = np.full(shape, 1.0, dtype=dtype)
    c = np.full(shape, 0.999, dtype=dtype)

    def step() -> np.ndarray:
        y = x
        for _ in range(length):
            y = y * c
        return y
    return step


def minigrad_chain(shape: Tuple[int, ...], length: int, dtype: Any,
                   backward: bool = True) -> Step:
    """minigrad: record ``length`` multiplications, then (optionally) backward through them."""
    import minigrad as mg
    x = mg.tensor(np.full(shape, 1.0, dtype=dtype), requires_grad=True)
    c = mg.tensor(np.full(shape, 0.999, dtype=dtype))
    ones = np.ones(shape, dtype=dtype)

    def step() -> Any:
        y = x
        for _ in range(length):
            y = y * c
        if backward:
            x.grad = None
            y.backward(ones)
        return y
    return step


def torch_chain(shape: Tuple[int, ...], length: int, dtype: Any) -> Step:
    """PyTorch autograd: the same chain, forward plus backward."""
    import torch
    torch_dtype = torch.float32 if np.dtype(dtype) == np.float32 else torch.float64
    x = torch.full(shape, 1.0, dtype=torch_dtype, requires_grad=True)
    c = torch.full(shape, 0.999, dtype=torch_dtype)
    ones = torch.ones(shape, dtype=torch_dtype)

    def step() -> Any:
        y = x
        for _ in range(length):
            y = y * c
        x.grad = None
        y.backward(ones)
        return y
    return step


def chains_for(shape: Tuple[int, ...], length: int, dtype: Any,
               competitors: Tuple[str, ...]) -> Dict[str, Step]:
    """One chain per competitor; minigrad also forward-only (recording, no backward)."""
    steps: Dict[str, Step] = {"numpy (forward only)": numpy_chain(shape, length, dtype)}
    if "minigrad" in competitors:
        steps["minigrad (forward only)"] = minigrad_chain(shape, length, dtype, backward=False)
        steps["minigrad"] = minigrad_chain(shape, length, dtype)
    if "torch" in competitors:
        steps["torch"] = torch_chain(shape, length, dtype)
    return steps
