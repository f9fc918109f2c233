"""dtype names as PyTorch spells them (``mg.float32``, ``mg.long``, ...): NumPy's scalar types,
so ``x.dtype == mg.float32`` and ``x.to(mg.float64)`` work, and so does any NumPy dtype.

This module shadows the builtins ``float``, ``int`` and ``bool`` on purpose (``torch.float`` is
float32, ``torch.int`` int32): it defines names only and uses none of them.
"""
import numpy as np

float16 = half = np.float16
float32 = float = np.float32  # noqa: A001
float64 = double = np.float64
int8 = np.int8
uint8 = np.uint8
int16 = short = np.int16
int32 = int = np.int32  # noqa: A001
int64 = long = np.int64
bool = np.bool_  # noqa: A001

__all__ = ["float16", "half", "float32", "float", "float64", "double", "int8", "uint8", "int16",
           "short", "int32", "int", "int64", "long", "bool"]
