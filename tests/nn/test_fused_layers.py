"""The fused layer ops of issue 20 (fewer NumPy calls): BatchNorm (y = (x − μ)·γ/σ + β, sums
over the batch as ones @ a, Σ dy·x̂ read from x − μ) and softmax cross-entropy (softmax divided
only in backward, into the new gradient). Each against a NumPy definition of the old formula
in float32 and float64 on odd shapes (bit for bit where the arithmetic is the same), by
gradcheck with a random upstream gradient, and for in-place writes after use and a second
backward with ``retain_graph=True`` (also for ReLU and dropout). ReLU's forward is pinned
bit for bit to np.maximum(x, 0) for whoever makes it faster (a maximum against an array of
zeros was tried: see docs/performance.md)."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import strategies as mst

EPS = 1e-5
DTYPES = [np.float32, np.float64]
# float32 results against a float64 reference of the same inputs: a few float32 roundings
# of the largest term involved; float64: the fused order and the old one differ in rounding.
TOL = {np.float32: 3e-5, np.float64: 1e-11}


# -- BatchNorm ----------------------------------------------------------------------------
@st.composite
def bn_case(draw, dtype):
    """(x, γ, β, dy) with x of shape (N, C), (N, C, L) or (N, C, H, W), odd sizes, N ≥ 2."""
    n, c = draw(st.integers(2, 7)), draw(st.integers(1, 6))
    spatial = draw(st.sampled_from([(), (3,), (2, 3), (1, 5)]))
    shape = (n, c, *spatial)
    x = draw(mst.arrays(shape=shape, dtype=dtype))
    gamma = draw(mst.arrays(shape=(c,), dtype=dtype, away_from=(0.0,), margin=0.1))
    beta = draw(mst.arrays(shape=(c,), dtype=dtype))
    gy = draw(mst.arrays(shape=shape, dtype=dtype))
    axes = (0,) + tuple(range(2, x.ndim))
    assume(x.astype(np.float64).var(axis=axes).min() > 1e-2)   # σ ≫ √ε: x̂ well defined
    return x, gamma, beta, gy


def old_batch_norm(x, gamma, beta, gy, mean=None, var=None):
    """The textbook formulas (the ones minigrad computed before the fusion), in float64:
    y = γ x̂ + β; dγ = Σ dy·x̂, dβ = Σ dy, dx = γ/σ·(dy − Σdy/m − x̂·Σ(dy·x̂)/m) with batch
    statistics, dx = γ/σ·dy with given (running) ones."""
    x, gamma, beta, gy = (a.astype(np.float64) for a in (x, gamma, beta, gy))
    axes = (0,) + tuple(range(2, x.ndim))
    shape = (1, -1) + (1,) * (x.ndim - 2)
    training = mean is None
    if training:
        mean, var = x.mean(axis=axes), x.var(axis=axes)
    inv_std = (1 / np.sqrt(var + EPS)).reshape(shape)
    x_hat = (x - mean.reshape(shape)) * inv_std
    y = x_hat * gamma.reshape(shape) + beta.reshape(shape)
    g_gamma, g_beta = (gy * x_hat).sum(axis=axes), gy.sum(axis=axes)
    if training:
        m = x.size // x.shape[1]
        gx = gy - g_beta.reshape(shape) / m - x_hat * g_gamma.reshape(shape) / m
    else:
        gx = gy
    gx = gx * gamma.reshape(shape) * inv_std
    return y, gx, g_gamma, g_beta, mean, var


def bn_scale(x, gamma, gy, var):
    """The size of the largest term in the outputs and gradients (for the float32 tolerance)."""
    inv_std = 1 / np.sqrt(var.astype(np.float64).min() + EPS)
    x_hat = np.abs(x).max() * 2 * inv_std
    return max(1.0, np.abs(gamma).max() * inv_std * np.abs(gy).max() * (2 + x_hat ** 2) *
               max(1, x.size // x.shape[1]), x_hat)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_batch_norm_training_matches_the_old_formula(dtype, data):
    x, gamma, beta, gy = data.draw(bn_case(dtype))
    c = x.shape[1]
    running_mean, running_var = np.full(c, 0.5, dtype), np.full(c, 2.0, dtype)
    xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    y = F.batch_norm(xt, running_mean, running_var, wt, bt, training=True, momentum=0.3)
    y.backward(mg.tensor(gy))
    want_y, want_gx, want_gw, want_gb, mean, var = old_batch_norm(x, gamma, beta, gy)
    atol = TOL[dtype] * bn_scale(x, gamma, gy, var)
    for got, want in [(y, want_y), (xt.grad, want_gx), (wt.grad, want_gw), (bt.grad, want_gb)]:
        assert got.dtype == dtype and got.shape == want.shape
        np.testing.assert_allclose(got.data, want, rtol=TOL[dtype], atol=atol)
    m = x.size // c                           # the running statistics: the old update
    np.testing.assert_allclose(running_mean, 0.7 * 0.5 + 0.3 * mean, rtol=TOL[dtype],
                               atol=TOL[dtype] * np.abs(x).max())
    np.testing.assert_allclose(running_var, 0.7 * 2.0 + 0.3 * m / (m - 1) * var,
                               rtol=TOL[dtype], atol=TOL[dtype] * np.abs(x).max() ** 2)


@pytest.mark.parametrize("dtype", DTYPES)
@given(data=st.data())
def test_batch_norm_eval_matches_the_old_formula(dtype, data):
    x, gamma, beta, gy = data.draw(bn_case(dtype))
    c = x.shape[1]
    mean = data.draw(mst.arrays(shape=(c,), dtype=dtype))
    var = data.draw(mst.arrays(shape=(c,), dtype=dtype, positive=True, margin=0.1))
    xt, wt, bt = (mg.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    y = F.batch_norm(xt, mean.copy(), var.copy(), wt, bt, training=False)
    y.backward(mg.tensor(gy))
    want_y, want_gx, want_gw, want_gb, _, _ = old_batch_norm(x, gamma, beta, gy, mean, var)
    atol = TOL[dtype] * bn_scale(x - mean.reshape((1, -1) + (1,) * (x.ndim - 2)), gamma, gy,
                                 var)
    for got, want in [(y, want_y), (xt.grad, want_gx), (wt.grad, want_gw), (bt.grad, want_gb)]:
        assert got.dtype == dtype
        np.testing.assert_allclose(got.data, want, rtol=TOL[dtype], atol=atol)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@given(data=st.data())
def test_batch_norm_gradcheck(training, affine, data):
    x, gamma, beta, _ = data.draw(bn_case(np.float64))
    c = x.shape[1]
    assume(x.size // c >= 3)     # two values per channel: x̂ = ±1 whatever x, dx = 0 exactly
    stats = (None, None) if training else (np.zeros(c), np.full(c, 1.5))
    inputs = [mg.tensor(a, requires_grad=True) for a in ((x, gamma, beta) if affine else (x,))]

    def f(x_, *params):
        return F.batch_norm(x_, *stats, *params, training=training)
    assert mg.gradcheck(f, inputs, seed=data.draw(st.integers(0, 2**32 - 1)))


def test_batch_norm_sums_over_the_batch_as_a_product_only_for_float32_and_float64_rows():
    from minigrad.functional.normalization import batch_ones
    assert batch_ones(np.zeros((5, 3), np.float32)).tolist() == [1.0] * 5
    assert batch_ones(np.zeros((5, 3), np.float64)).dtype == np.float64
    assert batch_ones(np.zeros((5, 3), np.float16)) is None     # (no BLAS: np.add.reduce)
    assert batch_ones(np.zeros((5, 3, 2), np.float32)) is None


# -- softmax cross-entropy ----------------------------------------------------------------
@st.composite
def ce_case(draw, dtype, probabilities, bound=8.0):
    n, c = draw(st.integers(1, 7)), draw(st.integers(2, 6))
    z = draw(mst.arrays(shape=(n, c), dtype=dtype, bound=bound))
    if probabilities:
        t = draw(mst.arrays(shape=(n, c), dtype=dtype, positive=True))
        t = t / t.sum(axis=1, keepdims=True) * dtype(draw(st.sampled_from([1.0, 0.5, 2.0])))
    else:
        t = np.array(draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    return z, t


def old_cross_entropy(z, t, reduction, gy):
    """The old forward and backward step by step, in z's dtype: p = softmax(z) divided in
    forward and copied in backward; −log_p[rows, t] for labels."""
    with np.errstate(over="ignore"):
        shifted = z - z.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sum_exp = exp.sum(axis=1, keepdims=True)
    log_p = shifted - np.log(sum_exp)
    p = exp / sum_exp
    n = z.shape[0]
    labels = t.dtype.kind in "iu"
    losses = -log_p[np.arange(n), t] if labels else -(t * log_p).sum(axis=1)
    out = losses if reduction == "none" else losses.sum()
    if reduction == "mean":
        out = out / n
    scale = gy[:, None] if reduction == "none" else float(gy) / (n if reduction == "mean"
                                                                 else 1)
    if labels:
        gz = p.copy()
        gz[np.arange(n), t] -= 1
    else:
        gz = p * t.sum(axis=1, keepdims=True)
        gz -= t
    gz *= scale
    return out, gz, -log_p * scale


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("probabilities", [False, True])
@given(data=st.data())
def test_cross_entropy_is_the_old_arithmetic_bit_for_bit(dtype, reduction, probabilities, data):
    z, t = data.draw(ce_case(dtype, probabilities))
    gy = data.draw(mst.arrays(shape=(z.shape[0],) if reduction == "none" else (), dtype=dtype))
    zt = mg.tensor(z, requires_grad=True)
    tt = mg.tensor(t, requires_grad=True) if probabilities else t
    loss = F.softmax_cross_entropy(zt, tt, reduction)
    loss.backward(mg.tensor(gy))
    want, want_gz, want_gt = old_cross_entropy(z, t, reduction, gy)
    assert loss.dtype == zt.grad.dtype == dtype
    np.testing.assert_array_equal(loss.data, want)
    np.testing.assert_array_equal(zt.grad.data, want_gz)
    if probabilities:
        np.testing.assert_array_equal(tt.grad.data, want_gt)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("probabilities", [False, True])
@given(data=st.data())
def test_cross_entropy_gradcheck(reduction, probabilities, data):
    z, t = data.draw(ce_case(np.float64, probabilities, bound=3.0))   # softmax not saturated:
    inputs = [mg.tensor(z, requires_grad=True)]                       # dz is not ~0
    if probabilities:
        inputs.append(mg.tensor(t, requires_grad=True))

    def f(z_, t_=t):
        return F.softmax_cross_entropy(z_, t_, reduction)
    assert mg.gradcheck(f, inputs, seed=data.draw(st.integers(0, 2**32 - 1)))


# -- ReLU ---------------------------------------------------------------------------------
SPECIAL = [np.nan, -np.inf, np.inf, -0.0, 0.0, -1e-30, 1e-30]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@given(data=st.data())
def test_relu_is_max_against_zero_bit_for_bit(dtype, data):
    # the values of np.maximum(x, 0), NaN, ±inf and the sign of zero included, on any layout
    shape = data.draw(mst.shapes(min_dims=0, max_dims=3, max_side=5))
    x = data.draw(mst.arrays(shape=shape, dtype=dtype))
    specials = np.array(data.draw(st.lists(st.sampled_from(SPECIAL), min_size=x.size,
                                           max_size=x.size)), dtype).reshape(shape)
    x = np.where(np.asarray(data.draw(mst.arrays(shape=shape))) > 1, specials, x)
    if x.ndim == 2 and data.draw(st.booleans()):
        x = x.T                                          # a transposed view
    y = F.relu(mg.tensor(x))
    want = np.maximum(x, 0)
    assert y.dtype == dtype and y.shape == want.shape
    np.testing.assert_array_equal(y.data, want)
    np.testing.assert_array_equal(np.signbit(y.data), np.signbit(want))


@given(x=mst.arrays(shape=mst.shapes(min_dims=1, max_dims=3, max_side=5),
                    away_from=(0.0,)), seed=st.integers(0, 2**32 - 1))
def test_relu_gradcheck(x, seed):
    x = x.copy()
    x.flat[0] = abs(x.flat[0])                           # not all negative: not vacuous
    assert mg.gradcheck(F.relu, [mg.tensor(x, requires_grad=True)], seed=seed)


# -- in-place writes after use, and a second backward -------------------------------------
def _bn_layer(training):
    layer = mg.nn.BatchNorm1d(3, dtype=np.float64)
    layer.weight.data[...] = [0.5, -2.0, 1.5]
    layer.bias.data[...] = [0.1, 0.2, -0.3]
    return layer.train(training)


def _layer_calls():
    rng = np.random.default_rng(3)
    labels = np.array([0, 2, 1, 2, 0])
    probs = rng.random((5, 3))
    probs /= probs.sum(axis=1, keepdims=True)
    return {
        "batch_norm training": lambda h: _bn_layer(True)(h),
        "batch_norm eval": lambda h: _bn_layer(False)(h),
        "cross_entropy labels": lambda h: F.softmax_cross_entropy(h, labels, "none"),
        "cross_entropy probabilities": lambda h: F.softmax_cross_entropy(h, probs, "sum"),
        "dropout": lambda h: F.dropout(h, 0.4, mask=rng.random(h.shape) > 0.4),
        "relu": F.relu,
    }


CALLS = _layer_calls()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_second_backward_with_retain_graph_gives_the_same_gradient(name):
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    y = CALLS[name](x * 1.0)
    gy = mg.tensor(rng.standard_normal(y.shape))
    y.backward(gy, retain_graph=True)
    first = x.grad.data.copy()
    x.grad.mul_(0.0)                          # an in-place write to the gradient it returned
    y.backward(gy)
    np.testing.assert_array_equal(x.grad.data, first)
    with pytest.raises(RuntimeError, match="second time"):
        y.backward(gy)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_an_input_written_in_place_after_use_still_raises(name):
    x = mg.tensor(np.random.default_rng(1).standard_normal((5, 3)), requires_grad=True)
    h = x * 1.0
    y = CALLS[name](h)
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()


def test_batch_norm_weight_written_after_use_still_raises():
    layer = _bn_layer(True)
    y = layer(mg.tensor(np.random.default_rng(2).standard_normal((4, 3)), requires_grad=True))
    with mg.no_grad():
        layer.weight.mul_(2.0)                 # e.g. an optimizer step before backward
    with pytest.raises(RuntimeError, match="BatchNorm"):
        y.sum().backward()
