"""Dropout: inverted scaling, the mask held fixed for gradient checks, reproducibility through
mg.manual_seed and rng, statistics of the mask, evaluation mode, dtypes and bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.testing import strategies as mst

from .helpers import leaf

pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")

PROBABILITIES = st.sampled_from([0.0, 0.2, 0.5, 0.9])


@given(x=mst.arrays(shape=mst.shapes(min_dims=1)), p=PROBABILITIES, data=st.data())
def test_fixed_mask_forward_and_gradients(x, p, data):
    keep = data.draw(hnp.arrays(bool, x.shape))
    y = F.dropout(leaf(x), p, mask=keep)
    np.testing.assert_allclose(y.data, np.where(keep, x / (1 - p), 0.0), rtol=1e-12)
    assert mg.gradcheck(lambda t: F.dropout(t, p, mask=keep), [leaf(x)], seed=0)
    assert mg.gradgradcheck(lambda t: F.dropout(t, p, mask=keep), [leaf(x)], seed=1)


@given(x=mst.arrays(shape=mst.shapes(min_dims=2)), p=PROBABILITIES)
def test_layer_gradients_with_mask_repeated_by_manual_seed(x, p):
    layer = nn.Dropout(p)

    def f(t):
        mg.manual_seed(7)                                   # the same mask on every call
        return layer(t)

    assert mg.gradcheck(f, [leaf(x)], seed=0)


def test_manual_seed_and_rng_reproduce_masks():
    x = mg.ones(50, 40)
    layer = nn.Dropout(0.5)
    mg.manual_seed(3)
    first = layer(x).data
    mg.manual_seed(3)
    assert np.array_equal(layer(x).data, first)
    assert not np.array_equal(layer(x).data, first)         # the generator moves on
    a = nn.Dropout(0.5, rng=np.random.default_rng(11))
    b = nn.Dropout(0.5, rng=np.random.default_rng(11))
    mg.manual_seed(3)
    from_a = a(x).data
    assert np.array_equal(from_a, b(x).data)
    assert not np.array_equal(from_a, first)                # rng overrides the default one


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_kept_fraction_and_mean(p):
    n = 200_000
    x = mg.tensor(np.full(n, 2.0))
    y = F.dropout(x, p, rng=np.random.default_rng(5)).data
    kept = np.count_nonzero(y) / n
    sigma = np.sqrt(p * (1 - p) / n)
    assert abs(kept - (1 - p)) < 5 * sigma
    assert np.all((y == 0) | np.isclose(y, 2.0 / (1 - p)))
    assert abs(y.mean() - 2.0) < 5 * 2.0 / (1 - p) * sigma   # E[y] = x (inverted dropout)


def test_eval_and_zero_probability_are_the_identity():
    x = mg.randn(4, 5, dtype=np.float64)
    layer = nn.Dropout(0.5).eval()
    assert np.array_equal(layer(x).data, x.data)
    assert np.array_equal(F.dropout(x, 0.0).data, x.data)
    assert np.array_equal(F.dropout(x, 0.7, training=False).data, x.data)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(dtype):
    x = mg.tensor(np.ones((3, 4)), dtype=dtype, requires_grad=True)
    y = nn.Dropout(0.3)(x)
    (y * 2).sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype


def test_p_may_be_an_int_or_a_numpy_float():
    x = mg.ones(2, 3)
    assert F.dropout(x, 0) is x
    y = F.dropout(x, np.float32(0.5), mask=np.ones((2, 3), dtype=bool))
    np.testing.assert_array_equal(y.data, 2.0)


def test_bad_input():
    for p in (-0.1, 1.0, 1.5, "0.5", True):
        with pytest.raises(ValueError, match="Dropout: p must be a probability in"):
            nn.Dropout(p)
        with pytest.raises(ValueError, match="dropout: p must be a probability in"):
            F.dropout(mg.ones(2), p)
    with pytest.raises(ValueError, match=r"mask must be a boolean array of the input's shape "
                                         r"\(2, 3\)"):
        F.dropout(mg.ones(2, 3), 0.5, mask=np.ones((3, 2), dtype=bool))
    with pytest.raises(TypeError, match="dropout: expected a floating tensor"):
        nn.Dropout()(mg.tensor([1, 2]))
