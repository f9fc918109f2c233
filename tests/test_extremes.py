"""Numerical extremes: stable, finite and warning-free where the mathematical answer is finite.

Every RuntimeWarning is turned into an error here, so an overflow inside an op that the user
would see as a warning fails the test.
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad import nn

pytestmark = pytest.mark.filterwarnings("error")

FLOATS = [np.float32, np.float64]


def _value_and_grad(f, x, v):
    """f(x) and the vector-Jacobian product vᵀ ∂f/∂x at x."""
    x = mg.tensor(x, requires_grad=True)
    y = f(x)
    (g,) = mg.grad(y, x, grad_outputs=mg.tensor(v.astype(y.dtype)))
    assert g.dtype == x.dtype
    return y.data, g.data


# -- NumPy references, written independently of minigrad ------------------------------------
def ref_sigmoid(x):
    e = np.exp(-np.abs(x))                        # never overflows
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def ref_log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return (x - m) - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


EXTREME_LOGITS = np.array([[1e4, -1e4, 0.0],
                           [-1e4, -1e4, -1e4],
                           [3.0, 2.0, 1.0],
                           [1e4 + 3.0, 1e4 + 2.0, 1e4 + 1.0]])   # rows differ by 1e4


@pytest.mark.parametrize("dtype", FLOATS)
def test_sigmoid_at_plus_minus_1000(dtype):
    x = np.array([-1000.0, -40.0, -1.0, 0.0, 1.0, 40.0, 1000.0], dtype=dtype)
    v = np.linspace(0.5, 2.0, x.size)
    y, g = _value_and_grad(F.sigmoid, x, v)
    s = ref_sigmoid(x.astype(np.float64))
    # ½(1 + tanh(x/2)) is accurate to one ulp of 1 in absolute terms (σ(−40) = 4e-18 rounds
    # to 0): minigrad trades the relative digits of tiny σ for a 4x faster op
    eps = np.finfo(dtype).eps
    np.testing.assert_allclose(y, s, rtol=4 * eps, atol=eps)
    np.testing.assert_allclose(g, v * s * (1 - s), rtol=8 * eps, atol=2 * eps)
    assert y.dtype == dtype and y[0] == 0 and y[-1] == 1 and g[0] == 0 and g[-1] == 0


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax_with_logits_of_1e4(dtype, op):
    x = EXTREME_LOGITS.astype(dtype)
    v = np.arange(x.size, dtype=np.float64).reshape(x.shape) / 7 - 0.8
    y, g = _value_and_grad(getattr(F, op), x, v)
    log_p = ref_log_softmax(x.astype(np.float64))
    p = np.exp(log_p)
    if op == "softmax":
        expected = p
        expected_grad = p * (v - (v * p).sum(axis=-1, keepdims=True))
    else:
        expected = log_p
        expected_grad = v - p * v.sum(axis=-1, keepdims=True)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, expected, rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(g, expected_grad, rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(y[2], y[3], rtol=rtol)        # a shift by 1e4 changes nothing
    assert np.isfinite(y).all() and np.isfinite(g).all()


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_with_logits_of_1e4(dtype):
    x = EXTREME_LOGITS.astype(dtype)
    v = np.array([1.0, -2.0, 0.5, 3.0])
    y, g = _value_and_grad(lambda t: F.logsumexp(t, axis=1), x, v)
    x64 = x.astype(np.float64)
    m = x64.max(axis=1)
    np.testing.assert_allclose(y, m + np.log(np.exp(x64 - m[:, None]).sum(axis=1)), rtol=1e-6)
    np.testing.assert_allclose(g, v[:, None] * np.exp(ref_log_softmax(x64)), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_cross_entropy_with_logits_of_1e4(dtype):
    z = mg.tensor(np.array([[1e4, -1e4], [-1e4, 1e4], [1e4, 1e4 + 1.0]], dtype=dtype),
                  requires_grad=True)
    labels = np.array([1, 1, 0])
    loss = F.softmax_cross_entropy(z, labels, reduction="sum")
    loss.backward()
    log_p = ref_log_softmax(z.data.astype(np.float64))
    expected = -log_p[np.arange(3), labels].sum()
    np.testing.assert_allclose(loss.item(), expected, rtol=1e-6)
    onehot = np.eye(2)[labels]
    np.testing.assert_allclose(z.grad.data, np.exp(log_p) - onehot, rtol=1e-5, atol=1e-6)
    assert loss.dtype == dtype and z.grad.dtype == dtype


@pytest.mark.parametrize("dtype", FLOATS)
def test_cross_entropy_module_with_probabilities_holding_zeros(dtype):
    z = mg.tensor(np.array([[1e4, -1e4, 0.0]], dtype=dtype), requires_grad=True)
    t = np.array([[1.0, 0.0, 0.0]], dtype=dtype)       # 0 · log p with log p = -2e4: 0, not NaN
    loss = nn.SoftmaxCrossEntropy()(z, t)
    loss.backward()
    assert loss.item() == 0.0
    np.testing.assert_allclose(z.grad.data, [[0.0, 0.0, 0.0]], atol=1e-30)


@pytest.mark.parametrize("dtype", FLOATS)
def test_batchnorm_on_a_constant_feature(dtype):
    x = np.array([[2.0, 1.0], [2.0, -1.0], [2.0, 3.0]], dtype=dtype)   # feature 0 is constant
    bn = nn.BatchNorm1d(2, dtype=dtype)
    xt = mg.tensor(x, requires_grad=True)
    y = bn(xt)
    (y * mg.tensor(np.array([[1.0, 2.0], [3.0, -1.0], [0.5, 0.0]], dtype=dtype))).sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(xt.grad.data).all()
    np.testing.assert_array_equal(y.data[:, 0], np.zeros(3, dtype=dtype))   # x̂ = 0, β = 0
    # the gradient of a constant feature: Σ over the batch of dx is 0, and it is finite
    np.testing.assert_allclose(xt.grad.data[:, 0].sum(), 0.0, atol=1e-3)
    assert np.isfinite(bn.weight.grad.data).all()
    np.testing.assert_allclose(bn.running_var, [0.9, 0.9 + 0.1 * 4.0], rtol=1e-6)   # unbiased


def test_batchnorm_functional_on_a_constant_batch_has_the_closed_form_gradient():
    x = mg.tensor(np.full((4, 3), 5.0), requires_grad=True)
    y = F.batch_norm(x, None, None, training=True)
    np.testing.assert_array_equal(y.data, np.zeros((4, 3)))
    v = mg.tensor(np.arange(12.0).reshape(4, 3))
    (g,) = mg.grad(y, x, grad_outputs=v)
    # x̂ = 0 everywhere, so dx = (v - mean_batch v) / √ε
    expected = (v.data - v.data.mean(axis=0)) / np.sqrt(1e-5)
    np.testing.assert_allclose(g.data, expected, rtol=1e-9)


FINFO32 = np.finfo(np.float32)


@pytest.mark.parametrize("scale", [0.5, 1.0])
def test_float32_near_its_largest_value(scale):
    big = np.float32(FINFO32.max * scale)
    row = np.array([[big, -big, 0.0], [big, big, big]], dtype=np.float32)
    p = F.softmax(mg.tensor(row), axis=1).data
    np.testing.assert_array_equal(p[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(p[1], [1 / 3] * 3, rtol=1e-6)
    lse = F.logsumexp(mg.tensor(row), axis=1).data
    assert lse.dtype == np.float32 and lse[0] == big and lse[1] == big   # + log 3 rounds away
    s = F.sigmoid(mg.tensor(row)).data
    np.testing.assert_array_equal(s[0], [1.0, 0.0, 0.5])
    t = F.tanh(mg.tensor(row)).data
    np.testing.assert_array_equal(t[0], [1.0, -1.0, 0.0])


def test_cross_entropy_at_the_float32_limits():
    big = FINFO32.max
    z = mg.tensor(np.array([[big, -big], [-big, big]], dtype=np.float32), requires_grad=True)
    loss = F.softmax_cross_entropy(z, np.array([0, 1]))
    loss.backward()
    assert loss.item() == 0.0 and loss.dtype == np.float32
    np.testing.assert_array_equal(z.grad.data, np.zeros((2, 2), dtype=np.float32))


def test_float32_near_its_smallest_values():
    tiny = np.array([FINFO32.tiny, FINFO32.smallest_subnormal, -FINFO32.tiny], dtype=np.float32)
    x = mg.tensor(tiny, requires_grad=True)
    y = (F.sigmoid(x) + F.tanh(x) + F.relu(x)).sum()
    y.backward()
    assert y.dtype == np.float32 and np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data, [1.25 + 1.0, 1.25 + 1.0, 1.25], rtol=1e-6)
    sq = F.sqrt(mg.tensor(np.float32(FINFO32.tiny) * np.ones(2, dtype=np.float32)))
    assert np.isfinite(sq.data).all()


@given(shift=st.floats(-1e4, 1e4), dtype=st.sampled_from(FLOATS))
def test_softmax_is_shift_invariant_for_any_shift(shift, dtype):
    x = np.array([[0.5, -1.0, 2.0]])
    p = F.softmax(mg.tensor((x + shift).astype(dtype)), axis=1).data
    # float32 rounds x + shift to a multiple of ulp(shift) ≈ 1e-3 at 1e4
    np.testing.assert_allclose(p, np.exp(ref_log_softmax(x)), atol=5e-3 if dtype == np.float32
                               else 1e-9)
    assert np.isclose(p.sum(), 1.0, rtol=1e-6)
