"""Weight initialisation, in place: ``normal_``, ``uniform_``, ``zeros_``, ``ones_``,
``constant_``, ``he_normal_`` and ``lecun_normal_`` (the book's "Xavier"), and PyTorch's
``kaiming_normal_``, ``kaiming_uniform_``, ``xavier_normal_``, ``xavier_uniform_`` with
``calculate_gain``.

Fans, for minigrad's (in, out) weight layout (PyTorch's ``nn.Linear`` stores (out, in)):
``fan_in`` = in_features = shape[0] and ``fan_out`` = out_features = shape[-1] -- the same
numbers PyTorch computes from its transposed weight, so the same call draws from the same law.
A convolution weight (more than 2 dims) has PyTorch's layout (out_channels, in_channels, kH,
kW) in minigrad too, so its fans are PyTorch's: ``fan_in`` = in_channels·kH·kW and ``fan_out`` =
out_channels·kH·kW.

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
    """The number of inputs of each output unit: shape[0] of an (in, out) weight;
    in_channels·kH·kW of an (out_channels, in_channels, kH, kW) convolution weight."""
    shape = _weight_shape(tensor)
    return shape[0] if len(shape) == 2 else math.prod(shape[1:])


def fan_out(tensor: Tensor) -> int:
    """The number of outputs each input feeds: shape[1] of an (in, out) weight;
    out_channels·kH·kW of an (out_channels, in_channels, kH, kW) convolution weight."""
    shape = _weight_shape(tensor)
    return shape[1] if len(shape) == 2 else shape[0] * math.prod(shape[2:])


def _weight_shape(tensor: Tensor) -> tuple:
    """The shape of a weight, which has fans only with at least 2 dimensions."""
    if _checked(tensor).ndim < 2:
        raise ValueError(f"init: fan_in and fan_out need a weight of at least 2 dimensions, got "
                         f"shape {tensor.shape}")
    return tensor.shape


_GAINS = {"linear": 1.0, "conv1d": 1.0, "conv2d": 1.0, "conv3d": 1.0, "sigmoid": 1.0,
          "tanh": 5.0 / 3, "relu": math.sqrt(2.0), "selu": 3.0 / 4}


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The gain that keeps activations' variance through ``nonlinearity``, as PyTorch's:
    1 for linear and sigmoid, 5/3 for tanh, √2 for relu, √(2 / (1 + a²)) for leaky_relu of
    slope a (``param``, default 0.01), 3/4 for selu."""
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else _finite(param, "param", "calculate_gain")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity not in _GAINS:
        raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}; one of "
                         f"{sorted(_GAINS) + ['leaky_relu']}")
    return _GAINS[nonlinearity]


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str, op: str) -> float:
    """gain / √fan of PyTorch's Kaiming (He) initialisation."""
    _floating(tensor, op)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"{op}: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in(tensor) if mode == "fan_in" else fan_out(tensor)
    gain = calculate_gain(nonlinearity, _finite(a, "a", op))
    return gain / math.sqrt(fan)


def kaiming_normal_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    rng: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with N(0, std²), std = gain / √fan, as PyTorch's (``fan`` = fan_in = in_features
    by default, or fan_out; gain = ``calculate_gain(nonlinearity, a)``, √2 by default)."""
    if _checked(tensor).size == 0:
        return tensor                                     # nothing to draw, as PyTorch
    check_rng(rng, "kaiming_normal_")
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_normal_"),
                   rng)


def kaiming_uniform_(tensor: Tensor, a: float = 0.0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     rng: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with U(−b, b), b = √3 · gain / √fan (the same variance as ``kaiming_normal_``)."""
    if _checked(tensor).size == 0:
        return tensor
    check_rng(rng, "kaiming_uniform_")
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity, "kaiming_uniform_")
    return uniform_(tensor, -bound, bound, rng)


def _xavier_std(tensor: Tensor, gain: float, op: str) -> float:
    """gain · √(2 / (fan_in + fan_out)) of PyTorch's Xavier (Glorot) initialisation."""
    _floating(tensor, op)
    gain = _finite(gain, "gain", op)
    return gain * math.sqrt(2.0 / (fan_in(tensor) + fan_out(tensor)))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    rng: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with U(−b, b), b = gain · √(6 / (fan_in + fan_out)), as PyTorch's."""
    if _checked(tensor).size == 0:
        return tensor
    check_rng(rng, "xavier_uniform_")
    bound = math.sqrt(3.0) * _xavier_std(tensor, gain, "xavier_uniform_")
    return uniform_(tensor, -bound, bound, rng)


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


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   rng: Optional[np.random.Generator] = None) -> Tensor:
    """Fill with N(0, std²), std = gain · √(2 / (fan_in + fan_out)), as PyTorch's.

    (The book's "Xavier", N(0, 1/fan_in), is ``lecun_normal_``; ``nn.Linear(init='xavier')``
    uses that one.)
    """
    if _checked(tensor).size == 0:
        return tensor
    check_rng(rng, "xavier_normal_")
    return normal_(tensor, 0.0, _xavier_std(tensor, gain, "xavier_normal_"), rng)


def lecun_normal_(tensor: Tensor, rng: Optional[np.random.Generator] = None) -> Tensor:
    """The book's Xavier initialisation: N(0, 1/fan_in), std = √(1/n) (LeCun's name for it;
    PyTorch's ``xavier_normal_`` uses √(2/(fan_in + fan_out)))."""
    _floating(tensor, "lecun_normal_")
    check_rng(rng, "lecun_normal_")
    return normal_(tensor, 0.0, _fan_in_std(tensor, 1.0, "lecun_normal_"), rng)


def he_normal_(tensor: Tensor, rng: Optional[np.random.Generator] = None) -> Tensor:
    """He initialisation for ReLU networks: N(0, 2/fan_in), std = √(2/n)."""
    _floating(tensor, "he_normal_")
    check_rng(rng, "he_normal_")
    return normal_(tensor, 0.0, _fan_in_std(tensor, 2.0, "he_normal_"), rng)
