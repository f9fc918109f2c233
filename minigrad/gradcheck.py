"""Check analytic gradients against central differences.

The check compares vector-Jacobian products: for a seeded random upstream gradient v of each
output y, the analytic ``vᵀ ∂y/∂x`` from backward against the numerical
``(⟨v, y(x + h eᵢ)⟩ − ⟨v, y(x − h eᵢ)⟩) / 2h`` for every element i of every input. A random v
(never all ones, never ``sum(y)``) is what catches a backward that is wrong only in directions
a sum cannot see, such as a softmax backward that returns zeros.
"""
from __future__ import annotations

import functools
import itertools
import numbers
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from . import autograd
from ._checks import real_number
from ._display import html_pre
from .finite_differences import at_kink, central_difference
from .tensor import Tensor


class GradcheckError(AssertionError):
    """An analytic gradient disagrees with the numerical one (the message says where)."""

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(f"{type(self).__name__}:\n{self}")    # the message, its lines kept

    def _repr_html_(self) -> str:
        first, _, details = str(self).partition("\n")    # what is wrong, then where and how much
        return html_pre(f"{type(self).__name__}: {first}", details)


class GradcheckWarning(UserWarning):
    """A gradient check passed, but vacuously (every gradient compared was zero)."""


def check_settings(op: str, eps: float, atol: float = 0.0, rtol: float = 0.0,
                   seed: Optional[int] = None, flag: str = "") -> None:
    """Refuse settings that would make a check meaningless: a step ``eps`` that is not a finite
    positive number, a tolerance that is NaN (every comparison false: everything passes),
    negative or infinite, a negative seed (any other seed goes to ``np.random.default_rng``).
    Errors name ``op`` and the setting (prefixed with ``flag``, e.g. '--' for an option)."""
    for name, value, positive in (("eps", eps, True), ("atol", atol, False),
                                  ("rtol", rtol, False)):
        number = real_number(value, f"{flag}{name}", op)
        if not np.isfinite(number) or number < 0 or (positive and number == 0):
            kind = "a finite positive" if positive else "a finite non-negative"
            raise ValueError(f"{op}: {flag}{name} must be {kind} number, got {value!r}")
    if isinstance(seed, (bool, np.bool_, str, bytes)):
        raise TypeError(f"{op}: {flag}seed must be an integer, got {seed!r}")
    if isinstance(seed, numbers.Integral) and seed < 0:
        raise ValueError(f"{op}: {flag}seed must be a non-negative integer, got {seed!r}")


# -- what each backward itself returned -------------------------------------------------------
def is_under_test(fn: Any) -> bool:
    """Whether the checkers hold ``fn``'s backward to the raw-shape rule: every Function defined
    outside the minigrad package (the user's own ops). minigrad's own broadcasting ops (add,
    mul, ...) return unreduced gradients on purpose and leave the reduction to the engine's
    ``sum_to``, as PyTorch's do; a user's backward must reduce its own gradients, or the
    engine's sum would hide a forgotten ``db = Σ dy`` from every check."""
    module = type(fn).__module__ or ""
    return module != "minigrad" and not module.startswith("minigrad.")


def _axes_text(axes: Sequence[int]) -> str:
    return f"axis {axes[0]}" if len(axes) == 1 else f"axes {tuple(axes)}"


def _broadcast_axes(grad_shape: Tuple[int, ...], shape: Tuple[int, ...]) -> Optional[list]:
    """The axes of ``grad_shape`` to sum over to get ``shape`` back (the axes ``shape`` was
    broadcast over), or None if ``shape`` does not broadcast to ``grad_shape``."""
    lead = len(grad_shape) - len(shape)
    if lead < 0 or any(n != 1 and n != m for n, m in zip(shape, grad_shape[lead:])):
        return None
    return list(range(lead)) + [lead + i for i, (n, m) in enumerate(zip(shape, grad_shape[lead:]))
                                if n == 1 and m != 1]


def _reduced_over(upstream: Tuple[int, ...], grad_shape: Tuple[int, ...]) -> Optional[list]:
    """The axes of ``upstream`` that, summed away (with or without keepdims), give
    ``grad_shape``; None if no set of axes does."""
    for count in range(1, len(upstream) + 1):
        for axes in itertools.combinations(range(len(upstream)), count):
            kept = tuple(1 if i in axes else n for i, n in enumerate(upstream))
            dropped = tuple(n for i, n in enumerate(upstream) if i not in axes)
            if grad_shape in (kept, dropped):
                return list(axes)
    return None


def raw_shape_problem(op: str, index: int, what: str, grad_shape: Tuple[int, ...],
                      shape: Tuple[int, ...], upstream: Sequence[Tuple[int, ...]]) -> str:
    """Why a gradient of ``grad_shape`` returned by ``op``'s backward for its input ``index``
    (of ``shape``, described by ``what``) is wrong, naming the axes to sum over."""
    head = (f"{op}.backward returned a gradient of shape {grad_shape} for its input {index} of "
            f"shape {shape}{what}")
    if len(grad_shape) > 1 and grad_shape == tuple(reversed(shape)):
        return (f"{head}: it is the transpose of the right shape: a transposed gradient (for "
                "y = x W the weight gradient is xᵀ·dy, not dyᵀ·x)")
    if np.prod(grad_shape, dtype=np.int64) == np.prod(shape, dtype=np.int64):
        return (f"{head}: the right number of values in the wrong shape (a reduction with "
                "keepdims=True where the input has no such axis, or the reverse?); return it "
                f"in the shape {shape}")
    axes = _broadcast_axes(grad_shape, shape) or _reduced_over(grad_shape, shape)
    if axes:
        keep = ", with keepdims=True" if len(grad_shape) == len(shape) else ""
        how = f"sum it over {_axes_text(axes)}{keep}"
        return (f"{head}: a forgotten broadcast reduction; {how}, the axes the forward "
                f"broadcast this input over (for a bias: db = Σ dy over the batch). The engine "
                "would sum it silently, so a backward must return its inputs' shapes itself")
    for up in upstream:
        right, wrong = _broadcast_axes(up, shape), _reduced_over(up, grad_shape)
        if right and wrong and right != wrong:
            return (f"{head}: summed over the wrong axis; it is the upstream gradient {up} "
                    f"summed over {_axes_text(wrong)}, but this input was broadcast over "
                    f"{_axes_text(right)}: sum over {_axes_text(right)} instead")
    return f"{head}: a backward must return one gradient of each input's shape"


class RawGradientWatch:
    """Context manager that looks at what each backward returned before the engine sums it
    to its input's shape (``minigrad.autograd.observe_backward``).

    Only Functions ``is_under_test`` are held to the rule that a gradient has its input's
    shape; ``labels`` maps ``id(tensor)`` to a description such as " (parameter 'bias')".
    After the block, ``problem()`` is the first mistake seen, or "".
    """

    def __init__(self, labels: Optional[Dict[int, str]] = None) -> None:
        self.labels = labels or {}
        self.problems: List[str] = []
        self._observer = autograd.observe_backward(self._record)

    def __enter__(self) -> "RawGradientWatch":
        self._observer.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._observer.__exit__(*exc_info)

    def _record(self, fn: Any, grad_outputs: Sequence[Any], grad_inputs: Any) -> None:
        if self.problems or not is_under_test(fn):
            return
        raw = grad_inputs if isinstance(grad_inputs, tuple) else (grad_inputs,)
        upstream = [np.shape(g.data if isinstance(g, Tensor) else g) for g in grad_outputs]
        for index, (tensor, g) in enumerate(zip(fn.inputs, raw)):
            if g is None or not isinstance(tensor, Tensor) or not tensor.requires_grad:
                continue
            shape = np.shape(g.data if isinstance(g, Tensor) else g)
            if shape != tensor.shape:
                what = self.labels.get(id(tensor), "")
                self.problems.append(raw_shape_problem(fn.name, index, what, shape,
                                                       tensor.shape, upstream))
                return

    def problem(self) -> str:
        """The first gradient of a wrong shape seen, explained; "" if none."""
        return self.problems[0] if self.problems else ""


def _outputs_of(f: Callable, inputs: Sequence[Any]) -> Tuple[Any, ...]:
    out = f(*inputs)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def _values(outputs: Sequence[Any]) -> list:
    return [o.data if isinstance(o, Tensor) else np.asarray(o) for o in outputs]


def _weighted_sum(f: Callable, inputs: Sequence[Any], weights: Sequence[Any]) -> float:
    """⟨v, f(inputs)⟩ summed over every output, evaluated without recording."""
    with autograd.no_grad():
        values = _values(_outputs_of(f, inputs))
    return float(sum(np.sum(w * y) for w, y in zip(weights, values) if w is not None))


def _weighted(f: Callable, inputs: Sequence[Any], weights: Sequence[Any]) -> Callable[[], float]:
    """s = ⟨v, f(inputs)⟩ as a function of no arguments, for the finite differences."""
    return functools.partial(_weighted_sum, f, inputs, weights)


def numerical_gradient(f: Callable, *inputs: Any, eps: float = 1e-6,
                       grad_output: Any = None) -> Union[np.ndarray, Tuple[np.ndarray, ...]]:
    """Central-difference gradient of ``⟨grad_output, f(*inputs)⟩`` for each input.

    ``f`` receives the inputs as given (Tensors or ndarrays). Without ``grad_output`` the output
    must have one element. Returns one array for one input, a tuple for several.
    """
    check_settings("numerical_gradient", eps)
    arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
    for i, a in enumerate(arrays):
        if not isinstance(a, np.ndarray) or a.dtype.kind != "f":
            raise TypeError(f"numerical_gradient: input {i} must be a floating Tensor or "
                            f"ndarray, got {type(inputs[i]).__name__}")
    if grad_output is None:
        outputs = _values(_outputs_of(f, inputs))
        if len(outputs) != 1 or outputs[0].size != 1:
            raise ValueError("numerical_gradient: f must return one value unless grad_output "
                             f"is given; it returned shapes {[o.shape for o in outputs]}")
        weights = [np.ones_like(outputs[0])]
    else:
        weights = [grad_output.data if isinstance(grad_output, Tensor) else grad_output]
    grads = tuple(central_difference(_weighted(f, inputs, weights), a, eps)
                  .astype(a.dtype, copy=False) for a in arrays)
    return grads[0] if len(grads) == 1 else grads


def _checked_inputs(inputs: Any, op: str) -> Tuple[Any, ...]:
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    for i, x in enumerate(inputs):
        if not isinstance(x, Tensor) or not x.requires_grad:
            continue
        if x.dtype != np.float64:
            raise TypeError(f"{op}: input {i} has dtype {x.dtype}; gradients are checked in "
                            "float64 only, because central differences in float32 lose about "
                            "half the digits and would hide real errors or invent false ones. "
                            "Convert with mg.tensor(x.numpy(), dtype=np.float64, "
                            "requires_grad=True)")
        if not np.all(np.isfinite(x.data)):
            raise ValueError(f"{op}: input {i} (shape {x.shape}) contains NaN or Inf")
    if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
        raise ValueError(f"{op}: no input requires grad, so there is nothing to check")
    return inputs


def _explain_mismatch(index: int, x: Tensor, out_index: int, analytic: np.ndarray,
                      numeric: np.ndarray, atol: float, rtol: float, kink: bool) -> str:
    error = np.abs(analytic - numeric)
    worst = np.unravel_index(int(np.argmax(error - rtol * np.abs(numeric))), analytic.shape)
    a, n = analytic[worst], numeric[worst]
    rel = abs(a - n) / max(abs(n), 1e-300)
    where = tuple(int(i) for i in worst)
    lines = [f"gradcheck: the gradient of input {index} (shape {x.shape}) through output "
             f"{out_index} is wrong",
             f"  worst at index {where}: analytic {a:.6g} vs numerical {n:.6g} "
             f"(abs error {abs(a - n):.3g}, rel error {rel:.3g}; atol {atol:g}, rtol {rtol:g})",
             f"  {int(np.sum(error > atol + rtol * np.abs(numeric)))} of {analytic.size} "
             "elements disagree"]
    if kink:
        lines.append("  note: the numerical derivative changes with the step size here, so the "
                     "input may sit at a kink of a piecewise op (ReLU at 0, max at a tie): "
                     "draw inputs away from kinks")
    return "\n".join(lines)


KEEPDIMS_HINT = ("a reduction in backward (a mean or sum over an axis) that dropped its axis "
                 "(keepdims=False), so that it broadcasts back against the input correctly "
                 "only when the other axis has length 1, as for a batch of one? Use "
                 "keepdims=True")


def _analytic_vjp(y: Tensor, diff_inputs: Sequence[Tuple[int, Tensor]],
                  v: np.ndarray) -> Tuple[tuple, str]:
    """vᵀ ∂y/∂x for every input, and the first problem seen in what a backward returned
    before the engine touched it (a gradient of another shape than its input) or ""."""
    watch = RawGradientWatch({id(x): f" (input {i} of f)" for i, x in diff_inputs})
    try:
        with watch:
            analytic = autograd.grad(y, [x for _, x in diff_inputs], Tensor(v),
                                     retain_graph=True, allow_unused=True)
    except ValueError as error:
        if watch.problem() or "broadcast" not in str(error):
            return (), watch.problem() or f"backward raised ValueError: {error}"
        return (), f"backward raised ValueError: {error}\n  likely cause: {KEEPDIMS_HINT}"
    except Exception:                          # noqa: BLE001  (explained if we can)
        if not watch.problem():
            raise
        return (), watch.problem()
    return analytic, watch.problem()


def _forgotten_input(f: Callable, inputs: Sequence[Any], index: int, analytic: np.ndarray,
                     weights: Sequence[Any], eps: float, atol: float, rtol: float) -> str:
    """A hint if the analytic gradient of input ``index`` is the true one at a point where some
    other input is all 1 or all 0: a backward that forgets that input (dx of a LayerNorm
    without γ is right only while γ = 1)."""
    for j, other in enumerate(inputs):
        if j == index or not isinstance(other, Tensor) or other.dtype.kind != "f":
            continue
        original = other.data.copy()
        for value in (1.0, 0.0):
            if np.all(original == value):
                continue
            other.data[...] = value
            try:
                numeric = central_difference(_weighted(f, inputs, weights), inputs[index].data,
                                             eps)
            finally:
                other.data[...] = original
            if np.allclose(analytic, numeric, rtol=rtol, atol=atol):
                return (f"\n  likely cause: the analytic gradient is the right one for input "
                        f"{j} = {value:g}: does the backward of input {index} use input {j}? "
                        f"(it is right only while input {j} is {value:g}, a common initial "
                        "value)")
    return ""


def _mismatch(f: Callable, inputs: Sequence[Any], input_: Tuple[int, Tensor], out_index: int,
              analytic: np.ndarray, numeric: np.ndarray, weights: Sequence[Any],
              settings: Tuple[float, float, float]) -> str:
    """The message for a gradient that disagrees: where, how much, a kink or a likely cause."""
    (i, x), (eps, atol, rtol) = input_, settings
    wrong = ~np.isclose(analytic, numeric, rtol=rtol, atol=atol)
    kink = bool(at_kink(_weighted(f, inputs, weights), x.data, analytic, wrong, eps, atol,
                        rtol)[wrong].all())    # every disagreeing element is at a kink
    message = _explain_mismatch(i, x, out_index, analytic, numeric, atol, rtol, kink)
    if not kink:
        message += _forgotten_input(f, inputs, i, analytic, weights, eps, atol, rtol)
    return message


def _fail(message: str, raise_exception: bool) -> bool:
    if raise_exception:
        raise GradcheckError(message)
    return False


def gradcheck(f: Callable, inputs: Any, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True,
              seed: Optional[int] = None) -> bool:
    """Check the backward of ``f`` at ``inputs`` against central differences.

    For every output and every input that requires grad, the analytic vector-Jacobian product
    with a seeded random upstream gradient v must equal the numerical one elementwise within
    ``atol + rtol·|numerical|``. Also checks that f is deterministic, that backward leaves v
    unchanged and returns gradients of each input's shape and dtype. Inputs must be float64.

    Returns True; on a mismatch raises ``GradcheckError`` saying which input, the worst index,
    analytic and numerical values and errors (or returns False if ``raise_exception=False``).
    """
    if not callable(f):
        raise TypeError(f"gradcheck: f must be a function, got {type(f).__name__}")
    check_settings("gradcheck", eps, atol, rtol, seed)
    inputs = _checked_inputs(inputs, "gradcheck")
    rng = np.random.default_rng(seed)
    diff_inputs = [(i, x) for i, x in enumerate(inputs)
                   if isinstance(x, Tensor) and x.requires_grad]
    outputs = _outputs_of(f, inputs)
    again = _values(_outputs_of(f, inputs))
    for k, (a, b) in enumerate(zip(_values(outputs), again)):
        if not np.array_equal(a, b, equal_nan=True):
            return _fail(f"gradcheck: output {k} of f differs between two calls with the same "
                         "inputs; hold randomness fixed (pass a dropout mask or rng) before "
                         "checking gradients", raise_exception)
    checked_any = False
    all_zero = True
    for k, y in enumerate(outputs):
        if not isinstance(y, Tensor) or not y.requires_grad:
            continue
        message, zero = _check_output(f, inputs, len(outputs), k, y, diff_inputs, rng,
                                      (eps, atol, rtol))
        if message:
            return _fail(message, raise_exception)
        checked_any = True
        all_zero &= zero
    if not checked_any:
        raise ValueError("gradcheck: no output of f requires grad, so there is nothing to check")
    if all_zero:
        warnings.warn("gradcheck passed vacuously: every gradient compared is zero (a batch of "
                      "one through a normalisation? a function that ignores its input?)",
                      GradcheckWarning, stacklevel=2)
    return True


def _check_output(f: Callable, inputs: Sequence[Any], n_outputs: int, k: int, y: Tensor,
                  diff_inputs: Sequence[Tuple[int, Tensor]], rng: np.random.Generator,
                  settings: Tuple[float, float, float]) -> Tuple[str, bool]:
    """Check every input's gradient through output k; returns (what is wrong or "", whether
    every gradient compared was ≈ 0)."""
    eps, atol, rtol = settings
    v = rng.standard_normal(y.shape).astype(y.dtype)
    v_before = v.copy()
    analytic, problem = _analytic_vjp(y, diff_inputs, v)
    if problem:
        return f"gradcheck: {problem}", False
    if not np.array_equal(v, v_before):
        return (f"gradcheck: backward modified the upstream gradient of output {k} in place; a "
                "backward must treat its incoming gradient as read-only"), False
    weights = [v if j == k else None for j in range(n_outputs)]
    all_zero = True
    for (i, x), g in zip(diff_inputs, analytic):
        g = np.zeros_like(x.data) if g is None else g.data
        if g.shape != x.shape or g.dtype != x.dtype:
            return (f"gradcheck: the gradient of input {i} has shape {g.shape} and dtype "
                    f"{g.dtype}, expected {x.shape} {x.dtype}"), False
        numeric = central_difference(_weighted(f, inputs, weights), x.data, eps)
        all_zero &= bool(np.all(np.abs(g) <= atol) and np.all(np.abs(numeric) <= atol))
        if not np.allclose(g, numeric, rtol=rtol, atol=atol):
            return _mismatch(f, inputs, (i, x), k, g, numeric, weights, settings), False
    return "", all_zero


def gradgradcheck(f: Callable, inputs: Any, grad_outputs: Any = None, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, raise_exception: bool = True,
                  seed: Optional[int] = None) -> bool:
    """Check second derivatives: gradcheck the function (x, v) ↦ vᵀ ∂f/∂x.

    The backward of f is run with ``create_graph=True``, so this checks that each op's backward
    is itself correctly differentiable. ``grad_outputs`` (v) default to seeded random arrays.
    """
    if not callable(f):
        raise TypeError(f"gradgradcheck: f must be a function, got {type(f).__name__}")
    check_settings("gradgradcheck", eps, atol, rtol, seed)
    inputs = _checked_inputs(inputs, "gradgradcheck")
    rng = np.random.default_rng(seed)
    outputs = [y for y in _outputs_of(f, inputs) if isinstance(y, Tensor) and y.requires_grad]
    if grad_outputs is None:
        grad_outputs = [rng.standard_normal(y.shape) for y in outputs]
    elif isinstance(grad_outputs, (Tensor, np.ndarray)):
        grad_outputs = [grad_outputs]
    vs = [Tensor(np.array(g.data if isinstance(g, Tensor) else g, dtype=np.float64),
                 requires_grad=True) for g in grad_outputs]
    positions = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    n = len(inputs)

    def first_derivatives(*args: Any) -> tuple:
        xs, v = args[:n], args[n:]
        with autograd.enable_grad():   # the numerical pass evaluates this under no_grad
            ys = [y for y in _outputs_of(f, xs) if isinstance(y, Tensor) and y.requires_grad]
            wrt = [xs[i] for i in positions]
            grads = autograd.grad(ys, wrt, v, create_graph=True, allow_unused=True)
        return tuple(g if g is not None else Tensor(np.zeros(x.shape))
                     for g, x in zip(grads, wrt))

    cut_off: List[str] = []
    with autograd.observe_backward(lambda fn, gys, gxs: _note_cut_off(fn, gys, gxs, cut_off)):
        first_derivatives(*inputs, *vs)
    if cut_off:
        names = ", ".join(dict.fromkeys(cut_off))
        return _fail(f"gradgradcheck: {names}.backward returned a gradient that is not on the "
                     "tape (computed with NumPy on .data, or wrapped in a new Tensor), so it "
                     "cannot be differentiated a second time (its part of the second derivative "
                     f"would be lost). Either write {names}.backward with Tensor ops (then "
                     "higher-order gradients come for free), or mark the op "
                     "`once_differentiable = True` (then a second derivative through it raises "
                     "a clear error instead of giving a wrong number)", raise_exception)
    return gradcheck(first_derivatives, tuple(inputs) + tuple(vs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception, seed=seed)


def _note_cut_off(fn: Any, grad_outputs: Sequence[Any], grad_inputs: Any,
                  found: List[str]) -> None:
    """Note ``fn``'s name if, with its upstream gradient on the tape (create_graph), it returned
    a non-zero gradient that is not: a backward in raw NumPy, not once_differentiable."""
    if fn.once_differentiable or \
            not any(isinstance(g, Tensor) and g.requires_grad for g in grad_outputs):
        return                       # (a once-differentiable op raises when differentiated)
    raw = grad_inputs if isinstance(grad_inputs, tuple) else (grad_inputs,)
    for tensor, g in zip(fn.inputs, raw):
        if g is None or not tensor.requires_grad or (isinstance(g, Tensor) and g.requires_grad):
            continue
        if np.any(np.asarray(g.data if isinstance(g, Tensor) else g) != 0):
            found.append(fn.name)
            return
