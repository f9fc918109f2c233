"""One backward protocol: every op's rule is written with Tensor ops (``backward``); an op may
add the same rule on ndarrays (``backward_arrays``), which a plain backward uses. For every op
that has one, the two agree on random inputs and a random upstream gradient."""
import inspect

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import strategies as mst

# y = op(x)·x with every x outside clip's bounds has zero second derivatives: such an example
# passes vacuously (and warns); the others are not vacuous.
pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")


def _function_classes():
    """Every Function subclass defined in minigrad.functional."""
    found = {}
    for _, module in inspect.getmembers(F, inspect.ismodule):
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, mg.Function) and cls.__module__.startswith("minigrad.functional"):
                found[cls.__name__] = cls
    return found


def _maybe_constant(draw, arrays):
    """Tensors of ``arrays``, each requiring grad or not (at least one does)."""
    flags = draw(st.lists(st.booleans(), min_size=len(arrays), max_size=len(arrays)))
    flags[draw(st.integers(0, len(arrays) - 1))] = True
    return [mg.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]


@st.composite
def affine_call(draw):
    n, out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    rank = draw(st.sampled_from(["one sample", "rows", "images"]))
    x_shape = {"one sample": (3,), "rows": (n, 3), "images": (n, 1, 3)}[rank]
    arrays = [draw(mst.arrays(shape=x_shape)), draw(mst.arrays(shape=(3, out)))]
    if draw(st.booleans()):
        arrays.append(draw(mst.arrays(shape=(out,))))
    return F.linear.Affine, _maybe_constant(draw, arrays), {}


@st.composite
def one_input_call(draw, op, **kwargs):
    x = draw(mst.arrays(shape=draw(mst.shapes(min_dims=1))))
    return op, [mg.tensor(x, requires_grad=True)], {k: v(x) for k, v in kwargs.items()}


@st.composite
def clip_call(draw):
    x = draw(mst.arrays(shape=(4, 3)))
    bounds = [draw(mst.arrays(shape=(3,), bound=1.0)) for _ in range(draw(st.integers(1, 2)))]
    if len(bounds) == 2:
        bounds = [np.minimum(*bounds), np.maximum(*bounds)]
    return F.elementwise.Clip, _maybe_constant(draw, [x, *bounds]), \
        {"lower": draw(st.booleans())}


@st.composite
def binary_call(draw, op):
    shape = draw(mst.shapes(min_dims=1))
    a = draw(mst.arrays(shape=shape))
    b = draw(mst.arrays(shape=draw(st.sampled_from([shape, shape[-1:], ()]))))
    if op is F.arithmetic.Div:
        b = np.abs(b) + 0.5                                  # away from a pole
    return op, _maybe_constant(draw, [a, b]), {}


@st.composite
def batch_norm_call(draw):
    n, c = draw(st.integers(2, 5)), draw(st.integers(1, 3))
    x = draw(mst.arrays(shape=draw(st.sampled_from([(n, c), (n, c, 2, 3)]))))
    training = draw(st.booleans())
    axes = (0,) + tuple(range(2, x.ndim))
    mean, var = (x.mean(axis=axes), x.var(axis=axes)) if training else \
        (draw(mst.arrays(shape=(c,))), draw(mst.arrays(shape=(c,), positive=True)))
    arrays = [x]
    if draw(st.booleans()):
        arrays += [draw(mst.arrays(shape=(c,))), draw(mst.arrays(shape=(c,)))]
    return F.normalization.BatchNorm, _maybe_constant(draw, arrays), \
        {"mean": mean, "var": var, "training": training}


@st.composite
def cross_entropy_call(draw):
    n, c = draw(st.integers(1, 5)), draw(st.integers(2, 4))
    z = draw(mst.arrays(shape=(n, c)))
    reduction = draw(st.sampled_from(["mean", "sum", "none"]))
    if draw(st.booleans()):
        return F.losses.SoftmaxCrossEntropy, [mg.tensor(z, requires_grad=True),
                                              np.arange(n) % c], {"reduction": reduction}
    t = draw(mst.arrays(shape=(n, c), positive=True))
    return F.losses.SoftmaxCrossEntropy, _maybe_constant(draw, [z, t]), {"reduction": reduction}


def _mask(x):
    return np.random.default_rng(0).random(x.shape) >= 0.3


CALLS = {
    "Affine": affine_call(),
    "ReLU": one_input_call(F.elementwise.ReLU),
    "Abs": one_input_call(F.elementwise.Abs),
    "LeakyReLU": one_input_call(F.elementwise.LeakyReLU, slope=lambda x: 0.2),
    "Dropout": one_input_call(F.regularization.Dropout,
                              mask=lambda x: _mask(x) * (1 / 0.7)),
    "Clip": clip_call(),
    "Mul": binary_call(F.arithmetic.Mul),
    "BatchNorm": batch_norm_call(),
    "SoftmaxCrossEntropy": cross_entropy_call(),
    "Div": binary_call(F.arithmetic.Div),
}


def test_every_op_with_an_array_rule_is_checked_here():
    with_array_rule = {name for name, cls in _function_classes().items()
                       if cls.backward_arrays is not None}
    assert with_array_rule == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
@given(data=st.data())
def test_the_array_rule_agrees_with_the_tensor_rule(name, data):
    op, inputs, kwargs = data.draw(CALLS[name])
    y = op.apply(*inputs, **kwargs)
    gy = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1))).standard_normal(y.shape)
    with mg.no_grad():
        by_tensors = y.grad_fn.backward(mg.tensor(gy))
        by_arrays = y.grad_fn.backward_arrays(gy)
    by_tensors = by_tensors if isinstance(by_tensors, tuple) else (by_tensors,)
    by_arrays = by_arrays if isinstance(by_arrays, tuple) else (by_arrays,)
    assert len(by_tensors) == len(by_arrays) == len(inputs)
    for tensor_grad, array_grad, x in zip(by_tensors, by_arrays, inputs):
        assert (tensor_grad is None) == (array_grad is None)
        if array_grad is None:
            continue
        assert type(array_grad) is np.ndarray and array_grad.dtype == tensor_grad.dtype
        assert not np.shares_memory(array_grad, gy)          # a new array: the engine keeps it
        np.testing.assert_allclose(array_grad, tensor_grad.data, rtol=1e-12, atol=1e-12)


def test_a_plain_backward_uses_the_array_rule_and_create_graph_the_tensor_rule():
    calls = []

    class Twice(mg.Function):
        def forward(self, x):
            return 2 * x

        def backward(self, gy):
            calls.append("tensors")
            return gy * 2.0                                  # dy/dx = 2

        def backward_arrays(self, gy):
            calls.append("arrays")
            return gy * 2.0

    x = mg.tensor([1.0, -3.0], requires_grad=True)
    Twice.apply(x).sum().backward()
    assert calls == ["arrays"] and x.grad.tolist() == [2.0, 2.0]
    (gx,) = mg.grad(Twice.apply(x * x).sum(), [x], create_graph=True)
    assert calls == ["arrays", "tensors"]
    gx.sum().backward()                                      # d/dx Σ 4x = 4, through the rule
    assert x.grad.tolist() == [6.0, 6.0]


@pytest.mark.parametrize("op", [F.relu, F.abs, lambda t: F.leaky_relu(t, 0.3),
                                lambda t: F.clip(t, -1.0, 1.0)])
@given(x=mst.arrays(shape=(5,), away_from=(-1.0, 0.0, 1.0)))
def test_mask_ops_are_twice_differentiable(op, x):
    # y = op(x)·x: its second derivative goes through the mask op's Tensor rule
    assert mg.gradgradcheck(lambda t: op(t) * t, [mg.tensor(x, requires_grad=True)], seed=1)
