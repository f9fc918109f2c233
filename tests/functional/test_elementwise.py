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
