"""Activation layers: Sigmoid, ReLU, Tanh, LeakyReLU, Softmax, LogSoftmax, Identity, Flatten."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import functional as F
from .._checks import check_floating
from ..functional.elementwise import checked_leaky_relu
from ..tensor import Tensor
from .module import Module, real_number


class Sigmoid(Module):
    """y = 1 / (1 + e⁻ˣ); backward dx = dy · y(1 − y)."""

    def forward(self, x: Tensor) -> Tensor:
        check_floating(x, "Sigmoid")
        return F.sigmoid(x)


class ReLU(Module):
    """y = max(x, 0); backward dx = dy · [x > 0]."""

    def forward(self, x: Tensor) -> Tensor:
        check_floating(x, "ReLU")
        return F.relu(x)


class Tanh(Module):
    """y = tanh x; backward dx = dy · (1 − y²)."""

    def forward(self, x: Tensor) -> Tensor:
        check_floating(x, "Tanh")
        return F.tanh(x)


class LeakyReLU(Module):
    """y = x for x > 0, negative_slope · x otherwise; backward dx = dy · (1 or slope)."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        slope = real_number(negative_slope, "negative_slope", "LeakyReLU")  # NumPy floats too
        if not math.isfinite(slope):
            raise ValueError(f"LeakyReLU: negative_slope must be finite, got {negative_slope}")
        self.negative_slope = slope

    def forward(self, x: Tensor) -> Tensor:
        return checked_leaky_relu(x, self.negative_slope, "LeakyReLU")

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class _AlongDim(Module):
    """A layer applying ``self.function`` along one ``dim`` (given: PyTorch's implicit choice
    for dim=None is deprecated, and a guess along the wrong dim is a silent wrong number)."""

    function: Any = None

    def __init__(self, dim: int) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"{name}: dim must be an int (the dim the probabilities sum over "
                            f"to 1, usually 1 for (N, C) logits), got {dim!r}")
        self.dim = int(dim)

    def forward(self, x: Tensor) -> Tensor:
        check_floating(x, type(self).__name__)
        return type(self).function(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_AlongDim):
    """y = e^x / Σ e^x along ``dim``; backward dx = y ⊙ (dy − Σ dy·y)."""

    function = staticmethod(F.softmax)


class LogSoftmax(_AlongDim):
    """y = x − log Σ e^x along ``dim``; backward dx = dy − softmax(x) · Σ dy."""

    function = staticmethod(F.log_softmax)


class Identity(Module):
    """y = x."""

    def forward(self, x: Any) -> Any:
        return x


class Flatten(Module):
    """Merges axes ``start_axis`` to ``end_axis`` into one: (N, C, H, W) -> (N, C·H·W)."""

    def __init__(self, start_axis: int = 1, end_axis: int = -1) -> None:
        super().__init__()
        self.start_axis = start_axis
        self.end_axis = end_axis

    def forward(self, x: Tensor) -> Tensor:
        return F.flatten(x, self.start_axis, self.end_axis)

    def extra_repr(self) -> str:
        return f"start_axis={self.start_axis}, end_axis={self.end_axis}"
