"""Reductions (sum, mean, var, max, min, the values and indices of max/min along one axis,
argmax, argmin) and the softmax family (softmax, log_softmax, logsumexp).

``axis`` is an int, a tuple of ints or None (all axes); ``keepdims`` keeps reduced axes as 1.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from .. import _checks as checks
from .._checks import Axis, normalize_axes  # noqa: F401  (imported from here too)
from ..autograd import Function
from ..pytorch_methods import ValuesIndices
from ..tensor import Tensor

def kept_shape(shape: Tuple[int, ...], axes: Tuple[int, ...]) -> Tuple[int, ...]:
    """The shape after reducing ``axes`` with keepdims=True."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _expand(gy: Tensor, x_shape: Tuple[int, ...], axes: Tuple[int, ...]) -> Tensor:
    """A reduced gradient broadcast back over the reduced axes."""
    return gy.reshape(kept_shape(x_shape, axes)).broadcast_to(x_shape)


class Sum(Function):
    """y = Σ x over ``axes``."""

    def forward(self, x: np.ndarray, axes: Tuple[int, ...] = (), keepdims: bool = False):
        self.axes = axes
        return x.sum(axis=axes, keepdims=keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        return _expand(gy, self.inputs[0].shape, self.axes)     # dy/dx_i = 1


class Mean(Function):
    """y = (1/n) Σ x over ``axes``."""

    def forward(self, x: np.ndarray, axes: Tuple[int, ...] = (), keepdims: bool = False):
        self.axes = axes
        return x.mean(axis=axes, keepdims=keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        n = math.prod(x.shape[a] for a in self.axes)
        return _expand(gy, x.shape, self.axes) / n               # dy/dx_i = 1/n


class Var(Function):
    """y = Σ (x - x̄)² / (n - ddof) over ``axes``."""

    def forward(self, x: np.ndarray, axes: Tuple[int, ...] = (), keepdims: bool = False,
                ddof: int = 0):
        self.axes, self.ddof = axes, ddof
        return x.var(axis=axes, keepdims=keepdims, ddof=ddof)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        n = math.prod(x.shape[a] for a in self.axes)
        centred = x - x.mean(self.axes, keepdims=True)
        return _expand(gy, x.shape, self.axes) * centred * (2 / (n - self.ddof))  # 2(x-x̄)/(n-d)


class _Extreme(Function):
    """max or min over ``axes``; tied extremes share the gradient equally."""

    reduce: Any = None

    def forward(self, x: np.ndarray, axes: Tuple[int, ...] = (), keepdims: bool = False):
        self.axes = axes
        return self.reduce(x, axis=axes, keepdims=keepdims)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].data
        y = self.reduce(x, axis=self.axes, keepdims=True)
        hits = x == y                                             # where the extreme sits
        share = hits / hits.sum(axis=self.axes, keepdims=True)    # 1/(number of ties) there
        return _expand(gy, x.shape, self.axes) * share.astype(x.dtype, copy=False)


class Max(_Extreme):
    """y = max x over ``axes``."""

    reduce = staticmethod(np.max)


class Min(_Extreme):
    """y = min x over ``axes``."""

    reduce = staticmethod(np.min)


class LogSumExp(Function):
    """y = log Σ eˣ over ``axes``, computed as m + log Σ e^(x - m) with m = max x."""

    def forward(self, x: np.ndarray, axes: Tuple[int, ...] = (), keepdims: bool = False):
        self.axes = axes
        m = x.max(axis=axes, keepdims=True)
        self.m = m = np.where(np.isfinite(m), m, 0)              # all -inf rows stay -inf
        y = np.log(_exp_shifted(x, m).sum(axis=axes, keepdims=True)) + m
        return y if keepdims else y.squeeze(axes)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        e = (x - self.m).exp()         # softmax is shift-invariant: e^(x−m)/Σ e^(x−m) keeps
        p = e / e.sum(self.axes, keepdims=True)   # its digits, e^(x−y) loses ulp(y) to rounding
        return _expand(gy, x.shape, self.axes) * p               # dy/dx = softmax(x)


class Softmax(Function):
    """y = e^(x - max x) / Σ e^(x - max x) along ``axis``."""

    def forward(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        self.axis = axis
        if x.shape[axis] == 0:
            return _nothing_to_normalise(x)
        e = _exp_shifted(x, x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        return e

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output
        return y * (gy - (gy * y).sum(self.axis, keepdims=True))   # y ⊙ (gy - Σ gy·y)


class LogSoftmax(Function):
    """y = x - logsumexp(x) along ``axis``."""

    def forward(self, x: np.ndarray, axis: int = -1) -> np.ndarray:
        self.axis = axis
        if x.shape[axis] == 0:
            return _nothing_to_normalise(x)
        with np.errstate(over="ignore"):    # x − max below −max float is −inf: exp gives 0
            shifted = x - x.max(axis=axis, keepdims=True)
        return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(self, gy: Tensor) -> Tensor:
        softmax_x = self.output.exp()
        return gy - softmax_x * gy.sum(self.axis, keepdims=True)   # gy - softmax · Σ gy


def _nothing_to_normalise(x: np.ndarray) -> np.ndarray:
    """The softmax family along an axis of length 0: an empty array of x's shape, in the dtype
    the exponential gives (as PyTorch); its backward is empty as well."""
    return np.exp(x)


def _exp_shifted(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """e^(x − m) for m ≥ x; a difference beyond the largest float is −inf, and e^−inf = 0."""
    with np.errstate(over="ignore"):
        return np.exp(x - m)


def _reduce(cls: type, x: Any, axis: Axis, keepdims: bool, nonempty: bool = False,
            **extra: Any) -> Tensor:
    """``cls`` applied over the checked ``axis`` of x."""
    axes = checks.reduced_axes(x, axis, cls.__name__.lower(), nonempty)
    return cls.apply(x, axes=axes, keepdims=keepdims, **extra)


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Σ x over ``axis``."""
    return _reduce(Sum, x, axis, keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Arithmetic mean over ``axis``."""
    return _reduce(Mean, x, axis, keepdims, nonempty=True)


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis``, dividing by n - ddof (ddof=0: biased, as NumPy's default).

    ``ddof`` is a number, 0 <= ddof < n (n the number of values reduced), as NumPy's (and
    PyTorch's ``correction``).
    """
    axes, ddof = checks.variance_args(x, axis, ddof)
    return Var.apply(x, axes=axes, keepdims=keepdims, ddof=ddof)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Maximum over ``axis``; ties share the gradient equally."""
    return _reduce(Max, x, axis, keepdims, nonempty=True)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Minimum over ``axis``; ties share the gradient equally."""
    return _reduce(Min, x, axis, keepdims, nonempty=True)


def extreme_along(x: Any, axis: int, keepdims: bool = False, op: str = "max") -> Any:
    """``(values, indices)`` of the maximum (``op='max'``) or minimum along one ``axis``, as
    PyTorch's ``max(dim)``: the first extreme of ties; the values take their gradient at the
    index picked (y = x[..., i*, ...]), the int64 indices none."""
    axis = checks.extreme_axis(x, axis, op)
    x = x if isinstance(x, Tensor) else Tensor(x)
    find = np.argmax if op == "max" else np.argmin
    picked = find(x.data, axis=axis, keepdims=True).astype(np.int64, copy=False)
    where = np.indices(picked.shape, sparse=True)         # open grids over every other axis
    values = x[where[:axis] + (picked,) + where[axis + 1:]]      # gathered: differentiable
    if not keepdims:
        values, picked = values.squeeze(axis), picked.squeeze(axis)
    return ValuesIndices(values, Tensor(picked))


def _arg_extreme(find: Any, op: str, x: Any, axis: Any, keepdims: bool) -> Tensor:
    """The int64 index of the extreme (``find`` = np.argmax or np.argmin) along ``axis``."""
    data, axis = checks.arg_extreme_args(x, axis, op)
    return Tensor(find(data, axis=axis, keepdims=keepdims).astype(np.int64, copy=False))


def argmax(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The index of the (first) maximum along ``axis``, of the flattened x when None; an int64
    tensor, not differentiable."""
    return _arg_extreme(np.argmax, "argmax", x, axis, keepdims)


def argmin(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    """The index of the (first) minimum along ``axis``, as ``argmax``."""
    return _arg_extreme(np.argmin, "argmin", x, axis, keepdims)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log Σ exp(x) over ``axis``, without overflow."""
    return _reduce(LogSumExp, x, axis, keepdims, nonempty=True)


def softmax(x: Any, axis: Optional[int] = None, *, dim: Optional[int] = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``axis`` (or ``dim``; the last one by default), stable for
    logits of any magnitude."""
    axis = checks.single_axis(x, checks.axis_or_dim(axis, dim, "softmax"), "softmax")
    return Softmax.apply(x, axis=axis)


def log_softmax(x: Any, axis: Optional[int] = None, *, dim: Optional[int] = None) -> Tensor:
    """log softmax(x) along ``axis`` (or ``dim``; the last one by default), stable for logits
    of any magnitude."""
    axis = checks.single_axis(x, checks.axis_or_dim(axis, dim, "log_softmax"), "log_softmax")
    return LogSoftmax.apply(x, axis=axis)
