"""``check_layer``: trust a new layer's backward pass with one call.

A layer here is a ``Module``, a ``Function`` subclass or any callable mapping one Tensor to a
Tensor (or a tuple of them). The check works on a float64 copy of the layer, holds its
randomness fixed (minigrad's generator is reseeded before every evaluation and restored
afterwards, a layer's own generators and buffers are reset on the copy) and compares the
vector-Jacobian products ``vᵀ ∂y/∂x`` and ``vᵀ ∂y/∂θ`` from backward, for a seeded random
upstream gradient v, with central differences

    (⟨v, y(x + h eᵢ)⟩ − ⟨v, y(x − h eᵢ)⟩) / 2h,

plus the properties a correct backward has and a gradient check alone can miss: linear in v,
v left unchanged, the same answer twice, no stale state from an earlier input, float32 kept
float32.
"""
from __future__ import annotations

import ast
import copy
import functools
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import autograd
from .._display import html_list, html_table
from ..autograd import Function
from ..finite_differences import at_kink, central, central_difference, one_sided, slopes_differ
from ..gradcheck import GradcheckError, GradcheckWarning, RawGradientWatch, check_settings
from ..random import default_rng, manual_seed
from ..tensor import Tensor
from .parameters import (ParameterValuesError, draw_parameters, explain_at_random,
                         failing_gradient, given_parameters, neutral_values)

__all__ = ["check_layer", "LayerCheckReport", "GradientCheck"]


# -- the report ------------------------------------------------------------------------------
@dataclass
class GradientCheck:
    """How one gradient (of the input or of a parameter) compared with central differences.

    ``max_abs_error = max |a − n|`` and ``max_rel_error = max |a − n| / max(|n|, atol)`` over
    the elements (a analytic, n numerical), ``max_gradient = max |n|`` (a pass where it is ≈ 0
    proves little) and ``kinks``: elements at a kink of a piecewise op, left out of the errors.
    """

    name: str
    shape: Tuple[int, ...]
    max_abs_error: float
    max_rel_error: float
    max_gradient: float
    kinks: int = 0


@dataclass
class LayerCheckReport:
    """What ``check_layer`` checked: one ``GradientCheck`` per gradient, the checks passed and
    notes (a kink, a vacuous pass, float32 not accepted). ``str(report)`` is a readable table.
    """

    layer: str
    input_shape: Tuple[int, ...]
    output_shapes: List[Tuple[int, ...]]
    gradients: List[GradientCheck] = field(default_factory=list)
    checks: List[str] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    vacuous: bool = False
    random_gradients: List[GradientCheck] = field(default_factory=list)
    parameters: str = "none"

    @property
    def errors(self) -> dict:
        """``{name: (max_abs_error, max_rel_error)}`` for the input and every parameter."""
        return {g.name: (g.max_abs_error, g.max_rel_error) for g in self.gradients}

    def __str__(self) -> str:
        outputs = ", ".join(str(s) for s in self.output_shapes)
        lines = [f"check_layer: {self.layer} passed on an input of shape {self.input_shape} "
                 f"(output {outputs})"]
        lines.append(f"  parameters: {self.parameters}")
        if self.random_gradients:
            lines.append("  at the initial parameters:")
        lines.extend(_table(self.gradients))
        if self.random_gradients:
            lines.append("  at the random parameters:")
            lines.extend(_table(self.random_gradients))
        lines.append("  checks passed:")
        lines.extend(f"    - {check}" for check in self.checks)
        if self.notes:
            lines.append("  notes:")
            lines.extend(f"    - {note}" for note in self.notes)
        return "\n".join(lines)

    # -- rich display in Jupyter ---------------------------------------------------------------
    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        outputs = ", ".join(str(s) for s in self.output_shapes)
        header = ("gradient", "shape", "max abs err", "max rel err", "max |grad|", "at a kink")

        def rows(gradients: List[GradientCheck]) -> list:
            return [(g.name, g.shape, f"{g.max_abs_error:.2e}", f"{g.max_rel_error:.2e}",
                     f"{g.max_gradient:.3g}", g.kinks) for g in gradients]

        table = html_table(header, rows(self.gradients),
                           caption=f"check_layer: {self.layer} passed on an input of shape "
                                   f"{self.input_shape} (output {outputs}); parameters: "
                                   f"{self.parameters}")
        if self.random_gradients:
            table += html_table(header, rows(self.random_gradients),
                                caption="at the random parameters")
        return table + html_list("checks passed", self.checks) + html_list("notes", self.notes)


def _table(gradients: List[GradientCheck]) -> List[str]:
    """The rows of a report's table of errors."""
    width = max([len("gradient")] + [len(g.name) for g in gradients])
    lines = [f"  {'gradient':<{width}}  {'shape':<14} {'max abs err':>11}  {'max rel err':>11}  "
             f"{'max |grad|':>10}"]
    for g in gradients:
        kinks = f"  ({g.kinks} at a kink)" if g.kinks else ""
        lines.append(f"  {g.name:<{width}}  {str(g.shape):<14} {g.max_abs_error:>11.2e}  "
                     f"{g.max_rel_error:>11.2e}  {g.max_gradient:>10.3g}{kinks}")
    return lines


# -- the layer under test --------------------------------------------------------------------
def _is_module(layer: Any) -> bool:
    """A Module: callable, with parameters, a state dict and ``to(dtype)`` (duck-typed, so that
    this file works before and without ``minigrad.nn``)."""
    return (not isinstance(layer, type) and callable(layer)
            and all(hasattr(layer, name) for name in ("named_parameters", "state_dict", "to")))


def _layer_name(layer: Any) -> str:
    if isinstance(layer, type):
        return layer.__name__
    if _is_module(layer):
        return type(layer).__name__
    return getattr(layer, "__qualname__", None) or type(layer).__name__


class _Subject:
    """The layer in one dtype, evaluated with randomness and buffers reset before every call;
    ``values`` (name -> array) replace the initial values of those parameters."""

    def __init__(self, layer: Any, dtype: Any, seed: int, params: bool,
                 values: Optional[Dict[str, np.ndarray]] = None) -> None:
        self.seed = seed
        self.values = values
        self.params: List[Tuple[str, Tensor]] = []
        self.named: List[Tuple[str, Tensor]] = []
        self.module = None
        self._buffers: dict = {}
        self._generators: list = []
        if isinstance(layer, type) and issubclass(layer, Function):
            self.forward: Callable = layer.apply
        elif _is_module(layer):
            self._adopt(copy.deepcopy(layer), dtype, params)   # the user's layer is untouched
        elif callable(layer) and not isinstance(layer, type):
            self.forward = layer
        else:
            raise TypeError(f"check_layer: layer must be a Module instance, a Function subclass "
                            f"or a callable, got {layer!r}")

    def _adopt(self, module: Any, dtype: Any, params: bool) -> None:
        """Take a copy of a Module: cast it, set the given parameter values, note its
        parameters, buffers and generators."""
        module.to(dtype)
        self.module = self.forward = module
        named = list(module.named_parameters())
        self.named = [(name, p) for name, p in named if p.requires_grad and p.dtype.kind == "f"]
        for name, p in self.named:
            if self.values is not None and name in self.values:
                p.data[...] = self.values[name]               # cast to p's dtype
        if params:
            self.params = list(self.named)
        names = {name for name, _ in named}
        self._buffers = {key: np.array(value, copy=True)
                         for key, value in module.state_dict().items() if key not in names}
        modules = module.modules() if hasattr(module, "modules") else [module]
        self._generators = [(g, copy.deepcopy(g.bit_generator.state))
                            for m in modules for g in vars(m).values()
                            if isinstance(g, np.random.Generator)]

    def reset(self) -> None:
        """Reseed minigrad's generator, rewind the layer's own generators, restore buffers."""
        manual_seed(self.seed)
        for generator, state in self._generators:
            generator.bit_generator.state = state
        if self._buffers:
            self.module.load_state_dict(self._buffers, strict=False)   # copies them in

    def __call__(self, x: Tensor) -> tuple:
        self.reset()
        out = self.forward(x)
        return tuple(out) if isinstance(out, (tuple, list)) else (out,)


# -- small helpers ---------------------------------------------------------------------------
def _what(label: str) -> str:
    """'the input' or "parameter 'weight'" for messages."""
    return "the input" if label == "input" else f"parameter '{label}'"


def _fail(name: str, message: str) -> GradcheckError:
    return GradcheckError(f"check_layer: {name}: {message}")


def _example_input(x: Any, seed: int) -> np.ndarray:
    """The example input as a float64 array; a tuple of ints is a shape to draw N(0, 1) in."""
    if isinstance(x, tuple) and all(isinstance(n, (int, np.integer)) for n in x):
        if any(n < 0 for n in x):
            raise ValueError(f"check_layer: input shape {x} has a negative side")
        return np.random.default_rng(seed).standard_normal(x)
    array = x.data if isinstance(x, Tensor) else np.asarray(x)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"check_layer: the example input must be a floating array, a Tensor or "
                        f"a shape tuple, got dtype {array.dtype}")
    if array.size == 0 or not np.all(np.isfinite(array)):
        raise ValueError(f"check_layer: the example input (shape {array.shape}) must be "
                         "non-empty and finite")
    return np.array(array, dtype=np.float64)


def _other_input(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A different input in x's range: x's values shuffled and shrunk by 0.5..1 each."""
    shuffled = rng.permutation(x.reshape(-1)).reshape(x.shape)
    return shuffled * rng.uniform(0.5, 1.0, size=x.shape)


def _differentiable(outputs: tuple, name: str) -> List[int]:
    """Indices of the floating Tensor outputs; an error if none of them is on the tape."""
    picked = [k for k, y in enumerate(outputs) if isinstance(y, Tensor) and y.dtype.kind == "f"]
    if not any(outputs[k].requires_grad for k in picked):
        raise _fail(name, "no output requires grad: the output is cut off from the input (was "
                          "it computed with NumPy on .data, under no_grad, or with detach()?)")
    return picked


def _graph_nodes(outputs: Sequence[Tensor]) -> list:
    """Every recorded Function reachable from the outputs (iterative, each once)."""
    stack = [y.grad_fn for y in outputs if y.grad_fn is not None]
    seen, nodes = set(), []
    while stack:
        fn = stack.pop()
        if id(fn) in seen or fn.inputs is None:
            continue
        seen.add(id(fn))
        nodes.append(fn)
        stack.extend(t.grad_fn for t in fn.inputs if t.grad_fn is not None)
    return nodes


def _check_node_dtypes(outputs: Sequence[Tensor], name: str) -> None:
    """Each op's backward must return gradients in its inputs' dtypes (the engine would cast
    them back silently, hiding a backward that computes in the wrong precision)."""
    rng = np.random.default_rng(0)
    for fn in _graph_nodes(outputs):
        metas = getattr(fn, "_output_meta", None)
        grads_out = []
        for index, ref in enumerate(fn._output_refs):
            out = ref()
            shape, dtype = (out.shape, out.dtype) if out is not None else metas[index]
            grads_out.append(Tensor(rng.standard_normal(shape).astype(dtype)))
        try:
            with autograd.no_grad():
                result = fn.backward(*grads_out)
        except Exception:      # noqa: BLE001  (a crash shows up in the real backward instead)
            continue
        result = result if isinstance(result, tuple) else (result,)
        for k, (tensor, g) in enumerate(zip(fn.inputs, result)):
            if g is None or not tensor.requires_grad:
                continue
            g_dtype = g.dtype if isinstance(g, (Tensor, np.ndarray)) else np.asarray(g).dtype
            if g_dtype != tensor.dtype:
                raise _fail(name, f"{fn.name}.backward returns a {g_dtype} gradient for its "
                                  f"{tensor.dtype} input {k} (shape {tensor.shape}): wrong "
                                  "dtype. Build constants in the input's dtype (an np.float64 "
                                  "scalar or array upcasts float32)")


_SHAPE_ERROR = re.compile(r"^(.*) returned a gradient of shape (\(.*?\)) for an input of shape "
                          r"(\(.*?\))")


def _explain_backward_error(error: Exception, name: str, names: dict) -> GradcheckError:
    """Turn a failure inside backward into a readable GradcheckError."""
    match = _SHAPE_ERROR.match(str(error))
    if match is None:
        hint = f"\n  likely cause: {_KEEPDIMS}" if "broadcast" in str(error) else ""
        return _fail(name, f"backward raised {type(error).__name__}: {error}{hint}")
    where, got, want = match.groups()
    got_t, want_t = ast.literal_eval(got), ast.literal_eval(want)
    if got_t == tuple(reversed(want_t)) and len(got_t) > 1:
        hint = ("it is the transpose of the right shape: a transposed gradient (for y = x W "
                "the weight gradient is xᵀ·dy, not dyᵀ·x)")
    elif len(got_t) >= len(want_t):
        hint = ("the gradient was not summed back over the axes the forward broadcast over: "
                "a forgotten broadcast reduction (sum over the batch axis and every stretched "
                "axis)")
    else:
        hint = "an axis was summed away that the input has"
    wanted = names.get(want_t)
    target = f" ({wanted})" if wanted else ""
    return _fail(name, f"{where} returned a gradient of shape {got_t} for an input of shape "
                       f"{want_t}{target}: {hint}")


# -- the pieces of the check -----------------------------------------------------------------
class _Run:
    """One check in progress: the subject, the tensors differentiated and the upstream v."""

    def __init__(self, subject: _Subject, x: Tensor, name: str, seed: int) -> None:
        self.subject, self.name = subject, name
        self.x = x
        self.rng = np.random.default_rng([seed, 1])   # a stream apart from the input's
        outputs = subject(x)
        self.picked = _differentiable(outputs, name)
        self.outputs = outputs
        self.wrt = [("input", x)] + subject.params
        self.v = [self.rng.standard_normal(outputs[k].shape).astype(outputs[k].dtype)
                  for k in self.picked]

    def shape_names(self) -> dict:
        return {t.shape: _what(label) for label, t in reversed(self.wrt)}

    def vjp(self, v: Sequence[np.ndarray], x: Optional[Tensor] = None,
            walk: bool = False) -> List[np.ndarray]:
        """Analytic ``vᵀ ∂y/∂t`` for every checked tensor t (zeros where t is unused)."""
        x = self.x if x is None else x
        wrt = [("input", x)] + self.subject.params
        outputs = self.subject(x)
        ys = [outputs[k] for k in self.picked]
        before = [vk.copy() for vk in v]
        watch = RawGradientWatch({id(t): f" ({_what(label)})" for label, t in wrt})
        try:
            with watch:
                grads = autograd.grad(ys, [t for _, t in wrt], [Tensor(vk) for vk in v],
                                      retain_graph=walk, allow_unused=True)
        except Exception as error:     # noqa: BLE001  (reported with the layer's name)
            if watch.problem():
                raise _fail(self.name, watch.problem()) from None
            raise _explain_backward_error(error, self.name, self.shape_names()) from error
        if watch.problem():
            raise _fail(self.name, watch.problem())
        if any(not np.array_equal(vk, b) for vk, b in zip(v, before)):
            raise _fail(self.name, "backward modified the upstream gradient in place (its "
                                   "incoming gradient changed during backward); a backward "
                                   "must treat its incoming gradient as read-only and return "
                                   "a new array")
        if walk:
            _check_node_dtypes(ys, self.name)
        result = []
        for (label, t), g in zip(wrt, grads):
            g = np.zeros_like(t.data) if g is None else g.data
            if g.shape != t.shape or g.dtype != t.dtype:
                raise _fail(self.name, f"the gradient of {_what(label)} has shape {g.shape} and "
                                       f"dtype "
                                       f"{g.dtype}, expected {t.shape} {t.dtype}")
            result.append(g)
        return result

    def weighted(self, x: Optional[Tensor] = None,
                 v: Optional[Sequence[np.ndarray]] = None) -> np.ndarray:
        """⟨v, y(x)⟩ summed over the outputs, evaluated without recording."""
        with autograd.no_grad():
            outputs = self.subject(self.x if x is None else x)
        v = self.v if v is None else v
        return np.asarray(sum(np.vdot(vk, outputs[k].data) for vk, k in zip(v, self.picked)))


def _same(a: Sequence[np.ndarray], b: Sequence[np.ndarray]) -> bool:
    return all(np.allclose(p, q, rtol=1e-10, atol=1e-12, equal_nan=True) for p, q in zip(a, b))


def _check_repeatable(run: _Run, grads: List[np.ndarray]) -> None:
    """A second call with the same input gives the same output and the same gradients."""
    again = run.subject(run.x)
    for k in run.picked:
        if not np.array_equal(again[k].data, run.outputs[k].data, equal_nan=True):
            raise _fail(run.name, f"output {k} differs between two calls with the same input: "
                                  "the layer keeps state between calls or draws random numbers "
                                  "from a generator other than minigrad.random.default_rng() or "
                                  "its own rng attribute, so no gradient check can hold it fixed")
    if not _same(run.vjp(run.v), grads):
        raise _fail(run.name, "backward gives different gradients on a second call with the same "
                              "input and upstream gradient: state is kept between calls (a "
                              "cache updated in backward?)")


def _check_linear(run: _Run, grads: List[np.ndarray]) -> None:
    """vjp(2v − ½w) = 2·vjp(v) − ½·vjp(w): backward is linear in the upstream gradient."""
    w = [run.rng.standard_normal(vk.shape).astype(vk.dtype) for vk in run.v]
    grads_w = run.vjp(w)
    combined = run.vjp([2 * vk - 0.5 * wk for vk, wk in zip(run.v, w)])
    for (label, _), lhs, g, gw in zip(run.wrt, combined, grads, grads_w):
        rhs = 2 * g - 0.5 * gw
        scale = max(float(np.max(np.abs(rhs), initial=0.0)), 1.0)
        if not np.allclose(lhs, rhs, rtol=1e-7, atol=1e-9 * scale):
            raise _fail(run.name, f"backward is not linear in the upstream gradient (the "
                                  f"gradient of {_what(label)} for 2·v − ½·w is not "
                                  "2·g(v) − ½·g(w)): "
                                  "does backward ignore its incoming gradient (as if it were "
                                  "all ones, the book's dout=1) or use it non-linearly?")


def _gradient_jumps(run: _Run, grads: List[np.ndarray], eps: float) -> List[np.ndarray]:
    """max |g(θ ± h u) − g(θ)| for a random direction u of every tensor.

    A smooth layer's gradient barely moves over h, even when it is wrong; at a point where
    ops meet at their kinks (identical rows through batch norm then ReLU, say) it jumps, and
    the analytic value there is a convention, not a derivative, even where the composite is
    smooth (as relu(t) − relu(−t) = t, whose backward gives 0 at t = 0).
    """
    tensors = [t for _, t in run.wrt]
    originals = [t.data.copy() for t in tensors]
    directions = [run.rng.standard_normal(t.shape) for t in tensors]
    sides = []
    for h in (eps, -eps):
        for t, start, u in zip(tensors, originals, directions):
            t.data[...] = start + h * u
        sides.append(run.vjp(run.v))
    for t, start in zip(tensors, originals):
        t.data[...] = start
    return [np.maximum(np.abs(p - g), np.abs(m - g)) for p, m, g in zip(*sides, grads)]


def _diagnose(label: str, analytic: np.ndarray, numeric: np.ndarray, x_shape: tuple,
              atol: float, rtol: float) -> str:
    """A guess at the kind of mistake, from how the two gradients differ."""
    def close(a: np.ndarray, b: np.ndarray) -> bool:
        return np.allclose(a, b, rtol=rtol, atol=atol)

    if np.all(np.abs(numeric) <= atol):
        return (f"the output does not change when {label} changes (the numerical gradient is "
                f"0), yet backward returns a gradient: is {label} unused, or does forward use a "
                "stale copy of it cached on an earlier call?")
    if np.all(np.abs(analytic) <= atol):
        return (f"backward returns 0 for {label} although the output depends on it: a "
                "gradient that is never returned, or a mask that zeroes everything?")
    if close(analytic, -numeric):
        return "the analytic gradient is the numerical one with the sign flipped: a wrong sign"
    ratio = float(np.vdot(analytic, numeric) / np.vdot(numeric, numeric))
    if close(analytic, ratio * numeric):
        text = f"the analytic gradient is {ratio:.4g} × the numerical one everywhere"
        for factor, what in ((ratio, "missing"), (1 / ratio, "extra")):
            n = round(factor)
            if n > 1 and abs(factor - n) < 1e-3 * n:
                sides = [i for i, side in enumerate(x_shape) if side == n]
                where = f" (axis {sides[0]} of the input has length {n})" if sides else ""
                return f"{text}: a {what} factor 1/N with N = {n}{where}"
        return f"{text}: a wrong constant factor"
    if analytic.ndim == 2 and analytic.shape[0] == analytic.shape[1] and \
            close(analytic, numeric.T):
        return ("the analytic gradient is the transpose of the numerical one: a transposed "
                "weight gradient (for y = x W it is xᵀ·dy)")
    return ""


def _compare(run: _Run, grads: List[np.ndarray], eps: float, atol: float,
             rtol: float) -> Tuple[List[GradientCheck], int]:
    """Each gradient against central differences; returns the table and the kinks found."""
    table, total_kinks, jumps = [], 0, []
    for position, ((label, t), analytic) in enumerate(zip(run.wrt, grads)):
        numeric = central_difference(run.weighted, t.data, eps)
        error = np.abs(analytic - numeric)
        bad = error > atol + rtol * np.abs(numeric)
        kink = at_kink(run.weighted, t.data, analytic, bad, eps, atol, rtol)
        if (bad & ~kink).any():
            jumps = jumps or _gradient_jumps(run, grads, eps)
            kink = kink | (bad & (jumps[position] > 0.1 * error))
        wrong = bad & ~kink
        if wrong.any():
            worst = np.unravel_index(int(np.argmax(np.where(wrong, error, -1.0))), error.shape)
            a, n = float(analytic[worst]), float(numeric[worst])
            lines = [f"the gradient of {_what(label)} (shape {t.shape}) is wrong",
                     f"  worst at index {tuple(int(i) for i in worst)}: analytic {a:.6g} vs "
                     f"numerical {n:.6g} (abs error {abs(a - n):.3g}, rel error "
                     f"{abs(a - n) / max(abs(n), atol):.3g}; atol {atol:g}, rtol {rtol:g})",
                     f"  {int(wrong.sum())} of {t.size} elements disagree "
                     "(random upstream gradient, central differences)"]
            hint = _diagnose(_what(label), analytic, numeric, run.x.shape, atol, rtol)
            if hint:
                lines.append(f"  likely cause: {hint}")
            if kink.any():
                lines.append(f"  ({int(kink.sum())} more elements sit at a kink and were not "
                             "compared)")
            raise _fail(run.name, "\n".join(lines))
        smooth = ~kink
        err = error[smooth]
        table.append(GradientCheck(
            name=label, shape=t.shape,
            max_abs_error=float(np.max(err, initial=0.0)),
            max_rel_error=float(np.max(err / np.maximum(np.abs(numeric[smooth]), atol),
                                       initial=0.0)),
            max_gradient=float(np.max(np.abs(numeric), initial=0.0)),
            kinks=int(kink.sum())))
        total_kinks += int(kink.sum())
    return table, total_kinks


def _directional(run: _Run, x2: Tensor, v: Sequence[np.ndarray], eps: float, atol: float,
                 rtol: float) -> Optional[Tuple[float, float]]:
    """Σ⟨gₜ, uₜ⟩ against (⟨v, y(θ + h u)⟩ − ⟨v, y(θ − h u)⟩) / 2h along a random direction u of
    the input x2 and every parameter checked; None if they agree (or differ at a kink), else
    (analytic, numerical)."""
    grads = run.vjp(v, x2)
    tensors = [x2] + [p for _, p in run.subject.params]
    directions = [run.rng.standard_normal(t.shape) for t in tensors]
    analytic = float(sum(np.vdot(g, u) for g, u in zip(grads, directions)))
    originals = [t.data.copy() for t in tensors]

    def shifted(h: float) -> float:
        for t, start, u in zip(tensors, originals, directions):
            t.data[...] = start + h * u
        value = float(run.weighted(x2, v))
        for t, start in zip(tensors, originals):
            t.data[...] = start
        return value

    numeric = central(shifted, eps)
    if abs(analytic - numeric) <= atol + rtol * abs(numeric):
        return None
    if slopes_differ(*one_sided(shifted, eps), eps) and \
            _right_apart_from_kinks(run, x2, v, grads, (eps, atol, rtol)):
        return None                        # a kink on the way (x's zeros stay zeros in x2)
    return analytic, numeric


def _right_apart_from_kinks(run: _Run, x2: Tensor, v: Sequence[np.ndarray],
                            grads: List[np.ndarray], settings: Tuple[float, float, float]
                            ) -> bool:
    """Whether, at x2, every element of every gradient matches central differences except
    those at a kink: the careful check when the directional one crossed a kink."""
    eps, atol, rtol = settings
    weighted = functools.partial(run.weighted, x2, v)
    for t, analytic in zip([x2] + [p for _, p in run.subject.params], grads):
        numeric = central_difference(weighted, t.data, eps)
        bad = np.abs(analytic - numeric) > atol + rtol * np.abs(numeric)
        if not at_kink(weighted, t.data, analytic, bad, eps, atol, rtol)[bad].all():
            return False
    return True


def _check_new_input(run: _Run, layer: Any, seed: int, eps: float, atol: float,
                     rtol: float) -> None:
    """On a second, different input the gradient is still right (no stale cache)."""
    x2 = Tensor(_other_input(run.x.data, run.rng), requires_grad=True)
    wrong = _directional(run, x2, run.v, eps, atol, rtol)
    if wrong is not None:
        raise _fail(run.name, f"the gradient is wrong on a second, different input of the same "
                              f"shape (directional derivative along a random direction: "
                              f"analytic {wrong[0]:.6g} vs numerical {wrong[1]:.6g}), although "
                              "it was right on the first: backward uses a stale cache from an "
                              "earlier call (saved on the class or the module instead of the "
                              "Function instance?)")
    if run.subject.module is not None:
        fresh = _Subject(layer, np.float64, seed, params=False, values=run.subject.values)
        expected = fresh(Tensor(x2.data))
        outputs = run.subject(x2)
        if not _same([outputs[k].data for k in run.picked],
                     [expected[k].data for k in run.picked]):
            raise _fail(run.name, "on a new input the output differs from that of a fresh copy "
                                  "of the layer: the layer keeps state from earlier calls (a "
                                  "stale cache)")


_KEEPDIMS = ("a reduction in backward (a mean or sum over an axis) that dropped its axis "
             "(keepdims=False), so that it broadcasts back against the input correctly only "
             "when the other axis has length 1, as for a batch of one? Use keepdims=True")


def _check_other_batch(run: _Run, eps: float, atol: float, rtol: float) -> str:
    """The gradient is right on a batch of another size too (axis 0 of the input longer by
    2): a keepdims slip can be right for a batch of one only. Returns a note if the layer does
    not take such a batch (its forward raises), "" if checked."""
    x = run.x.data
    if x.ndim < 2:
        return ""
    n, m = x.shape[0], x.shape[0] + 2
    shape = (m,) + x.shape[1:]
    values = run.rng.choice(x.reshape(-1), size=shape) * run.rng.uniform(0.5, 1.0, size=shape)
    x3 = Tensor(values, requires_grad=True)
    try:
        with autograd.no_grad():
            outputs = run.subject(x3)
    except Exception as error:                 # noqa: BLE001  (a layer for one batch size)
        return (f"not checked on a batch of another size: the layer raised on an input of "
                f"shape {shape} ({type(error).__name__}: {error})")
    v = [run.rng.standard_normal(outputs[k].shape) for k in run.picked]
    where = f"right on a batch of {n} (input {x.shape}) but"
    try:
        wrong = _directional(run, x3, v, eps, atol, rtol)
    except GradcheckError as error:
        text = str(error).replace(f"check_layer: {run.name}: ", "", 1)
        hint = "" if "likely cause" in text else f"\n  likely cause: {_KEEPDIMS}"
        raise _fail(run.name, f"the gradient is {where} backward fails on a batch of {m} (input "
                              f"{shape}): {text}{hint}") from None
    if wrong is not None:
        cause = _KEEPDIMS if n == 1 else ("a factor 1/N or a reduction over the wrong axis, "
                                          "right only for this batch size?")
        raise _fail(run.name, f"the gradient is {where} wrong on a batch of {m} (input {shape}; "
                              f"directional derivative along a random direction: analytic "
                              f"{wrong[0]:.6g} vs numerical {wrong[1]:.6g})\n  likely cause: "
                              f"{cause}")
    return ""


def _check_float32(layer: Any, x: np.ndarray, name: str, seed: int, params: bool,
                   values: Optional[Dict[str, np.ndarray]] = None) -> str:
    """float32 in gives float32 out and float32 gradients; returns a note if not accepted."""
    subject = _Subject(layer, np.float32, seed, params, values)
    x32 = Tensor(x.astype(np.float32), requires_grad=True)
    try:
        outputs = subject(x32)
    except TypeError as error:
        return f"float32 not checked: the layer does not accept a float32 input ({error})"
    for k, y in enumerate(outputs):
        if isinstance(y, Tensor) and y.dtype.kind == "f" and y.dtype != np.float32:
            cast = "" if subject.module is not None or isinstance(layer, type) else (
                " (check_layer cannot cast a plain callable: a float64 tensor it closes over "
                "upcasts too; build such tensors in the input's dtype)")
            raise _fail(name, f"wrong dtype: a float32 input gives a {y.dtype} output {k}; "
                              "build constants in the input's dtype (an np.float64 scalar or "
                              f"array, e.g. np.sqrt(2 / np.pi), upcasts float32){cast}")
    run = _Run(subject, x32, name, seed)
    run.vjp(run.v, walk=True)
    return ""


# -- the public entry point ------------------------------------------------------------------
def check_layer(layer: Any, x: Any, *, params: Union[bool, Mapping[str, Any]] = True,
                eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                seed: int = 0) -> LayerCheckReport:
    """Check a layer's backward pass, in float64, against central differences and more.

    For a seeded random upstream gradient v of the output y, the analytic vector-Jacobian
    products ``vᵀ ∂y/∂x`` and ``vᵀ ∂y/∂θ`` (every parameter θ, unless ``params=False``) must
    match the central differences ``(⟨v, y(x + h eᵢ)⟩ − ⟨v, y(x − h eᵢ)⟩) / 2h`` elementwise
    within ``atol + rtol·|numerical|`` (h = ``eps``). Also checked:

    - what each of the layer's own ``Function.backward`` returned, before the engine sums a
      broadcast gradient back to its input's shape: a gradient of another shape than its input
      (a forgotten ``db = Σ dy``) is an error naming the axes to sum over;
    - backward is linear in v, leaves v unchanged, and returns gradients of each tensor's
      shape and dtype (every op on the tape, in its inputs' dtype);
    - a second call gives the same output and gradients, and on a different input, and on a
      batch of another size (axis 0 longer by 2), the gradient is still right;
    - float32 in gives float32 out (skipped, with a note, if float32 raises TypeError);
    - all of the gradient checks again at parameters drawn at random (seeded, same shapes and
      dtypes, ``± s·u`` with u ~ U[0.5, 1.5] and s the RMS of the initial values; a parameter
      that is all positive, or named like a scale or variance, is drawn positive), because a
      backward that forgets γ is right while γ = 1 (see ``minigrad.testing.parameters``).

    The layer is never modified: a Module is deep-copied and cast with ``.to(np.float64)``;
    minigrad's generator is reseeded with ``seed`` before every evaluation (so a dropout mask
    is the same each time) and restored afterwards; buffers (BatchNorm's running statistics)
    and the copy's own generators are reset before every evaluation. The cost is two forward
    passes per element of the input and of every parameter, twice: use small layers and inputs.

    Parameters
    ----------
    layer : Module, Function subclass or callable
        Called as ``layer(x)`` (``layer.apply(x)`` for a Function); returns a Tensor or a
        tuple of them.
    x : array_like, Tensor or tuple of ints
        An example input, or a shape (a tuple of ints) to draw standard normal values in.
    params : bool or dict
        True: check every parameter's gradient (Modules), at the initial values and at random
        ones. False: only the input's gradient (still at both). A dict ``{name: value}``
        (a number fills the parameter): check at these values only, for a parameter with a
        constraint the random draw cannot know; the report says nothing was varied.
    eps, atol, rtol : float
        Step of the central differences and the tolerances.
    seed : int
        Seeds the upstream gradient, the second input, the random parameters and minigrad's
        generator.

    Returns
    -------
    LayerCheckReport
        Per-gradient max abs/rel errors (at the initial and at the random parameters), the
        checks passed and notes.

    Raises
    ------
    GradcheckError
        With a readable explanation (which gradient, the worst element, a likely cause, and
        whether it failed at the initial parameters or only at the random ones).

    Warns
    -----
    GradcheckWarning
        When the pass is vacuous (every gradient compared is ≈ 0), or when some elements sit
        at a kink of a piecewise op (ReLU at 0), where they are reported, not compared.
    """
    check_settings("check_layer", eps, atol, rtol, seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"check_layer: seed must be an integer, got {seed!r}")
    if not isinstance(params, (bool, Mapping)):
        raise TypeError(f"check_layer: params must be True, False or a dict of parameter "
                        f"values, got {params!r}")
    name = _layer_name(layer)
    array = _example_input(x, seed)
    saved_state = copy.deepcopy(default_rng().bit_generator.state)
    try:
        return _check(layer, array, name, params, eps, atol, rtol, seed)
    finally:
        default_rng().bit_generator.state = saved_state     # the user's random stream goes on


def _check(layer: Any, array: np.ndarray, name: str, params: Union[bool, Mapping[str, Any]],
           eps: float, atol: float, rtol: float, seed: int) -> LayerCheckReport:
    """The initial (or given) parameters, then random ones."""
    checked = params is not False
    given = None
    if isinstance(params, Mapping):
        named = _Subject(layer, np.float64, seed, params=True).named
        if not named and params:
            raise ParameterValuesError(f"check_layer: params= gives values, but {name} has "
                                       "no parameters to set (only a Module has)")
        given = given_parameters(named, params)
    subject = _Subject(layer, np.float64, seed, checked, given)
    neutral = neutral_values(subject.named)
    try:
        report = _check_at(subject, layer, array, name, eps, atol, rtol, seed)
    except GradcheckError as error:
        if not subject.named:
            raise
        where = "the given" if given is not None else "the initial"
        at = f" ({', '.join(neutral)})" if neutral else ""
        raise GradcheckError(f"{error}\n  (found at {where} parameters{at})") from None
    names = ", ".join(n for n, _ in subject.named)
    if given is not None:
        report.parameters = f"given by params= ({names}); not varied"
        report.notes.append(f"the parameters were not varied: checked only at the values given "
                            f"by params= ({names})")
    elif subject.named:
        values, positive = draw_parameters(subject.named, seed)
        initial = {n: p.data.copy() for n, p in subject.named
                   if any(text.startswith(f"{n} = ") for text in neutral)}
        report.random_gradients = _check_at_random(layer, array, name, checked, values,
                                                   (eps, atol, rtol), seed, initial)
        kept = f"; drawn positive: {', '.join(positive)}" if positive else ""
        report.parameters = f"initial, then drawn at random (seed {seed}{kept})"
        report.checks.append(f"the gradients also match at parameters drawn at random "
                             f"(seed {seed}{kept})")
    return report


def _check_at_random(layer: Any, array: np.ndarray, name: str, checked: bool,
                     values: Dict[str, np.ndarray], settings: Tuple[float, float, float],
                     seed: int, initial: Dict[str, np.ndarray]) -> List[GradientCheck]:
    """The gradient checks again at random parameter values; returns their table. ``initial``
    holds the parameters whose initial elements all shared one value (γ = 1)."""
    eps, atol, rtol = settings
    subject = _Subject(layer, np.float64, seed, checked, values)
    x = Tensor(array.copy(), requires_grad=True)
    prefix = f"check_layer: {name}: "
    try:
        run = _Run(subject, x, name, seed)
        if not all(np.all(np.isfinite(run.outputs[k].data)) for k in run.picked):
            raise _fail(name, "the output is not finite")
    except Exception as error:                     # noqa: BLE001  (explained for the user)
        text = str(error).replace(prefix, "", 1)
        raise GradcheckError(f"{prefix}the layer fails at parameters drawn at random (seed "
                             f"{seed}): {type(error).__name__}: {text}. If a parameter has a "
                             "constraint the draw cannot know, give its values with "
                             "params={name: value} (minigrad check: --param NAME=VALUE)") from None
    try:
        grads = run.vjp(run.v, walk=True)
        _check_linear(run, grads)
        table, _ = _compare(run, grads, eps, atol, rtol)
        _check_new_input(run, layer, seed, eps, atol, rtol)
    except GradcheckError as error:
        neutral = [f"{n} = {float(v.reshape(-1)[0]):g}" for n, v in initial.items()]
        forgotten = _forgotten(run, failing_gradient(str(error)), initial, settings)
        raise explain_at_random(error, prefix, neutral, seed, forgotten) from None
    return table


def _forgotten(run: _Run, label: Optional[str], initial: Dict[str, np.ndarray],
               settings: Tuple[float, float, float]) -> List[str]:
    """The parameters whose initial value makes the wrong gradient ``label`` right: put back
    alone, each gives numerical gradients equal to the analytic ones at the random values."""
    eps, atol, rtol = settings
    tensors = dict(run.wrt)
    if label not in tensors:
        return []
    position = [key for key, _ in run.wrt].index(label)
    analytic = run.vjp(run.v)[position]
    found = []
    for name, tensor in run.subject.named:
        if name not in initial or name == label:
            continue
        drawn = tensor.data.copy()
        tensor.data[...] = initial[name]
        try:
            numeric = central_difference(run.weighted, tensors[label].data, eps)
        finally:
            tensor.data[...] = drawn
        if np.allclose(analytic, numeric, rtol=rtol, atol=atol):
            found.append(name)
    return found


def _check_at(subject: _Subject, layer: Any, array: np.ndarray, name: str, eps: float,
              atol: float, rtol: float, seed: int) -> LayerCheckReport:
    """Every check at the subject's parameter values (the initial or given ones)."""
    x = Tensor(array.copy(), requires_grad=True)
    run = _Run(subject, x, name, seed)
    for k in run.picked:
        if run.outputs[k].dtype != np.float64:
            raise _fail(name, f"wrong dtype: a float64 input gives a {run.outputs[k].dtype} "
                              f"output {k}; build every constant and parameter in the input's "
                              "dtype (a callable cannot be cast by check_layer: pass a Module, "
                              "or build it in float64)")
    report = LayerCheckReport(layer=name, input_shape=x.shape,
                              output_shapes=[run.outputs[k].shape for k in run.picked])
    grads = run.vjp(run.v, walk=True)
    report.checks.append("upstream gradient left unchanged; right shapes (as each backward "
                         "returned them) and dtypes")
    _check_repeatable(run, grads)
    report.checks.append("same output and gradients on a second call")
    _check_linear(run, grads)
    report.checks.append("backward linear in the upstream gradient")
    report.gradients, kinks = _compare(run, grads, eps, atol, rtol)
    labels = ", ".join(label for label, _ in run.wrt)
    report.checks.append(f"central differences (float64, random upstream gradient) match the "
                         f"gradients of {labels}")
    _check_new_input(run, layer, seed, eps, atol, rtol)
    report.checks.append("still right on a second, different input (no stale cache)")
    note = _check_other_batch(run, eps, atol, rtol)
    if note:
        report.notes.append(note)
    elif x.ndim >= 2:
        report.checks.append(f"still right on a batch of {x.shape[0] + 2} (axis 0 longer)")
    note = _check_float32(layer, array, name, seed, subject.params != [], subject.values)
    if note:
        report.notes.append(note)
    else:
        report.checks.append("float32 in gives float32 out and float32 gradients")
    _warn_traps(report, grads, kinks, name, atol)
    return report


def _warn_traps(report: LayerCheckReport, grads: List[np.ndarray], kinks: int, name: str,
                atol: float) -> None:
    """Notes and warnings for elements at a kink and for a vacuous pass."""
    if kinks:
        message = (f"{kinks} gradient element(s) sit at a kink of a piecewise op (ReLU at 0, "
                   "max at a tie, also inside the layer): the derivative jumps there, so the "
                   "analytic value is a one-sided or conventional one and they were not "
                   "compared; draw inputs away from kinks "
                   "(minigrad.testing.strategies.arrays(away_from=...))")
        report.notes.append(message)
        warnings.warn(f"check_layer: {name}: {message}", GradcheckWarning, stacklevel=5)
    if all(g.max_gradient <= atol for g in report.gradients) and \
            all(np.all(np.abs(g) <= atol) for g in grads):
        report.vacuous = True
        message = ("the pass is vacuous: every gradient compared is ≈ 0, so it proves nothing "
                   "(a batch of one through a normalisation? a layer that ignores its input?)")
        report.notes.append(message)
        warnings.warn(f"check_layer: {name}: {message}", GradcheckWarning, stacklevel=5)
