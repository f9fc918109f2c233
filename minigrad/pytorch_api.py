"""PyTorch's top-level functions and factories: ``mg.cat``, ``mg.max(x, dim=1)``, ``mg.eye``,
``mg.from_numpy``, ...

Each is a thin call. ``mg.max(x, 1)`` is ``x.max(1)``: the functions named after a Tensor
method call that method, so the two spellings share one code path and one set of rules (see
``pytorch_methods``); the elementwise ones are ``minigrad.functional``'s, re-exported by
``minigrad/__init__.py``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import functional as F
from .pytorch_methods import UNSET
from .tensor import Tensor, _dtype, _new_shape

__all__ = ["cat", "concat", "stack", "where", "eye", "empty", "from_numpy", "as_tensor",
           "is_tensor", "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax",
           "argmin", "logsumexp", "softmax", "log_softmax", "clamp", "clone", "numel", "t",
           "transpose", "permute", "reshape", "flatten", "squeeze", "unsqueeze"]


def _tensor_method(name: str) -> Callable[..., Any]:
    """``mg.<name>(input, *args, **kwargs)`` = ``input.<name>(*args, **kwargs)``."""
    def call(input: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: A002 (torch's name)
        if not isinstance(input, Tensor):
            raise TypeError(f"{name}: input must be a Tensor, got {type(input).__name__}; "
                            "make one with mg.tensor(...)")
        return getattr(input, name)(*args, **kwargs)
    call.__name__ = call.__qualname__ = name
    call.__doc__ = f"``input.{name}(*args, **kwargs)``: see ``Tensor.{name}``."
    return call


sum = _tensor_method("sum")  # noqa: A001 (torch.sum)
mean = _tensor_method("mean")
var = _tensor_method("var")
std = _tensor_method("std")
max = _tensor_method("max")  # noqa: A001
min = _tensor_method("min")  # noqa: A001
amax = _tensor_method("amax")
amin = _tensor_method("amin")
argmax = _tensor_method("argmax")
argmin = _tensor_method("argmin")
logsumexp = _tensor_method("logsumexp")
softmax = _tensor_method("softmax")
log_softmax = _tensor_method("log_softmax")
clamp = _tensor_method("clamp")
clone = _tensor_method("clone")
numel = _tensor_method("numel")
t = _tensor_method("t")
transpose = _tensor_method("transpose")
permute = _tensor_method("permute")
reshape = _tensor_method("reshape")
flatten = _tensor_method("flatten")
squeeze = _tensor_method("squeeze")
unsqueeze = _tensor_method("unsqueeze")


def cat(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """The tensors joined along the existing ``dim`` (``F.concatenate``)."""
    return F.concatenate(tensors, dim)


concat = cat


def stack(tensors: Sequence[Any], dim: int = 0) -> Tensor:
    """The tensors (all of one shape) joined along a new ``dim``."""
    return F.stack(tensors, dim)


def where(condition: Any, input: Any = UNSET, other: Any = UNSET) -> Tensor:  # noqa: A002
    """``input`` where ``condition`` holds, else ``other`` (differentiable in both)."""
    if input is UNSET or other is UNSET:
        raise TypeError("where: needs where(condition, input, other); the one-argument form "
                        "(the indices of nonzero elements) is not in minigrad: use "
                        "np.nonzero(condition.numpy())")
    return F.where(condition, input, other)


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a minigrad Tensor."""
    return isinstance(obj, Tensor)


def eye(n: int, m: Any = None, *, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """The n × m identity matrix (m = n by default), float32 unless ``dtype`` says otherwise."""
    shape = _new_shape((n, n if m is None else m), "eye")
    return Tensor(np.eye(*shape, dtype=_dtype(dtype, "eye")), requires_grad=requires_grad)


def empty(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ``size`` to be overwritten; unlike PyTorch's, it holds zeros (never stale
    memory, so a forgotten write shows up as zeros, reproducibly)."""
    shape = _new_shape(size, "empty")
    return Tensor(np.zeros(shape, dtype=_dtype(dtype, "empty")), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory: a write to either shows in the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an np.ndarray, got {type(array).__name__}")
    _dtype(array.dtype, "from_numpy")                    # refuses strings, objects, complex
    return Tensor(array.view(np.ndarray))


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``data`` as a tensor without copying when it can: a Tensor of that dtype is returned
    itself, an ndarray of that dtype is shared; anything else is converted."""
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    return Tensor(data, dtype=dtype)
