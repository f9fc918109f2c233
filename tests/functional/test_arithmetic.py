"""Arithmetic ops: + - * / ** @, negation and casts, against NumPy and central differences."""
import operator
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import strategies as mst

from .helpers import array_pairs, check_op, leaf

# Hypothesis likes all-zero arrays, where e.g. the gradient of a * b is zero: a vacuous pass of
# one example is expected, the other examples are not vacuous.
pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")

NONZERO = {"away_from": (0.0,), "margin": 0.5}
POSITIVE = {"positive": True, "margin": 0.5}

BINARY = [
    (operator.add, {}, {}),
    (operator.sub, {}, {}),
    (operator.mul, {}, {}),
    (operator.truediv, {}, NONZERO),
    (operator.pow, POSITIVE, {}),
]
BINARY_IDS = ["add", "sub", "mul", "div", "pow"]


@pytest.mark.parametrize("op, first, second", BINARY, ids=BINARY_IDS)
@given(data=st.data())
def test_binary_operator_broadcasts_and_differentiates(op, first, second, data):
    a, b = data.draw(array_pairs(first=first, second=second))
    check_op(op, op, a, b)


@pytest.mark.parametrize("function, op", [(F.add, operator.add), (F.sub, operator.sub),
                                          (F.mul, operator.mul), (F.div, operator.truediv),
                                          (F.pow, operator.pow)])
def test_functional_names_match_the_operators(function, op):
    a, b = np.array([[1.5, 2.0, 0.5]]), np.array([[2.0], [0.25]])
    np.testing.assert_array_equal(function(leaf(a), leaf(b)).data, op(a, b))


@pytest.mark.parametrize("op, first, second", BINARY, ids=BINARY_IDS)
@given(data=st.data(), number=st.floats(0.5, 3.0))
def test_python_number_on_either_side(op, first, second, data, number):
    x = data.draw(mst.arrays(**{**first, **second}))
    if op is operator.pow:   # number ** x needs a positive base, x ** number any real exponent
        x = np.abs(x) + 0.5
    check_op(lambda t: op(t, number), lambda a: op(a, number), x)
    check_op(lambda t: op(number, t), lambda a: op(number, a), x)


@pytest.mark.parametrize("op, first, second", BINARY, ids=BINARY_IDS)
@given(data=st.data())
def test_ndarray_on_either_side_gives_a_tensor(op, first, second, data):
    a, b = data.draw(array_pairs(first=first, second=second))
    left, right = op(leaf(a), b), op(a, leaf(b))   # ndarray op Tensor never unwraps the Tensor
    assert isinstance(left, mg.Tensor) and isinstance(right, mg.Tensor)
    np.testing.assert_allclose(left.data, op(a, b))
    np.testing.assert_allclose(right.data, op(a, b))
    assert mg.gradcheck(lambda t: op(t, b), [leaf(a)], seed=0)
    assert mg.gradcheck(lambda t: op(a, t), [leaf(b)], seed=0)


@given(x=mst.arrays())
def test_neg(x):
    check_op(operator.neg, operator.neg, x)
    check_op(F.neg, operator.neg, x)


@given(x=mst.arrays(positive=True, margin=0.5), exponent=st.sampled_from([-2, -1, 0, 1, 2, 3]))
def test_pow_with_integer_exponent(x, exponent):
    check_op(lambda t: t ** exponent, lambda a: a ** float(exponent), x)


def test_square_of_a_negative_base_has_the_right_gradient():
    x = leaf(np.array([-2.0, -0.5, 0.0, 1.5]))
    (x ** 2).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


# -- matmul ------------------------------------------------------------------------------------
@st.composite
def matmul_operands(draw):
    """Operands of np.matmul: 1-D or matrices, with batch dims that broadcast together."""
    m, k, n = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch_a, batch_b = draw(mst.broadcastable_shapes(min_dims=0, max_dims=2, max_side=3))
    a_vector, b_vector = draw(st.booleans()), draw(st.booleans())
    shape_a = (k,) if a_vector else batch_a + (m, k)
    shape_b = (k,) if b_vector else batch_b + (k, n)
    return draw(mst.arrays(shape_a)), draw(mst.arrays(shape_b))


@given(operands=matmul_operands())
def test_matmul_1d_2d_and_batched(operands):
    a, b = operands
    check_op(operator.matmul, np.matmul, a, b)
    check_op(F.matmul, np.matmul, a, b, second_order=False)


def test_matmul_with_an_ndarray_on_either_side():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    for out in (leaf(a) @ b, a @ leaf(b)):
        assert isinstance(out, mg.Tensor)
        np.testing.assert_array_equal(out.data, a @ b)


@pytest.mark.parametrize("shape_a, shape_b", [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (2,)),
                                              ((5, 2, 3), (4, 3, 2))])
def test_matmul_shape_mismatch_names_the_op_and_shapes(shape_a, shape_b):
    with pytest.raises(ValueError, match="MatMul") as info:
        leaf(np.ones(shape_a)) @ leaf(np.ones(shape_b))
    assert str(shape_a) in str(info.value) and str(shape_b) in str(info.value)


def test_matmul_of_a_0d_operand_is_refused():
    with pytest.raises(ValueError, match=r"MatMul.*\(\)"):
        F.matmul(leaf(np.float64(2.0)), leaf(np.ones(3)))


# -- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize("op, name", [(operator.add, "Add"), (operator.sub, "Sub"),
                                      (operator.mul, "Mul"), (operator.truediv, "Div"),
                                      (operator.pow, "Pow")])
def test_non_broadcastable_shapes_name_the_op_and_shapes(op, name):
    with pytest.raises(ValueError, match=name) as info:
        op(leaf(np.ones((2, 3))), leaf(np.ones((4,))))
    assert "(2, 3)" in str(info.value) and "(4,)" in str(info.value)


# -- dtype -------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv,
                                operator.pow, operator.matmul], ids=lambda op: op.__name__)
def test_float32_in_gives_float32_out_and_float32_gradients(op):
    a = leaf(np.full((2, 2), 1.5, dtype=np.float32))
    b = leaf(np.full((2, 2), 0.5, dtype=np.float32))
    outs = [op(a, b)] if op is operator.matmul else [op(a, b), op(a, 2.0), op(2.0, a)]
    for out in outs:
        assert out.dtype == np.float32
        out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float32


def test_mixed_precision_gradients_come_back_in_each_inputs_dtype():
    a = leaf(np.ones(3, dtype=np.float32))
    b = leaf(np.ones(3, dtype=np.float64))
    out = a * b
    assert out.dtype == np.float64                  # NumPy's promotion
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_integer_tensor_plus_python_float_promotes_like_numpy():
    out = mg.tensor([1, 2, 3]) + 0.5
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out.data, [1.5, 2.5, 3.5])
    assert not out.requires_grad


@given(x=mst.arrays())
def test_cast_round_trip_and_gradient_dtype(x):
    t = leaf(x)
    y = F.cast(t, np.float32)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y.data, x.astype(np.float32))
    y.sum().backward()
    assert t.grad.dtype == np.float64
    np.testing.assert_array_equal(t.grad.data, np.ones_like(x))
    assert F.cast(t, np.float64) is t
    assert mg.gradcheck(lambda u: F.cast(F.cast(u, np.float32), np.float64) * 1.0, [leaf(x)],
                        atol=1e-5, rtol=1e-2, eps=1e-2)


def test_pow_at_a_zero_base_or_exponent_has_finite_gradients_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = leaf(np.array([0.0, 0.0, 2.0]))
        e = leaf(np.array([2.0, 0.0, 0.0]))
        (x ** e).sum().backward()
        # d/dx = e x^(e-1): 0 at (0, 2) and at (0, 0) (as PyTorch), 0 at (2, 0) (x^0 = 1);
        # d/de = x^e ln x: 0 at x = 0 (as PyTorch), ln 2 at (2, 0).
        np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 0.0])
        np.testing.assert_allclose(e.grad.data, [0.0, 0.0, np.log(2.0)])
        y = leaf(np.array([0.0, 1.0, -2.0]))
        (y ** 0).sum().backward()
        np.testing.assert_array_equal(y.grad.data, [0.0, 0.0, 0.0])


@given(x=mst.arrays(positive=True, margin=0.5), data=st.data())
def test_pow_with_some_zero_exponents(x, data):
    e = data.draw(mst.arrays(x.shape).map(lambda v: np.where(v > 1, 0.0, v)))
    check_op(operator.pow, operator.pow, x, e)


@pytest.mark.parametrize("op", [operator.add, operator.mul, operator.truediv, operator.pow],
                         ids=lambda op: op.__name__)
def test_empty_operands_broadcast_and_backward(op):
    a, b = leaf(np.ones((0, 3))), leaf(np.full(3, 2.0))
    y = op(a, b)
    assert y.shape == (0, 3)
    y.backward(np.ones((0, 3)))
    assert a.grad.shape == (0, 3)
    np.testing.assert_array_equal(b.grad.data, np.zeros(3))


def test_matmul_with_an_empty_dimension():
    a, b = leaf(np.ones((0, 3))), leaf(np.ones((3, 2)))
    y = a @ b
    assert y.shape == (0, 2)
    y.backward(np.ones((0, 2)))
    assert a.grad.shape == (0, 3)
    np.testing.assert_array_equal(b.grad.data, np.zeros((3, 2)))
    c, d = leaf(np.ones((2, 0))), leaf(np.ones((0, 4)))   # an empty inner dimension: zeros
    z = c @ d
    np.testing.assert_array_equal(z.data, np.zeros((2, 4)))
    z.sum().backward()
    assert c.grad.shape == (2, 0) and d.grad.shape == (0, 4)


def test_neg_keeps_float32():
    x = leaf(np.ones(2, dtype=np.float32))
    y = -x
    assert y.dtype == np.float32
    y.sum().backward()
    assert x.grad.dtype == np.float32
