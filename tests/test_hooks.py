"""Tensor.register_hook (gradient hooks) and Module.register_forward_hook."""
import numpy as np
import pytest
from hypothesis import given

import minigrad as mg
from minigrad.testing import strategies as mst


class Recorder:
    """A hook that remembers every gradient it sees (copied) and optionally replaces it."""

    def __init__(self, replace=None):
        self.seen = []
        self.replace = replace

    def __call__(self, grad):
        assert isinstance(grad, mg.Tensor)
        self.seen.append(grad.data.copy())
        return None if self.replace is None else self.replace(grad)


# -- Tensor.register_hook ------------------------------------------------------------------------
@given(mst.arrays(shape=mst.shapes(min_dims=1, max_dims=2)))
def test_leaf_hook_fires_once_with_the_total_gradient(values):
    x = mg.tensor(values, requires_grad=True)
    hook = Recorder()
    x.register_hook(hook)
    loss = (x * x + x.tanh() + x).sum()          # x used four times
    loss.backward()
    assert len(hook.seen) == 1
    expected = 2 * values + (1 - np.tanh(values) ** 2) + 1
    np.testing.assert_allclose(hook.seen[0], expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-12)


@given(mst.arrays(shape=mst.shapes(min_dims=1, max_dims=2)))
def test_non_leaf_hook_fires_once_with_the_total_gradient(values):
    x = mg.tensor(values, requires_grad=True)
    y = x * 3.0
    hook = Recorder()
    y.register_hook(hook)
    loss = (y * y).sum() + y.sum()               # dL/dy = 2y + 1
    loss.backward()
    assert len(hook.seen) == 1
    np.testing.assert_allclose(hook.seen[0], 2 * 3.0 * values + 1, rtol=1e-12, atol=1e-12)
    assert y.grad is None                        # a non-leaf's .grad is not filled


def test_hooks_fire_once_per_backward():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2.0
    leaf, inner = Recorder(), Recorder()
    x.register_hook(leaf)
    y.register_hook(inner)
    loss = y.sum()
    loss.backward(retain_graph=True)
    loss.backward()
    assert len(leaf.seen) == len(inner.seen) == 2
    np.testing.assert_array_equal(leaf.seen[1], [2.0, 2.0])   # each backward's own gradient
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0])    # .grad accumulates


def test_hook_on_the_root_sees_and_may_replace_the_seed_gradient():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (x * x).sum()
    hook = Recorder(replace=lambda g: g * 0.5)
    loss.register_hook(hook)
    loss.backward()
    np.testing.assert_array_equal(hook.seen[0], 1.0)
    np.testing.assert_array_equal(x.grad.data, x.data)        # 0.5 * 2x


def test_leaf_hook_replacement_goes_into_grad():
    x = mg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    x.register_hook(lambda g: g * 0.5)
    (x * 4.0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_non_leaf_hook_replacement_flows_upstream():
    x = mg.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    y = x.exp()
    y.register_hook(lambda g: mg.tensor(np.array([1.0, 0.0, -1.0])))
    (y * 7.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.array([1.0, 0.0, -1.0]) * np.exp(x.data))


def test_hooks_chain_in_registration_order():
    x = mg.tensor(np.array([3.0]), requires_grad=True)
    first = Recorder(replace=lambda g: g + 1.0)
    second = Recorder(replace=lambda g: g * 10.0)
    x.register_hook(first)
    x.register_hook(second)
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(first.seen[0], [2.0])
    np.testing.assert_array_equal(second.seen[0], [3.0])      # sees the first replacement
    np.testing.assert_array_equal(x.grad.data, [30.0])


def test_removed_hook_is_not_called():
    x = mg.tensor(np.array([1.0]), requires_grad=True)
    kept, removed = Recorder(), Recorder(replace=lambda g: g * 0.0)
    x.register_hook(kept)
    handle = x.register_hook(removed)
    handle.remove()
    handle.remove()                                           # a second remove is harmless
    (x * 5.0).sum().backward()
    assert removed.seen == [] and len(kept.seen) == 1
    np.testing.assert_array_equal(x.grad.data, [5.0])


def test_hook_may_remove_itself_while_running():
    x = mg.tensor(np.array([1.0]), requires_grad=True)
    calls = []

    def once(grad):
        calls.append(1)
        handle.remove()

    handle = x.register_hook(once)
    (x * 1.0).sum().backward()
    (x * 1.0).sum().backward()
    assert calls == [1]


def test_hooks_fire_under_mg_grad_and_keep_float32():
    x = mg.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    hook = Recorder(replace=lambda g: g * 2.0)
    x.register_hook(hook)
    (gx,) = mg.grad((x * x).sum(), x)
    assert hook.seen[0].dtype == np.float32 and gx.dtype == np.float32
    np.testing.assert_array_equal(gx.data, np.array([4.0, 8.0], dtype=np.float32))
    assert x.grad is None


def test_hook_of_a_tensor_outside_the_graph_is_not_called():
    x = mg.tensor(np.array([1.0]), requires_grad=True)
    unused = mg.tensor(np.array([1.0]), requires_grad=True)
    hook = Recorder()
    unused.register_hook(hook)
    (x * 2.0).sum().backward()
    assert hook.seen == []


def test_hook_returning_a_wrong_shape_raises():
    x = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    x.register_hook(lambda g: np.ones((2, 3)))   # would silently sum to (3,) without the check
    with pytest.raises(ValueError, match=r"shape \(2, 3\) for a tensor of shape \(3,\)"):
        (x * 2.0).sum().backward()


def test_register_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor(np.ones(2)).register_hook(lambda g: None)


# -- Module.register_forward_hook ----------------------------------------------------------------
def test_forward_hook_sees_module_inputs_and_output_once_per_call_and_can_be_removed():
    from minigrad import nn
    layer = nn.Linear(3, 2, dtype=np.float64)
    seen = []
    handle = layer.register_forward_hook(lambda m, inputs, out: seen.append((m, inputs, out)))
    x = mg.tensor(np.arange(12.0).reshape(4, 3))
    y = layer(x)
    assert len(seen) == 1
    module, inputs, out = seen[0]
    assert module is layer and inputs == (x,) and out is y
    np.testing.assert_allclose(out.data, x.data @ layer.weight.data + layer.bias.data)
    layer(x)
    assert len(seen) == 2
    handle.remove()
    layer(x)
    assert len(seen) == 2


def test_forward_hooks_chain_and_a_replaced_output_is_differentiated():
    from minigrad import nn
    layer = nn.Linear(2, 3, dtype=np.float64)
    order = []
    layer.register_forward_hook(lambda m, inputs, out: order.append("first") or out * 3.0)
    layer.register_forward_hook(lambda m, inputs, out: order.append(("second", out)))
    x = mg.tensor(np.array([[1.0, -1.0], [0.5, 2.0]]), requires_grad=True)
    y = layer(x)
    assert order[0] == "first" and order[1][0] == "second" and order[1][1] is y
    np.testing.assert_allclose(y.data, 3.0 * (x.data @ layer.weight.data + layer.bias.data))
    y.sum().backward()
    # y = 3 (x W + b): every gradient is 3 times the plain affine one
    np.testing.assert_allclose(layer.bias.grad.data, [6.0, 6.0, 6.0])
    np.testing.assert_allclose(layer.weight.grad.data, 3.0 * x.data.T @ np.ones((2, 3)))
    np.testing.assert_allclose(x.grad.data, 3.0 * np.ones((2, 3)) @ layer.weight.data.T)


def test_forward_hook_on_a_container_sees_the_whole_forward():
    from minigrad import nn
    net = nn.Sequential(nn.Linear(3, 4, dtype=np.float64), nn.ReLU(),
                        nn.Linear(4, 2, dtype=np.float64))
    shapes = []
    for module in net.modules():
        module.register_forward_hook(lambda m, inputs, out: shapes.append(
            (type(m).__name__, inputs[0].shape, out.shape)))
    net(mg.tensor(np.ones((5, 3))))
    assert shapes == [("Linear", (5, 3), (5, 4)), ("ReLU", (5, 4), (5, 4)),
                      ("Linear", (5, 4), (5, 2)), ("Sequential", (5, 3), (5, 2))]
