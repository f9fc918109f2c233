"""BatchNorm1d / BatchNorm2d: forward against NumPy in both modes, gradients (dx, γ, β) against
central differences and against the composite built from primitive ops, running statistics
against NumPy, dtypes and bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.testing import strategies as mst

from .helpers import check_layer_gradients, leaf

EPS = 1e-5


@st.composite
def bn_case(draw, ndim):
    """(x, gamma, beta) with x of shape (N, C) or (N, C, H, W), at least 2 values per channel."""
    n = draw(st.integers(2, 4))
    c = draw(st.integers(1, 3))
    spatial = draw(st.tuples(st.integers(1, 3), st.integers(1, 3))) if ndim == 4 else ()
    x = draw(mst.arrays(shape=(n, c, *spatial)))
    gamma = draw(mst.arrays(shape=(c,), away_from=(0.0,), margin=0.1))
    beta = draw(mst.arrays(shape=(c,)))
    return x, gamma, beta


def make_layer(x, gamma, beta):
    cls = nn.BatchNorm1d if x.ndim == 2 else nn.BatchNorm2d
    layer = cls(x.shape[1], dtype=np.float64)
    layer.weight.data[...] = gamma
    layer.bias.data[...] = beta
    return layer


def reference(x, gamma, beta, mean=None, var=None):
    """The normalisation written directly in NumPy (batch statistics unless given)."""
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    if mean is None:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    x_hat = (x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + EPS)
    return gamma.reshape(shape) * x_hat + beta.reshape(shape)


@pytest.mark.parametrize("ndim", [2, 4])
@given(data=st.data())
def test_training_forward_and_gradients(ndim, data):
    x, gamma, beta = data.draw(bn_case(ndim))
    layer = make_layer(x, gamma, beta)
    y = layer(leaf(x))
    np.testing.assert_allclose(y.data, reference(x, gamma, beta), rtol=1e-9, atol=1e-9)
    check_layer_gradients(layer, leaf(x))


@pytest.mark.parametrize("ndim", [2, 4])
@given(data=st.data())
def test_eval_forward_and_gradients(ndim, data):
    x, gamma, beta = data.draw(bn_case(ndim))
    layer = make_layer(x, gamma, beta)
    c = x.shape[1]
    mean = data.draw(mst.arrays(shape=(c,)))
    var = data.draw(mst.arrays(shape=(c,), positive=True, margin=0.1))
    layer.running_mean[...] = mean
    layer.running_var[...] = var
    layer.eval()
    y = layer(leaf(x))
    np.testing.assert_allclose(y.data, reference(x, gamma, beta, mean, var), rtol=1e-12,
                               atol=1e-12)
    check_layer_gradients(layer, leaf(x))
    assert np.array_equal(layer.running_mean, mean)     # evaluation changes nothing
    assert layer.num_batches_tracked == 0


@pytest.mark.parametrize("ndim", [2, 4])
@given(data=st.data())
def test_fused_equals_composite(ndim, data):
    x, gamma, beta = data.draw(bn_case(ndim))
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    fused_in = [leaf(a) for a in (x, gamma, beta)]
    plain_in = [leaf(a) for a in (x, gamma, beta)]
    fused = F.batch_norm(fused_in[0], None, None, fused_in[1], fused_in[2], training=True)
    xp, gp, bp = plain_in
    centred = xp - xp.mean(axes, keepdims=True)
    x_hat = centred / (xp.var(axes, keepdims=True) + EPS).sqrt()
    plain = gp.reshape(shape) * x_hat + bp.reshape(shape)
    np.testing.assert_allclose(fused.data, plain.data, rtol=1e-9, atol=1e-9)
    g = np.random.default_rng(4).standard_normal(x.shape)
    fused.backward(g)
    plain.backward(g)
    for a, b in zip(fused_in, plain_in):
        np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-7, atol=1e-7)


def test_running_statistics_after_several_steps():
    rng = np.random.default_rng(0)
    layer = nn.BatchNorm2d(3, momentum=0.2, dtype=np.float64)
    mean, var = np.zeros(3), np.ones(3)
    for _ in range(5):
        x = rng.normal(2.0, 3.0, size=(4, 3, 2, 2))
        layer(mg.tensor(x))
        m = x.shape[0] * 4
        batch_mean = x.mean(axis=(0, 2, 3))
        unbiased = x.var(axis=(0, 2, 3)) * m / (m - 1)
        mean = 0.8 * mean + 0.2 * batch_mean
        var = 0.8 * var + 0.2 * unbiased
    np.testing.assert_allclose(layer.running_mean, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var, var, rtol=1e-12)
    assert layer.num_batches_tracked == 5


def test_cumulative_average_with_momentum_none():
    rng = np.random.default_rng(1)
    layer = nn.BatchNorm1d(2, momentum=None, dtype=np.float64)
    batches = [rng.normal(size=(5, 2)) for _ in range(3)]
    for x in batches:
        layer(mg.tensor(x))
    np.testing.assert_allclose(layer.running_mean, np.mean([b.mean(0) for b in batches], 0))
    np.testing.assert_allclose(layer.running_var,
                               np.mean([b.var(0, ddof=1) for b in batches], 0))


def test_eval_uses_running_statistics_after_training():
    rng = np.random.default_rng(2)
    layer = nn.BatchNorm1d(3, momentum=1.0, dtype=np.float64)
    x = rng.normal(size=(6, 3))
    layer(mg.tensor(x))
    layer.eval()
    one = rng.normal(size=(1, 3))                        # a batch of one is fine in eval
    expected = (one - x.mean(0)) / np.sqrt(x.var(0, ddof=1) + EPS)
    np.testing.assert_allclose(layer(mg.tensor(one)).data, expected, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (4, 3)),
                                        (nn.BatchNorm2d, (2, 3, 2, 2))])
def test_dtype_preserved(dtype, cls, shape):
    layer = cls(3, dtype=dtype)
    x = mg.tensor(np.random.default_rng(0).normal(size=shape), dtype=dtype,
                  requires_grad=True)
    for training in (True, False):
        layer.train(training)
        y = layer(x)
        (y * y).sum().backward()
        assert y.dtype == dtype and x.grad.dtype == dtype
        assert layer.weight.grad.dtype == dtype and layer.bias.grad.dtype == dtype
    assert layer.running_mean.dtype == dtype and layer.running_var.dtype == dtype


def test_without_affine_and_without_running_stats():
    x = np.random.default_rng(3).normal(size=(5, 2))
    layer = nn.BatchNorm1d(2, affine=False, track_running_stats=False, dtype=np.float64)
    assert list(layer.parameters()) == [] and layer.state_dict() == {}
    layer.eval()                                         # no running stats: batch statistics
    np.testing.assert_allclose(layer(mg.tensor(x)).data, reference(x, np.ones(2), np.zeros(2)),
                               rtol=1e-12)
    assert mg.gradcheck(layer, [leaf(x)], seed=0)


def test_bad_input():
    layer = nn.BatchNorm1d(100)
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected more than 1 value per "
                                         r"channel in training, got input shape \(1, 100\)"):
        layer(mg.zeros(1, 100))
    with pytest.raises(ValueError, match=r"BatchNorm1d: expected 100 channels in axis 1 of an "
                                         r"input of shape \(N, C\) or \(N, C, L\), got 99"):
        layer(mg.zeros(4, 99))
    with pytest.raises(ValueError, match=r"BatchNorm2d: expected an input of shape "
                                         r"\(N, C, H, W\), got shape \(4, 3\)"):
        nn.BatchNorm2d(3)(mg.zeros(4, 3))
    with pytest.raises(TypeError, match="BatchNorm1d: expected a floating tensor"):
        layer(mg.tensor(np.zeros((4, 100), dtype=np.int32)))
    with pytest.raises(TypeError, match="BatchNorm1d: the input has dtype float64"):
        layer(mg.zeros(4, 100, dtype=np.float64))
    with pytest.raises(ValueError, match="momentum must be in"):
        nn.BatchNorm1d(3, momentum=1.5)
    with pytest.raises(ValueError, match=r"batch_norm: the weight has shape \(3,\) but the "
                                         r"input of shape \(4, 2\) has 2 channels"):
        F.batch_norm(mg.zeros(4, 2), None, None, mg.ones(3), mg.zeros(3), training=True)
    assert layer.num_batches_tracked == 0                # nothing was counted on errors


def test_second_order_through_batch_norm_raises():
    x = leaf(np.random.default_rng(5).normal(size=(4, 2)))
    layer = nn.BatchNorm1d(2, dtype=np.float64)
    y = layer(x)
    (gx,) = mg.grad((y * y).sum(), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        gx.sum().backward()


def test_functional_momentum_none_needs_a_counter():
    with pytest.raises(ValueError, match="momentum=None"):
        F.batch_norm(mg.zeros(3, 2), np.zeros(2, np.float32), np.ones(2, np.float32),
                     training=True, momentum=None)
