"""Ops that move values without changing them: reshape, transpose, broadcast_to, sum_to,
squeeze, unsqueeze, flatten, indexing, concatenate, stack and clone."""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple

import numpy as np

from ..autograd import Function, _as_tensors
from ..tensor import Tensor
from .reduction import normalize_axes


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


def _shape_of(x: Any, op: str) -> Tuple[int, ...]:
    """x's shape; data that cannot be a tensor (None, ragged lists) raises naming ``op``."""
    return x.shape if isinstance(x, Tensor) else _as_tensors((x,), op)[0].shape


def _ints(values: Any, op: str, what: str) -> Tuple[int, ...]:
    """``values`` (a sequence of ints, or one int) as a tuple of Python ints; a float, a string,
    a bool or None among them raises a TypeError naming ``op``."""
    if type(values) is tuple and all(type(n) is int for n in values):
        return values                                         # the common case, checked cheaply
    if isinstance(values, (int, np.integer)) and not isinstance(values, bool):
        return (int(values),)                                 # as NumPy: 4 means (4,)
    try:
        items = tuple(values) if not isinstance(values, str) else None
    except TypeError:                                         # not iterable
        items = None
    if items is None or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                                for n in items):
        raise TypeError(f"{op}: {what} must be an int or a sequence of ints, got {values!r}")
    return tuple(int(n) for n in items)


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    """x with a new shape (one entry may be -1, inferred from the others)."""
    shape = _ints(shape, "reshape", "the shape")
    if any(n < -1 for n in shape):
        raise ValueError(f"reshape: sizes must be non-negative (or -1 for one size inferred "
                         f"from the others), got the shape {shape}")
    return Reshape.apply(x, shape=shape)


def transpose(x: Any, axes: Optional[Sequence[int]] = None) -> Tensor:
    """x with axes permuted as ``np.transpose`` (reversed when ``axes`` is None)."""
    if axes is not None:
        ndim = len(_shape_of(x, "transpose"))
        axes = _ints(axes, "transpose", "axes")
        if len(axes) != ndim or sorted(a % ndim for a in axes) != list(range(ndim)):
            raise ValueError(f"transpose: axes {axes} are not a permutation of the "
                             f"{ndim} axes of a tensor of shape {_shape_of(x, 'transpose')}")
        axes = tuple(a % ndim for a in axes)
    return Transpose.apply(x, axes=axes)


permute = transpose


def swapaxes(x: Any, axis1: int, axis2: int) -> Tensor:
    """x with two axes exchanged."""
    ndim = len(_shape_of(x, "swapaxes"))
    a, b = normalize_axes(axis1, ndim, "swapaxes")[0], normalize_axes(axis2, ndim, "swapaxes")[0]
    axes = list(range(ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return Transpose.apply(x, axes=tuple(axes))


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    """x broadcast to ``shape``, as ``np.broadcast_to`` (an int n means the shape (n,))."""
    shape = _ints(shape, "broadcast_to", "the shape")
    if any(n < 0 for n in shape):
        raise ValueError(f"broadcast_to: the shape cannot have negative sizes, got {shape}")
    return BroadcastTo.apply(x, shape=shape)


def sum_to(x: Any, shape: Sequence[int]) -> Tensor:
    """x summed down to ``shape`` (the reverse of broadcasting x from ``shape``)."""
    shape = tuple(shape)
    x_shape = _shape_of(x, "sum_to")
    if x_shape == shape:
        return x
    lead = len(x_shape) - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, x_shape[lead:])):
        raise ValueError(f"sum_to: a tensor of shape {x_shape} cannot be summed to {shape}")
    return SumTo.apply(x, shape=shape)


def squeeze(x: Any, axis: Any = None) -> Tensor:
    """x without the given length-1 axes (all of them when ``axis`` is None)."""
    shape = _shape_of(x, "squeeze")
    if axis is None:
        axes = tuple(i for i, n in enumerate(shape) if n == 1)
    else:
        axes = normalize_axes(axis, len(shape), "squeeze")
        wrong = [a for a in axes if shape[a] != 1]
        if wrong:
            raise ValueError(f"squeeze: axis {wrong[0]} of shape {shape} has length "
                             f"{shape[wrong[0]]}, not 1")
    return Reshape.apply(x, shape=tuple(n for i, n in enumerate(shape) if i not in axes))


def unsqueeze(x: Any, axis: int) -> Tensor:
    """x with a new axis of length 1 at position ``axis``."""
    shape = _shape_of(x, "unsqueeze")
    new_axis = normalize_axes(axis, len(shape) + 1, "unsqueeze")[0]
    return Reshape.apply(x, shape=shape[:new_axis] + (1,) + shape[new_axis:])


def flatten(x: Any, start_axis: int = 0, end_axis: int = -1) -> Tensor:
    """x with axes ``start_axis`` to ``end_axis`` (inclusive) merged into one."""
    shape = _shape_of(x, "flatten")
    if len(shape) == 0:
        return Reshape.apply(x, shape=(1,))
    start = normalize_axes(start_axis, len(shape), "flatten")[0]
    end = normalize_axes(end_axis, len(shape), "flatten")[0]
    if start > end:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis}")
    merged = math.prod(shape[start:end + 1])
    return Reshape.apply(x, shape=shape[:start] + (merged,) + shape[end + 1:])


def getitem(x: Any, index: Any) -> Tensor:
    """x[index] as NumPy indexes; the gradient of repeated indices accumulates."""
    return GetItem.apply(x, index=_plain_index(index))


def _joinable(xs: Sequence[Any], op: str) -> None:
    if not isinstance(xs, (list, tuple)) or len(xs) == 0:
        raise TypeError(f"{op}: expected a non-empty sequence of tensors")


def concatenate(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors joined along an existing axis."""
    _joinable(xs, "concatenate")
    if len(_shape_of(xs[0], "concatenate")) == 0:
        raise ValueError("concatenate: 0-d tensors cannot be concatenated; use stack")
    axis = normalize_axes(axis, len(_shape_of(xs[0], "concatenate")), "concatenate")[0]
    return Concatenate.apply(*xs, axis=axis)


def stack(xs: Sequence[Any], axis: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new axis."""
    _joinable(xs, "stack")
    axis = normalize_axes(axis, len(_shape_of(xs[0], "stack")) + 1, "stack")[0]
    return Stack.apply(*xs, axis=axis)


def clone(x: Any) -> Tensor:
    """A copy of x's data that stays in the graph (``torch.clone``)."""
    return Clone.apply(x)
