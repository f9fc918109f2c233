"""The Tensor: construction, dtype inference, factories, properties, operators, comparisons."""
import operator

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.testing import strategies as mst


# -- construction and dtype --------------------------------------------------------------------
@pytest.mark.parametrize("data, dtype", [(1.5, np.float64), (3, np.int64), (True, np.bool_),
                                         ([1, 2], np.int64), ([1.0, 2], np.float64),
                                         (np.ones(2, np.float32), np.float32),
                                         (np.arange(3, dtype=np.int8), np.int8),
                                         (np.float32(2.0), np.float32)])
def test_dtype_follows_numpy_inference(data, dtype):
    for t in (mg.tensor(data), mg.Tensor(data)):
        assert t.dtype == dtype
        np.testing.assert_array_equal(t.numpy(), np.asarray(data))


def test_tensor_copies_its_data_but_Tensor_shares_it():
    a = np.zeros(3)
    copied, shared = mg.tensor(a), mg.Tensor(a)
    a[0] = 7.0
    assert copied.data[0] == 0.0 and shared.data[0] == 7.0


def test_explicit_dtype_and_a_tensor_as_data():
    t = mg.tensor([1, 2], dtype=np.float32)
    assert t.dtype == np.float32
    u = mg.tensor(t, requires_grad=True)
    assert u.dtype == np.float32 and u.requires_grad and u.data is not t.data


@pytest.mark.parametrize("data", [["a", "b"], [[1, 2], [3]], {"x": 1}, [1 + 2j]])
def test_unsupported_data_is_refused_with_a_clear_error(data):
    with pytest.raises((TypeError, ValueError), match="tensor"):
        mg.tensor(data)


@pytest.mark.parametrize("data", [[1, 2], [True], np.arange(3)])
def test_only_floating_tensors_can_require_grad(data):
    with pytest.raises(TypeError, match=r"requires_grad.*(int64|bool)"):
        mg.tensor(data, requires_grad=True)
    t = mg.tensor(data)
    with pytest.raises(TypeError, match="floating"):
        t.requires_grad_()
    with pytest.raises(TypeError, match="floating"):
        t.requires_grad = True
    assert not t.requires_grad


def test_requires_grad_flag_on_leaves_and_non_leaves():
    x = mg.tensor([1.0, 2.0])
    assert not x.requires_grad and x.is_leaf and x.grad_fn is None
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    assert type(y.grad_fn).__name__ == "Mul"
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)
    x.requires_grad = False
    assert not (x * 2).requires_grad and (x * 2).is_leaf


# -- factories ---------------------------------------------------------------------------------
@pytest.mark.parametrize("factory, value", [(mg.zeros, 0.0), (mg.ones, 1.0)])
def test_zeros_ones(factory, value):
    for t in (factory(2, 3), factory((2, 3)), factory([2, 3])):
        assert t.shape == (2, 3) and t.dtype == np.float32
        assert np.all(t.data == value)
    t = factory(4, dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad and t.shape == (4,)
    assert factory().shape == ()


def test_full():
    t = mg.full((2, 2), 1.5)
    assert t.dtype == np.float64 and np.all(t.data == 1.5)
    assert mg.full(3, 2).dtype == np.int64
    assert mg.full((1,), 2, dtype=np.float32, requires_grad=True).requires_grad


@pytest.mark.parametrize("factory, value", [(mg.zeros_like, 0), (mg.ones_like, 1)])
def test_like_factories_follow_shape_and_dtype(factory, value):
    source = mg.tensor(np.full((2, 3), 5, dtype=np.float32))
    for other in (source, source.data):
        t = factory(other)
        assert t.shape == (2, 3) and t.dtype == np.float32 and np.all(t.data == value)
        assert t.data is not source.data
    assert factory(source, dtype=np.float64, requires_grad=True).requires_grad


def test_arange():
    np.testing.assert_array_equal(mg.arange(5).data, np.arange(5))
    np.testing.assert_array_equal(mg.arange(1, 7, 2).data, [1, 3, 5])
    assert mg.arange(0.0, 1.0, 0.25).dtype == np.float64
    assert mg.arange(3, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("factory", [mg.randn, mg.rand])
def test_random_factories_are_seeded_and_typed(factory):
    mg.manual_seed(3)
    a = factory(200, 3)
    mg.manual_seed(3)
    b = factory((200, 3))
    np.testing.assert_array_equal(a.data, b.data)
    assert a.shape == (200, 3) and a.dtype == np.float32
    c = factory(4, dtype=np.float64, requires_grad=True, rng=np.random.default_rng(0))
    assert c.dtype == np.float64 and c.requires_grad
    d = factory(4, dtype=np.float64, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(c.data, d.data)
    if factory is mg.rand:
        assert np.all((a.data >= 0) & (a.data < 1))
    else:
        assert abs(a.data.mean()) < 0.2 and 0.8 < a.data.std() < 1.2


# -- properties --------------------------------------------------------------------------------
@given(x=mst.arrays(mst.shapes(min_side=0)))
def test_array_properties_match_numpy(x):
    t = mg.tensor(x)
    assert (t.shape, t.ndim, t.size, t.dtype) == (x.shape, x.ndim, x.size, x.dtype)
    np.testing.assert_array_equal(t.T.data, x.T)
    assert t.numpy() is t.data
    if x.ndim:
        assert len(t) == x.shape[0]


def test_item_float_int_bool():
    assert mg.tensor([[2.5]]).item() == 2.5 and isinstance(mg.tensor(2.5).item(), float)
    assert float(mg.tensor(3)) == 3.0 and int(mg.tensor(3.7)) == 3
    assert bool(mg.tensor([1.0])) and not bool(mg.tensor(0.0))
    with pytest.raises(ValueError, match=r"item.*\(2,\)"):
        mg.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match=r"ambiguous"):
        bool(mg.tensor([1.0, 2.0]))
    with pytest.raises(TypeError, match="0-d"):
        len(mg.tensor(1.0))


def test_detach_shares_data_and_cuts_the_graph():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    d = y.detach()
    assert d.data is y.data
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 6.0])


def test_repr_shows_data_dtype_and_grad_fn():
    assert repr(mg.tensor([1.0, 2.0])) == "tensor([1., 2.], dtype=float64)"
    x = mg.tensor([1.5], dtype=np.float32, requires_grad=True)
    assert repr(x) == "tensor([1.5], dtype=float32, requires_grad=True)"
    assert repr(x.exp()).startswith("tensor([4.481") and "grad_fn=<Exp>" in repr(x.exp())
    assert "..." in repr(mg.zeros(1000))


def test_tensors_hash_by_identity():
    a, b = mg.tensor([1.0]), mg.tensor([1.0])
    assert hash(a) == hash(a) and len({a, b, a}) == 2
    assert {a: 1, b: 2}[b] == 2


# -- grad attribute ----------------------------------------------------------------------------
def test_grad_is_assignable_and_checked():
    x = mg.tensor(np.zeros((2, 3)), requires_grad=True)
    x.grad = np.ones((2, 3))
    assert isinstance(x.grad, mg.Tensor) and np.all(x.grad.data == 1)
    x.grad = mg.ones(2, 3, dtype=np.float64)
    x.grad = None
    assert x.grad is None
    with pytest.raises(ValueError, match=r"grad.*\(3, 2\).*\(2, 3\)"):
        x.grad = np.ones((3, 2))
    with pytest.raises(TypeError, match=r"grad.*float32.*float64"):
        x.grad = np.ones((2, 3), dtype=np.float32)


# -- operators ---------------------------------------------------------------------------------
OPS = [operator.add, operator.sub, operator.mul, operator.truediv, operator.pow]


@pytest.mark.parametrize("op", OPS + [operator.matmul], ids=lambda op: op.__name__)
def test_ndarray_and_tensor_give_a_tensor_either_way(op):
    a, t = np.full((2, 2), 2.0), mg.tensor(np.full((2, 2), 3.0), requires_grad=True)
    for result, expected in ((op(a, t), op(a, t.data)), (op(t, a), op(t.data, a))):
        assert isinstance(result, mg.Tensor) and result.requires_grad
        np.testing.assert_array_equal(result.data, expected)


def test_array_ufunc_is_none():
    assert mg.Tensor.__array_ufunc__ is None
    with pytest.raises(TypeError):
        np.add(np.ones(2), mg.tensor([1.0, 2.0]))   # NumPy refuses instead of unwrapping


@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge,
                                operator.eq, operator.ne], ids=lambda op: op.__name__)
@given(data=st.data())
def test_comparisons_give_boolean_tensors_without_grad(op, data):
    shape_a, shape_b = data.draw(mst.broadcastable_shapes())
    a = data.draw(mst.arrays(shape_a).map(np.round))    # rounding makes ties likely
    b = data.draw(mst.arrays(shape_b).map(np.round))
    t = mg.tensor(a, requires_grad=True)
    for result in (op(t, mg.tensor(b, requires_grad=True)), op(t, b), op(b, t)):
        assert isinstance(result, mg.Tensor)
        assert result.dtype == np.bool_ and not result.requires_grad
        assert result.grad_fn is None
    np.testing.assert_array_equal(op(t, b).data, op(a, b))
    np.testing.assert_array_equal(op(b, t).data, op(b, a))
    np.testing.assert_array_equal(op(t, 0.0).data, op(a, 0.0))


def test_comparison_of_non_broadcastable_shapes_names_them():
    with pytest.raises(ValueError, match=r"less.*\(2, 3\).*\(4,\)"):
        mg.tensor(np.ones((2, 3))) < mg.tensor(np.ones(4))


def test_comparison_used_as_a_mask_in_where_and_indexing():
    x = mg.tensor([-1.0, 2.0, -3.0], requires_grad=True)
    y = mg.functional.where(x > 0, x, x * 0.1) + x[x < 0].sum()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.1, 1.0, 3.1])   # 0.1 or 1, plus 3 x (x < 0)


def test_unary_operators_and_methods():
    x = mg.tensor([-1.0, 2.0], requires_grad=True)
    np.testing.assert_array_equal((-x).data, [1.0, -2.0])
    np.testing.assert_array_equal(abs(x).data, [1.0, 2.0])
    (-x + abs(x)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [-2.0, 0.0])


def test_python_number_keeps_the_tensor_dtype():
    x = mg.tensor([1.0, 2.0], dtype=np.float32)
    for result in (x + 1, 1 - x, x * 0.5, 2.5 / x, x ** 2, 2 ** x, x / 3):
        assert result.dtype == np.float32


def test_astype_is_differentiable_between_floating_dtypes_only():
    x = mg.tensor([1.5, -2.5], requires_grad=True)
    y = x.astype(np.float32)
    assert y.dtype == np.float32 and y.requires_grad
    (y * 2).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])
    n = x.astype(np.int64)
    assert n.dtype == np.int64 and not n.requires_grad
    np.testing.assert_array_equal(n.data, [1, -2])
    assert x.astype(np.float64) is x


def test_register_hook_needs_a_tensor_that_requires_grad():
    with pytest.raises(RuntimeError, match="register_hook"):
        mg.tensor([1.0]).register_hook(lambda g: g)
