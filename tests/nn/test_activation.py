"""Activation layers against NumPy references and central differences; dtypes; bad input."""
import numpy as np
import pytest
from hypothesis import given

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.testing import strategies as mst

from .helpers import check_layer_gradients, leaf

pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")

LAYERS = [
    (nn.Sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    (nn.ReLU, lambda x: np.where(x > 0, x, 0.0)),
    (nn.Tanh, np.tanh),
    (lambda: nn.LeakyReLU(0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    (nn.LeakyReLU, lambda x: np.where(x > 0, x, 0.01 * x)),
    (nn.Identity, lambda x: x),
]


@pytest.mark.parametrize("make, reference", LAYERS)
@given(x=mst.arrays(shape=mst.shapes(min_dims=1, max_dims=3), away_from=(0.0,)))
def test_activation_forward_and_gradient(make, reference, x):
    layer = make()
    y = layer(leaf(x))
    np.testing.assert_allclose(y.data, reference(x), rtol=1e-12, atol=1e-12)
    if not isinstance(layer, nn.Identity):
        check_layer_gradients(layer, leaf(x))


@given(x=mst.arrays(shape=mst.shapes(min_dims=1, max_dims=3), away_from=(0.0,)))
def test_leaky_relu_is_twice_differentiable(x):
    assert mg.gradgradcheck(lambda t: F.leaky_relu(t, 0.3), [leaf(x)], seed=0)


@pytest.mark.parametrize("make", [m for m, _ in LAYERS] + [nn.Flatten])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(make, dtype):
    x = mg.tensor(np.linspace(-2, 2, 24).reshape(2, 3, 4), dtype=dtype, requires_grad=True)
    y = make()(x)
    (y * y).sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype


@given(x=mst.arrays(shape=mst.shapes(min_dims=2, max_dims=4)))
def test_flatten(x):
    y = nn.Flatten()(leaf(x))
    np.testing.assert_array_equal(y.data, x.reshape(x.shape[0], -1))
    check_layer_gradients(nn.Flatten(), leaf(x))
    assert nn.Flatten(0, -1)(leaf(x)).shape == (x.size,)


@pytest.mark.parametrize("layer", [nn.Sigmoid(), nn.ReLU(), nn.Tanh(), nn.LeakyReLU()])
def test_non_floating_input_is_refused(layer):
    with pytest.raises(TypeError, match=f"{type(layer).__name__}: expected a floating tensor"):
        layer(mg.tensor([1, 2, 3]))


def test_bad_slope():
    with pytest.raises(TypeError, match="LeakyReLU: negative_slope must be a number"):
        nn.LeakyReLU("0.1")
    with pytest.raises(TypeError, match="leaky_relu: negative_slope must be a number"):
        F.leaky_relu(mg.ones(2), None)
    with pytest.raises(ValueError, match="leaky_relu: negative_slope must be finite, got inf"):
        F.leaky_relu(mg.ones(2), float("inf"))
    # a NumPy number or an int is checked one check at a time, and accepted
    assert F.leaky_relu(mg.tensor([-2.0]), np.float32(0.5)).item() == -1.0
    assert F.leaky_relu(mg.tensor([-2.0]), 0).item() == 0.0


def test_repr():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Flatten()) == "Flatten(start_axis=1, end_axis=-1)"
