"""In-place ops: values, versions, the leaf rule and the error for a modified saved tensor."""
import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import strategies as mst

# name -> (call on a Tensor, NumPy reference on (x, other))
UPDATES = {
    "add_": (lambda t, o: t.add_(o), lambda x, o: x + o),
    "add_ alpha": (lambda t, o: t.add_(o, alpha=-0.5), lambda x, o: x - 0.5 * o),
    "sub_": (lambda t, o: t.sub_(o), lambda x, o: x - o),
    "sub_ alpha": (lambda t, o: t.sub_(o, alpha=2.0), lambda x, o: x - 2.0 * o),
    "mul_": (lambda t, o: t.mul_(o), lambda x, o: x * o),
    "div_": (lambda t, o: t.div_(o), lambda x, o: x / o),
    "clamp_": (lambda t, o: t.clamp_(-0.5, 0.5), lambda x, o: np.clip(x, -0.5, 0.5)),
    "clip_": (lambda t, o: t.clip_(max=0.25), lambda x, o: np.minimum(x, 0.25)),
    "fill_": (lambda t, o: t.fill_(1.5), lambda x, o: np.full_like(x, 1.5)),
    "zero_": (lambda t, o: t.zero_(), lambda x, o: np.zeros_like(x)),
}


def _iadd(t, o):
    t += o
    return t


def _isub(t, o):
    t -= o
    return t


def _imul(t, o):
    t *= o
    return t


def _idiv(t, o):
    t /= o
    return t


UPDATES.update({"+=": (_iadd, np.add), "-=": (_isub, np.subtract),
                "*=": (_imul, np.multiply), "/=": (_idiv, np.divide)})


@pytest.mark.parametrize("name", sorted(UPDATES))
@given(data=st.data())
def test_update_matches_numpy_and_bumps_version(name, data):
    call, reference = UPDATES[name]
    shape, other_shape = data.draw(mst.broadcastable_shapes(2).filter(
        lambda s: np.broadcast_shapes(*s) == s[0]))
    x = data.draw(mst.arrays(shape=shape))
    other = data.draw(mst.arrays(shape=other_shape, positive=True))
    t = mg.tensor(x)
    buffer = t.data
    result = call(t, mg.tensor(other))
    assert result is t
    assert t._version == 1
    assert t.data is buffer                     # a leaf is updated in its own buffer
    np.testing.assert_allclose(t.data, reference(x, other), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", ["add_", "mul_", "div_", "fill_", "+="])
def test_float32_stays_float32(name):
    t = mg.tensor(np.array([1.0, 2.0], dtype=np.float32))
    UPDATES[name][0](t, np.array([3.0, 4.0]))      # a float64 operand is cast into the tensor
    assert t.dtype == np.float32


def test_leaf_that_requires_grad_refuses_in_place_in_grad_mode():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    for call, _ in UPDATES.values():
        with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
            call(w, mg.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(w.data, [1.0, 2.0])
    assert w._version == 0


def test_leaf_update_under_no_grad_is_allowed_like_an_optimizer_step():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    with mg.no_grad():
        w.sub_(w.grad, alpha=0.25)
    np.testing.assert_allclose(w.data, [0.5, 1.0])
    assert w._version == 1 and w.is_leaf and w.requires_grad


def test_backward_through_a_graph_built_before_a_step_raises():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    with mg.no_grad():
        w.add_(1.0)
    with pytest.raises(RuntimeError, match=r"Mul: input 0 .*shape \(2,\).*after Mul used it .*now at version 1"):
        loss.backward()


def test_optimizer_style_version_bump_is_also_detected():
    w = mg.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * 3.0).exp().sum()
    w.data -= 0.1
    w._version += 1                            # what the optimizers do after p.data -= ...
    with pytest.raises(RuntimeError, match="Mul"):
        loss.backward()


@pytest.mark.parametrize("op,name", [(mg.functional.exp, "Exp"), (mg.functional.log, "Log"),
                                     (mg.functional.sigmoid, "Sigmoid"),
                                     (mg.functional.tanh, "Tanh")])
def test_modified_input_or_output_of_an_op_raises_naming_it(op, name):
    x = mg.tensor([0.5, 1.5, 2.5], requires_grad=True)
    h = x * 1.0                 # a non-leaf input
    y = op(h)
    z = y * 2.0
    with mg.no_grad():
        y.mul_(3.0)             # the output of op, which its backward may read
    with pytest.raises(RuntimeError, match=r"(Mul|%s): .*shape \(3,\)" % name):
        z.sum().backward()
    y = op(h)
    with mg.no_grad():
        h.add_(1.0)             # the input of op
    with pytest.raises(RuntimeError, match=r"%s: input 0 .*shape \(3,\)" % name):
        y.sum().backward()


def test_no_grad_update_of_a_non_leaf_keeps_the_saved_array():
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    y = x.exp()
    saved = y.data
    with mg.no_grad():
        y.add_(1.0)
    np.testing.assert_allclose(saved, np.exp([0.5, 1.5]))   # the graph's copy is untouched
    np.testing.assert_allclose(y.data, np.exp([0.5, 1.5]) + 1)


def test_retain_graph_second_backward_after_modification_raises():
    x = mg.tensor([0.5, 1.5], requires_grad=True)
    h = x * 1.0
    y = (h * h).sum()
    y.backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.data, 2 * x.data)
    with mg.no_grad():
        h.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def _chain(a, b):
    """A function of two inputs built from every recorded in-place op on a non-leaf."""
    y = a * 1.0
    y.add_(b, alpha=0.5)
    y.mul_(b)
    y /= b + 4.0
    y -= a
    y.clamp_(-2.5, 2.5)
    y *= y
    return y


@given(data=st.data())
def test_recorded_in_place_ops_have_correct_gradients(data):
    shape = data.draw(mst.shapes(max_dims=2))
    a = mg.tensor(data.draw(mst.arrays(shape=shape, bound=1.0)), requires_grad=True)
    b = mg.tensor(data.draw(mst.arrays(shape=shape, positive=True, bound=1.0)),
                  requires_grad=True)
    ad, bd = a.data, b.data
    expected = (ad + 0.5 * bd) * bd / (bd + 4.0) - ad
    assume(np.abs(expected).max() > 1e-2)    # y = expected² has all-zero gradients near 0
    assert mg.gradcheck(_chain, (a, b))
    np.testing.assert_allclose(_chain(a, b).data, np.clip(expected, -2.5, 2.5) ** 2, rtol=1e-12)


def test_recorded_update_of_a_plain_tensor_by_a_grad_operand():
    w = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    buf = mg.zeros(3, dtype=np.float64)
    buf.add_(w, alpha=2.0)
    assert buf.requires_grad and buf.grad_fn is not None and buf._version == 1
    (buf * w).sum().backward()
    np.testing.assert_allclose(w.grad.data, 4 * w.data)


def test_fill_and_zero_of_a_non_leaf_stop_the_gradient_of_the_old_value():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3.0
    y.zero_()
    z = x * 3.0
    z.fill_(7.0)
    (y.sum() + z.sum() + x.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 1.0])
    np.testing.assert_array_equal(z.data, [7.0, 7.0])


def test_in_place_on_an_earlier_consumer_input_raises_instead_of_misrouting():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1.0
    z = y * 5.0           # consumes y before the update
    y.mul_(2.0)           # recorded: y is now another node
    with pytest.raises(RuntimeError, match=r"Mul: input 0 .*now at version 1"):
        z.sum().backward()


@pytest.mark.parametrize("call,error,words", [
    (lambda t: t.add_(mg.tensor([1.0, 2.0, 3.0])), ValueError, ["add_", "(2,)", "(3,)"]),
    (lambda t: t.mul_(np.ones((3, 2))), ValueError, ["mul_", "(3, 2)", "(2,)"]),
    (lambda t: t.add_(None), TypeError, ["add_", "NoneType"]),
    (lambda t: t.fill_("x"), TypeError, ["fill_", "str"]),
    (lambda t: t.div_([1.0, 2.0]), TypeError, ["div_", "list"]),
])
def test_bad_operands_raise_naming_the_op(call, error, words):
    t = mg.tensor([1.0, 2.0])
    with pytest.raises(error) as info:
        call(t)
    for word in words:
        assert word in str(info.value)
    np.testing.assert_array_equal(t.data, [1.0, 2.0])
    assert t._version == 0


def test_integer_tensor_refuses_a_float_result():
    t = mg.tensor([1, 2])
    with pytest.raises(TypeError, match=r"div_: .*float64.*int64"):
        t.div_(2)
    t.add_(3)
    np.testing.assert_array_equal(t.data, [4, 5])
    assert t.dtype == np.int64


def test_a_gradient_can_be_scaled_and_zeroed_in_place():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    x.sum().backward()                   # the gradient of a sum: a read-only broadcast view
    x.grad.mul_(0.5)                     # gradient clipping, PyTorch style
    np.testing.assert_array_equal(x.grad.data, [0.5, 0.5])
    x.grad += 1.0
    np.testing.assert_array_equal(x.grad.data, [1.5, 1.5])
    x.grad.zero_()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    assert x.grad.dtype == np.float64 and x.grad._version == 3


def test_a_read_only_broadcast_view_gets_a_fresh_array():
    base = mg.tensor([1.0, 2.0])
    t = base.broadcast_to(3, 2)
    t.add_(1.0)
    np.testing.assert_array_equal(t.data, [[2.0, 3.0]] * 3)
    np.testing.assert_array_equal(base.data, [1.0, 2.0])
    t.add_(1.0)                          # now its own, writable buffer
    np.testing.assert_array_equal(t.data, [[3.0, 4.0]] * 3)


class _Pair(mg.autograd.Function):
    """(2x, 3x): an op with two outputs."""

    def forward(self, x):
        return x * 2, x * 3

    def backward(self, ga, gb):
        return ga * 2 + gb * 3


@pytest.mark.parametrize("two_outputs", [False, True])
def test_a_refused_in_place_update_leaves_the_graph_as_it_was(two_outputs):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = _Pair.apply(x)[0] if two_outputs else x * 2.0
    with pytest.raises(ValueError, match="add_: the result has shape"):
        y.add_(mg.tensor(np.ones((3, 2))))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_a_hook_that_writes_an_input_in_place_is_caught_before_the_backward_uses_it():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    c = mg.tensor([3.0, 4.0])
    y = x * c

    def hook(grad):
        with mg.no_grad():
            c.add_(10.0)          # Mul's backward would read the new c
    y.register_hook(hook)
    with pytest.raises(RuntimeError, match="Mul: input 1 .*modified by an in-place operation"):
        (y * 1.0).sum().backward()


# -- every Tensor a backward reads is covered by the version check (issue 16) ----------------
def _write_after_use(tensor, update):
    with mg.no_grad():
        update(tensor)


def test_affine_of_a_1d_input_written_after_use_raises():
    x = mg.tensor([-2.0])                      # one sample, not requiring grad
    W = mg.tensor([[-1.0, 0.0, 0.0]], requires_grad=True)
    y = mg.functional.affine(x, W)
    _write_after_use(x, lambda t: t.mul_(-0.5))
    with pytest.raises(RuntimeError, match=r"Affine: input 0 .*shape \(1,\)"):
        y.backward(gradient=np.array([-0.308, -0.074, -0.09]))
    assert W.grad is None


def test_where_whose_condition_is_written_after_use_raises():
    v0 = mg.tensor([0.0], requires_grad=True)
    v1 = mg.tensor([1.6, -1.9, 0.4])
    c = v1 == 1.6
    y = mg.functional.where(c, v0, v1)
    _write_after_use(c, lambda t: t.zero_())
    with pytest.raises(RuntimeError, match=r"Where: input 2 .*shape \(3,\)"):
        y.backward(gradient=np.array([-0.319, 2.681, 0.5]))
    assert v0.grad is None


@pytest.mark.parametrize("written", ["lo", "hi"])
def test_clip_whose_tensor_bound_is_written_after_use_raises(written):
    x = mg.tensor(-0.0, requires_grad=True)
    bounds = {"lo": mg.tensor(-0.0), "hi": mg.tensor(0.0)}
    y = mg.functional.clip(x, bounds["lo"], bounds["hi"])
    _write_after_use(bounds[written], lambda t: t.sub_(1.0))
    with pytest.raises(RuntimeError, match=r"Clip: input [12] .*modified by an in-place"):
        y.backward(gradient=np.array(0.7))
    assert x.grad is None


def test_getitem_whose_tensor_index_is_written_after_use_keeps_the_original_index():
    x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    index = mg.tensor([0, 0])
    y = x[index]
    _write_after_use(index, lambda t: t.fill_(2))
    y.backward(gradient=np.array([0.5, 0.25]))
    np.testing.assert_array_equal(x.grad.data, [0.75, 0.0, 0.0])    # x[[0, 0]], as recorded


def test_recorded_clamp_by_a_bound_that_requires_grad_gives_the_bound_its_gradient():
    x = mg.tensor([0.1, 2.0], requires_grad=True)
    lo = mg.tensor([0.5, 0.5], requires_grad=True)
    h = x * 1.0
    h.clamp_(min=lo)                          # recorded: differentiable in x and in lo
    np.testing.assert_array_equal(h.data, [0.5, 2.0])
    h.backward(np.array([3.0, 5.0]))
    np.testing.assert_array_equal(x.grad.data, [0.0, 5.0])     # dy/dx = [x ≥ lo]
    np.testing.assert_array_equal(lo.grad.data, [3.0, 0.0])    # dy/dlo = [x < lo]
