"""Elementwise functions: exp, log, sqrt, abs, tanh, sigmoid, relu, leaky_relu, clip, maximum,
minimum, where."""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import _checks as checks
from ..autograd import Function
from ..tensor import Tensor


class Exp(Function):
    """y = eˣ."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.exp(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.output                             # dy/dx = eˣ = y


class Log(Function):
    """y = ln x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.log(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / self.inputs[0]                          # dy/dx = 1/x


class Sqrt(Function):
    """y = √x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.sqrt(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (2 * self.output)                       # dy/dx = 1/(2√x)


class Abs(Function):
    """y = |x| (gradient 0 at x = 0, as in PyTorch)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.abs(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * np.sign(self.inputs[0].data)           # dy/dx = sign(x)

    backward_arrays = backward      # the same product on ndarrays (a plain backward: no Tensors)


class Tanh(Function):
    """y = tanh x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.tanh(x)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output
        return gy * (1 - y * y)                             # dy/dx = 1 - y²


class Sigmoid(Function):
    """y = 1 / (1 + e⁻ˣ), to full relative precision for every x (tiny σ(x) stays nonzero)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        y = np.empty(x.shape, x.dtype if x.dtype.kind == "f" else np.float64)
        np.negative(x, out=y)
        with np.errstate(over="ignore", under="ignore"):   # e⁻ˣ = inf for x ≪ 0: 1/(1+inf) = 0
            np.exp(y, out=y)
        y += 1
        return np.reciprocal(y, out=y)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output
        return gy * y * (1 - y)                             # dy/dx = y(1 - y)


class ReLU(Function):
    """y = max(x, 0) (gradient 0 at x = 0, as in PyTorch)."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return np.maximum(x, 0)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * (self.inputs[0].data > 0)               # dy/dx = 1 where x > 0

    backward_arrays = backward      # the same product on ndarrays (a plain backward: no Tensors)


class LeakyReLU(Function):
    """y = x for x > 0, slope·x otherwise."""

    def forward(self, x: np.ndarray, slope: float = 0.01) -> np.ndarray:
        self.slope = slope                                   # (for export)
        self.factor = np.where(x > 0, np.ones((), x.dtype), np.asarray(slope, dtype=x.dtype))
        return x * self.factor

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.factor                              # dy/dx = 1 or slope

    backward_arrays = backward      # the same product on ndarrays (a plain backward: no Tensors)


class Clip(Function):
    """y = min(max(x, lo), hi), lo ≤ hi, either bound optional; ``bounds`` are the bounds given
    (``lower``: whether the first is lo). As torch.clamp: at x = lo or x = hi the gradient goes
    to x, and a NaN in x gets none."""

    def forward(self, x: np.ndarray, *bounds: np.ndarray, lower: bool = True) -> np.ndarray:
        self.lower = lower
        return np.clip(x, *self._lo_hi(x, bounds))

    def backward(self, gy: Tensor) -> tuple:
        return tuple(None if mask is None else gy * mask for mask in self._masks())

    backward_arrays = backward      # the same products on ndarrays (a plain backward: no Tensors)

    def _masks(self) -> list:
        """dy/dx = 1 where lo ≤ x ≤ hi, dy/dlo = 1 where x < lo, dy/dhi = 1 where x > hi: one
        mask per input, None for an input that needs no gradient."""
        x = self.inputs[0].data
        lo, hi = self._lo_hi(x, [bound.data for bound in self.inputs[1:]])
        if lo is None:
            inside = x <= hi
        elif hi is None:
            inside = x >= lo
        else:
            inside = (x >= lo) & (x <= hi)
        masks = [inside]
        if lo is not None:
            masks.append(x < lo)
        if hi is not None:
            masks.append(x > hi)
        return [mask if need else None for mask, need in zip(masks, self.needs_input_grad)]

    def _lo_hi(self, x: np.ndarray, bounds: Any) -> tuple:
        """(lo, hi), None for a missing one; in x's dtype when x is floating (a float64 bound
        keeps a float32 x in float32, and backward compares with the bounds forward used)."""
        if x.dtype.kind == "f":
            bounds = [bound.astype(x.dtype, copy=False) for bound in bounds]
        if len(bounds) == 2:
            return bounds[0], bounds[1]
        return (bounds[0], None) if self.lower else (None, bounds[0])


class Maximum(Function):
    """y = max(a, b) elementwise; at a tie each side gets half the gradient."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.maximum(a, b)

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        return _split_between(gy, a.data > b.data, a.data == b.data)


class Minimum(Function):
    """y = min(a, b) elementwise; at a tie each side gets half the gradient."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.minimum(a, b)

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        return _split_between(gy, a.data < b.data, a.data == b.data)


def _split_between(gy: Tensor, a_wins: np.ndarray, tie: np.ndarray) -> tuple:
    """Gradient of a two-way selection: the winner takes gy, a tie splits it in halves."""
    share_a = a_wins + 0.5 * tie                             # 1, ½ or 0
    share_a = share_a.astype(gy.dtype, copy=False)
    return gy * share_a, gy * (1 - share_a)


class Where(Function):
    """y = a where cond else b (cond: a boolean input, not differentiable)."""

    def forward(self, a: np.ndarray, b: np.ndarray, cond: np.ndarray) -> np.ndarray:
        return np.where(cond, a, b)

    def backward(self, gy: Tensor) -> tuple:
        cond = self.inputs[2]
        zero = np.zeros((), dtype=gy.dtype)
        return where(cond, gy, zero), where(cond, zero, gy), None   # da = gy·[c], db = gy·[¬c]


def exp(x: Any) -> Tensor:
    """eˣ elementwise."""
    return Exp.apply(x)


def log(x: Any) -> Tensor:
    """Natural logarithm elementwise."""
    return Log.apply(x)


def sqrt(x: Any) -> Tensor:
    """Square root elementwise."""
    return Sqrt.apply(x)


def abs(x: Any) -> Tensor:  # noqa: A001  (torch.abs)
    """|x| elementwise."""
    return Abs.apply(x)


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent elementwise."""
    return Tanh.apply(x)


def sigmoid(x: Any) -> Tensor:
    """The logistic function 1 / (1 + e⁻ˣ) elementwise, stable for any x."""
    return Sigmoid.apply(x)


def relu(x: Any) -> Tensor:
    """max(x, 0) elementwise."""
    return ReLU.apply(x)


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """max(x, 0) + negative_slope · min(x, 0) elementwise; dx = dy · (1 or negative_slope)."""
    return checked_leaky_relu(x, negative_slope, "leaky_relu")


def checked_leaky_relu(x: Any, negative_slope: float, op: str) -> Tensor:
    """``leaky_relu`` with errors that name ``op`` (the layer calling it)."""
    checks.leaky_relu(x, negative_slope, op)
    return LeakyReLU.apply(x, slope=float(negative_slope))


def clip(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002  (torch.clamp)
    """x clipped to [min, max]: ``y = min(max(x, lo), hi)``.

    Either bound may be None; a bound is a real number, or a Tensor or array of real numbers
    that broadcasts against x (the result takes the broadcast shape). A bound that is a Tensor
    requiring grad gets ``dy/dlo = [x < lo]``, ``dy/dhi = [x > hi]``; x gets
    ``[lo ≤ x ≤ hi]``, as torch.clamp (except at lo = hi > x, where torch.clamp gives neither
    bound a gradient).
    """
    checks.clip_bounds(min, max)
    bounds = [bound for bound in (min, max) if bound is not None]   # inputs, so the engine
    return Clip.apply(x, *bounds, lower=min is not None)            # sees writes to them


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum, broadcasting."""
    return Maximum.apply(a, b)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum, broadcasting."""
    return Minimum.apply(a, b)


def where(condition: Any, a: Any, b: Any) -> Tensor:
    """Elements of a where condition holds, else of b (condition: a boolean array or Tensor)."""
    cond = checks.condition(condition)
    # an input (so an in-place write to it is caught), and a Tensor already (so a 0-d condition
    # is not taken for a number and cast to the branches' dtype)
    return Where.apply(a, b, condition if isinstance(condition, Tensor) else Tensor(cond))
