"""Shape ops, indexing and joining against NumPy and central differences."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import strategies as mst

from .helpers import check_op, leaf

pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")


@given(x=mst.arrays(), data=st.data())
def test_reshape_with_and_without_minus_one(x, data):
    shape = data.draw(st.permutations(x.shape)).copy() if x.ndim else []
    if shape and data.draw(st.booleans()):
        shape[data.draw(st.integers(0, len(shape) - 1))] = -1
    check_op(lambda t: F.reshape(t, shape), lambda a: a.reshape(shape), x)
    check_op(lambda t: t.reshape(*shape), lambda a: a.reshape(shape), x, second_order=False)
    check_op(lambda t: t.reshape(tuple(shape)), lambda a: a.reshape(shape), x,
             second_order=False)


@given(x=mst.arrays(), data=st.data())
def test_transpose_and_permute(x, data):
    axes = tuple(data.draw(st.permutations(range(x.ndim))))
    check_op(lambda t: F.transpose(t, axes), lambda a: np.transpose(a, axes), x)
    check_op(lambda t: t.transpose(axes), lambda a: np.transpose(a, axes), x, second_order=False)
    check_op(lambda t: t.permute(axes), lambda a: np.transpose(a, axes), x, second_order=False)
    check_op(lambda t: t.transpose(), np.transpose, x, second_order=False)
    check_op(lambda t: t.T, lambda a: a.T, x, second_order=False)


def test_transpose_with_negative_axes_and_bad_axes():
    x = leaf(np.arange(24.0).reshape(2, 3, 4))
    np.testing.assert_array_equal(x.permute(-1, 0, 1).data, np.transpose(x.data, (-1, 0, 1)))
    with pytest.raises(ValueError, match=r"transpose.*\(0, 0, 1\).*\(2, 3, 4\)"):
        x.transpose(0, 0, 1)


@given(x=mst.arrays(mst.shapes(min_dims=2)), data=st.data())
def test_swapaxes_and_matrix_transpose(x, data):
    a1 = data.draw(st.integers(-x.ndim, x.ndim - 1))
    a2 = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check_op(lambda t: F.swapaxes(t, a1, a2), lambda a: np.swapaxes(a, a1, a2), x)
    check_op(lambda t: t.mT, lambda a: np.swapaxes(a, -1, -2), x, second_order=False)


@given(shapes=mst.broadcastable_shapes(num_shapes=2), data=st.data())
def test_broadcast_to_and_sum_to_are_adjoint(shapes, data):
    small, other = shapes
    target = np.broadcast_shapes(small, other)
    x = data.draw(mst.arrays(small))
    check_op(lambda t: F.broadcast_to(t, target), lambda a: np.broadcast_to(a, target), x)
    check_op(lambda t: t.broadcast_to(*target), lambda a: np.broadcast_to(a, target), x,
             second_order=False)
    big = data.draw(mst.arrays(target))
    lead = len(target) - len(small)
    stretched = tuple(i for i in range(len(target))
                      if i < lead or (small[i - lead] == 1 and target[i] != 1))

    def reference(a):
        return a.sum(axis=stretched, keepdims=True).reshape(small)
    check_op(lambda t: F.sum_to(t, small), reference, big)


def test_sum_to_refuses_shapes_it_cannot_reach():
    with pytest.raises(ValueError, match=r"sum_to.*\(2, 3\).*\(3, 1\)"):
        F.sum_to(leaf(np.ones((2, 3))), (3, 1))


@given(x=mst.arrays(mst.shapes(max_dims=4, max_side=2)), data=st.data())
def test_squeeze_and_unsqueeze(x, data):
    check_op(F.squeeze, np.squeeze, x)
    ones = [i for i, n in enumerate(x.shape) if n == 1]
    if ones:
        axis = data.draw(st.sampled_from(ones))
        check_op(lambda t: t.squeeze(axis), lambda a: np.squeeze(a, axis), x, second_order=False)
    new = data.draw(st.integers(-x.ndim - 1, x.ndim))
    check_op(lambda t: F.unsqueeze(t, new), lambda a: np.expand_dims(a, new), x)
    check_op(lambda t: t.unsqueeze(new), lambda a: np.expand_dims(a, new), x, second_order=False)


def test_squeeze_of_an_axis_that_is_not_one_names_it():
    with pytest.raises(ValueError, match=r"squeeze: axis 1 of shape \(1, 3\) has length 3"):
        leaf(np.ones((1, 3))).squeeze(1)


@given(x=mst.arrays(mst.shapes(max_dims=4, max_side=3)), data=st.data())
def test_flatten(x, data):
    check_op(F.flatten, lambda a: a.reshape(-1), x)
    if x.ndim:
        start = data.draw(st.integers(0, x.ndim - 1))
        end = data.draw(st.integers(start, x.ndim - 1))
        expected = x.shape[:start] + (-1,) + x.shape[end + 1:]
        check_op(lambda t: t.flatten(start, end), lambda a: a.reshape(expected), x,
                 second_order=False)


def test_flatten_bad_axes():
    with pytest.raises(ValueError, match="flatten"):
        leaf(np.ones((2, 3))).flatten(1, 0)


# -- indexing ----------------------------------------------------------------------------------
@st.composite
def basic_indices(draw, shape):
    """An index of ints, slices (negative steps included), None and Ellipsis for ``shape``."""
    parts = []
    for n in shape:
        kind = draw(st.sampled_from(["int", "slice", "all"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            parts.append(slice(draw(st.none() | st.integers(-n, n)),
                               draw(st.none() | st.integers(-n, n)),
                               draw(st.sampled_from([None, 1, 2, -1, -2]))))
        else:
            parts.append(slice(None))
    if parts and draw(st.booleans()):
        parts[draw(st.integers(0, len(parts) - 1))] = Ellipsis
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return tuple(parts)


@given(x=mst.arrays(mst.shapes(min_dims=1)), data=st.data())
def test_basic_indexing(x, data):
    index = data.draw(basic_indices(x.shape))
    check_op(lambda t: t[index], lambda a: a[index], x)


@given(x=mst.arrays(mst.shapes(min_dims=1)), data=st.data())
def test_integer_array_indexing_with_repeats_accumulates(x, data):
    n = x.shape[0]
    index = np.array(data.draw(st.lists(st.integers(-n, n - 1), min_size=1, max_size=6)))
    check_op(lambda t: t[index], lambda a: a[index], x)
    check_op(lambda t: t[index.tolist()], lambda a: a[index], x, second_order=False)
    check_op(lambda t: t[mg.tensor(index)], lambda a: a[index], x, second_order=False)


def test_repeated_indices_add_up_in_the_gradient():
    x = leaf(np.arange(4.0))
    x[np.array([0, 2, 0, 0, -1])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 1.0, 1.0])
    y = leaf(np.zeros((2, 3)))
    y[[0, 0, 1], [1, 1, 2]].backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(y.grad.data, [[0, 11, 0], [0, 0, 100]])


@given(x=mst.arrays(mst.shapes(min_dims=1)), data=st.data())
def test_boolean_mask_indexing(x, data):
    mask = data.draw(mst.arrays(x.shape).map(lambda v: v > 0))
    check_op(lambda t: t[mask], lambda a: a[mask], x)
    check_op(lambda t: t[mg.tensor(mask)], lambda a: a[mask], x, second_order=False)
    check_op(lambda t: t[x > 0], lambda a: a[x > 0], x, second_order=False)


def test_mixed_slice_and_integer_array_index():
    x = np.arange(24.0).reshape(2, 3, 4)
    check_op(lambda t: t[:, [2, 0, 2], 1:], lambda a: a[:, [2, 0, 2], 1:], x)
    check_op(lambda t: t[np.int64(1), ..., np.array([3, 3])],
             lambda a: a[1, ..., np.array([3, 3])], x)


def test_index_out_of_range_names_the_op_and_shape():
    with pytest.raises((IndexError, ValueError), match=r"GetItem.*\(2, 3\)"):
        leaf(np.ones((2, 3)))[5]


def test_iterating_a_tensor_gives_its_rows_with_gradient():
    x = leaf(np.arange(6.0).reshape(3, 2))
    rows = list(x)
    assert len(rows) == len(x) == 3
    sum(r.sum() * (i + 1) for i, r in enumerate(rows)).backward()
    np.testing.assert_array_equal(x.grad.data, [[1, 1], [2, 2], [3, 3]])


# -- joining -----------------------------------------------------------------------------------
@given(data=st.data(), count=st.integers(1, 3))
def test_concatenate(data, count):
    base = data.draw(mst.shapes(min_dims=1))
    axis = data.draw(st.integers(-len(base), len(base) - 1))
    arrays = []
    for _ in range(count):
        shape = list(base)
        shape[axis] = data.draw(st.integers(1, 3))
        arrays.append(data.draw(mst.arrays(tuple(shape))))
    check_op(lambda *ts: F.concatenate(ts, axis), lambda *a: np.concatenate(a, axis), *arrays)


@given(data=st.data(), count=st.integers(1, 3))
def test_stack(data, count):
    shape = data.draw(mst.shapes())
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    arrays = [data.draw(mst.arrays(shape)) for _ in range(count)]
    check_op(lambda *ts: F.stack(ts, axis), lambda *a: np.stack(a, axis), *arrays)


def test_concatenate_mixed_with_constants_and_dtypes():
    a = leaf(np.ones((2, 2), dtype=np.float32))
    b = np.zeros((1, 2))
    y = F.concatenate([a, b])
    assert y.shape == (3, 2)
    y.sum().backward()
    assert a.grad.dtype == np.float32
    np.testing.assert_array_equal(a.grad.data, np.ones((2, 2)))


def test_joining_bad_input_names_the_op_and_shapes():
    a, b = leaf(np.ones((2, 3))), leaf(np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"Stack.*\(2, 3\).*\(2, 4\)"):
        F.stack([a, b])
    with pytest.raises(ValueError, match=r"Concatenate.*\(2, 3\).*\(2, 4\)"):
        F.concatenate([a, b], axis=0)
    with pytest.raises(TypeError, match="concatenate"):
        F.concatenate(a)
    with pytest.raises(TypeError, match="stack"):
        F.stack([])
    with pytest.raises(ValueError, match="concatenate"):
        F.concatenate([leaf(np.float64(1.0))])


@pytest.mark.parametrize("op", [
    lambda t: t.reshape(4, 1), lambda t: t.T, lambda t: t.broadcast_to(3, 2, 2),
    lambda t: t.flatten(), lambda t: t.unsqueeze(0).squeeze(), lambda t: t[[1, 1]],
    lambda t: t[t.data > 1], lambda t: F.stack([t, t]), lambda t: F.concatenate([t, t], 1),
    lambda t: F.sum_to(t, (2, 1))])
def test_shape_ops_keep_float32(op):
    x = leaf(np.array([[0.5, 1.5], [2.5, -1.0]], dtype=np.float32))
    y = op(x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
