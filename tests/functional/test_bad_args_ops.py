"""Bad arguments to shape ops, reductions and clip: a TypeError/ValueError naming the op, the
argument and the bad value, never a silently wrong result or a raw NumPy error. Valid inputs keep
NumPy's meaning (an int shape is a 1-tuple, an empty list index selects nothing)."""
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F

from .helpers import leaf

pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")


def _x(*shape):
    return leaf(np.arange(float(np.prod(shape))).reshape(shape))


# -- reshape ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(-2, 6), (-3, -4), (2, -6)])
def test_reshape_refuses_negative_sizes_other_than_minus_one(shape):
    with pytest.raises(ValueError, match=rf"reshape: .*non-negative.*{shape[0]}, {shape[1]}"):
        _x(3, 4).reshape(*shape)
    with pytest.raises(ValueError, match="reshape"):
        F.reshape(_x(3, 4), list(shape))


def test_reshape_keeps_minus_one_and_numpy_ints_and_takes_an_int_as_numpy_does():
    x = _x(3, 4)
    assert x.reshape(-1, 6).shape == (2, 6)
    assert x.reshape(np.int64(2), 6).shape == (2, 6)
    assert F.reshape(x, 12).shape == np.reshape(x.data, 12).shape == (12,)
    assert F.reshape(x, np.array([6, 2])).shape == (6, 2)


@pytest.mark.parametrize("shape", [(2.0, 6), ("2", 6), (True, 12), (None,), 2.5, "12"])
def test_reshape_refuses_sizes_that_are_not_ints(shape):
    with pytest.raises(TypeError, match="reshape: the shape must be "):
        F.reshape(_x(3, 4), shape)


# -- broadcast_to ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2.7, 3, 4), (2.0, 3, 4), ("2", 3, 4), (True, 3, 4), None,
                                   4.0])
def test_broadcast_to_refuses_sizes_that_are_not_ints(shape):
    with pytest.raises(TypeError, match=r"broadcast_to: the shape must be .*ints, got"):
        F.broadcast_to(_x(3, 4), shape)


def test_broadcast_to_does_not_truncate_a_float_size():
    with pytest.raises(TypeError, match=r"broadcast_to.*2\.7"):
        _x(3, 4).broadcast_to(2.7, 3, 4)


def test_broadcast_to_refuses_negative_sizes():
    with pytest.raises(ValueError, match=r"broadcast_to: .*negative.*\(-1, 3, 4\)"):
        _x(3, 4).broadcast_to(-1, 3, 4)


def test_broadcast_to_takes_an_int_as_a_one_tuple_like_numpy():
    x = _x(1)
    y = F.broadcast_to(x, 4)
    np.testing.assert_array_equal(y.data, np.broadcast_to(x.data, 4))
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [4.0])
    assert F.broadcast_to(_x(4), np.int64(4)).shape == (4,)
    assert _x(3).broadcast_to(2, 3).shape == (2, 3)


def test_broadcast_to_an_int_that_does_not_fit_names_the_op():
    with pytest.raises(ValueError, match=r"BroadcastTo.*\(3, 4\)"):
        F.broadcast_to(_x(3, 4), 4)


# -- transpose and the other axis arguments --------------------------------------------------
@pytest.mark.parametrize("axes", [(1.5, 0), ("a", 0), (True, 0), (1.0, 0.0)])
def test_transpose_refuses_axes_that_are_not_ints(axes):
    with pytest.raises(TypeError, match=r"transpose: axes must be .*ints, got"):
        _x(3, 4).transpose(*axes)
    with pytest.raises(TypeError, match="transpose"):
        _x(3, 4).permute(axes)
    with pytest.raises(TypeError, match="transpose"):
        F.transpose(_x(3, 4), axes)


def test_transpose_accepts_numpy_ints_and_an_int_for_one_axis():
    x = _x(2, 3, 4)
    axes = np.array([2, 0, 1])
    np.testing.assert_array_equal(F.transpose(x, axes).data, np.transpose(x.data, axes))
    np.testing.assert_array_equal(x.transpose(np.int64(1), 0, 2).data,
                                  np.transpose(x.data, (1, 0, 2)))
    assert F.transpose(_x(3), 0).shape == np.transpose(np.ones(3), 0).shape == (3,)
    with pytest.raises(ValueError, match=r"transpose: axes \(1,\) are not a permutation"):
        F.transpose(_x(3, 4), 1)


@pytest.mark.parametrize("call", [
    lambda x: F.swapaxes(x, 1.5, 0),
    lambda x: F.swapaxes(x, 0, "a"),
    lambda x: x.squeeze(0.0),
    lambda x: x.unsqueeze(1.5),
    lambda x: x.unsqueeze("a"),
    lambda x: x.flatten(0.5),
    lambda x: x.sum(1.5),
    lambda x: x.mean("a"),
    lambda x: x.var(axis=True),
    lambda x: x.max(axis=(0, 1.0)),
    lambda x: F.logsumexp(x, "a"),
    lambda x: F.softmax(x, 1.5),
    lambda x: F.concatenate([x, x], 0.5),
    lambda x: F.stack([x, x], "a"),
], ids=["swapaxes1", "swapaxes2", "squeeze", "unsqueeze", "unsqueeze_str", "flatten", "sum",
        "mean", "var", "max", "logsumexp", "softmax", "concatenate", "stack"])
def test_other_axis_arguments_refuse_floats_strings_and_bools(call):
    with pytest.raises(TypeError, match="axis must be an int"):
        call(_x(1, 3))


# -- var ddof --------------------------------------------------------------------------------
@pytest.mark.parametrize("ddof", ["a", True, None, [1]])
def test_var_refuses_a_ddof_that_is_not_a_number(ddof):
    with pytest.raises(TypeError, match=r"var: ddof must be a number, got"):
        _x(3, 4).var(ddof=ddof)
    with pytest.raises(TypeError, match=rf"var: ddof .*{re.escape(repr(ddof))}"):
        F.var(_x(3, 4), axis=0, ddof=ddof)


@pytest.mark.parametrize("ddof", [1.0, 1.5, np.float32(0.5), np.array(1)])
def test_var_takes_a_float_ddof_as_numpy_does(ddof):
    x = _x(3, 4)
    np.testing.assert_allclose(x.var(ddof=ddof).data, x.data.var(ddof=float(ddof)))


def test_var_takes_a_numpy_int_ddof():
    x = _x(3, 4)
    np.testing.assert_allclose(x.var(0, ddof=np.int64(1)).data, x.data.var(0, ddof=1))


# -- clip ------------------------------------------------------------------------------------
@pytest.mark.parametrize("lo, hi, name", [
    ("a", 1, "min"), (-1, "a", "max"), (None, ["a"], "max"), (1j, None, "min"),
    (object(), None, "min"), (np.array(["a", "b"]), None, "min"), (np.array([1j]), 2, "min"),
])
def test_clip_refuses_bounds_that_are_not_real_numbers(lo, hi, name):
    with pytest.raises(TypeError, match=rf"clip: {name} must be a real number or a Tensor or "
                                        r"array of real numbers, got"):
        _x(3, 4).clip(lo, hi)


def test_clip_refuses_a_ragged_bound_by_name():
    with pytest.raises(ValueError, match="clip: cannot make an array of min"):
        F.clip(_x(2, 2), [[0.0], [0.0, 1.0]], 5.0)


def test_clip_still_takes_numbers_arrays_and_tensors():
    x = _x(3, 4)
    np.testing.assert_array_equal(x.clip(2, 5).data, np.clip(x.data, 2, 5))
    lo = np.arange(4.0)
    np.testing.assert_array_equal(x.clip(mg.tensor(lo), np.int64(9)).data,
                                  np.clip(x.data, lo, 9))
    np.testing.assert_array_equal(x.clip([0, 1, 2, 3], None).data, np.clip(x.data, lo, None))


# -- indexing with an empty list -------------------------------------------------------------
@pytest.mark.parametrize("index", [[], ([],), (slice(None), []), [[]], [[], []], ([], [])],
                         ids=["list", "tuple", "second_axis", "nested", "two_rows", "pair"])
def test_an_empty_list_index_selects_nothing_as_numpy(index):
    x = _x(3, 4)
    y = x[index]
    expected = x.data[index]
    assert y.shape == expected.shape
    assert y.dtype == x.dtype
    (y * 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.zeros((3, 4)))


def test_an_empty_list_index_has_a_zero_gradient_to_second_order():
    x = _x(3, 4)
    assert mg.gradcheck(lambda t: t[[]] * 3, [x], seed=0)
    assert mg.gradgradcheck(lambda t: t[:, []] * t[:, []], [x], seed=0)


def test_float_and_ragged_list_indices_are_still_refused_by_name():
    with pytest.raises((IndexError, ValueError), match=r"GetItem.*integer"):
        _x(3, 4)[[1.5]]
    with pytest.raises(ValueError, match=r"getitem: cannot make an index array from \[0, \[\]\]"):
        _x(3, 4)[[0, []]]
