"""Linear / F.affine: forward against NumPy, gradients against central differences and against
the same map composed from primitive ops, flattening, dtypes and bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.testing import strategies as mst

from .helpers import check_layer_gradients, leaf

# Hypothesis likes all-zero arrays, where every gradient of x W is zero: such an example passes
# vacuously (and warns); the other examples are not vacuous.
pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")


@st.composite
def affine_case(draw, max_extra_dims=2):
    """x of shape (N, *feature_axes), W of shape (prod(feature_axes), out), b of shape (out,)."""
    n = draw(st.integers(1, 4))
    feature_axes = draw(mst.shapes(min_dims=1, max_dims=max_extra_dims, max_side=3))
    out = draw(st.integers(1, 4))
    x = draw(mst.arrays(shape=(n, *feature_axes)))
    W = draw(mst.arrays(shape=(int(np.prod(feature_axes)), out)))
    b = draw(mst.arrays(shape=(out,)))
    return x, W, b


@given(affine_case(), st.booleans())
def test_linear_forward_and_gradients(case, bias):
    x, W, b = case
    layer = nn.Linear(W.shape[0], W.shape[1], bias=bias, dtype=np.float64)
    layer.weight.data[...] = W
    if bias:
        layer.bias.data[...] = b
    y = layer(leaf(x))
    expected = x.reshape(x.shape[0], -1) @ W + (b if bias else 0)   # the book's Affine
    assert y.shape == expected.shape and y.dtype == np.float64
    np.testing.assert_allclose(y.data, expected, rtol=1e-12, atol=1e-12)
    check_layer_gradients(layer, leaf(x))


@given(affine_case())
def test_fused_affine_equals_composite(case):
    x, W, b = case
    fused_inputs = [leaf(a) for a in (x, W, b)]
    plain_inputs = [leaf(a) for a in (x, W, b)]
    g = np.random.default_rng(0).standard_normal((x.shape[0], W.shape[1]))
    fused = F.affine(*fused_inputs)
    xi, Wi, bi = plain_inputs
    plain = xi.reshape(x.shape[0], -1) @ Wi + bi
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-12, atol=1e-12)
    fused.backward(g)
    plain.backward(g)
    for a, c in zip(fused_inputs, plain_inputs):
        assert a.grad.shape == a.shape
        np.testing.assert_allclose(a.grad.data, c.grad.data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("constant", [None, 0, 1, 2])
@given(case=affine_case())
def test_affine_is_twice_differentiable(constant, case):
    # the backward is written with Tensor ops, so it is differentiated again here, also when
    # one input is a constant and its gradient is skipped
    inputs = [mg.tensor(a) if i == constant else leaf(a) for i, a in enumerate(case)]
    assert mg.gradgradcheck(F.affine, inputs, seed=2)


def test_affine_without_bias_and_one_sample():
    W = np.arange(6.0).reshape(3, 2)
    x = np.array([1.0, -2.0, 0.5])
    y = F.affine(leaf(x), leaf(W))
    np.testing.assert_allclose(y.data, x @ W)
    assert mg.gradcheck(F.affine, [leaf(x), leaf(W), leaf(np.ones(2))], seed=0)


@st.composite
def one_sample_case(draw):
    """x of shape (in_features,), one sample; W and b as for a batch."""
    features, out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    return tuple(draw(mst.arrays(shape=shape))
                 for shape in ((features,), (features, out), (out,)))


@pytest.mark.parametrize("constant", [None, 0, 1, 2])
@given(case=one_sample_case())
def test_affine_of_one_1d_sample_records_x_itself_and_is_twice_differentiable(constant, case):
    x, W, b = case
    inputs = [mg.tensor(a) if i == constant else leaf(a) for i, a in enumerate(case)]
    y = F.affine(*inputs)
    assert y.shape == (W.shape[1],)
    np.testing.assert_allclose(y.data, x @ W + b, rtol=1e-12, atol=1e-12)
    assert y.grad_fn.inputs[0] is inputs[0]    # not a row view: writes to x are caught
    assert mg.gradcheck(F.affine, inputs, seed=1)
    assert mg.gradgradcheck(F.affine, inputs, seed=2)


@given(case=one_sample_case())
def test_affine_of_one_1d_sample_matches_torch_linear(case):
    torch = pytest.importorskip("torch")
    x, W, b = case
    g = np.random.default_rng(3).standard_normal(W.shape[1])
    ours = [leaf(a) for a in case]
    theirs = [torch.tensor(a, requires_grad=True) for a in (x, W.T.copy(), b)]
    y = F.affine(*ours)
    expected = torch.nn.functional.linear(*theirs)
    np.testing.assert_allclose(y.data, expected.detach().numpy(), rtol=1e-12, atol=1e-12)
    y.backward(g)
    expected.backward(torch.tensor(g))
    for mine, reference, transpose in zip(ours, theirs, (False, True, False)):
        wanted = reference.grad.numpy()
        np.testing.assert_allclose(mine.grad.data, wanted.T if transpose else wanted,
                                   rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(dtype):
    layer = nn.Linear(4, 3, dtype=dtype)
    x = mg.tensor(np.ones((2, 4), dtype=dtype), requires_grad=True)
    y = layer(x)
    y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert layer.weight.grad.dtype == dtype and layer.bias.grad.dtype == dtype


def test_initialisation():
    mg.manual_seed(0)
    he = nn.Linear(400, 300)
    assert he.weight.dtype == np.float32 and np.all(he.bias.data == 0)
    assert abs(he.weight.data.std() - np.sqrt(2 / 400)) < 0.003
    xavier = nn.Linear(400, 300, init="xavier")
    assert abs(xavier.weight.data.std() - np.sqrt(1 / 400)) < 0.002
    small = nn.Linear(400, 300, init=0.01)
    assert abs(small.weight.data.std() - 0.01) < 0.001
    mg.manual_seed(5)
    a = nn.Linear(3, 2).weight.data.copy()
    mg.manual_seed(5)
    assert np.array_equal(nn.Linear(3, 2).weight.data, a)
    assert nn.Affine is nn.Linear
    with pytest.raises(ValueError, match="init must be"):
        nn.Linear(2, 2, init="magic")
    with pytest.raises(ValueError, match="in_features must be a positive integer"):
        nn.Linear(0, 2)


def test_bad_input():
    layer = nn.Linear(784, 10)
    with pytest.raises(ValueError, match="Linear expected 784 input features, got 783"):
        layer(mg.zeros(2, 783))
    with pytest.raises(TypeError, match=r"Linear: expected a floating tensor, got a int64"):
        layer(mg.tensor(np.zeros((2, 784), dtype=np.int64)))
    with pytest.raises(TypeError, match="Linear: the input has dtype float64 but the weight"):
        layer(mg.zeros(2, 784, dtype=np.float64))
    with pytest.raises(ValueError, match=r"affine: the bias must have shape \(2,\), got \(3,\)"):
        F.affine(mg.zeros(1, 2), mg.zeros(2, 2), mg.zeros(3))
    with pytest.raises(ValueError, match=r"affine: the weight must have shape"):
        F.affine(mg.zeros(1, 2), mg.zeros(2))
