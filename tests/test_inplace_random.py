"""Random programs against the in-place safety net (issue 16).

A random op from a broad list is applied to random inputs; then one of them (differentiable or
not: a condition, a bound, labels, an index, a mask) or the op's output is written in place by
a random update; then backward. The rule, as PyTorch's: backward either raises the engine's
"modified by an in-place operation" error, or gives exactly the gradient of the graph as it was
recorded, i.e. of a fresh computation with the ORIGINAL values. A gradient computed from the
new values (stale) fails the test. Where PyTorch is installed, the same program runs there: its
gradient, when it gives one, is the recorded one too, and where it raises minigrad raises as
well, except where minigrad's op keeps its own copy of what was written (then the recorded
gradient is still right).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Tuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import strategies as mst

MODIFIED = "modified by an in-place operation"


@dataclass(frozen=True)
class Op:
    """An op under test: ``inputs`` draws (arrays, params); ``ours`` and ``torch`` compute it
    from Tensors of the respective library and ``params``. ``copies``: the inputs the op keeps
    its own copy of (a write to them cannot change the recorded gradient)."""

    name: str
    inputs: Callable[[], st.SearchStrategy]
    ours: Callable[..., Any]
    torch: Callable[..., Any]
    copies: Tuple[int, ...] = ()

    def __repr__(self) -> str:
        return self.name


# -- drawing inputs ---------------------------------------------------------------------------
def _floats(shape: Any, positive: bool = False) -> st.SearchStrategy:
    return mst.arrays(shape, bound=2.0, positive=positive)


def _unary(positive: bool = False, min_dims: int = 0) -> Callable[[], st.SearchStrategy]:
    return lambda: _floats(mst.shapes(min_dims=min_dims), positive).map(lambda x: ((x,), {}))


def _binary(positive_left: bool = False,
            positive_right: bool = False) -> Callable[[], st.SearchStrategy]:
    @st.composite
    def draw(draw: Any) -> tuple:
        shape_a, shape_b = draw(mst.broadcastable_shapes(2))
        return (draw(_floats(shape_a, positive_left)), draw(_floats(shape_b, positive_right))), {}
    return draw


def _reduction() -> st.SearchStrategy:
    @st.composite
    def draw(draw: Any) -> tuple:
        x = draw(_floats(mst.shapes(min_dims=1)))
        return (x,), {"axis": draw(st.integers(0, x.ndim - 1))}
    return draw()


@st.composite
def _matmul(draw: Any) -> tuple:
    n, k, m = (draw(st.integers(1, 3)) for _ in range(3))
    return (draw(_floats((n, k))), draw(_floats((k, m)))), {}


@st.composite
def _where(draw: Any) -> tuple:
    shape_c, shape_a, shape_b = draw(mst.broadcastable_shapes(3))
    cond = draw(mst.arrays(shape_c)) > 0
    return (cond, draw(_floats(shape_a)), draw(_floats(shape_b))), {}


@st.composite
def _clip_by_tensors(draw: Any) -> tuple:
    shape_x, shape_u, shape_v = draw(mst.broadcastable_shapes(3))
    u, v = draw(_floats(shape_u)), draw(_floats(shape_v))
    # lo < hi: at lo = hi > x PyTorch gives neither bound the gradient, minigrad gives it to lo
    return (draw(_floats(shape_x)), np.minimum(u, v), np.maximum(u, v) + 0.25), {}


@st.composite
def _affine(draw: Any) -> tuple:
    features, out = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    batch = draw(st.sampled_from([(), (1,), (3,)]))          # () : one 1-D sample
    arrays = [draw(_floats(batch + (features,))), draw(_floats((features, out)))]
    if draw(st.booleans()):
        arrays.append(draw(_floats((out,))))
    return tuple(arrays), {}


@st.composite
def _cross_entropy(draw: Any) -> tuple:
    n, classes = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    if draw(st.booleans()):
        target = np.asarray(draw(st.lists(st.integers(0, classes - 1), min_size=n,
                                          max_size=n)), dtype=np.int64)
    else:
        target = draw(_floats((n, classes), positive=True))
        target = target / target.sum(axis=1, keepdims=True)
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    return (draw(_floats((n, classes))), target), {"reduction": reduction}


@st.composite
def _batch_norm(draw: Any) -> tuple:
    shape = (draw(st.integers(2, 4)), draw(st.integers(1, 3)))
    return (draw(_floats(shape)), draw(_floats(shape[1:])), draw(_floats(shape[1:]))), {}


@st.composite
def _dropout(draw: Any) -> tuple:
    x = draw(_floats(mst.shapes()))
    return (x, draw(mst.arrays(x.shape)) > 0), {}


@st.composite
def _index(draw: Any) -> tuple:
    x = draw(_floats(mst.shapes(min_dims=1)))
    count = draw(st.integers(1, 4))
    index = draw(st.lists(st.integers(0, x.shape[0] - 1), min_size=count, max_size=count))
    return (x, np.asarray(index, dtype=np.int64)), {}


@st.composite
def _concatenate(draw: Any) -> tuple:
    rest = draw(mst.shapes(max_dims=2))
    a = draw(_floats((draw(st.integers(1, 3)),) + rest))
    return (a, draw(_floats((draw(st.integers(1, 3)),) + rest))), {}


def _torch() -> Any:
    """The torch module (imported only by the PyTorch comparison, which skips without it)."""
    import torch
    return torch


# -- the ops ------------------------------------------------------------------------------------
OPS = [
    Op("add", _binary(), lambda p, a, b: a + b, lambda p, a, b: a + b),
    Op("sub", _binary(), lambda p, a, b: a - b, lambda p, a, b: a - b),
    Op("mul", _binary(), lambda p, a, b: a * b, lambda p, a, b: a * b),
    Op("div", _binary(positive_right=True), lambda p, a, b: a / b, lambda p, a, b: a / b),
    Op("pow", _binary(positive_left=True), lambda p, a, b: a ** b, lambda p, a, b: a ** b),
    Op("matmul", _matmul, lambda p, a, b: a @ b, lambda p, a, b: a @ b),
    Op("exp", _unary(), lambda p, x: x.exp(), lambda p, x: x.exp()),
    Op("log", _unary(positive=True), lambda p, x: x.log(), lambda p, x: x.log()),
    Op("sqrt", _unary(positive=True), lambda p, x: x.sqrt(), lambda p, x: x.sqrt()),
    Op("tanh", _unary(), lambda p, x: x.tanh(), lambda p, x: x.tanh()),
    Op("sigmoid", _unary(), lambda p, x: x.sigmoid(), lambda p, x: x.sigmoid()),
    Op("relu", _unary(), lambda p, x: x.relu(), lambda p, x: x.relu()),
    Op("abs", _unary(), lambda p, x: abs(x), lambda p, x: abs(x)),
    Op("leaky_relu", _unary(), lambda p, x: F.leaky_relu(x, 0.1),
       lambda p, x: _torch().nn.functional.leaky_relu(x, 0.1)),
    Op("maximum", _binary(), lambda p, a, b: F.maximum(a, b),
       lambda p, a, b: _torch().maximum(a, b)),
    Op("sum", _reduction, lambda p, x: x.sum(p["axis"]), lambda p, x: x.sum(p["axis"])),
    Op("mean", _reduction, lambda p, x: x.mean(p["axis"]), lambda p, x: x.mean(p["axis"])),
    Op("var", _reduction, lambda p, x: F.var(x, p["axis"]),
       lambda p, x: x.var(p["axis"], correction=0)),
    Op("max", _reduction, lambda p, x: F.max(x, p["axis"]), lambda p, x: x.amax(p["axis"])),
    Op("logsumexp", _reduction, lambda p, x: F.logsumexp(x, p["axis"]),
       lambda p, x: x.logsumexp(p["axis"])),
    Op("softmax", _reduction, lambda p, x: F.softmax(x, p["axis"]),
       lambda p, x: x.softmax(p["axis"])),
    Op("log_softmax", _reduction, lambda p, x: F.log_softmax(x, p["axis"]),
       lambda p, x: x.log_softmax(p["axis"])),
    Op("reshape", _unary(), lambda p, x: x.reshape(-1), lambda p, x: x.reshape(-1)),
    Op("transpose", _unary(min_dims=2), lambda p, x: x.transpose(),
       lambda p, x: x.permute(*reversed(range(x.ndim)))),
    Op("slice", _unary(min_dims=1), lambda p, x: x[::2], lambda p, x: x[::2]),
    Op("index", _index, lambda p, x, i: x[i], lambda p, x, i: x[i], copies=(1,)),
    Op("concatenate", _concatenate, lambda p, a, b: F.concatenate([a, b]),
       lambda p, a, b: _torch().cat([a, b])),
    Op("where", _where, lambda p, c, a, b: F.where(c, a, b),
       lambda p, c, a, b: _torch().where(c, a, b)),
    Op("clip", _unary(), lambda p, x: x.clip(-0.5, 0.5), lambda p, x: x.clamp(-0.5, 0.5)),
    Op("clip by tensors", _clip_by_tensors, lambda p, x, lo, hi: F.clip(x, lo, hi),
       lambda p, x, lo, hi: x.clamp(lo, hi)),
    Op("affine", _affine, lambda p, *xwb: F.affine(*xwb),
       lambda p, x, W, *b: _torch().nn.functional.linear(x, W.t(), *b)),
    Op("cross-entropy", _cross_entropy,
       lambda p, z, t: F.softmax_cross_entropy(z, t, p["reduction"]),
       lambda p, z, t: _torch().nn.functional.cross_entropy(z, t, reduction=p["reduction"])),
    Op("batch norm", _batch_norm, lambda p, x, w, b: F.batch_norm(x, None, None, w, b, True),
       lambda p, x, w, b: _torch().nn.functional.batch_norm(x, None, None, w, b, True)),
    Op("dropout", _dropout, lambda p, x, m: F.dropout(x, 0.5, mask=m),
       lambda p, x, m: x * m * 2.0, copies=(1,)),
]


def _iadd(t: Any) -> Any:
    t += 1.25
    return t


def _imul(t: Any) -> Any:
    t *= -2.0
    return t


# in-place updates by the dtype kind of the tensor written; each works on both libraries
WRITES = {
    "f": {"add_": lambda t: t.add_(0.75), "sub_ alpha": lambda t: t.sub_(0.5, alpha=2.0),
          "mul_": lambda t: t.mul_(-0.5), "div_": lambda t: t.div_(4.0), "+=": _iadd,
          "*=": _imul, "zero_": lambda t: t.zero_(), "fill_": lambda t: t.fill_(0.3),
          "clamp_": lambda t: t.clamp_(-0.25, 0.25),
          "add_ a tensor": lambda t: t.add_(t * 0 + 0.1)},
    "i": {"add_": lambda t: t.add_(1), "zero_": lambda t: t.zero_(),
          "fill_": lambda t: t.fill_(0)},
    "b": {"zero_": lambda t: t.zero_(), "fill_": lambda t: t.fill_(True)},
}


@st.composite
def programs(draw: Any, op: Op) -> dict:
    """Inputs of ``op``, which float inputs require grad (at least one), what is written in
    place after use (an input or, last, the output), by which update, in grad mode or not."""
    arrays, params = draw(op.inputs())
    floating = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]
    grad_inputs = draw(st.sets(st.sampled_from(floating), min_size=1))
    if op.name == "batch norm" and grad_inputs & {1, 2}:     # γ and β: both or neither
        grad_inputs |= {1, 2}
    target = draw(st.integers(0, len(arrays)))               # len(arrays): the output
    kind = arrays[target].dtype.kind if target < len(arrays) else "f"
    write = draw(st.sampled_from(sorted(WRITES[kind])))
    # a tensor that requires grad (and the op's output) can only be written under no_grad;
    # a plain input may also be written with grad mode on (nothing is recorded then)
    plain = target < len(arrays) and target not in grad_inputs
    no_grad = draw(st.booleans()) if plain else True
    seed = draw(st.integers(0, 2**32 - 1))
    return {"op": op, "arrays": arrays, "params": params, "grad_inputs": grad_inputs,
            "target": target, "write": write, "kind": kind, "no_grad": no_grad, "seed": seed}


def _run_ours(program: dict, write: bool) -> tuple:
    """(output values, the inputs' gradients) from minigrad, or (None, the error) when backward
    raised the in-place error; ``write``: do the in-place update between forward and backward."""
    tensors = [mg.tensor(a.copy(), requires_grad=i in program["grad_inputs"])
               for i, a in enumerate(program["arrays"])]
    out = program["op"].ours(program["params"], *tensors)
    values = out.data.copy()
    if write:
        _write_in_place(program, tensors, out, mg.no_grad)
    try:
        out.backward(gradient=_upstream(program, values.shape))
    except RuntimeError as error:
        if MODIFIED not in str(error):
            raise
        return None, error
    return values, [t.grad.data if t.grad is not None else None for t in tensors]


def _run_torch(torch: Any, program: dict) -> tuple:
    """The same program in PyTorch: (output values, gradients) or (None, the error)."""
    tensors = [torch.tensor(a, requires_grad=i in program["grad_inputs"])
               for i, a in enumerate(program["arrays"])]
    out = program["op"].torch(program["params"], *tensors)
    values = out.detach().numpy().copy()
    _write_in_place(program, tensors, out, torch.no_grad)
    try:
        out.backward(torch.tensor(_upstream(program, values.shape)))
    except RuntimeError as error:
        if "modified by an inplace operation" not in str(error):
            raise
        return None, error
    return values, [t.grad.numpy() if t.grad is not None else None for t in tensors]


def _write_in_place(program: dict, tensors: list, out: Any, no_grad: Callable) -> None:
    """The program's in-place update of its target (an input, or the output), under
    ``no_grad()`` or in grad mode as drawn."""
    target = tensors[program["target"]] if program["target"] < len(tensors) else out
    with no_grad() if program["no_grad"] else contextlib.nullcontext():
        WRITES[program["kind"]][program["write"]](target)


def _upstream(program: dict, shape: tuple) -> np.ndarray:
    """A random upstream gradient (never ones), the same for every run of one program."""
    return np.random.default_rng(program["seed"]).standard_normal(shape)


def _assert_same_gradients(got: list, expected: list, rtol: float) -> None:
    for index, (g, e) in enumerate(zip(got, expected)):
        assert (g is None) == (e is None), f"input {index}: gradient {g} but expected {e}"
        if g is not None:
            np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol, equal_nan=True,
                                       err_msg=f"input {index}: a stale gradient")


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=st.data())
def test_backward_after_an_in_place_write_raises_or_gives_the_recorded_gradient(op, data):
    program = data.draw(programs(op))
    recorded_values, recorded = _run_ours(program, write=False)    # fresh, original values
    values, grads = _run_ours(program, write=True)
    if values is None:
        return                                                     # raised: always allowed
    np.testing.assert_array_equal(values, recorded_values)
    _assert_same_gradients(grads, recorded, rtol=0)


@pytest.mark.parametrize("op", OPS, ids=repr)
@given(data=st.data())
def test_pytorch_agrees_the_recorded_gradient_is_the_right_one(op, data):
    torch = pytest.importorskip("torch")
    program = data.draw(programs(op))
    recorded_values, recorded = _run_ours(program, write=False)
    values, grads = _run_torch(torch, program)
    if values is None:                  # PyTorch raised: so does minigrad, unless its op
        if program["target"] not in op.copies:                     # kept its own copy
            assert _run_ours(program, write=True)[0] is None, "PyTorch raises, minigrad not"
        return
    np.testing.assert_allclose(values, recorded_values, rtol=1e-10, atol=1e-12)
    _assert_same_gradients(grads, recorded, rtol=1e-9)
