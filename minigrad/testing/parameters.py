"""The parameter values ``check_layer`` checks a layer at, besides the initial ones.

A backward that forgets a parameter is right wherever that parameter is neutral: dx of a
LayerNorm that forgets γ is right while γ = 1, dx of a Swish that forgets β while β = 1, an
affine map that forgets its scale while the scale is 1, and those are exactly the values layers
start from. So after the initial parameters, ``check_layer`` checks again at values drawn at
random (seeded, same shape and dtype): each element ``± s·u`` with u uniform in [0.5, 1.5] and
s the root mean square of the initial values (1 if they are all 0), so the draw has the scale
of the initial values and stays away from 0 and from any value they all share. A parameter
whose initial values are all positive, or whose name says it is a scale or a variance
(``scale``, ``std``, ``sigma``, ``var``, ``gamma``), is drawn positive: a documented constraint
such as a positive scale is kept. Where a layer has a constraint the draw cannot know, the user
gives the values (``params={name: value}``) and nothing is drawn.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ..gradcheck import GradcheckError
from ..tensor import Tensor

__all__ = ["ParameterValuesError", "draw_parameters", "given_parameters", "neutral_values",
           "explain_at_random", "failing_gradient"]

class ParameterValuesError(ValueError):
    """``params=`` values that do not fit the layer (an unknown name, a wrong size, NaN)."""


_POSITIVE_NAME = re.compile(r"(scale|std|sigma|var|gamma)", re.IGNORECASE)


def _positive(name: str, initial: np.ndarray) -> bool:
    """Whether the draw keeps the parameter positive (a scale, a variance, ...)."""
    last = name.rsplit(".", 1)[-1]
    return bool(initial.size and np.all(initial > 0)) or bool(_POSITIVE_NAME.search(last))


def draw_parameters(named: Sequence[Tuple[str, Tensor]],
                    seed: int) -> Tuple[Dict[str, np.ndarray], List[str]]:
    """Random values for every parameter (seeded): ``± s·u``, u ~ U[0.5, 1.5], s the RMS of
    the initial values (or 1); returns the values and the names drawn positive."""
    rng = np.random.default_rng([seed, 2])      # a stream apart from the input's and v's
    values, positive = {}, []
    for name, tensor in named:
        initial = tensor.data.astype(np.float64)
        rms = float(np.sqrt(np.mean(initial * initial))) if initial.size else 0.0
        scale = rms if rms > 0 and np.isfinite(rms) else 1.0
        magnitude = scale * rng.uniform(0.5, 1.5, size=initial.shape)
        if _positive(name, initial):
            positive.append(name)
            sign = 1.0
        else:
            sign = rng.choice(np.array([-1.0, 1.0]), size=initial.shape)
        values[name] = sign * magnitude
    return values, positive


def given_parameters(named: Sequence[Tuple[str, Tensor]],
                     given: Mapping[str, Any]) -> Dict[str, np.ndarray]:
    """The user's ``params={name: value}`` as float64 arrays of each parameter's shape; one
    number fills the whole parameter. Unknown names, wrong sizes and NaN are refused."""
    if not isinstance(given, Mapping):
        raise TypeError(f"check_layer: params must be True, False or a dict of parameter "
                        f"values, got {type(given).__name__}")
    shapes = {name: tensor.shape for name, tensor in named}
    unknown = [name for name in given if name not in shapes]
    if unknown:
        raise ParameterValuesError(f"check_layer: params names {unknown} that the layer does "
                                   f"not have; its parameters are {list(shapes) or 'none'}")
    values = {}
    for name, value in given.items():
        array = np.asarray(value.data if isinstance(value, Tensor) else value)
        if array.dtype.kind not in "fiu" or not np.all(np.isfinite(array)):
            raise ParameterValuesError(f"check_layer: params[{name!r}] must be finite "
                                       f"numbers, got {value!r}")
        shape = shapes[name]
        if array.size == 1:
            array = np.full(shape, float(array.reshape(())))
        elif array.size == int(np.prod(shape)):
            array = array.reshape(shape)
        else:
            raise ParameterValuesError(f"check_layer: params[{name!r}] has {array.size} "
                                       f"values for a parameter of shape {shape}; give one "
                                       f"number or {shape} values")
        values[name] = array.astype(np.float64)
    return values


def neutral_values(named: Sequence[Tuple[str, Tensor]]) -> List[str]:
    """'gamma = 1' for each parameter whose elements all share one value (a backward that
    forgets such a parameter can be right there)."""
    found = []
    for name, tensor in named:
        flat = tensor.data.reshape(-1)
        if flat.size and np.all(flat == flat[0]):
            found.append(f"{name} = {float(flat[0]):g}")
    return found


def failing_gradient(message: str) -> Optional[str]:
    """'input' or the parameter's name for the gradient a failure message names, else None."""
    match = re.search(r"gradient of (the input|parameter '([^']+)')", message)
    if match is None:
        return None
    return "input" if match.group(2) is None else match.group(2)


def _gradient_named(message: str) -> str:
    """'dx' or 'dweight' for the gradient a failure message names ('the gradient' if none)."""
    label = failing_gradient(message)
    if label is None:
        return "the gradient"
    return "dx" if label == "input" else f"d{label}"


def explain_at_random(error: GradcheckError, prefix: str, neutral: List[str], seed: int,
                      forgotten: Sequence[str] = ()) -> GradcheckError:
    """A failure found only at the random parameters, saying so and asking the question that
    most likely explains it: "does dx use gamma?" (about the ``forgotten`` parameters if the
    caller found which ones, else about every parameter with a neutral initial value)."""
    body = str(error)
    body = body[len(prefix):] if body.startswith(prefix) else body
    names = list(forgotten) or [text.split(" = ")[0] for text in neutral]
    at = f" ({', '.join(neutral)})" if neutral else ""
    uses = " and ".join(names) if names else "the parameters' current values (not copies)"
    return GradcheckError(f"{prefix}passes at the initial parameters{at} but not at random "
                          f"ones (seed {seed}): does {_gradient_named(body)} use {uses}?\n"
                          f"  {body}")
