"""Argument checks of the ops and layers, in one place, so the op files show only the math.

Each check is a small named function. The checks of the ops a training step calls (affine,
batch norm, dropout, cross-entropy, leaky ReLU, axes, kernel sizes) begin with their own fast
path: one test that a usual valid argument passes, returning at once; only an argument that
fails it (or an unusual but valid one, a NumPy number for a float, say) goes on to the tests,
one by one, that find what is wrong and say so. Every error names the function or layer the
user called (``op``).

An op calls its checks once per call, from its lowercase wrapper (``F.affine``,
``F.batch_norm``, ...), which the layers call too (``checked_affine(x, W, b, "Linear")``), and
not from ``Function.apply``: the wrapper knows which layer is calling (so the message says
"Linear", not "Affine"), some checks also convert (eps to a float, labels to an array), and
``apply``, which every op of every step goes through, stays free of a per-op lookup.
"""
from __future__ import annotations

import math
import numbers
import operator
from typing import Any, Optional, Tuple, Union

import numpy as np

from .autograd import _as_tensors
from .tensor import Tensor

REDUCTIONS = ("mean", "sum", "none")
Pair = Tuple[int, int]


# -- numbers and dtypes ----------------------------------------------------------------------
def real_number(value: Any, what: str, owner: str) -> float:
    """``value`` as a float: a Python or NumPy real number, or a 0-d array or Tensor holding one.

    Anything else (a bool, a string, None, an array of several values) is a TypeError naming
    ``owner`` and ``what``. Range checks are the caller's.
    """
    if isinstance(value, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{owner}: {what} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    if isinstance(value, numbers.Real):
        return float(value)
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        array = None
    if array is None or array.ndim != 0 or array.dtype.kind not in "iuf":
        raise TypeError(f"{owner}: {what} must be a number, got {value!r} "
                        f"({type(value).__name__})")
    return float(array)


def describe(x: Any) -> str:
    """'a float32 tensor of shape (3, 4)' for error messages."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return f"a {type(x).__name__}"
    kind = "tensor" if isinstance(x, Tensor) else type(x).__name__
    return f"a {dtype} {kind} of shape {tuple(x.shape)}"


def check_floating(x: Any, op: str) -> None:
    """Raise TypeError unless ``x`` is a floating Tensor or ndarray."""
    array = x.data if isinstance(x, Tensor) else x
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got {describe(x)}; convert it "
                        "first, e.g. x.astype(np.float32)")


def check_same_dtype(x: Any, param: Any, op: str, what: str) -> None:
    """Raise TypeError when the input's dtype differs from a parameter's (as PyTorch does)."""
    if param is not None and x.dtype != param.dtype:
        raise TypeError(f"{op}: the input has dtype {x.dtype} but the {what} has dtype "
                        f"{param.dtype}; convert one of them (module.double() / .float(), or "
                        f"x.astype(...))")


def check_reduction(reduction: Any, op: str) -> None:
    """Raise ValueError unless ``reduction`` is 'mean', 'sum' or 'none'."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {REDUCTIONS}, got {reduction!r}")


def _array(x: Any) -> Any:
    """The ndarray of a Tensor, anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


# -- axes and shapes -------------------------------------------------------------------------
Axis = Union[None, int, Tuple[int, ...]]


def normalize_axes(axis: Axis, ndim: int, op: str) -> Tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative axes; a clear error when out of range."""
    if type(axis) is int and 0 <= axis < ndim:
        return (axis,)
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else axis
    if not isinstance(axes, (tuple, list)):
        raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
    result = []
    for a in axes:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: axis must be an int, a tuple of ints or None, got {axis!r}")
        valid = a in (0, -1) if ndim == 0 else -ndim <= a < ndim
        if not valid:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor with {ndim} "
                             f"dimension{'s' if ndim != 1 else ''}")
        result.append(int(a) % ndim if ndim else 0)
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(result)) if ndim else ()


def shape_of(x: Any, op: str) -> Tuple[int, ...]:
    """x's shape; data that cannot be a tensor (None, ragged lists) raises naming ``op``."""
    return x.shape if isinstance(x, Tensor) else _as_tensors((x,), op)[0].shape


def reduced_axes(x: Any, axis: Axis, op: str, nonempty: bool = False) -> Tuple[int, ...]:
    """The axes a reduction of x runs over; with ``nonempty``, none of them of length 0."""
    shape = shape_of(x, op)
    axes = normalize_axes(axis, len(shape), op)
    if nonempty and any(shape[a] == 0 for a in axes):
        raise ValueError(f"{op}: cannot reduce an empty axis (shape {tuple(shape)}, "
                         f"axis {axis})")
    return axes


def variance_args(x: Any, axis: Axis, ddof: Any) -> Tuple[Tuple[int, ...], float]:
    """The axes of a variance and ddof, 0 <= ddof < n (the number of values reduced)."""
    ddof = real_number(ddof, "ddof", "var")
    axes = reduced_axes(x, axis, "var", nonempty=True)
    shape = shape_of(x, "var")
    n = math.prod(shape[a] for a in axes)
    if not 0 <= ddof < n:
        raise ValueError(f"var: ddof={ddof} needs 0 <= ddof < n, the number of values reduced, "
                         f"which is {n} (shape {tuple(shape)}, axis {axis})")
    return axes, ddof


def single_axis(x: Any, axis: int, op: str) -> int:
    """One axis of x (which has at least one)."""
    ndim = len(shape_of(x, op))
    if ndim == 0:
        raise ValueError(f"{op}: needs at least one dimension, got a 0-d tensor")
    if not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{op}: axis must be an int, got {axis!r}")
    return normalize_axes(axis, ndim, op)[0]


def axis_or_dim(axis: Any, dim: Any, op: str) -> Any:
    """``axis``, or PyTorch's name for it ``dim`` (-1 when neither is given)."""
    if dim is None:
        return -1 if axis is None else axis
    if axis is not None:
        raise TypeError(f"{op}: give dim= (PyTorch) or axis= (NumPy), not both")
    return dim


def extreme_axis(x: Any, axis: int, op: str) -> int:
    """The axis of ``max(dim)`` / ``min(dim)``: one axis, not of length 0."""
    shape = shape_of(x, op)
    if len(shape) == 0:
        raise ValueError(f"{op}: dim needs a tensor with at least one dimension, got a 0-d one")
    axis = single_axis(x, axis, op)
    if shape[axis] == 0:
        raise ValueError(f"{op}: cannot reduce an empty axis (shape {tuple(shape)}, "
                         f"dim {axis})")
    return axis


def arg_extreme_args(x: Any, axis: Any, op: str) -> Tuple[np.ndarray, Any]:
    """x's array and the axis of ``argmax`` / ``argmin`` (None: the flattened x), not empty."""
    data = x.data if isinstance(x, Tensor) else _as_tensors((x,), op)[0].data
    if axis is not None:
        axis = single_axis(data, axis, op)
    if data.size == 0 or (axis is not None and data.shape[axis] == 0):
        raise ValueError(f"{op}: cannot reduce an empty axis (shape {data.shape}, "
                         f"axis {axis})")
    return data, axis


def ints(values: Any, op: str, what: str) -> Tuple[int, ...]:
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


def new_shape(shape: Any) -> Tuple[int, ...]:
    """A shape for ``reshape``: ints, each non-negative or -1."""
    shape = ints(shape, "reshape", "the shape")
    if any(n < -1 for n in shape):
        raise ValueError(f"reshape: sizes must be non-negative (or -1 for one size inferred "
                         f"from the others), got the shape {shape}")
    return shape


def permutation(x: Any, axes: Any) -> Tuple[int, ...]:
    """``axes`` of ``transpose`` as a permutation of x's axes (non-negative)."""
    ndim = len(shape_of(x, "transpose"))
    axes = ints(axes, "transpose", "axes")
    if len(axes) != ndim or sorted(a % ndim for a in axes) != list(range(ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of the "
                         f"{ndim} axes of a tensor of shape {shape_of(x, 'transpose')}")
    return tuple(a % ndim for a in axes)


def two_axes(x: Any, axis1: Any, axis2: Any, op: str) -> Tuple[int, int, int]:
    """x's number of axes, and two of them, non-negative."""
    ndim = len(shape_of(x, op))
    return ndim, normalize_axes(axis1, ndim, op)[0], normalize_axes(axis2, ndim, op)[0]


def broadcast_shape(shape: Any) -> Tuple[int, ...]:
    """A shape for ``broadcast_to``: non-negative ints."""
    shape = ints(shape, "broadcast_to", "the shape")
    if any(n < 0 for n in shape):
        raise ValueError(f"broadcast_to: the shape cannot have negative sizes, got {shape}")
    return shape


def summed_to(x: Any, shape: Tuple[int, ...]) -> Tuple[int, ...]:
    """x's shape, which broadcasting from ``shape`` could give (so x sums back to it)."""
    x_shape = shape_of(x, "sum_to")
    if x_shape == shape:
        return x_shape
    lead = len(x_shape) - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, x_shape[lead:])):
        raise ValueError(f"sum_to: a tensor of shape {x_shape} cannot be summed to {shape}")
    return x_shape


def squeezed_axes(x: Any, axis: Any) -> Tuple[Tuple[int, ...], Tuple[int, ...]]:
    """x's shape and the axes ``squeeze`` removes (all of length 1)."""
    shape = shape_of(x, "squeeze")
    if axis is None:
        return shape, tuple(i for i, n in enumerate(shape) if n == 1)
    axes = normalize_axes(axis, len(shape), "squeeze")
    wrong = [a for a in axes if shape[a] != 1]
    if wrong:
        raise ValueError(f"squeeze: axis {wrong[0]} of shape {shape} has length "
                         f"{shape[wrong[0]]}, not 1")
    return shape, axes


def flattened_axes(shape: Tuple[int, ...], start_axis: Any, end_axis: Any) -> Tuple[int, int]:
    """The first and last axes ``flatten`` merges, non-negative, in order."""
    start = normalize_axes(start_axis, len(shape), "flatten")[0]
    end = normalize_axes(end_axis, len(shape), "flatten")[0]
    if start > end:
        raise ValueError(f"flatten: start_axis {start_axis} comes after end_axis {end_axis}")
    return start, end


def join_axis(xs: Any, axis: Any, op: str) -> int:
    """The axis ``concatenate`` (an existing one) or ``stack`` (a new one) joins along."""
    if not isinstance(xs, (list, tuple)) or len(xs) == 0:
        raise TypeError(f"{op}: expected a non-empty sequence of tensors")
    ndim = len(shape_of(xs[0], op))
    if op == "stack":
        return normalize_axes(axis, ndim + 1, op)[0]
    if ndim == 0:
        raise ValueError("concatenate: 0-d tensors cannot be concatenated; use stack")
    return normalize_axes(axis, ndim, op)[0]


# -- clip and where --------------------------------------------------------------------------
def clip_bounds(low: Any, high: Any) -> None:
    """At least one bound, each real numbers (no NaN), low <= high."""
    if low is None and high is None:
        raise ValueError("clip: at least one of min and max must be given")
    lo = None if low is None else _bound(low, "min")
    hi = None if high is None else _bound(high, "max")
    if lo is not None and hi is not None and np.any(lo > hi):
        raise ValueError(f"clip: min ({low}) is greater than max ({high})")


def _bound(bound: Any, name: str) -> np.ndarray:
    """A clip bound as an array of real numbers; anything else raises naming clip."""
    try:
        value = bound.data if isinstance(bound, Tensor) else np.asarray(bound)
    except ValueError as error:                              # a ragged list
        raise ValueError(f"clip: cannot make an array of {name}: {error}") from None
    if value.dtype.kind not in "biuf":
        shown = f"an array of dtype {value.dtype}" if isinstance(bound, np.ndarray) else \
            repr(bound)
        raise TypeError(f"clip: {name} must be a real number or a Tensor or array of real "
                        f"numbers, got {shown}")
    if value.dtype.kind == "f" and np.isnan(value).any():
        raise ValueError(f"clip: {name} is NaN")
    return value


def condition(condition: Any) -> np.ndarray:
    """The condition of ``where`` as a boolean array."""
    try:
        cond = condition.data if isinstance(condition, Tensor) else np.asarray(condition)
    except ValueError as error:                              # a ragged list
        raise ValueError(f"where: cannot make a condition array: {error}") from None
    if cond.dtype != bool:
        raise TypeError(f"where: condition must be boolean, got dtype {cond.dtype}")
    return cond


# -- state dicts ----------------------------------------------------------------------------
def state_value(key: str, value: Any, target: np.ndarray) -> Tuple[Any, Optional[str]]:
    """``value`` of a state dict as an array that fits ``target`` (shape, a same-kind dtype,
    in the target dtype's range), and None; or None and what is wrong with it."""
    try:
        array = value.data if isinstance(value, Tensor) else np.asarray(value)
    except ValueError as error:      # a ragged list
        return None, f"bad value for {key}: {error}"
    if array.dtype.kind not in "fiub":
        return None, (f"bad value for {key}: expected a numeric array, got "
                      f"{type(value).__name__} (dtype {array.dtype})")
    if array.shape != target.shape:
        return None, (f"size mismatch for {key}: expected shape {target.shape}, got "
                      f"{array.shape}")
    if not np.can_cast(array.dtype, target.dtype, "same_kind"):
        return None, f"dtype mismatch for {key}: cannot cast {array.dtype} to {target.dtype}"
    if _out_of_range(array, target.dtype):
        return None, (f"value out of range for {key}: {array.dtype} values beyond the range "
                      f"of {target.dtype} (they would not be stored as they are)")
    return array, None


def _out_of_range(array: np.ndarray, dtype: np.dtype) -> bool:
    """Whether casting ``array`` (of a same-kind dtype) to ``dtype`` overflows: a finite value
    that becomes ±inf, or an integer outside the target's range."""
    if array.size == 0 or np.can_cast(array.dtype, dtype, "safe"):
        return False
    if dtype.kind == "f":
        with np.errstate(over="ignore"):
            cast = array.astype(dtype)
        return bool(np.any(np.isinf(cast) & np.isfinite(array)))
    if dtype.kind in "iu" and array.dtype.kind in "iu":
        info = np.iinfo(dtype)
        return bool(array.min() < info.min or array.max() > info.max)
    return False


# -- convolution and pooling ------------------------------------------------------------------
def as_pair(value: Any, what: str, op: str, minimum: int = 1) -> Pair:
    """``value`` (an int or a pair of ints) as a pair, each at least ``minimum``; else a
    ValueError naming ``op`` (the argument given is shown as it was)."""
    if type(value) is int and value >= minimum:
        return value, value
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    try:
        if len(items) != 2 or any(isinstance(v, (bool, np.bool_)) for v in items):
            raise TypeError
        pair = (operator.index(items[0]), operator.index(items[1]))
    except TypeError:
        pair = None
    if pair is None or min(pair) < minimum:
        kind = "positive" if minimum == 1 else "non-negative"
        raise ValueError(f"{op}: {what} must be a {kind} integer or a pair of them, got "
                         f"{value!r}")
    return pair


def _image_shape(x: Any, op: str) -> Tuple[int, ...]:
    """The shape of a floating (N, C, H, W) input, or an error naming ``op``."""
    check_floating(x, op)
    shape = tuple(x.shape)
    if len(shape) != 4:
        raise ValueError(f"{op}: expected an input of shape (N, C, H, W), got shape {shape}")
    return shape


def _check_fits(shape: Tuple[int, ...], kernel: Pair, padding: Pair, op: str) -> None:
    """ValueError unless the kernel fits inside the padded input."""
    padded = (shape[2] + 2 * padding[0], shape[3] + 2 * padding[1])
    if kernel[0] > padded[0] or kernel[1] > padded[1]:
        raise ValueError(f"{op}: the kernel {kernel} is larger than the padded input {padded} "
                         f"(input shape {shape}, padding {padding})")


def pool_padding(kernel: Pair, padding: Pair, op: str) -> None:
    """ValueError unless the padding is at most half the kernel (as PyTorch requires: else a
    window could hold only padding)."""
    if 2 * padding[0] > kernel[0] or 2 * padding[1] > kernel[1]:
        raise ValueError(f"{op}: padding {padding} must be at most half the kernel size "
                         f"{kernel}")


def conv2d(x: Any, weight: Any, bias: Any, stride: Any, padding: Any,
           op: str) -> Tuple[Pair, Pair]:
    """Check a convolution's arguments: x (N, C, H, W) and a weight (out, C, kH, kW) of one
    floating dtype, a bias (out,), a kernel that fits the padded input; return the stride and
    padding as pairs."""
    shape = _image_shape(x, op)
    check_floating(weight, op)
    w_shape = tuple(weight.shape)
    if len(w_shape) != 4:
        raise ValueError(f"{op}: the weight must have shape (out_channels, in_channels, kH, "
                         f"kW), got {w_shape}")
    if shape[1] != w_shape[1]:
        raise ValueError(f"{op}: the input of shape {shape} has {shape[1]} channels, but the "
                         f"weight of shape {w_shape} expects {w_shape[1]} (its axis 1)")
    check_same_dtype(x, weight, op, "weight")
    if bias is not None:
        check_floating(bias, op)
        check_same_dtype(x, bias, op, "bias")
        if tuple(bias.shape) != w_shape[:1]:
            raise ValueError(f"{op}: the bias must have shape ({w_shape[0]},) for a weight of "
                             f"shape {w_shape}, got {tuple(bias.shape)}")
    stride = as_pair(stride, "stride", op)
    padding = as_pair(padding, "padding", op, minimum=0)
    _check_fits(shape, w_shape[2:], padding, op)
    return stride, padding


def pool2d(x: Any, kernel_size: Any, stride: Any, padding: Any,
           op: str) -> Tuple[Pair, Pair, Pair]:
    """Check a pooling's arguments (stride None: the kernel size); return the kernel, stride
    and padding as pairs."""
    shape = _image_shape(x, op)
    kernel = as_pair(kernel_size, "kernel_size", op)
    stride = kernel if stride is None else as_pair(stride, "stride", op)
    padding = as_pair(padding, "padding", op, minimum=0)
    pool_padding(kernel, padding, op)
    _check_fits(shape, kernel, padding, op)
    return kernel, stride, padding


# -- affine ----------------------------------------------------------------------------------
def affine(x: Any, W: Any, b: Any, op: str) -> None:
    """Check the arguments of ``y = x W + b``: floating, one dtype, W of shape (in, out), x of
    in values per row (after flattening), b of shape (out,)."""
    xa, Wa, ba = _array(x), _array(W), _array(b)
    if type(xa) is np.ndarray and type(Wa) is np.ndarray and Wa.ndim == 2 and \
            xa.ndim == 2 and xa.dtype == Wa.dtype and xa.dtype.kind == "f" and \
            xa.shape[1] == Wa.shape[0] and \
            (b is None or (type(ba) is np.ndarray and ba.dtype == xa.dtype and
                           ba.shape == Wa.shape[1:])):
        return
    for value in (x, W) if b is None else (x, W, b):
        check_floating(value, op)
    if Wa.ndim != 2:
        raise ValueError(f"{op}: the weight must have shape (in_features, out_features), got "
                         f"{Wa.shape}")
    check_same_dtype(xa, Wa, op, "weight")
    in_features, out_features = Wa.shape
    if xa.ndim == 0:
        raise ValueError(f"{op}: expected an input of shape (N, {in_features}), got a 0-d one")
    features = xa.shape[0] if xa.ndim == 1 else math.prod(xa.shape[1:])
    if features != in_features:
        raise ValueError(f"{op} expected {in_features} input features, got {features} "
                         f"(input shape {xa.shape})")
    if b is not None:
        _check_bias(xa, b, out_features, op)


def _check_bias(x: np.ndarray, b: Any, out_features: int, op: str) -> None:
    """The bias of an affine map: x's dtype, shape (out_features,)."""
    check_same_dtype(x, b, op, "bias")
    if b.shape != (out_features,):
        raise ValueError(f"{op}: the bias must have shape ({out_features},), got "
                         f"{tuple(b.shape)}")


# -- losses ----------------------------------------------------------------------------------
def cross_entropy_target(logits: Any, target: Any, reduction: Any, op: str) -> Tensor:
    """Check softmax cross-entropy's arguments; return ``target`` as a Tensor of labels in
    [0, C) or of probabilities (N, C) in the logits' dtype."""
    z = _array(logits)
    if type(z) is np.ndarray and z.dtype.kind == "f" and z.ndim == 2 and z.size and \
            reduction in REDUCTIONS and type(target) is np.ndarray and \
            target.dtype.kind in "iu" and target.shape == z.shape[:1] and \
            labels_in_range(target, z.shape[1]):
        return Tensor(target)
    check_floating(logits, op)
    check_reduction(reduction, op)
    if logits.ndim != 2:
        raise ValueError(f"{op}: logits must have shape (N, C), got {tuple(logits.shape)}")
    n, classes = logits.shape
    if n == 0 or classes == 0:
        raise ValueError(f"{op}: logits of shape {tuple(logits.shape)} are empty")
    if not isinstance(target, Tensor):
        try:
            target = np.asarray(target)
        except ValueError as error:                          # a ragged list
            raise ValueError(f"{op}: target is not an array: {error}") from None
    kind = target.dtype.kind
    if kind in "iu":
        _check_labels(target, n, classes, op)
    elif kind == "f":
        target = _probabilities(target, logits, op)
    else:
        raise TypeError(f"{op}: target must be integer labels or floating probabilities, got "
                        f"dtype {target.dtype}")
    return target if isinstance(target, Tensor) else Tensor(target)


def _check_labels(target: Any, n: int, classes: int, op: str) -> None:
    """Raise ValueError unless ``target`` holds n integer labels in [0, classes)."""
    if tuple(target.shape) != (n,):
        raise ValueError(f"{op}: integer labels must have shape ({n},) for logits of shape "
                         f"{(n, classes)}, got {tuple(target.shape)}")
    labels = _array(target)
    if not labels_in_range(labels, classes):
        low = np.minimum.reduce(labels)                      # n > 0
        bad = low if low < 0 else np.maximum.reduce(labels)
        raise ValueError(f"{op}: label {bad} is out of range for {classes} classes "
                         f"(labels must be in [0, {classes - 1}])")


def _probabilities(target: Any, logits: Any, op: str) -> Any:
    """Target probabilities of the logits' shape, in the logits' dtype."""
    if tuple(target.shape) != tuple(logits.shape):
        hint = (" (class labels must be integers: convert them, e.g. t.astype(np.int64))"
                if tuple(target.shape) == tuple(logits.shape[:1]) else "")
        raise ValueError(f"{op}: target probabilities must have the logits' shape "
                         f"{tuple(logits.shape)}, got {tuple(target.shape)}{hint}")
    return target if target.dtype == logits.dtype else target.astype(logits.dtype)


# For labels_in_range: each signed integer dtype (either byte order) -> its unsigned twin
# and 2^(bits − 1).
_UNSIGNED = {np.dtype(order + "i" + str(size)): (np.dtype(order + "u" + str(size)),
                                                 1 << (8 * size - 1))
             for order in "<>" for size in (1, 2, 4, 8)}


def labels_in_range(labels: np.ndarray, classes: int) -> bool:
    """Whether every label is in [0, classes), in one pass (a single maximum): read as its
    unsigned twin, a non-negative signed label keeps its value, below 2^(bits − 1), and a
    negative one becomes 2^(bits − 1) or more."""
    if labels.dtype.kind == "i":
        unsigned, first_negative = _UNSIGNED[labels.dtype]
        labels = labels.view(unsigned)
        classes = min(classes, first_negative)   # int8 labels, 200 classes: −100 reads 156
    return np.maximum.reduce(labels) < classes


def mse_target(input: Any, target: Any, reduction: Any) -> Any:  # noqa: A002
    """Check ``mse_loss``'s arguments; return ``target`` as a Tensor or an array in the
    input's dtype, of the input's shape."""
    op = "mse_loss"
    check_floating(input, op)
    check_reduction(reduction, op)
    if isinstance(target, Tensor):
        if target.dtype != input.dtype:
            raise TypeError(f"{op}: input has dtype {input.dtype} but target {target.dtype}; "
                            "convert one, e.g. target.to(input.dtype)")
    else:
        try:
            target = np.asarray(target, dtype=input.dtype)   # constants in the input's dtype
        except (TypeError, ValueError) as error:
            raise ValueError(f"{op}: target is not an array of numbers ({error})") from None
    if target.shape != input.shape:
        raise ValueError(f"{op}: input of shape {tuple(input.shape)} and target of shape "
                         f"{tuple(target.shape)} differ; reshape one (broadcasting them would "
                         "compare every input with every target)")
    return target


# -- batch normalisation ---------------------------------------------------------------------
Layout = Tuple[Tuple[int, ...], str, int]   # a layer's ranks, their description, its channels


def batch_norm(x: Any, running_mean: Optional[np.ndarray], running_var: Optional[np.ndarray],
               weight: Any, bias: Any, training: bool, momentum: Any, eps: Any,
               num_batches_tracked: Optional[np.ndarray], op: str,
               layout: Optional[Layout] = None) -> Tuple[float, Optional[float]]:
    """Check batch normalisation's arguments (and, for a layer, its ``layout``: the input's
    ranks and channels); return eps and momentum as floats (they may be NumPy numbers)."""
    data = _array(x)
    if type(data) is np.ndarray and data.dtype.kind == "f" and data.ndim >= 2 and \
            (layout is None or (data.ndim in layout[0] and data.shape[1] == layout[2])) and \
            type(eps) is float and eps > 0 and type(momentum) is float and \
            0 <= momentum <= 1 and \
            _channel_vectors(data, (_array(weight), _array(bias), running_mean, running_var)) \
            and (num_batches_tracked is None or num_batches_tracked.dtype.kind in "iu"):
        return eps, momentum
    check_floating(x, op)
    if layout is not None:
        _check_layout(data.shape, layout, op)
    eps, momentum = _batch_norm_numbers(eps, momentum, op)
    _check_running_stats(running_mean, running_var, num_batches_tracked, op)
    _check_channel_params(data, {"weight": weight, "bias": bias, "running_mean": running_mean,
                                 "running_var": running_var}, op)
    if momentum is None and num_batches_tracked is None and training and \
            running_mean is not None:
        raise ValueError(f"{op}: momentum=None (a cumulative average) needs a batch counter; "
                         "use nn.BatchNorm1d/2d, or give a momentum")
    return eps, momentum


def _channel_vectors(data: np.ndarray, arrays: tuple) -> bool:
    """Whether each of ``arrays`` is an ndarray of shape (C,) (C = axis 1) in data's dtype."""
    channels, dtype = data.shape[1:2], data.dtype
    for array in arrays:
        if type(array) is not np.ndarray or array.shape != channels or array.dtype != dtype:
            return False
    return True


def _check_layout(shape: tuple, layout: Layout, op: str) -> None:
    """Raise ValueError unless the input has one of the layer's ranks and its channels."""
    ranks, described, channels = layout
    if len(shape) not in ranks:
        raise ValueError(f"{op}: expected an input of shape {described}, got shape {shape}")
    if shape[1] != channels:
        raise ValueError(f"{op}: expected {channels} channels in axis 1 of an input of shape "
                         f"{described}, got {shape[1]} (input shape {shape})")


def _batch_norm_numbers(eps: Any, momentum: Any, op: str) -> Tuple[float, Optional[float]]:
    """eps > 0 and momentum in [0, 1] (or None), as floats."""
    eps = real_number(eps, "eps", op)
    if momentum is not None:
        momentum = real_number(momentum, "momentum", op)
    if not eps > 0:                                          # (also refuses NaN)
        raise ValueError(f"{op}: eps must be positive, got {eps}")
    if momentum is not None and not 0 <= momentum <= 1:
        raise ValueError(f"{op}: momentum must be in [0, 1] or None, got {momentum}")
    return eps, momentum


def _check_running_stats(running_mean: Any, running_var: Any, num_batches_tracked: Any,
                         op: str) -> None:
    """Both running statistics as ndarrays (updated in place) or neither; an integer counter."""
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")
    for name, array in (("running_mean", running_mean), ("running_var", running_var)):
        if array is not None and type(array) is not np.ndarray:
            raise TypeError(f"{op}: {name} must be an ndarray (updated in place) or None, got "
                            f"{type(array).__name__}")
    if num_batches_tracked is not None and num_batches_tracked.dtype.kind not in "iu":
        raise TypeError(f"{op}: num_batches_tracked must be an integer array, got dtype "
                        f"{num_batches_tracked.dtype}")   # (a bool would stop counting at 1)


def _check_channel_params(data: np.ndarray, arrays: dict, op: str) -> None:
    """γ and β floating (both or neither), the input of shape (N, C, ...), each given array of
    shape (C,) and of the input's dtype."""
    for name in ("weight", "bias"):
        if arrays[name] is not None:
            check_floating(arrays[name], f"{op} ({name})")
    if data.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, ...), got {data.shape}")
    _check_channels(data, arrays, op)
    if (arrays["weight"] is None) != (arrays["bias"] is None):
        raise ValueError(f"{op}: give both weight and bias, or neither")


def _check_channels(data: np.ndarray, arrays: dict, op: str) -> None:
    """Each given array of shape (C,) and of the input's dtype (C = axis 1 of the input)."""
    channels = data.shape[1]
    for name, array in arrays.items():
        if array is None:
            continue
        values = _array(array)
        if values.shape != (channels,):
            raise ValueError(f"{op}: the {name} has shape {tuple(values.shape)} but the input "
                             f"of shape {data.shape} has {channels} channels in axis 1")
        check_same_dtype(data, values, op, name)


def values_per_channel(data: np.ndarray, op: str) -> int:
    """m, the values per channel of a batch normalised with its own statistics (more than 1)."""
    m = data.size // max(data.shape[1], 1)
    if m > 1:
        return m
    raise ValueError(f"{op}: expected more than 1 value per channel in training, got input "
                     f"shape {data.shape}; a batch of one cannot be normalised with its own "
                     "statistics (every gradient would be 0)")


# -- dropout and leaky ReLU ------------------------------------------------------------------
def dropout(x: Any, p: Any) -> None:
    """x floating, p a probability in [0, 1)."""
    data = _array(x)
    if type(data) is np.ndarray and data.dtype.kind == "f" and type(p) is float and 0 <= p < 1:
        return
    check_floating(x, "dropout")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or \
            not 0 <= p < 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1), got {p!r}")


def dropout_mask(mask: Any, data: np.ndarray) -> np.ndarray:
    """``mask`` as a boolean array of the input's shape."""
    keep = _array(mask) if isinstance(mask, Tensor) else np.asarray(mask)
    if keep.shape != data.shape or keep.dtype != bool:
        raise ValueError(f"dropout: mask must be a boolean array of the input's shape "
                         f"{data.shape}, got {keep.dtype} of shape {keep.shape}")
    return keep


def leaky_relu(x: Any, negative_slope: Any, op: str = "leaky_relu") -> None:
    """x floating, the slope a finite number."""
    data = _array(x)
    if type(data) is np.ndarray and data.dtype.kind == "f" and \
            type(negative_slope) is float and math.isfinite(negative_slope):
        return
    check_floating(x, op)
    if isinstance(negative_slope, bool) or \
            not isinstance(negative_slope, (int, float, np.floating, np.integer)):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {negative_slope!r}")
    if not np.isfinite(negative_slope):
        raise ValueError(f"leaky_relu: negative_slope must be finite, got {negative_slope}")
