"""Elementwise ops against NumPy and central differences, away from their kinks."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import strategies as mst

from .helpers import array_pairs, check_op, leaf

pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


SMOOTH = [
    ("exp", np.exp, {}),
    ("log", np.log, {"positive": True, "margin": 0.1}),
    ("sqrt", np.sqrt, {"positive": True, "margin": 0.1}),
    ("tanh", np.tanh, {}),
    ("sigmoid", _sigmoid, {}),
]
KINKED = [
    ("abs", np.abs),
    ("relu", lambda x: np.maximum(x, 0)),
]


@pytest.mark.parametrize("name, reference, values", SMOOTH, ids=[s[0] for s in SMOOTH])
@given(data=st.data())
def test_smooth_unary_op(name, reference, values, data):
    x = data.draw(mst.arrays(**values))
    check_op(getattr(F, name), reference, x)
    check_op(lambda t: getattr(t, name)(), reference, x, second_order=False)


@pytest.mark.parametrize("name, reference", KINKED, ids=[k[0] for k in KINKED])
@given(x=mst.arrays(away_from=(0.0,)))
def test_kinked_unary_op_away_from_its_kink(name, reference, x):
    check_op(getattr(F, name), reference, x)
    check_op(lambda t: getattr(t, name)(), reference, x, second_order=False)


def test_abs_builtin_and_gradient_zero_at_the_kink():
    x = leaf(np.array([-2.0, 0.0, 3.0]))
    y = abs(x)
    np.testing.assert_array_equal(y.data, [2.0, 0.0, 3.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [-1.0, 0.0, 1.0])


def test_relu_gradient_is_zero_at_zero_as_in_pytorch():
    x = leaf(np.array([-1.0, 0.0, 2.0]))
    F.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


def test_sigmoid_is_finite_and_exact_at_extreme_logits():
    with np.errstate(all="raise"):
        y = F.sigmoid(leaf(np.array([-1e4, -800.0, 0.0, 800.0, 1e4])))
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 0.5, 1.0, 1.0])


@given(x=mst.arrays(away_from=(-1.0, 1.0)))
def test_clip_both_bounds(x):
    check_op(lambda t: F.clip(t, -1.0, 1.0), lambda a: np.clip(a, -1.0, 1.0), x)
    check_op(lambda t: t.clip(-1.0, 1.0), lambda a: np.clip(a, -1.0, 1.0), x, second_order=False)


@given(x=mst.arrays(away_from=(0.5,)))
def test_clip_one_bound(x):
    check_op(lambda t: F.clip(t, min=0.5), lambda a: np.maximum(a, 0.5), x)
    check_op(lambda t: F.clip(t, max=0.5), lambda a: np.minimum(a, 0.5), x)


def test_clip_lets_the_gradient_through_at_the_bounds():
    x = leaf(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]))
    F.clip(x, -1.0, 1.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clip_keeps_float32():
    x = leaf(np.linspace(-2, 2, 5, dtype=np.float32))
    y = F.clip(x, np.float64(-1.0), np.float64(1.0))
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


def test_clip_bad_bounds():
    x = leaf(np.ones(3))
    with pytest.raises(ValueError, match="clip"):
        F.clip(x)
    with pytest.raises(ValueError, match="clip"):
        F.clip(x, 2.0, 1.0)


@pytest.mark.parametrize("name, reference", [("maximum", np.maximum), ("minimum", np.minimum)])
@given(data=st.data())
def test_maximum_minimum_broadcast_away_from_ties(name, reference, data):
    a, b = data.draw(array_pairs())
    b = np.where(np.abs(a - b) < 1e-2, b + 0.1, b)    # keep the pair away from the kink a = b
    check_op(getattr(F, name), reference, a, b)
    check_op(lambda s, t: getattr(s, name)(t), reference, a, b, second_order=False)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_split_a_tie_equally(name):
    a, b = leaf(np.array([1.0, 2.0, 3.0])), leaf(np.array([1.0, 5.0, 0.0]))
    getattr(F, name)(a, b).sum().backward()
    wins = [0.5, 0.0, 1.0] if name == "maximum" else [0.5, 1.0, 0.0]
    np.testing.assert_array_equal(a.grad.data, wins)
    np.testing.assert_array_equal(b.grad.data, 1 - np.array(wins))


@given(data=st.data())
def test_where_broadcasts_condition_and_both_branches(data):
    shape_c, shape_a, shape_b = data.draw(mst.broadcastable_shapes(num_shapes=3))
    cond = data.draw(st.booleans().map(np.bool_) if shape_c == () else
                     mst.arrays(shape_c).map(lambda v: v > 0))
    a, b = data.draw(mst.arrays(shape_a)), data.draw(mst.arrays(shape_b))
    check_op(lambda s, t: F.where(cond, s, t), lambda s, t: np.where(cond, s, t), a, b)
    check_op(lambda s, t: F.where(mg.tensor(cond), s, t), lambda s, t: np.where(cond, s, t),
             a, b, second_order=False)


def test_where_with_python_numbers_and_a_non_boolean_condition():
    x = leaf(np.array([-1.0, 2.0]))
    y = F.where(x.data > 0, x, 0.0)
    np.testing.assert_array_equal(y.data, [0.0, 2.0])
    with pytest.raises(TypeError, match="where.*int64"):
        F.where(np.array([0, 1]), x, 0.0)


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"])
def test_unary_float32_in_float32_out_and_float32_gradient(name):
    x = leaf(np.array([0.5, 1.5, 2.5], dtype=np.float32))
    y = getattr(F, name)(x)
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_binary_float32_gradients(name):
    a = leaf(np.array([0.5, 1.5], dtype=np.float32))
    b = leaf(np.array([1.0, 1.5], dtype=np.float32))
    y = getattr(F, name)(a, b)
    assert y.dtype == np.float32
    y.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32


def test_clip_accepts_array_and_tensor_bounds():
    x = leaf(np.array([[-2.0, 1.5], [0.3, 0.0]]))
    lo, hi = np.array([-1.0, 1.0]), mg.tensor([1.0, 2.0])
    y = F.clip(x, lo, hi)
    np.testing.assert_array_equal(y.data, np.clip(x.data, lo, hi.data))
    y.backward(np.ones((2, 2)))
    np.testing.assert_array_equal(x.grad.data, [[0.0, 1.0], [1.0, 0.0]])


# bounds on half-integers, x at least 0.01 from each: clip is smooth there
HALF_INTEGERS = tuple(np.arange(-4.5, 5.0))


@st.composite
def clip_case(draw):
    """x, lo < hi of mutually broadcastable shapes, the bounds on half-integers."""
    shapes = draw(mst.broadcastable_shapes(3))
    x = draw(mst.arrays(shapes[0], away_from=HALF_INTEGERS))
    lo = np.floor(draw(mst.arrays(shapes[1]))) + 0.5
    hi = lo + 1 + np.floor(np.abs(draw(mst.arrays(shapes[2]))))
    return x, lo, hi


@given(case=clip_case())
def test_clip_with_tensor_bounds_gives_every_input_its_gradient(case):
    x, lo, hi = case
    check_op(lambda t, low, high: F.clip(t, low, high), np.clip, x, lo, hi)
    check_op(lambda t, low: F.clip(t, min=low), np.maximum, x, lo)
    check_op(lambda t, high: F.clip(t, max=high), np.minimum, x, hi)


def test_clip_by_a_bound_that_broadcasts_x_to_a_larger_shape():
    x = leaf(np.array([1.0, -0.0, 0.0]))
    hi = np.array([[0.23, 0.62, 0.61], [0.91, -0.38, 0.45]])
    y = x.clip(None, hi)
    assert y.shape == (2, 3)
    g = np.random.default_rng(0).standard_normal((2, 3))
    y.backward(gradient=g)
    np.testing.assert_array_equal(x.grad.data, (g * (x.data <= hi)).sum(axis=0))


@pytest.mark.parametrize("bounds", ["both", "min", "max"])
def test_clip_with_tensor_bounds_matches_torch_clamp_also_at_ties(bounds):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = np.array([[-2.0, -1.0, 0.0, 0.5, 1.0, 3.0, np.nan]] * 2)
    lo = np.array([[-1.0], [0.5]])                     # ties: x = -1.0 and x = 0.5
    hi = np.array([1.0, 1.0, 1.0, 0.5, 2.0, 2.0, 2.0])  # ties: x = 0.5 and x = 1.0
    g = rng.standard_normal(x.shape)
    given = {"both": (lo, hi), "min": (lo, None), "max": (None, hi)}[bounds]
    ours = [leaf(a) if a is not None else None for a in (x, *given)]
    theirs = [torch.tensor(a, requires_grad=True) if a is not None else None
              for a in (x, *given)]
    y = F.clip(*ours)
    expected = torch.clamp(*theirs)
    np.testing.assert_array_equal(y.data, expected.detach().numpy())
    y.backward(g)
    expected.backward(torch.tensor(g))
    for mine, reference in zip(ours, theirs):
        if mine is not None:
            np.testing.assert_array_equal(mine.grad.data, reference.grad.numpy())


def test_clip_with_float32_x_and_a_float64_tensor_bound_that_requires_grad():
    x = leaf(np.array([0.1, 2.0], dtype=np.float32))
    hi = leaf(np.array([0.1, 1.0]))                  # 0.1 in float32 is above 0.1 in float64
    y = F.clip(x, max=hi)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, np.array([0.1, 1.0], dtype=np.float32))
    y.backward(np.array([2.0, 3.0], dtype=np.float32))
    assert x.grad.dtype == np.float32 and hi.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [2.0, 0.0])   # as forward: 0.1f is not clipped
    np.testing.assert_array_equal(hi.grad.data, [0.0, 3.0])


def test_clip_of_an_integer_tensor_by_integer_numbers_keeps_its_dtype_as_torch_clamp():
    x = mg.tensor(np.array([1, 5, 9], dtype=np.int32))
    y = F.clip(x, 2, 6)
    assert y.dtype == np.int32
    np.testing.assert_array_equal(y.data, [2, 5, 6])


def test_where_with_a_tensor_condition_keeps_float32_and_gives_the_condition_no_gradient():
    a = leaf(np.array([0.5, 1.5], dtype=np.float32))
    cond = mg.tensor([True, False])
    y = F.where(cond, a, 0.0)
    assert y.dtype == np.float32
    assert y.grad_fn.inputs[2] is cond                # checked for in-place writes
    y.backward(np.array([2.0, 3.0], dtype=np.float32))
    np.testing.assert_array_equal(a.grad.data, [2.0, 0.0])
    assert cond.grad is None


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"])
def test_unary_op_on_an_empty_array(name):
    x = leaf(np.ones((0, 3)))
    y = getattr(F, name)(x)
    assert y.shape == (0, 3)
    y.backward(np.ones((0, 3)))
    assert x.grad.shape == (0, 3)


def test_where_keeps_float32():
    a = leaf(np.array([0.5, 1.5], dtype=np.float32))
    y = F.where(np.array([True, False]), a, 0.0)
    assert y.dtype == np.float32
    y.sum().backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad.data, [1.0, 0.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_keeps_relative_precision_in_its_far_tails(dtype):
    x = np.array([-80.0, -50.0, -20.0, -10.0, 10.0, 20.0], dtype=dtype)
    exact = 1 / (1 + np.exp(-x.astype(np.longdouble)))          # σ(x) in extended precision
    y = F.sigmoid(mg.tensor(x)).data
    assert y.dtype == dtype
    np.testing.assert_allclose(y.astype(np.longdouble), exact, rtol=4 * np.finfo(dtype).eps)
