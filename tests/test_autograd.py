"""The engine: the tape, backward, grad mode, mg.grad, higher order and custom Functions."""
import gc
import re
import sys

import numpy as np
import pytest
from hypothesis import given

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import strategies as mst


def leaf(data, dtype=np.float64):
    return mg.tensor(data, dtype=dtype, requires_grad=True)


# -- the tape ----------------------------------------------------------------------------------
def test_a_chain_of_100000_ops_under_the_default_recursion_limit():
    assert sys.getrecursionlimit() <= 10_000
    x, one = leaf(1.0), mg.tensor(1.0)
    y = x
    for _ in range(100_000):
        y = y * one                  # each node depends on the previous one
    y.backward(retain_graph=True)
    assert x.grad.item() == 1.0
    del y                            # freeing a long retained graph must not overflow either
    gc.collect()


def test_each_node_runs_its_backward_once():
    calls = []

    class Spy(mg.Function):
        def forward(self, x):
            return x.copy()

        def backward(self, gy):
            calls.append(1)
            return gy
    x = leaf([1.0, 2.0])
    s = Spy.apply(x)
    y = s * s + s.exp() + s           # s feeds three consumers
    y.sum().backward()
    assert len(calls) == 1
    np.testing.assert_allclose(x.grad.data, 2 * x.data + np.exp(x.data) + 1)


def test_a_tensor_used_several_times_accumulates_every_path():
    x = leaf(3.0)
    y = x * x * x + x * 2 - x        # dy/dx = 3x² + 1
    y.backward()
    assert x.grad.item() == pytest.approx(28.0)
    a = leaf([1.0, 2.0])
    F.add(a, a).sum().backward()     # the same tensor on both sides of one op
    np.testing.assert_array_equal(a.grad.data, [2.0, 2.0])


def test_diamond_graph():
    x = leaf(0.5)
    h = x.exp()
    z = (h.tanh() * h).log()        # x -> h feeds both factors
    z.backward()
    expected = (1 - np.tanh(np.exp(0.5)) ** 2) * np.exp(0.5) / np.tanh(np.exp(0.5)) + 1
    assert x.grad.item() == pytest.approx(expected)


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * 3).sum().backward()
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3 + 2, 3 + 4])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3, 3])


def test_accumulation_never_writes_into_an_array_someone_else_holds():
    x = leaf([1.0, 2.0])
    g = np.ones(2)
    x.backward(g)
    first = x.grad
    snapshot = first.data.copy()
    x.backward(g)
    np.testing.assert_array_equal(first.data, snapshot)
    np.testing.assert_array_equal(g, np.ones(2))
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_retain_graph_allows_a_second_backward_and_its_absence_raises_clearly():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * (np.exp(x.data) * (1 + x.data)))
    with pytest.raises(RuntimeError, match=r"second time.*retain_graph=True"):
        y.backward()


def test_second_backward_through_a_shared_freed_subgraph_raises():
    x = leaf([1.0, 2.0])
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (h * 2).sum().backward()


def test_intermediate_tensors_get_no_grad_and_leaves_do():
    x = leaf([1.0])
    h = x * 2
    (h * h).sum().backward()
    assert h.grad is None and x.grad is not None


def test_backward_with_an_explicit_gradient_tensor_or_array():
    x = leaf(np.arange(6.0).reshape(2, 3))
    g = np.arange(6.0).reshape(2, 3) + 1
    (x * 2).backward(g)
    np.testing.assert_array_equal(x.grad.data, 2 * g)
    x.grad = None
    (x * 2).backward(mg.tensor(g))
    np.testing.assert_array_equal(x.grad.data, 2 * g)


def test_backward_on_a_leaf_sets_its_grad():
    x = leaf(2.0)
    x.backward()
    assert x.grad.item() == 1.0


# -- bad input ---------------------------------------------------------------------------------
def test_backward_on_a_non_scalar_without_gradient_names_the_shape():
    with pytest.raises(RuntimeError, match=r"scalar.*\(2, 3\)"):
        (leaf(np.ones((2, 3))) * 2).backward()


@pytest.mark.parametrize("shape", [(3, 2), (6,), (2, 3, 1), ()])
def test_backward_with_a_gradient_of_the_wrong_shape_names_both_shapes(shape):
    expected = re.escape(f"gradient has shape {shape}") + r".*\(2, 3\)"
    with pytest.raises(ValueError, match=expected):
        (leaf(np.ones((2, 3))) * 2).backward(np.ones(shape))


def test_backward_on_a_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


def test_a_backward_returning_the_wrong_number_of_gradients_names_the_op():
    class TwoInputs(mg.Function):
        def forward(self, a, b):
            return a + b

        def backward(self, gy):
            return gy
    y = TwoInputs.apply(leaf([1.0]), leaf([2.0]))
    with pytest.raises(RuntimeError, match=r"TwoInputs.backward returned 1 gradients for 2"):
        y.sum().backward()


def test_a_backward_returning_an_unreducible_shape_names_the_op_and_shapes():
    class Wrong(mg.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy.reshape(3, 1)
    with pytest.raises(RuntimeError, match=r"Wrong.*\(3, 1\).*\(1, 3\)"):
        Wrong.apply(leaf(np.ones((1, 3)))).sum().backward()


# -- grad mode ---------------------------------------------------------------------------------
def test_no_grad_records_nothing_and_enable_grad_turns_it_back_on():
    x = leaf([1.0, 2.0])
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2 + x.exp()
        with mg.enable_grad():
            assert mg.is_grad_enabled()
            z = x * 2
        w = x * 3
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert z.requires_grad and z.grad_fn is not None
    assert not w.requires_grad
    np.testing.assert_allclose(y.data, 2 * x.data + np.exp(x.data))


def test_grad_mode_decorators_and_restoration_after_an_exception():
    @mg.no_grad()
    def frozen(t):
        assert not mg.is_grad_enabled()
        return t * 2

    @mg.enable_grad()
    def recorded(t):
        return t * 2

    x = leaf([1.0])
    assert not frozen(x).requires_grad
    with mg.no_grad():
        assert recorded(x).requires_grad
        assert not mg.is_grad_enabled()
    assert frozen.__name__ == "frozen"
    with pytest.raises(ZeroDivisionError):
        with mg.no_grad():
            1 / 0
    assert mg.is_grad_enabled()


def test_one_no_grad_object_can_be_nested_and_reused():
    mode = mg.no_grad()
    with mode:
        with mg.enable_grad():
            with mode:
                assert not mg.is_grad_enabled()
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    with mode:
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()


# -- mg.grad -----------------------------------------------------------------------------------
def test_grad_returns_a_tuple_and_leaves_dot_grad_alone():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (x * w).sum()
    gx, gw = mg.grad(y, [x, w])
    np.testing.assert_array_equal(gx.data, w.data)
    np.testing.assert_array_equal(gw.data, x.data)
    assert x.grad is None and w.grad is None
    (gx_only,) = mg.grad((x * x).sum(), x)
    np.testing.assert_array_equal(gx_only.data, 2 * x.data)


def test_grad_with_respect_to_an_intermediate_tensor():
    x = leaf([1.0, 2.0])
    h = x * 3
    (gh,) = mg.grad((h * h).sum(), h)
    np.testing.assert_array_equal(gh.data, 2 * h.data)
    assert x.grad is None


def test_grad_with_several_outputs_and_grad_outputs():
    x = leaf([1.0, 2.0])
    y1, y2 = x * 2, x * x
    (g,) = mg.grad([y1, y2], x, [np.array([1.0, 1.0]), np.array([0.5, 2.0])])
    np.testing.assert_array_equal(g.data, 2 + 2 * x.data * [0.5, 2.0])


def test_grad_outputs_may_be_a_single_tensor_array_or_number():
    x = leaf(3.0)
    for upstream in (2.0, 2, np.array(2.0), mg.tensor(2.0), [2.0]):
        (g,) = mg.grad(x * x, x, upstream)
        assert g.item() == 12.0


def test_grad_allow_unused():
    x, unused = leaf([1.0]), leaf([2.0])
    y = (x * 2).sum()
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        mg.grad(y, [x, unused], retain_graph=True)
    gx, gu = mg.grad(y, [x, unused], allow_unused=True)
    assert gu is None and gx.item() == 2.0


def test_grad_refuses_inputs_that_do_not_require_grad():
    with pytest.raises(ValueError, match="requires grad"):
        mg.grad(leaf([1.0]).sum(), mg.tensor([1.0]))


@given(x=mst.arrays(mst.shapes(max_dims=2)))
def test_second_and_third_derivatives(x):
    t = leaf(x)
    y = (t ** 3).sum()
    (g,) = mg.grad(y, t, create_graph=True)
    assert g.requires_grad
    np.testing.assert_allclose(g.data, 3 * x ** 2)
    (gg,) = mg.grad(g.sum(), t, create_graph=True)
    np.testing.assert_allclose(gg.data, 6 * x)
    (ggg,) = mg.grad(gg.sum(), t)
    np.testing.assert_allclose(ggg.data, np.full_like(x, 6.0))


def test_backward_with_create_graph_makes_dot_grad_differentiable():
    x = leaf(2.0)
    (x.exp() * x).backward(create_graph=True)
    first = x.grad                                    # (1 + x) eˣ
    assert first.requires_grad
    x.grad = None
    first.backward()
    assert x.grad.item() == pytest.approx((2 + 2.0) * np.exp(2.0))


def _network_loss(params, inputs, targets):
    w1, b1, w2 = params
    hidden = (inputs @ w1 + b1).tanh()
    logits = hidden @ w2
    return ((logits.softmax(axis=1) - targets) ** 2).mean()


def test_hessian_vector_product_of_a_small_network_matches_finite_differences():
    rng = np.random.default_rng(0)
    inputs, targets = rng.standard_normal((5, 3)), np.eye(4)[rng.integers(0, 4, 5)]
    params = [leaf(rng.standard_normal(s)) for s in [(3, 4), (4,), (4, 4)]]
    vs = [rng.standard_normal(p.shape) for p in params]
    loss = _network_loss(params, inputs, targets)
    grads = mg.grad(loss, params, create_graph=True)
    gv = sum((g * v).sum() for g, v in zip(grads, vs))
    hvp = mg.grad(gv, params)

    def gradient_at(step):
        shifted = [leaf(p.data + step * v) for p, v in zip(params, vs)]
        return [g.data for g in mg.grad(_network_loss(shifted, inputs, targets), shifted)]
    eps = 1e-5
    numerical = [(a - b) / (2 * eps) for a, b in zip(gradient_at(eps), gradient_at(-eps))]
    for analytic, expected in zip(hvp, numerical):
        np.testing.assert_allclose(analytic.data, expected, rtol=1e-5, atol=1e-8)
    assert all(p.grad is None for p in params)


# -- dtype through the engine ------------------------------------------------------------------
def test_float32_preserved_through_a_whole_network_and_its_gradients():
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.standard_normal((4, 3)), dtype=np.float32)
    w = leaf(rng.standard_normal((3, 5)), dtype=np.float32)
    b = leaf(np.zeros(5), dtype=np.float32)
    h = (x @ w + b).relu() * 0.5 + (x @ w).sigmoid() - 1.0
    loss = h.log_softmax(axis=1).mean() + h.var() + (h ** 2).max() / 3.0
    assert loss.dtype == np.float32
    loss.backward()
    assert w.grad.dtype == np.float32 and b.grad.dtype == np.float32
    (gw,) = mg.grad(_network_loss([w, b, leaf(np.eye(5, 4), np.float32)], x, np.eye(4)[:4]), w)
    assert gw.dtype == np.float32


# -- custom Functions --------------------------------------------------------------------------
class Swish(mg.Function):
    """The issue's example: y = x·σ(x), with a backward written in Tensor ops."""

    def forward(self, x):
        return x / (1 + np.exp(-x))

    def backward(self, gy):
        x, = self.inputs
        s = x.sigmoid()
        return gy * (s + x * s * (1 - s))


class ScaledSquare(mg.Function):
    """y = k·x² with k a keyword argument, using save_for_backward and needs_input_grad."""

    seen_needs = None

    def forward(self, x, k=1.0):
        self.save_for_backward(x, k)
        return k * x * x

    def backward(self, gy):
        ScaledSquare.seen_needs = self.needs_input_grad
        x, k = self.saved_tensors
        return gy * (2 * k * x)


@given(x=mst.arrays())
def test_swish_custom_function(x):
    t = leaf(x)
    y = Swish.apply(t)
    np.testing.assert_allclose(y.data, x / (1 + np.exp(-x)))
    assert type(y.grad_fn).__name__ == "Swish"
    assert mg.gradcheck(Swish.apply, [leaf(x)], seed=0)
    assert mg.gradgradcheck(Swish.apply, [leaf(x)], seed=0)


def test_save_for_backward_saved_tensors_and_needs_input_grad():
    x = leaf([1.0, -2.0])
    y = ScaledSquare.apply(x, k=3.0)
    np.testing.assert_array_equal(y.data, [3.0, 12.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, -12.0])
    assert ScaledSquare.seen_needs == (True,)
    assert mg.gradcheck(lambda t: ScaledSquare.apply(t, k=0.5), [leaf([0.3, -1.2])])


def test_saved_tensors_are_freed_after_backward_and_the_error_says_so():
    x = leaf([1.0])
    y = ScaledSquare.apply(x, k=2.0)
    fn = y.grad_fn
    y.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        fn.saved_tensors


def test_needs_input_grad_lets_backward_skip_inputs():
    class Mul(mg.Function):
        def forward(self, a, b):
            return a * b

        def backward(self, gy):
            a, b = self.inputs
            assert self.needs_input_grad == (True, False)
            return gy * b, None
    a, b = leaf([2.0]), mg.tensor([5.0])
    Mul.apply(a, b).sum().backward()
    assert a.grad.item() == 5.0 and b.grad is None


def test_multi_output_function_with_one_output_unused():
    class SplitHalves(mg.Function):
        def forward(self, x):
            half = x.shape[0] // 2
            return x[:half] * 2, x[half:] * 3

        def backward(self, g_first, g_second):
            return F.concatenate([g_first * 2, g_second * 3])
    x = leaf(np.arange(4.0))
    first, second = SplitHalves.apply(x)
    first.sum().backward()                  # second receives zeros
    np.testing.assert_array_equal(x.grad.data, [2, 2, 0, 0])
    assert mg.gradcheck(lambda t: SplitHalves.apply(t), [leaf(np.arange(4.0))])


def test_once_differentiable_raises_on_double_backward_but_works_once():
    class Cube(mg.Function):
        once_differentiable = True

        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, gy):
            x, = self.saved_tensors
            return gy * (3 * x ** 2)        # raw arrays: not differentiable again
    x = leaf([2.0])
    y = Cube.apply(x).sum()
    (g,) = mg.grad(y, x, create_graph=True)
    assert g.item() == 12.0
    with pytest.raises(RuntimeError, match="Cube is once_differentiable"):
        mg.grad(g.sum(), x)
    x.grad = None
    Cube.apply(x).sum().backward()
    assert x.grad.item() == 12.0


def test_forward_errors_are_raised_at_the_users_call_naming_the_op():
    class Picky(mg.Function):
        def forward(self, x):
            return x.reshape(7)
    with pytest.raises(ValueError, match=r"Picky.*\(2, 3\) float64"):
        Picky.apply(leaf(np.ones((2, 3))))


def test_hooks_see_and_may_replace_the_gradient():
    x = leaf([1.0, 2.0])
    h = x * 2
    seen = []
    handle = h.register_hook(lambda g: seen.append(g.data.copy()) or g * 10)
    h.sum().backward()
    np.testing.assert_array_equal(seen[0], [1.0, 1.0])
    np.testing.assert_array_equal(x.grad.data, [20.0, 20.0])
    handle.remove()
    x.grad = None
    (x * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_leaves_never_share_a_gradient_tensor_with_each_other_or_the_caller():
    a, b = leaf([1.0]), leaf([2.0])
    g = mg.tensor([5.0])
    (a + b).backward(g)                 # Add passes one gradient Tensor to both inputs
    assert a.grad is not b.grad and a.grad is not g and b.grad is not g
    a.grad.data[0] = 0.0                # so updating one in place leaves the others alone
    assert b.grad.item() == 5.0 and g.item() == 5.0
    x, h = leaf(2.0), mg.tensor(5.0)
    x.backward(h)                       # a leaf as the root: its gradient is the caller's
    assert x.grad is not h and x.grad.item() == 5.0


def test_an_output_detached_by_hand_from_a_two_output_op_does_not_break_backward():
    class Pair(mg.autograd.Function):
        def forward(self, x):
            return x * 2, x * 3

        def backward(self, ga, gb):
            return ga * 2 + gb * 3

    x = mg.tensor([1.0, 2.0], requires_grad=True)
    a, b = Pair.apply(x)
    a.grad_fn = None                                  # a hand-made detach of one output
    (a * b).sum().backward()
    np.testing.assert_allclose(x.grad.data, 12 * x.data)   # the node still takes a's share


@pytest.mark.parametrize("other", [np.float64(0.5), np.sqrt(4.0), np.array(0.5), np.int64(3),
                                   np.array(2), 0.5, True])
def test_numpy_numbers_and_0d_arrays_take_a_float32_tensors_dtype(other):
    x = mg.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    for y in (x * other, other * x, x / other, x - other, x ** other,
              mg.functional.maximum(x, other)):
        assert y.dtype == np.float32
    (x * other).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad.data, np.full(2, float(other)), rtol=1e-6)


def test_grad_of_an_intermediate_runs_neither_nor_frees_the_graph_below_it():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    fired = []
    x.register_hook(lambda g: fired.append(g))
    h = x.exp()
    y = (h * h).sum()
    g, = mg.grad(y, h)
    np.testing.assert_allclose(g.data, 2 * np.exp([1.0, 2.0]))
    assert fired == []                                # PyTorch does not run x's part either
    h.sum().backward()                                # the graph below h is still there
    np.testing.assert_allclose(x.grad.data, np.exp([1.0, 2.0]))
    assert len(fired) == 1


def test_grad_skips_an_unneeded_branch_that_would_raise():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([3.0, 4.0])
    h = x * c                                         # Mul saves c ...
    with mg.no_grad():
        c.add_(1.0)                                   # ... which changes, below h
    g, = mg.grad((h * 2.0).sum(), h)                  # d/dh does not need Mul's backward
    np.testing.assert_array_equal(g.data, [2.0, 2.0])


def test_grad_through_a_graph_freed_by_an_earlier_backward_raises_instead_of_giving_none():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    h = w * 3.0
    h.sum().backward()                                # frees Mul
    loss = (h * h).sum()                              # a new node on top of the freed one
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        mg.grad(loss, [w], allow_unused=True)


def test_grad_through_an_op_whose_input_was_rewritten_in_place_raises():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    x = w * 1.0
    other = x * 3.0                                  # Mul saves x ...
    x.add_(other)                                    # ... which becomes the in-place op's output
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        mg.grad((x * 1.0).sum(), [w])
