"""Ops that move values without changing them: reshape, transpose, broadcast_to, sum_to,
squeeze, unsqueeze, flatten, indexing, concatenate, stack and clone."""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from .. import _checks as checks
from .._checks import normalize_axes
from ..autograd import Function
from ..tensor import Tensor


class Reshape(Function):
    """y = x with a new shape (same elements, same order)."""

    def forward(self, x: np.ndarray, shape: Tuple[int, ...] = ()) -> np.ndarray:
        return x.reshape(shape)

    def backward(self, gy: Tensor) -> Tensor:
        return gy.reshape(self.inputs[0].shape)


class Transpose(Function):
    """y = x with its axes permuted (reversed when ``axes`` is None)."""

    def forward(self, x: np.ndarray, axes: Optional[Tuple[int, ...]] = None) -> np.ndarray:
        self.axes = tuple(range(x.ndim))[::-1] if axes is None else axes
        return x.transpose(self.axes)

    def backward(self, gy: Tensor) -> Tensor:
        return gy.transpose(tuple(np.argsort(self.axes)))     # the inverse permutation


class BroadcastTo(Function):
    """y = x repeated along broadcast axes, as ``np.broadcast_to``."""

    def forward(self, x: np.ndarray, shape: Tuple[int, ...] = ()) -> np.ndarray:
        return np.broadcast_to(x, shape)

    def backward(self, gy: Tensor) -> Tensor:
        return sum_to(gy, self.inputs[0].shape)               # repeated values add up


class SumTo(Function):
    """y = x summed over the axes that broadcasting added or stretched, down to ``shape``."""

    def forward(self, x: np.ndarray, shape: Tuple[int, ...] = ()) -> np.ndarray:
        lead = x.ndim - len(shape)
        stretched = tuple(lead + i for i, n in enumerate(shape)
                          if n == 1 and x.shape[lead + i] != 1)
        y = x.sum(axis=tuple(range(lead)) + stretched, keepdims=True) if lead or stretched else x
        return y.reshape(shape)

    def backward(self, gy: Tensor) -> Tensor:
        return gy.broadcast_to(self.inputs[0].shape)


class GetItem(Function):
    """y = x[index] (ints, slices, None, Ellipsis, integer arrays, boolean masks)."""

    def forward(self, x: np.ndarray, index: Any = None) -> np.ndarray:
        self.index = index
        return x[index]

    def backward(self, gy: Tensor) -> Tensor:
        return ScatterAdd.apply(gy, shape=self.inputs[0].shape, index=self.index)


class ScatterAdd(Function):
    """y = zeros(shape) with g added at ``index``; repeated indices accumulate."""

    def forward(self, g: np.ndarray, shape: Tuple[int, ...] = (), index: Any = None):
        self.index = index
        y = np.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            y[index] = g                                      # a view: no index repeats
        else:
            np.add.at(y, index, g)
        return y

    def backward(self, gy: Tensor) -> Tensor:
        return gy[self.index]


class Clone(Function):
    """y = a copy of x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        return gy                                             # dy/dx = 1


class Concatenate(Function):
    """y = the inputs joined along an existing ``axis``."""

    def forward(self, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        self.axis = axis
        return np.concatenate(xs, axis=axis)

    def backward(self, gy: Tensor) -> tuple:
        bounds = np.cumsum([0] + [x.shape[self.axis] for x in self.inputs])
        lead = (slice(None),) * self.axis
        return tuple(gy[lead + (slice(a, b),)] for a, b in zip(bounds[:-1], bounds[1:]))


class Stack(Function):
    """y = the inputs joined along a new ``axis``."""

    def forward(self, *xs: np.ndarray, axis: int = 0) -> np.ndarray:
        self.axis = axis
        return np.stack(xs, axis=axis)

    def backward(self, gy: Tensor) -> tuple:
        lead = (slice(None),) * self.axis
        return tuple(gy[lead + (i,)] for i in range(len(self.inputs)))


def _is_basic(index: Any) -> bool:
    """True for an index of ints, slices, None and Ellipsis only (a view, no repeats)."""
    parts = index if type(index) is tuple else (index,)
    return all(p is None or p is Ellipsis or type(p) in (int, slice) for p in parts)


def _plain_index(index: Any) -> Any:
    """An index with Tensors and lists turned into ndarrays, as NumPy expects; a Tensor's values
    are copied, so the backward scatters to the places read even if the Tensor is later
    written in place."""
    if type(index) is tuple:
        return tuple(_plain_index(p) for p in index)
    if isinstance(index, Tensor):
        return index.data.copy()
    if isinstance(index, list):
        try:
            array = np.asarray(index)
        except ValueError as error:                          # a ragged list
            raise ValueError(f"getitem: cannot make an index array from {index!r}: "
                             f"{error}") from None
        if array.size == 0 and array.dtype.kind == "f":      # [] has no dtype: NumPy and
            return array.astype(np.intp)                     # PyTorch take it as integers
        return array
    if isinstance(index, np.integer):
        return int(index)
    return index


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    """x with a new shape (one entry may be -1, inferred from the others)."""
    return Reshape.apply(x, shape=checks.new_shape(shape))


def transpose(x: Any, axes: Optional[Sequence[int]] = None) -> Tensor:
    """x with axes permuted as ``np.transpose`` (reversed when ``axes`` is None)."""
    return Transpose.apply(x, axes=None if axes is None else checks.permutation(x, axes))


permute = transpose


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """x with two axes exchanged."""
    ndim, a, b = checks.two_axes(x, axis1, axis2, "swapaxes")
    axes = list(range(ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(x, axes=tuple(axes))


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """x broadcast to ``shape``, as ``np.broadcast_to`` (an int n means the shape (n,))."""
    return BroadcastTo.apply(x, shape=checks.broadcast_shape(shape))


def sum_to(x: Any, shape: Sequence[int]) -> Tensor:
    """x summed down to ``shape`` (the reverse of broadcasting x from ``shape``)."""
    shape = tuple(shape)
    if checks.summed_to(x, shape) == shape:
        return x
    return SumTo.apply(x, shape=shape)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """x without the given length-1 axes (all of them when ``axis`` is None)."""
    shape, axes = checks.squeezed_axes(x, axis)
    return Reshape.apply(x, shape=tuple(n for i, n in enumerate(shape) if i not in axes))


def unsqueeze(x: Any, axis: int) -> Tensor:
    """x with a new axis of length 1 at position ``axis``."""
    shape = checks.shape_of(x, "unsqueeze")
    new_axis = normalize_axes(axis, len(shape) + 1, "unsqueeze")[0]
    return Reshape.apply(x, shape=shape[:new_axis] + (1,) + shape[new_axis:])


def flatten(x: Any, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """x with axes ``start_axis`` to ``end_axis`` (inclusive) merged into one."""
    shape = checks.shape_of(x, "flatten")
    if len(shape) == 0:
        return Reshape.apply(x, shape=(1,))
    start, end = checks.flattened_axes(shape, start_axis, end_axis)
    merged = math.prod(shape[start:end + 1])
    return Reshape.apply(x, shape=shape[:start] + (merged,) + shape[end + 1:])


def getitem(x: Any, index: Any) -> Tensor:
    """x[index] as NumPy indexes; the gradient of repeated indices accumulates."""
    return GetItem.apply(x, index=_plain_index(index))


def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors joined along an existing axis."""
    return Concatenate.apply(*xs, axis=checks.join_axis(xs, axis, "concatenate"))


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new axis."""
    return Stack.apply(*xs, axis=checks.join_axis(xs, axis, "stack"))


def clone(x: Any) -> Tensor:
    """A copy of x's data that stays in the graph (``torch.clone``)."""
    return Clone.apply(x)
