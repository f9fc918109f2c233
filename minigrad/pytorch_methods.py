"""PyTorch's spellings of the ``Tensor`` methods, in one place: the ``TorchStyleMethods`` mixin.

``Tensor`` inherits these; each is a thin call into ``minigrad.functional`` (where every op's
forward and backward live), so a reader of ``tensor.py`` and ``autograd.py`` never meets them.

Where PyTorch and NumPy spell a call the same way but mean different things, the PyTorch
spelling gets PyTorch's meaning and the NumPy keyword keeps NumPy's; a call that mixes the two
is refused, never guessed:

==============================  ===========================================================
``x.max()``                     the largest element (both libraries agree)
``x.max(1)``, ``x.max(dim=1)``  ``(values, indices)`` along dim 1, as PyTorch
``x.max(axis=1)``               the values only, as NumPy
``x.var()``, ``x.var(1)``       unbiased (``correction=1``), as PyTorch; ``x.std()`` too
``x.var(axis=1)``               biased (``ddof=0``), as NumPy
``x.transpose(0, 1)``           dims 0 and 1 swapped, as PyTorch (``transpose((1, 0, 2))``
                                and ``transpose()`` permute as NumPy)
``x.size``, ``x.size()``        the element count (NumPy) and the shape (PyTorch): ``size``
                                is an ``int`` that, called, answers ``size()`` / ``size(d)``
==============================  ===========================================================

``dim=`` / ``keepdim=`` and ``axis=`` / ``keepdims=`` are both accepted wherever they mean the
same (``sum``, ``mean``, ``logsumexp``, ``softmax``, ``argmax``, ...).
"""
from __future__ import annotations

import sys
from typing import Any, NamedTuple, Optional, Tuple

import numpy as np


class _Unset:
    """The default of an argument the caller did not give (None may be given on purpose)."""

    def __repr__(self) -> str:
        return "<not given>"


UNSET: Any = _Unset()


def _functional() -> Any:
    """``minigrad.functional``. It needs ``Tensor``, which needs this module, so it cannot be
    imported at the top here; tensor.py imports it before any tensor exists, and looking it up
    costs 0.05 µs where an import statement in a function costs 1.4 µs per call."""
    try:
        return sys.modules[_FUNCTIONAL]
    except KeyError:                                      # only while minigrad is importing
        from . import functional
        return functional


_FUNCTIONAL = __name__.rpartition(".")[0] + ".functional"


class ValuesIndices(NamedTuple):
    """``x.max(dim)`` / ``x.min(dim)``: the extreme values and where they are (as
    ``torch.return_types.max``)."""

    values: Any
    indices: Any


class SizeInt(int):
    """NumPy's ``size`` (the number of elements, an int) that, called, answers PyTorch's
    ``size()`` (the shape) and ``size(d)`` (the length of dim d).

    ``x.size * 2``, ``x.size == 6`` and ``x.size()[0]`` all mean what their library means.
    """

    def __new__(cls, count: int, shape: Tuple[int, ...]) -> "SizeInt":
        result = super().__new__(cls, count)
        result.shape = shape
        return result

    def __reduce__(self) -> tuple:
        return int, (int(self),)                          # copied or pickled: a plain int

    def __call__(self, dim: Optional[int] = None) -> Any:
        if dim is None:
            return self.shape
        return self.shape[_one_dim(dim, len(self.shape), "size")]


def _one_dim(dim: Any, ndim: int, op: str) -> int:
    """``dim`` as a non-negative axis of a tensor of ``ndim`` dims, or a TypeError/ValueError."""
    if isinstance(dim, (bool, np.bool_)) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    if not -ndim <= dim < ndim:
        raise ValueError(f"{op}: dim {dim} is out of range for a tensor with {ndim} "
                         f"dimension{'s' if ndim != 1 else ''}")
    return int(dim) % ndim


def _flag(value: Any, name: str, op: str) -> bool:
    """``keepdim`` / ``keepdims`` / ``unbiased``: a bool, or a TypeError naming ``op``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{op}: {name} must be a bool, got {value!r}")
    return bool(value)


def one_of(op: str, torch_name: str, torch_value: Any, numpy_name: str, numpy_value: Any,
           default: Any) -> Any:
    """The value given under PyTorch's name or NumPy's (they mean the same here), else
    ``default``; a TypeError when both are given."""
    if torch_value is not UNSET and numpy_value is not UNSET:
        raise TypeError(f"{op}: give {torch_name}= (PyTorch) or {numpy_name}= (NumPy), "
                        "not both")
    if torch_value is not UNSET:
        return torch_value
    return default if numpy_value is UNSET else numpy_value


def _axis_and_keep(op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> tuple:
    """(axis, keepdims) from either spelling, for reductions where both mean the same."""
    axis = one_of(op, "dim", dim, "axis", axis, None)
    keep = one_of(op, "keepdim", keepdim, "keepdims", keepdims, False)
    return axis, _flag(keep, "keepdim", op)


def _refuse_mixed(op: str, torch_args: dict, numpy_args: dict, hint: str) -> bool:
    """True when the call uses NumPy's keywords, False for PyTorch's (or none); a TypeError
    when it mixes them, because the two mean different things for ``op``."""
    torch_given = [name for name, value in torch_args.items() if value is not UNSET]
    numpy_given = [name for name, value in numpy_args.items() if value is not UNSET]
    if torch_given and numpy_given:
        raise TypeError(f"{op}: {torch_given[0]} is PyTorch's spelling and {numpy_given[0]}= "
                        f"NumPy's, and for {op} they mean different things ({hint}); use one "
                        "spelling throughout")
    return bool(numpy_given)


def _variance_args(op: str, dim: Any, unbiased: Any, keepdim: Any, correction: Any, axis: Any,
                   keepdims: Any, ddof: Any) -> tuple:
    """(axis, keepdims, ddof) of ``var`` / ``std`` from PyTorch's or NumPy's spelling.

    The divisor n - c: ``c`` given as ``correction=``, ``unbiased=`` or ``ddof=``; otherwise 1
    (PyTorch) unless the call is spelled with NumPy's ``axis=`` / ``keepdims=`` (then 0), and a
    call that mixes the spellings without saying ``c`` is refused.
    """
    if isinstance(dim, (bool, np.bool_)) and unbiased is UNSET:
        dim, unbiased = UNSET, dim                        # torch's x.var(unbiased)
    given = [name for name, value in (("correction", correction), ("unbiased", unbiased),
                                      ("ddof", ddof)) if value is not UNSET]
    if len(given) > 1:
        raise TypeError(f"{op}: give one of correction=, unbiased= and ddof=, got "
                        f"{' and '.join(given)}")
    numpy_words = {"axis": axis, "keepdims": keepdims}
    axis = one_of(op, "dim", dim, "axis", axis, None)
    keep = _flag(one_of(op, "keepdim", keepdim, "keepdims", keepdims, False), "keepdim", op)
    if unbiased is not UNSET:
        return axis, keep, 1 if _flag(unbiased, "unbiased", op) else 0
    if correction is not UNSET or ddof is not UNSET:
        return axis, keep, correction if ddof is UNSET else ddof
    numpy_style = _refuse_mixed(op, {"dim": dim, "keepdim": keepdim}, numpy_words,
                                "PyTorch divides by n - 1 by default, NumPy by n")
    return axis, keep, 0 if numpy_style else 1


def _extreme(x: Any, op: str, dim: Any, keepdim: Any, axis: Any, keepdims: Any) -> Any:
    """``max`` / ``min`` in all their spellings (see the module's table)."""
    F = _functional()
    if isinstance(dim, type(x)):                          # torch.max(a, b): elementwise
        if keepdim is not UNSET or axis is not UNSET or keepdims is not UNSET:
            raise TypeError(f"{op}(other): an elementwise {op} takes no dim or keepdim")
        return F.maximum(x, dim) if op == "max" else F.minimum(x, dim)
    numpy_style = _refuse_mixed(op, {"dim": dim, "keepdim": keepdim},
                                {"axis": axis, "keepdims": keepdims},
                                "PyTorch's gives (values, indices), NumPy's the values")
    reduce = F.max if op == "max" else F.min
    if numpy_style:
        return reduce(x, None if axis is UNSET else axis,
                      False if keepdims is UNSET else _flag(keepdims, "keepdims", op))
    if dim is UNSET:
        if keepdim is not UNSET:
            raise TypeError(f"{op}: keepdim= needs a dim")
        return reduce(x)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim must be an int: {op}(dim) gives the values and indices "
                        f"along one dim; for several use a{op}(dim={tuple(dim)}) or "
                        f"{op}(axis={tuple(dim)}), got {dim!r}")
    keep = False if keepdim is UNSET else _flag(keepdim, "keepdim", op)
    return F.extreme_along(x, dim, keep, op)


def _logical(x: Any, reduce: Any, op: str, dim: Any, keepdim: Any, axis: Any,
             keepdims: Any) -> Any:
    """``any`` / ``all`` (``reduce`` = np.any / np.all) as a boolean tensor."""
    axis, keep = _axis_and_keep(op, dim, keepdim, axis, keepdims)
    return type(x)(reduce(x.data, axis=axis, keepdims=keep))


class TorchStyleMethods:
    """PyTorch's method names and keywords on ``Tensor`` (see the module docstring)."""

    __slots__ = ()

    # -- shape and size --------------------------------------------------------------------
    @property
    def size(self) -> SizeInt:
        """The number of elements (an int, as NumPy's ``size``); ``size()`` is the shape and
        ``size(d)`` the length of dim d, as PyTorch's."""
        return SizeInt(self.data.size, self.data.shape)

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def dim(self) -> int:
        """The number of dimensions (``ndim``)."""
        return self.data.ndim

    def view(self, *shape: Any) -> Any:
        """``reshape``: the same elements in a new shape (-1 is inferred), sharing the data
        when it is contiguous; where PyTorch's ``view`` would refuse, this copies."""
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer, tuple, list)):
            raise TypeError(f"view: expected a shape, got {shape[0]!r}; minigrad has no "
                            "view(dtype) (a reinterpretation of the bytes): use .to(dtype)")
        return self.reshape(*shape)

    def transpose(self, *axes: Any) -> Any:
        """``transpose(d0, d1)`` swaps two dims (PyTorch); ``transpose()`` reverses them all
        and ``transpose((2, 0, 1))`` or ``transpose(2, 0, 1)`` permutes them (NumPy)."""
        F = _functional()
        if len(axes) == 2 and all(isinstance(a, (int, np.integer)) and not isinstance(a, bool)
                                  for a in axes):
            return F.swapaxes(self, axes[0], axes[1])
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return F.transpose(self, axes or None)

    def t(self) -> Any:
        """The transpose of a matrix (a tensor of at most 2 dims is returned as it is)."""
        if self.data.ndim > 2:
            raise ValueError(f"t: expects a tensor of at most 2 dimensions, got shape "
                             f"{self.data.shape}; use transpose(d0, d1) or permute")
        return _functional().transpose(self) if self.data.ndim == 2 else self

    def clone(self) -> Any:
        """A copy of the data, still part of the graph (the gradient passes through)."""
        return _functional().clone(self)

    def tolist(self) -> Any:
        """The values as (nested) Python lists of numbers."""
        return self.data.tolist()

    # -- dtype casts -----------------------------------------------------------------------
    def to(self, *args: Any, dtype: Any = None, copy: bool = False) -> Any:
        """This tensor in ``dtype`` (``to(dtype)``, ``to(other_tensor)``); a device is
        accepted only if it is the CPU (``to("cpu")``), the one minigrad runs on."""
        target = dtype
        for arg in args:
            if isinstance(arg, str):
                if arg.split(":")[0] != "cpu":
                    raise ValueError(f"to: minigrad runs on the CPU only, got device {arg!r}")
            elif isinstance(arg, type(self)):
                target = arg.dtype
            else:
                target = arg
        result = self if target is None else _functional().cast(self, target)
        return result.clone() if copy and result is self else result

    def type(self, dtype: Any = None) -> Any:
        """``type(dtype)`` converts like ``to(dtype)``; ``type()`` names the tensor type, e.g.
        'minigrad.FloatTensor'."""
        if dtype is None:
            return f"minigrad.{_TYPE_NAMES.get(self.data.dtype.name, self.data.dtype.name)}"
        return _functional().cast(self, dtype)

    def float(self) -> Any:
        """This tensor as float32."""
        return _functional().cast(self, np.float32)

    def double(self) -> Any:
        """This tensor as float64."""
        return _functional().cast(self, np.float64)

    def half(self) -> Any:
        """This tensor as float16."""
        return _functional().cast(self, np.float16)

    def long(self) -> Any:
        """This tensor as int64 (not differentiable)."""
        return _functional().cast(self, np.int64)

    def int(self) -> Any:
        """This tensor as int32 (not differentiable)."""
        return _functional().cast(self, np.int32)

    def bool(self) -> Any:
        """This tensor as booleans (not differentiable)."""
        return _functional().cast(self, np.bool_)

    # -- elementwise -----------------------------------------------------------------------
    def pow(self, exponent: Any) -> Any:
        """self ** exponent."""
        return _functional().pow(self, exponent)

    def clamp(self, min: Any = None, max: Any = None) -> Any:  # noqa: A002 (torch's names)
        """``clip``: min(max(self, min), max)."""
        return _functional().clip(self, min, max)

    # -- reductions ------------------------------------------------------------------------
    def sum(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
            keepdims: Any = UNSET) -> Any:
        """Σ over ``dim`` (``axis``): an int, a tuple of ints or None for all."""
        return _functional().sum(self, *_axis_and_keep("sum", dim, keepdim, axis, keepdims))

    def mean(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
             keepdims: Any = UNSET) -> Any:
        """The mean over ``dim`` (``axis``)."""
        return _functional().mean(self, *_axis_and_keep("mean", dim, keepdim, axis, keepdims))

    def logsumexp(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
                  keepdims: Any = UNSET) -> Any:
        """log Σ exp over ``dim`` (``axis``), without overflow."""
        axis, keep = _axis_and_keep("logsumexp", dim, keepdim, axis, keepdims)
        return _functional().logsumexp(self, axis, keep)

    def var(self, dim: Any = UNSET, unbiased: Any = UNSET, keepdim: Any = UNSET, *,
            correction: Any = UNSET, axis: Any = UNSET, keepdims: Any = UNSET,
            ddof: Any = UNSET) -> Any:
        """Σ (x - x̄)² / (n - c): PyTorch's spelling divides by n - 1 by default (``c =
        correction = 1``, or ``unbiased=False`` for n), NumPy's (``axis=``, ``ddof=``) by n."""
        args = _variance_args("var", dim, unbiased, keepdim, correction, axis, keepdims, ddof)
        return _functional().var(self, *args)

    def std(self, dim: Any = UNSET, unbiased: Any = UNSET, keepdim: Any = UNSET, *,
            correction: Any = UNSET, axis: Any = UNSET, keepdims: Any = UNSET,
            ddof: Any = UNSET) -> Any:
        """√var, with ``var``'s two spellings and defaults (PyTorch's: n - 1)."""
        args = _variance_args("std", dim, unbiased, keepdim, correction, axis, keepdims, ddof)
        return _functional().sqrt(_functional().var(self, *args))

    def max(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
            keepdims: Any = UNSET) -> Any:
        """``max()``: the largest element; ``max(dim)``: ``(values, indices)`` along dim, the
        gradient going to the index picked (PyTorch); ``max(axis=...)``: the values, ties
        sharing the gradient (NumPy); ``max(other)``: the elementwise maximum."""
        return _extreme(self, "max", dim, keepdim, axis, keepdims)

    def min(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
            keepdims: Any = UNSET) -> Any:
        """The smallest element(s), in ``max``'s spellings."""
        return _extreme(self, "min", dim, keepdim, axis, keepdims)

    def amax(self, dim: Any = (), keepdim: bool = False) -> Any:
        """The maximum over ``dim`` (an int or a tuple; () for all), ties sharing the
        gradient evenly, as PyTorch's ``amax``."""
        return _functional().max(self, dim if dim != () else None, _flag(keepdim, "keepdim",
                                                                           "amax"))

    def amin(self, dim: Any = (), keepdim: bool = False) -> Any:
        """The minimum over ``dim``, as PyTorch's ``amin``."""
        return _functional().min(self, dim if dim != () else None, _flag(keepdim, "keepdim",
                                                                           "amin"))

    def argmax(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
               keepdims: Any = UNSET) -> Any:
        """The index of the largest element along ``dim`` (of the flattened tensor when None),
        an int64 tensor (first one of ties; not differentiable)."""
        return _functional().argmax(self, *_axis_and_keep("argmax", dim, keepdim, axis,
                                                           keepdims))

    def argmin(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
               keepdims: Any = UNSET) -> Any:
        """The index of the smallest element along ``dim``, as ``argmax``."""
        return _functional().argmin(self, *_axis_and_keep("argmin", dim, keepdim, axis,
                                                           keepdims))

    def any(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
            keepdims: Any = UNSET) -> Any:
        """Whether any element (along ``dim``) is nonzero: a boolean tensor."""
        return _logical(self, np.any, "any", dim, keepdim, axis, keepdims)

    def all(self, dim: Any = UNSET, keepdim: Any = UNSET, *, axis: Any = UNSET,
            keepdims: Any = UNSET) -> Any:
        """Whether every element (along ``dim``) is nonzero: a boolean tensor."""
        return _logical(self, np.all, "all", dim, keepdim, axis, keepdims)

    def softmax(self, dim: Any = UNSET, *, axis: Any = UNSET) -> Any:
        """exp(x) / Σ exp(x) along ``dim`` (``axis``; the last one by default)."""
        return _functional().softmax(self, one_of("softmax", "dim", dim, "axis", axis, -1))

    def log_softmax(self, dim: Any = UNSET, *, axis: Any = UNSET) -> Any:
        """log softmax along ``dim`` (``axis``; the last one by default)."""
        return _functional().log_softmax(self, one_of("log_softmax", "dim", dim, "axis", axis,
                                                      -1))


_TYPE_NAMES = {"float16": "HalfTensor", "float32": "FloatTensor", "float64": "DoubleTensor",
               "int8": "CharTensor", "uint8": "ByteTensor", "int16": "ShortTensor",
               "int32": "IntTensor", "int64": "LongTensor", "bool": "BoolTensor"}
