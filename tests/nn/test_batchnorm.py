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
    x_hat = centred / (xp.var(axis=axes, keepdims=True) + EPS).sqrt()
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


def _valid_batch_norm_args(**change):
    """Arguments of F.batch_norm for the usual case (every array given, float settings)."""
    args = dict(x=mg.zeros(4, 2, dtype=np.float32), running_mean=np.zeros(2, np.float32),
                running_var=np.ones(2, np.float32), weight=mg.ones(2, dtype=np.float32),
                bias=mg.zeros(2, dtype=np.float32), training=True, momentum=0.1, eps=EPS)
    return {**args, **change}


@pytest.mark.parametrize("change, error, message", [
    (dict(eps=0.0), ValueError, r"batch_norm: eps must be positive, got 0.0"),
    (dict(eps=float("nan")), ValueError, r"eps must be positive, got nan"),
    (dict(eps="1e-5"), TypeError, r"eps must be a number, got '1e-5'"),
    (dict(momentum=-0.1), ValueError, r"momentum must be in \[0, 1\] or None, got -0.1"),
    (dict(momentum=float("nan")), ValueError, r"momentum must be in \[0, 1\] or None"),
    (dict(running_var=None), ValueError, r"give both running_mean and running_var"),
    (dict(running_mean=[0.0, 0.0]), TypeError, r"running_mean must be an ndarray \(updated in "
                                               r"place\) or None, got list"),
    (dict(running_var=np.ones(3, np.float32)), ValueError, r"the running_var has shape \(3,\) "
                                                           r"but the input of shape \(4, 2\)"),
    (dict(running_mean=np.zeros(2)), TypeError, r"the input has dtype float32 but the "
                                                r"running_mean has dtype float64"),
    (dict(weight=mg.ones(2, dtype=np.float64)), TypeError, r"the input has dtype float32 but "
                                                           r"the weight has dtype float64"),
    (dict(weight=mg.tensor([1, 1])), TypeError, r"batch_norm \(weight\): expected a floating"),
    (dict(bias=None), ValueError, r"give both weight and bias, or neither"),
    (dict(x=mg.zeros(4, dtype=np.float32)), ValueError, r"expected an input of shape "
                                                        r"\(N, C, ...\), got \(4,\)"),
    (dict(x=mg.tensor(np.zeros((4, 2), int))), TypeError, r"batch_norm: expected a floating"),
])
def test_every_batch_norm_check_still_fires(change, error, message):
    # the usual case passes one combined test; a failure of it runs every check one by one
    args = _valid_batch_norm_args(**change)
    with pytest.raises(error, match=message):
        F.batch_norm(**args)
    if isinstance(args["running_mean"], np.ndarray):
        assert not args["running_mean"].any()           # nothing was updated on errors


def test_unusual_valid_batch_norm_arguments_are_accepted():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    usual = F.batch_norm(**_valid_batch_norm_args(x=mg.tensor(x))).data
    for change in (dict(eps=np.float32(EPS)), dict(eps=np.array(EPS)), dict(momentum=1),
                   dict(momentum=np.float64(0.1)), dict(x=x)):
        args = _valid_batch_norm_args(**{"x": mg.tensor(x), **change})
        np.testing.assert_array_equal(F.batch_norm(**args).data, usual)


def test_layer_settings_are_checked_at_each_call():
    layer = nn.BatchNorm1d(2)
    x = mg.zeros(4, 2)
    layer.eps = 0.0
    with pytest.raises(ValueError, match="BatchNorm1d: eps must be positive, got 0.0"):
        layer(x)
    layer.eps, layer.momentum = EPS, 1.5
    with pytest.raises(ValueError, match=r"BatchNorm1d: momentum must be in \[0, 1\] or None"):
        layer(x)
    assert layer.num_batches_tracked == 0


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


def test_a_batch_counter_that_is_not_an_integer_is_refused():
    # a bool counter would saturate at True: momentum=None would silently become 1.0
    bn = nn.BatchNorm1d(3, momentum=None)
    bn.num_batches_tracked = np.array(True)
    x = mg.tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    with pytest.raises(TypeError, match="BatchNorm1d: num_batches_tracked must be an integer"):
        bn(x)
