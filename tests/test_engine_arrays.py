"""A plain backward keeps the gradients waiting in ``pending`` as ndarrays (``Step.holds``) and
makes a Tensor only for a Tensor rule, a hook or a leaf's ``.grad``. These tests check the
places where arrays and Tensors meet: every result is compared with the same graph run through
the Watched step (``create_graph=True``, which keeps Tensors), float32 and float64."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad.autograd import Function, Step
from minigrad.watch import Watched

DTYPES = [np.float32, np.float64]


class SameArrayTwice(Function):
    """y = a + b whose array rule hands both inputs one array (allowed: rules return new or
    shared arrays, never write into them)."""

    def forward(self, a, b):
        return a + b

    def backward(self, gy):
        return gy, gy

    def backward_arrays(self, gy):
        return gy, gy


class Identity(Function):
    """y = x, whose array rule returns the upstream gradient itself."""

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        return gy

    def backward_arrays(self, gy):
        return gy


class TensorRuleOnly(Function):
    """y = 3 x with only a Tensor rule (a Tensor between array rules in a plain backward)."""

    def forward(self, x):
        return x * x.dtype.type(3)

    def backward(self, gy):
        return gy * 3.0


class SumToScalar(Function):
    """y = Σ x, whose array rule may hand back a NumPy scalar for a 0-d input."""

    def forward(self, x):
        return np.add.reduce(x, axis=None)

    def backward_arrays(self, gy):
        return np.add.reduce(gy * np.ones_like(self.inputs[0].data), axis=None) \
            if self.inputs[0].data.ndim == 0 else gy * np.ones_like(self.inputs[0].data)

    def backward(self, gy):
        return gy * mg.tensor(np.ones_like(self.inputs[0].data))


def _leaves(rng, dtype, shape=(3, 4)):
    return [mg.tensor(rng.standard_normal(shape).astype(dtype), requires_grad=True)
            for _ in range(3)]


def _both_ways(build, leaves, upstream):
    """Gradients of ``build(*leaves)`` for ``upstream`` by a plain backward and by the Watched
    step (which holds Tensors): (plain, watched), lists of arrays."""
    build(*leaves).backward(upstream)
    plain = [leaf.grad.data.copy() for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    build(*leaves).backward(upstream, create_graph=True)
    watched = [leaf.grad.data.copy() for leaf in leaves]
    for leaf in leaves:
        leaf.grad = None
    return plain, watched


def test_the_plain_step_holds_arrays_and_the_watched_one_tensors():
    assert Step.holds is np.ndarray
    assert Watched.holds is mg.Tensor


@pytest.mark.parametrize("dtype", DTYPES)
@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31 - 1))
def test_array_and_tensor_rules_mixed_agree_with_the_watched_step(dtype, seed):
    rng = np.random.default_rng(seed)
    leaves = _leaves(rng, dtype)
    upstream = rng.standard_normal((3, 4)).astype(dtype)

    def build(a, b, c):      # array rules, a Tensor rule, fan-in and a broadcast in one graph
        h = TensorRuleOnly.apply(a * b) + Identity.apply(c)
        return SameArrayTwice.apply(h, c[0]) * a

    plain, watched = _both_ways(build, leaves, upstream)
    a, b, c = (leaf.data.astype(np.float64) for leaf in leaves)
    g = upstream.astype(np.float64)
    h = 3 * a * b + c
    expected = [3 * b * g * a + (h + c[0]) * g, 3 * a * g * a, g * a]
    expected[2][0] += (g * a).sum(axis=0)                # c[0], broadcast over the rows
    for got_plain, got_watched, want in zip(plain, watched, expected):
        assert got_plain.dtype == dtype
        np.testing.assert_allclose(got_plain, got_watched, rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(got_plain, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_leaves_handed_one_array_get_grads_of_their_own(dtype):
    a = mg.tensor(np.ones(3, dtype), requires_grad=True)
    b = mg.tensor(np.ones(3, dtype), requires_grad=True)
    SameArrayTwice.apply(a, b).backward(np.full(3, 2.0, dtype))
    assert not np.shares_memory(a.grad.data, b.grad.data)
    a.grad += 1                                        # an in-place update of one of them
    np.testing.assert_array_equal(a.grad.data, np.full(3, 3.0, dtype))
    np.testing.assert_array_equal(b.grad.data, np.full(3, 2.0, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_upstream_gradient_reaching_a_leaf_is_copied(dtype):
    x = mg.tensor(np.ones(3, dtype), requires_grad=True)
    upstream = mg.tensor(np.array([1.0, 2.0, 3.0], dtype))
    Identity.apply(x).backward(upstream)
    np.testing.assert_array_equal(x.grad.data, upstream.data)
    assert not np.shares_memory(x.grad.data, upstream.data)
    assert x.grad.dtype == dtype


def test_a_hook_in_a_plain_backward_gets_a_tensor_and_its_replacement_flows_on():
    x = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    y = Identity.apply(x * 2.0)
    seen = []

    def hook(g):
        seen.append(type(g))
        return g * 10.0
    y.register_hook(hook)
    (y * 1.0).backward(np.ones(3))
    assert seen == [mg.Tensor]
    np.testing.assert_array_equal(x.grad.data, np.full(3, 20.0))


class Halves(Function):
    """(x[:, :k], x[:, k:]) for an even width: an op with two outputs."""

    def forward(self, x):
        k = x.shape[1] // 2
        return x[:, :k].copy(), x[:, k:].copy()

    def backward(self, g_left, g_right):
        return mg.tensor(np.concatenate([g_left.data, g_right.data], axis=1))


@pytest.mark.parametrize("dtype", DTYPES)
def test_a_node_with_several_outputs_gets_tensors_and_zeros_for_an_unused_one(dtype):
    x = mg.tensor(np.arange(8, dtype=dtype).reshape(2, 4), requires_grad=True)
    left, right = Halves.apply(x * 1.0)
    seen = []
    left.register_hook(lambda g: seen.append(type(g)))
    (left * 3.0).backward(np.ones((2, 2), dtype))       # right gets no gradient: zeros
    assert seen == [mg.Tensor]
    np.testing.assert_array_equal(x.grad.data, [[3, 3, 0, 0], [3, 3, 0, 0]])
    assert x.grad.dtype == dtype
    del right


def test_an_array_rule_may_return_a_numpy_scalar():
    x = mg.tensor(np.array(2.0, np.float32), requires_grad=True)
    (SumToScalar.apply(x) * 3.0).backward()
    assert type(x.grad) is mg.Tensor and x.grad.dtype == np.float32
    assert float(x.grad.data) == 3.0
