"""``Tensor``: an ndarray, its gradient, and the op that made it.

Every operator and method here is a thin call into ``minigrad.functional``, where each op's
forward and backward live side by side.
"""
from __future__ import annotations

import math
import numbers
import reprlib
from typing import Any, Callable, Optional, Sequence, Tuple, Union

import numpy as np

from . import autograd
from .pytorch_methods import TorchStyleMethods

Axis = Union[None, int, Tuple[int, ...]]
_ALLOWED_KINDS = "fiub"   # floating, signed and unsigned integers, booleans


def _as_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    """``data`` as an ndarray of a dtype minigrad supports, with a clear error otherwise."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        dtype = _dtype(dtype, "tensor")
    try:
        array = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as error:
        raise ValueError(f"tensor: cannot make an array of {type(data).__name__} data "
                         f"({error}); give a number, a nested list of equal lengths or an "
                         "ndarray") from None
    if array.dtype.kind not in _ALLOWED_KINDS:
        raise TypeError(f"tensor: unsupported dtype {array.dtype}; minigrad tensors hold "
                        "floating, integer or boolean numbers")
    return array


def _dtype(dtype: Any, op: str, floating: bool = False) -> Optional[np.dtype]:
    """``dtype`` as an ``np.dtype`` minigrad supports (None stays None), or TypeError naming
    ``op``; ``floating`` refuses integer and boolean dtypes too (as the random factories do)."""
    if dtype is None:
        return None
    try:
        result = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{op}: dtype must be a NumPy dtype such as np.float32, got "
                        f"{dtype!r}") from None
    if floating and result.kind != "f":
        raise TypeError(f"{op}: dtype must be floating, got {result}")
    if result.kind not in _ALLOWED_KINDS:
        raise TypeError(f"{op}: unsupported dtype {result}; minigrad tensors hold floating, "
                        "integer or boolean numbers")
    return result


def _check_fill_value(value: Any, dtype: np.dtype, op: str) -> None:
    """ValueError naming ``op`` when the number ``value`` has no value in ``dtype``: NaN or ±inf
    in an integer dtype, or a number beyond the dtype's range (NumPy would store garbage, wrap
    around or overflow to inf)."""
    integral = isinstance(value, (numbers.Integral, np.bool_))
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not (integral or math.isfinite(value)) or not info.min <= value <= info.max:
            raise ValueError(f"{op}: {value!r} cannot be stored in a tensor of dtype {dtype} "
                             f"(integers in [{info.min}, {info.max}]; NaN and infinity have "
                             "no integer value)")
    elif dtype.kind == "f":
        largest = float(np.finfo(dtype).max)
        if (integral or math.isfinite(value)) and abs(value) > largest:
            raise ValueError(f"{op}: {value!r} overflows dtype {dtype} (largest finite value "
                             f"{largest:g})")


class Tensor(TorchStyleMethods):
    """An n-dimensional array that records the operations applied to it.

    ``data`` is the ndarray; ``grad`` is None or a Tensor of the same shape, filled by
    ``backward()``; ``grad_fn`` is the ``Function`` that produced it (None for a leaf).
    The reductions (``sum``, ``max``, ...), ``size``, ``transpose`` and PyTorch's other method
    names come from ``TorchStyleMethods`` (pytorch_methods.py), which accepts both PyTorch's
    and NumPy's spellings.
    """

    __slots__ = ("data", "_grad", "_requires_grad", "grad_fn", "_versions", "_hooks",
                 "__weakref__")
    __array_ufunc__ = None       # NumPy never unwraps a Tensor silently: ndarray + Tensor -> Tensor
    __array_priority__ = 1000

    def __init__(self, data: Any, dtype: Any = None, requires_grad: bool = False) -> None:
        if type(data) is np.ndarray and dtype is None and data.dtype.kind in _ALLOWED_KINDS:
            self.data = data                     # the common case inside ops: nothing to check
        else:
            self.data = _as_array(data, dtype)
        self._grad = None
        self._requires_grad = False
        self.grad_fn = None
        self._versions = None     # in-place writes to this tensor's memory (see _version)
        self._hooks = None
        if requires_grad:
            self.requires_grad_(True)

    # -- gradient bookkeeping ----------------------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        self.requires_grad_(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place (leaves only) and return self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad: only floating tensors can require gradients, this "
                            f"one has dtype {self.data.dtype}; convert it first, e.g. "
                            f"mg.tensor(data, dtype=np.float64)")
        if not requires_grad and self.grad_fn is not None:
            raise RuntimeError("requires_grad_(False): this tensor is not a leaf (it has "
                               f"grad_fn={self.grad_fn}); use .detach() instead")
        self._requires_grad = bool(requires_grad)
        return self

    @property
    def grad(self) -> Optional["Tensor"]:
        """The accumulated gradient (a Tensor of this tensor's shape), or None."""
        return self._grad

    @grad.setter
    def grad(self, value: Any) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                value = Tensor(value)
            if value.shape != self.shape:
                raise ValueError(f"grad: assigned gradient has shape {value.shape} but the "
                                 f"tensor has shape {self.shape}")
            if value.dtype != self.dtype:
                raise TypeError(f"grad: assigned gradient has dtype {value.dtype} but the "
                                f"tensor has dtype {self.dtype}")
        self._grad = value

    @property
    def _version(self) -> int:
        """How many times this tensor's memory was written in place (``torch.Tensor._version``;
        a tensor and its views share the count)."""
        versions = self._versions
        return 0 if versions is None else versions.count

    @_version.setter
    def _version(self, count: int) -> None:
        # Every in-place write bumps this (in-place ops, optimizers, Module.to, nn.init, and
        # code that writes t.data itself): the stamp lets backward see the write.
        versions = self._own_versions()
        versions.count = count
        versions.written = inplace.next_write()

    @property
    def _written(self) -> int:
        """The process-wide in-place write count at the last write to this tensor's memory."""
        versions = self._versions
        return 0 if versions is None else versions.written

    def _own_versions(self) -> "inplace.Versions":
        """This tensor's version counter (shared with its views), made at the first write."""
        if self._versions is None:
            self._versions = inplace.Versions()
        return self._versions

    @staticmethod
    def _mark_written(tensors: Sequence["Tensor"]) -> None:
        """``t._version += 1`` for each of ``tensors``, one write stamp for them all (an
        optimizer step writes every parameter at once)."""
        stamp = inplace.next_write()
        for t in tensors:
            versions = t._own_versions()
            versions.count += 1
            versions.written = stamp

    @property
    def is_leaf(self) -> bool:
        """True for tensors not produced by a recorded op (their ``.grad`` gets filled)."""
        return self.grad_fn is None

    def backward(self, gradient: Any = None, retain_graph: bool = False,
                 create_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into each leaf's ``.grad``.

        ``gradient`` (the upstream gradient) must have exactly this tensor's shape; it may be
        omitted for a tensor of one element. The graph is freed afterwards unless
        ``retain_graph=True``; ``create_graph=True`` records the backward itself, so the
        gradients can be differentiated again.
        """
        autograd.backward(self, gradient, retain_graph, create_graph)

    def register_hook(self, hook: Callable[["Tensor"], Optional["Tensor"]]) -> "_HookHandle":
        """Call ``hook(grad)`` once per backward with this tensor's total gradient.

        A hook that returns a Tensor replaces the gradient. Returns a handle with ``remove()``.
        """
        if not self._requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that does "
                               "not require grad")
        if self._hooks is None:
            self._hooks = {}
        handle = _HookHandle(self._hooks)
        self._hooks[handle.id] = hook
        return handle

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data (and version counter), cut off from the graph."""
        detached = Tensor(self.data)
        detached._versions = self._own_versions()
        return detached

    # -- array-like properties ---------------------------------------------------------------
    @property
    def shape(self) -> Tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def T(self) -> "Tensor":
        """The transpose (all axes reversed)."""
        return F.transpose(self)

    @property
    def mT(self) -> "Tensor":
        """The last two axes swapped (matrix transpose of a batch)."""
        return F.swapaxes(self, -1, -2)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        """``np.asarray(t)`` gives the data (an explicit unwrap; ufuncs still refuse)."""
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only a tensor with one element can be converted to a "
                             f"Python number, this one has shape {self.shape}")
        return self.data.item()

    def astype(self, dtype: Any) -> "Tensor":
        """This tensor converted to ``dtype`` (differentiable between floating dtypes)."""
        return F.cast(self, dtype)

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                             "use .any() or .all() on its data")
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __repr__(self) -> str:
        # a big array is abbreviated with fewer edge items per extra axis (NumPy's 3 per axis
        # print 6**ndim numbers); past 4 axes it is shown flattened, with its shape
        data, extras = self.data, [f"dtype={self.dtype}"]
        if data.size > 200 and data.ndim > 4:
            data, extras = data.ravel(), [f"shape={self.shape} shown flattened", *extras]
        edge = 3 if data.ndim <= 2 else 5 - data.ndim
        body = np.array2string(data, separator=", ", prefix="tensor(", threshold=200,
                               edgeitems=edge)
        if self.grad_fn is not None:
            extras.append(f"grad_fn={self.grad_fn}")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        return f"tensor({body}, {', '.join(extras)})"

    __hash__ = object.__hash__   # tensors hash by identity, even though == is elementwise

    # -- arithmetic operators ----------------------------------------------------------------
    def __add__(self, other: Any) -> "Tensor":
        return F.add(self, other)

    def __radd__(self, other: Any) -> "Tensor":
        return F.add(other, self)

    def __sub__(self, other: Any) -> "Tensor":
        return F.sub(self, other)

    def __rsub__(self, other: Any) -> "Tensor":
        return F.sub(other, self)

    def __mul__(self, other: Any) -> "Tensor":
        return F.mul(self, other)

    def __rmul__(self, other: Any) -> "Tensor":
        return F.mul(other, self)

    def __truediv__(self, other: Any) -> "Tensor":
        return F.div(self, other)

    def __rtruediv__(self, other: Any) -> "Tensor":
        return F.div(other, self)

    def __pow__(self, exponent: Any) -> "Tensor":
        return F.pow(self, exponent)

    def __rpow__(self, base: Any) -> "Tensor":
        return F.pow(base, self)

    def __matmul__(self, other: Any) -> "Tensor":
        return F.matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return F.matmul(other, self)

    def __neg__(self) -> "Tensor":
        return F.neg(self)

    def __abs__(self) -> "Tensor":
        return F.abs(self)

    def __getitem__(self, index: Any) -> "Tensor":
        return F.getitem(self, index)

    # -- in-place updates: each bumps the version counter (see inplace.py) -------------------
    def add_(self, other: Any, alpha: Any = 1) -> "Tensor":
        """self ← self + alpha·other, in place."""
        return inplace.update(self, "add_", inplace.add, other, alpha)

    def sub_(self, other: Any, alpha: Any = 1) -> "Tensor":
        """self ← self - alpha·other, in place."""
        return inplace.update(self, "sub_", inplace.sub, other, alpha)

    def mul_(self, other: Any) -> "Tensor":
        """self ← self · other, in place."""
        return inplace.update(self, "mul_", F.mul, other)

    def div_(self, other: Any) -> "Tensor":
        """self ← self / other, in place."""
        return inplace.update(self, "div_", F.div, other)

    def clamp_(self, min: Any = None, max: Any = None) -> "Tensor":
        """self ← min(max(self, min), max), in place."""
        return inplace.update(self, "clamp_", F.clip, min, max)

    clip_ = clamp_

    def fill_(self, value: Any) -> "Tensor":
        """Every element ← value, in place (a value this dtype cannot hold is a ValueError)."""
        if isinstance(value, (numbers.Real, np.bool_)):
            _check_fill_value(value, self.data.dtype, "fill_")
        elif isinstance(value, (Tensor, np.ndarray)) and value.size and \
                value.dtype.kind in _ALLOWED_KINDS:
            values = value.data if isinstance(value, Tensor) else value
            for extreme in (values.min(), values.max()):        # NaN comes out of both
                _check_fill_value(extreme.item(), self.data.dtype, "fill_")
        return inplace.update(self, "fill_", inplace.fill, value)

    def zero_(self) -> "Tensor":
        """Every element ← 0, in place."""
        return inplace.update(self, "zero_", inplace.fill, 0)

    __iadd__ = add_
    __isub__ = sub_
    __imul__ = mul_
    __itruediv__ = div_

    # -- comparisons: boolean tensors that never require grad --------------------------------
    def __lt__(self, other: Any) -> "Tensor":
        return _compare(np.less, "<", self, other)

    def __le__(self, other: Any) -> "Tensor":
        return _compare(np.less_equal, "<=", self, other)

    def __gt__(self, other: Any) -> "Tensor":
        return _compare(np.greater, ">", self, other)

    def __ge__(self, other: Any) -> "Tensor":
        return _compare(np.greater_equal, ">=", self, other)

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return _compare(np.equal, "==", self, other)

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return _compare(np.not_equal, "!=", self, other)

    # -- elementwise methods -----------------------------------------------------------------
    def exp(self) -> "Tensor":
        return F.exp(self)

    def log(self) -> "Tensor":
        return F.log(self)

    def sqrt(self) -> "Tensor":
        return F.sqrt(self)

    def abs(self) -> "Tensor":
        return F.abs(self)

    def tanh(self) -> "Tensor":
        return F.tanh(self)

    def sigmoid(self) -> "Tensor":
        return F.sigmoid(self)

    def relu(self) -> "Tensor":
        return F.relu(self)

    def clip(self, min: Any = None, max: Any = None) -> "Tensor":
        return F.clip(self, min, max)

    def maximum(self, other: Any) -> "Tensor":
        return F.maximum(self, other)

    def minimum(self, other: Any) -> "Tensor":
        return F.minimum(self, other)

    # -- shape -------------------------------------------------------------------------------
    def reshape(self, *shape: Any) -> "Tensor":
        return F.reshape(self, _shape_args(shape))

    def permute(self, *axes: Any) -> "Tensor":
        return F.transpose(self, _shape_args(axes) if axes else None)

    def broadcast_to(self, *shape: Any) -> "Tensor":
        return F.broadcast_to(self, _shape_args(shape))

    def squeeze(self, axis: Axis = None) -> "Tensor":
        return F.squeeze(self, axis)

    def unsqueeze(self, axis: int) -> "Tensor":
        return F.unsqueeze(self, axis)

    def flatten(self, start_axis: int = 0, end_axis: int = -1) -> "Tensor":
        return F.flatten(self, start_axis, end_axis)


def _shape_args(args: Sequence[Any]) -> Tuple[int, ...]:
    """Accept both ``t.reshape(2, 3)`` and ``t.reshape((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _new_shape(args: Sequence[Any], op: str) -> Tuple[int, ...]:
    """The shape of a new tensor from ``op(2, 3)`` or ``op((2, 3))``: non-negative integers."""
    shape = _shape_args(args)
    if any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) for n in shape):
        raise TypeError(f"{op}: the shape must be integers, got {shape!r}")
    if any(n < 0 for n in shape):
        raise ValueError(f"{op}: the shape cannot have negative sizes, got {shape}")
    return tuple(int(n) for n in shape)


def _compare(ufunc: np.ufunc, symbol: str, a: Tensor, b: Any) -> Any:
    """An elementwise comparison: a boolean tensor, never part of the graph.

    Against something that is not numbers (None, a string, an object), ``==`` and ``!=`` say
    False and True, as in PyTorch and Python (``t == None`` is False); an ordering is a
    TypeError naming the comparison.
    """
    other = b.data if isinstance(b, Tensor) else b
    if not isinstance(other, (int, float, np.number, np.bool_)):
        try:
            other = np.asarray(other)
        except ValueError as error:          # a ragged list
            raise ValueError(f"{ufunc.__name__} ({symbol}): cannot compare a tensor with a "
                             f"ragged {type(b).__name__} ({error})") from None
        if other.dtype.kind not in _ALLOWED_KINDS:
            if symbol in ("==", "!="):
                return NotImplemented        # Python then compares identities: False / True
            raise TypeError(f"{ufunc.__name__} ({symbol}): cannot compare a tensor with "
                            f"{type(b).__name__} {reprlib.repr(b)}; compare with a number, "
                            "an array or a tensor")
    try:
        return Tensor(ufunc(a.data, other))
    except (ValueError, TypeError) as error:
        raise ValueError(f"{ufunc.__name__}: {error} (shapes {a.shape} and "
                         f"{np.shape(other)})") from None


class _HookHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks
        self.id = _HookHandle._next_id
        _HookHandle._next_id += 1

    def remove(self) -> None:
        self._hooks.pop(self.id, None)


# -- construction ----------------------------------------------------------------------------
def tensor(data: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``; dtype follows NumPy's inference."""
    result = Tensor.__new__(Tensor)
    Tensor.__init__(result, _as_array(data, dtype, copy=True), requires_grad=requires_grad)
    return result


def zeros(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros (float32 unless ``dtype`` says otherwise, as in PyTorch)."""
    shape = _new_shape(shape, "zeros")
    return Tensor(np.zeros(shape, dtype=_dtype(dtype, "zeros")), requires_grad=requires_grad)


def ones(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones (float32 by default)."""
    shape = _new_shape(shape, "ones")
    return Tensor(np.ones(shape, dtype=_dtype(dtype, "ones")), requires_grad=requires_grad)


def full(shape: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value`` (dtype inferred from it by default).

    A value the dtype cannot hold (NaN or ±inf in an integer dtype, a number beyond its range)
    is a ValueError.
    """
    if not isinstance(fill_value, (numbers.Real, np.bool_)):
        raise TypeError(f"full: fill_value must be a real number, got {fill_value!r}")
    shape = _new_shape(shape if isinstance(shape, (tuple, list)) else (shape,), "full")
    dtype = _dtype(dtype, "full")
    if dtype is None:
        dtype = np.asarray(fill_value).dtype
        if dtype.kind not in _ALLOWED_KINDS:             # an int beyond 64 bits
            raise ValueError(f"full: fill_value {fill_value!r} does not fit any integer dtype")
    _check_fill_value(fill_value, dtype, "full")
    return Tensor(np.full(shape, fill_value, dtype=dtype), requires_grad=requires_grad)


def zeros_like(other: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``other``."""
    dtype = _dtype(dtype, "zeros_like")
    return Tensor(np.zeros_like(_as_array(other), dtype=dtype), requires_grad=requires_grad)


def ones_like(other: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``other``."""
    dtype = _dtype(dtype, "ones_like")
    return Tensor(np.ones_like(_as_array(other), dtype=dtype), requires_grad=requires_grad)


def arange(start: Any, stop: Any = None, step: Any = 1, dtype: Any = None) -> Tensor:
    """Evenly spaced values in [start, stop), as ``np.arange``."""
    if stop is None:
        start, stop = 0, start
    for name, value in (("start", start), ("stop", stop), ("step", step)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"arange: {name} must be a number, got {value!r}")
        if not (isinstance(value, numbers.Integral) or math.isfinite(value)):
            raise ValueError(f"arange: {name} must be finite, got {value!r}")
    if step == 0:
        raise ValueError("arange: step must not be 0")
    dtype = _dtype(dtype, "arange")
    try:
        data = np.arange(start, stop, step, dtype=dtype)
    except (ValueError, OverflowError, MemoryError) as error:
        raise ValueError(f"arange: cannot make the values from {start!r} to {stop!r} in steps "
                         f"of {step!r} ({error})") from None
    return Tensor(data)


def randn(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False,
          rng: Optional[np.random.Generator] = None) -> Tensor:
    """Standard normal samples (from ``rng`` or the generator seeded by ``mg.manual_seed``);
    ``dtype`` must be floating, as in PyTorch."""
    from .random import check_rng, default_rng
    shape = _new_shape(shape, "randn")
    dtype = _dtype(dtype, "randn", floating=True)
    data = (check_rng(rng, "randn") or default_rng()).standard_normal(shape)
    data = data.astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def rand(*shape: Any, dtype: Any = np.float32, requires_grad: bool = False,
         rng: Optional[np.random.Generator] = None) -> Tensor:
    """Uniform samples in [0, 1) (from ``rng`` or the generator seeded by ``mg.manual_seed``);
    ``dtype`` must be floating, as in PyTorch."""
    from .random import check_rng, default_rng
    shape = _new_shape(shape, "rand")
    dtype = _dtype(dtype, "rand", floating=True)
    data = (check_rng(rng, "rand") or default_rng()).random(shape).astype(dtype, copy=False)
    return Tensor(data, requires_grad=requires_grad)


from . import functional as F  # noqa: E402  (functional needs Tensor defined first)
from . import inplace  # noqa: E402  (inplace needs Tensor defined first)
