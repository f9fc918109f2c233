"""Weight initialisation, in place: ``normal_``, ``uniform_``, ``zeros_``, ``ones_``,
``constant_``, ``xavier_normal_`` and ``he_normal_``.

Samples come from ``rng`` if given, else from minigrad's default generator (seeded by
``mg.manual_seed``). Each function fills ``tensor.data`` in place (its dtype unchanged) and
returns the tensor. The random ones need a floating tensor (samples truncated to integers are
no initialisation, and PyTorch refuses them too) and finite parameters; a value the dtype cannot
hold (e.g. samples of std 1e300 in float32) is a ValueError and leaves the tensor unchanged.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional

import numpy as np

from ..random import check_rng, default_rng
from ..tensor import Tensor, _check_fill_value
from .module import real_number


def _checked(tensor: Any) -> Tensor:
    """``tensor``, if it is one."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"init: expected a Tensor or Parameter, got {type(tensor).__name__}")
    return tensor


def _floating(tensor: Any, op: str) -> Tensor:
    """``tensor``, if it is a floating one (random samples are not truncated to integers)."""
    if _checked(tensor).dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got dtype {tensor.dtype}")
    return tensor


def _finite(value: Any, what: str, op: str) -> float:
    """``value`` as a float, or TypeError/ValueError naming ``op`` if it is not a finite number."""
    value = real_number(value, what, op)
    if not math.isfinite(value):
        raise ValueError(f"{op}: {what} must be finite, got {value}")
    return value


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` into ``tensor.data`` and bump its version."""
    _checked(tensor).data[...] = values
    tensor._version += 1                     # a graph built before cannot be differentiated
    return tensor


def _fill_samples(tensor: Tensor, samples: np.ndarray, op: str, law: str) -> Tensor:
    """Fill with ``samples`` (float64), refusing them when they overflow the tensor's dtype."""
    try:
        with np.errstate(over="raise"):
            samples = samples.astype(tensor.dtype, copy=False)
    except FloatingPointError:
        raise ValueError(f"{op}: samples of {law} overflow the tensor's dtype "
                         f"{tensor.dtype}") from None
    return _fill(tensor, samples)


def _fan_in_std(tensor: Tensor, gain: float, op: str) -> float:
    """√(gain / fan_in), or ValueError naming ``op`` for a weight without inputs."""
    n = fan_in(tensor)
    if n == 0:
        raise ValueError(f"{op}: the weight of shape {tensor.shape} has fan_in 0, so the std "
                         f"√({gain:g}/fan_in) is undefined")
    return math.sqrt(gain / n)


def fan_in(tensor: Tensor) -> int:
    """The number of inputs of each output unit: shape[0] of an (in, out) weight (in general
    the product of every axis but the last)."""
    if _checked(tensor).ndim < 2:
        raise ValueError(f"init: fan_in needs a weight of at least 2 dimensions, got shape "
                         f"{tensor.shape}")
    return math.prod(tensor.shape[:-1])


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            rng: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with samples of N(mean, std²) (``mean`` finite, ``std`` finite and >= 0)."""
    _floating(tensor, "normal_")
    mean = _finite(mean, "mean", "normal_")
    std = _finite(std, "std", "normal_")
    if std < 0:
        raise ValueError(f"normal_: std must be non-negative, got {std}")
    samples = (check_rng(rng, "normal_") or default_rng()).normal(mean, std, tensor.shape)
    return _fill_samples(tensor, samples, "normal_", f"N({mean:g}, {std:g}²)")


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             rng: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with samples of U(a, b) (finite bounds, ``a <= b``)."""
    _floating(tensor, "uniform_")
    a = _finite(a, "a", "uniform_")
    b = _finite(b, "b", "uniform_")
    if a > b:
        raise ValueError(f"uniform_: a ({a}) must not exceed b ({b})")
    generator = check_rng(rng, "uniform_") or default_rng()
    try:
        samples = generator.uniform(a, b, tensor.shape)
    except OverflowError:                    # b − a beyond the largest float
        raise ValueError(f"uniform_: the range b − a = {b} − ({a}) is too wide") from None
    return _fill_samples(tensor, samples, "uniform_", f"U({a:g}, {b:g})")


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def constant_(tensor: Tensor, value: float) -> Tensor:
    """Fill with the number ``value`` (one the tensor's dtype can hold)."""
    _checked(tensor)
    if isinstance(value, (Tensor, np.ndarray)) and np.ndim(value) == 0:
        value = np.asarray(value).item()              # a 0-d tensor or array, as in PyTorch
    if not isinstance(value, (numbers.Real, np.bool_)):
        raise TypeError(f"constant_: value must be a real number, got {value!r} "
                        f"({type(value).__name__})")
    _check_fill_value(value, tensor.dtype, "constant_")
    return _fill(tensor, value)


def xavier_normal_(tensor: Tensor, rng: Optional[np.random.Generator] = None) -> Tensor:
    """The book's Xavier initialisation: N(0, 1/fan_in), std = √(1/n).

    (PyTorch's ``xavier_normal_`` uses √(2/(fan_in + fan_out)); the book uses fan-in only.)
    """
    _floating(tensor, "xavier_normal_")
    check_rng(rng, "xavier_normal_")
    return normal_(tensor, 0.0, _fan_in_std(tensor, 1.0, "xavier_normal_"), rng)


def he_normal_(tensor: Tensor, rng: Optional[np.random.Generator] = None) -> Tensor:
    """He initialisation for ReLU networks: N(0, 2/fan_in), std = √(2/n)."""
    _floating(tensor, "he_normal_")
    check_rng(rng, "he_normal_")
    return normal_(tensor, 0.0, _fan_in_std(tensor, 2.0, "he_normal_"), rng)
