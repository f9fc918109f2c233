"""Reductions and the softmax family against NumPy and central differences."""
import warnings

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.testing import strategies as mst

from .helpers import check_op, leaf

pytestmark = pytest.mark.filterwarnings("ignore::minigrad.gradcheck.GradcheckWarning")


@st.composite
def array_and_axis(draw, min_side=1, distinct=False):
    """An array and an ``axis`` argument for it: None, an int (maybe negative) or a tuple."""
    x = draw(mst.arrays(mst.shapes(min_side=min_side)))
    if distinct:   # max/min: keep values apart so that no two tie (ties are tested apart)
        x = x + np.arange(x.size).reshape(x.shape) * 0.1
        gaps = np.diff(np.sort(x.ravel()))
        assume(gaps.size == 0 or gaps.min() > 1e-3)   # the shift above can create a tie
    kind = draw(st.sampled_from(["none", "int", "tuple"] if x.ndim else ["none", "tuple"]))
    if kind == "none":
        return x, None
    if kind == "int":
        return x, draw(st.integers(-x.ndim, x.ndim - 1))
    axes = draw(st.lists(st.integers(0, max(x.ndim - 1, 0)), unique=True, max_size=x.ndim))
    return x, tuple(axes)


def _kwargs(axis, keepdims):
    return {"axis": axis, "keepdims": keepdims}


@pytest.mark.parametrize("name", ["sum", "mean"])
@given(case=array_and_axis(), keepdims=st.booleans())
def test_sum_mean(name, case, keepdims):
    x, axis = case
    kw = _kwargs(axis, keepdims)
    check_op(lambda t: getattr(F, name)(t, **kw), lambda a: getattr(np, name)(a, **kw), x)
    check_op(lambda t: getattr(t, name)(**kw), lambda a: getattr(np, name)(a, **kw), x,
             second_order=False)


@given(case=array_and_axis(), keepdims=st.booleans(), ddof=st.integers(0, 1))
def test_var(case, keepdims, ddof):
    x, axis = case
    n = x.size if axis is None else int(np.prod([x.shape[a] for a in np.atleast_1d(axis)]))
    assume(n > ddof)
    kw = {"axis": axis, "keepdims": keepdims, "ddof": ddof}
    check_op(lambda t: F.var(t, **kw), lambda a: np.var(a, **kw), x)
    check_op(lambda t: t.var(**kw), lambda a: np.var(a, **kw), x, second_order=False)


@pytest.mark.parametrize("name", ["max", "min"])
@given(case=array_and_axis(distinct=True), keepdims=st.booleans())
def test_max_min_without_ties(name, case, keepdims):
    x, axis = case
    kw = _kwargs(axis, keepdims)
    check_op(lambda t: getattr(F, name)(t, **kw), lambda a: getattr(np, name)(a, **kw), x)
    check_op(lambda t: getattr(t, name)(**kw), lambda a: getattr(np, name)(a, **kw), x,
             second_order=False)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_split_the_gradient_equally_among_ties(name):
    v = 5.0 if name == "max" else -5.0
    x = leaf(np.array([[v, 1.0, v], [v, v, v], [0.0, v, 2.0]]))
    getattr(x, name)(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad.data, [[0.5, 0, 0.5], [1 / 3, 1 / 3, 1 / 3], [0, 1, 0]])
    x.grad = None
    getattr(x, name)().backward()
    np.testing.assert_allclose(x.grad.data, (x.data == v) / 6)


@given(case=array_and_axis(), keepdims=st.booleans())
def test_logsumexp(case, keepdims):
    x, axis = case
    kw = _kwargs(axis, keepdims)

    def reference(a):
        return np.log(np.sum(np.exp(a), **kw))
    check_op(lambda t: F.logsumexp(t, **kw), reference, x)
    check_op(lambda t: t.logsumexp(**kw), reference, x, second_order=False)


def _softmax(a, axis):
    e = np.exp(a - a.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@given(x=mst.arrays(mst.shapes(min_dims=1)), data=st.data())
def test_softmax_and_log_softmax(x, data):
    axis = data.draw(st.integers(-x.ndim, x.ndim - 1))
    check_op(lambda t: F.softmax(t, axis), lambda a: _softmax(a, axis), x)
    check_op(lambda t: F.log_softmax(t, axis), lambda a: np.log(_softmax(a, axis)), x)
    check_op(lambda t: t.softmax(axis), lambda a: _softmax(a, axis), x, second_order=False)
    check_op(lambda t: t.log_softmax(axis), lambda a: np.log(_softmax(a, axis)), x,
             second_order=False)


def test_softmax_rows_sum_to_one():
    y = F.softmax(leaf(np.random.default_rng(0).standard_normal((4, 5))), axis=1)
    np.testing.assert_allclose(y.data.sum(axis=1), np.ones(4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_is_stable_at_logits_of_magnitude_1e4(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4 - 1, 1e4]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no overflow / invalid-value RuntimeWarning
        x = leaf(logits)
        probabilities = F.softmax(x, axis=1)
        log_probabilities = F.log_softmax(x, axis=1)
        lse = F.logsumexp(x, axis=1)
        (probabilities * mg.tensor(np.arange(3, dtype=dtype))).sum().backward()
        log_probabilities.sum().backward()
        lse.sum().backward()
    for t in (probabilities, log_probabilities, lse, x.grad):
        assert t.dtype == dtype
        assert np.all(np.isfinite(t.data))
    expected = _softmax(logits.astype(np.float64), 1)
    np.testing.assert_allclose(probabilities.data, expected, rtol=1e-6, atol=1e-30)
    np.testing.assert_allclose(log_probabilities.data[0], [0.0, -2e4, -1e4], rtol=1e-6)
    np.testing.assert_allclose(lse.data, [1e4, -1e4 + np.log(3), 1e4 + np.log(1 + 2 * np.e)
                                          - 1], rtol=1e-6)


def test_softmax_family_at_large_logits_has_the_right_gradient():
    x = np.array([[1e4, 1e4 - 0.5, 1e4 - 1.0], [-1e4, -1e4 + 1.0, -1e4 + 0.25]])
    for op in (lambda t: F.softmax(t, 1), lambda t: F.log_softmax(t, 1),
               lambda t: F.logsumexp(t, 1)):
        assert mg.gradcheck(op, [leaf(x)], seed=0)


# -- empty axes and bad axes -------------------------------------------------------------------
def test_sum_over_an_empty_axis_is_zero_with_an_empty_gradient():
    x = leaf(np.zeros((0, 3)))
    y = x.sum(axis=0)
    np.testing.assert_array_equal(y.data, np.zeros(3))
    y.backward(np.ones(3))
    assert x.grad.shape == (0, 3)
    z = leaf(np.zeros((0, 3))).sum(axis=1)     # reduces the non-empty axis: an empty result
    assert z.shape == (0,)


@pytest.mark.parametrize("name", ["mean", "var", "max", "min", "logsumexp"])
def test_reducing_an_empty_axis_is_refused_with_the_shape(name):
    with pytest.raises(ValueError, match=rf"{name}.*\(0, 3\)"):
        getattr(F, name)(leaf(np.zeros((0, 3))), axis=0)


def test_reductions_over_a_non_empty_axis_of_an_empty_array_are_fine():
    y = F.max(leaf(np.zeros((0, 3))), axis=1)
    assert y.shape == (0,)


@pytest.mark.parametrize("name", ["sum", "mean", "var", "max", "min", "logsumexp"])
def test_axis_out_of_range_names_the_op(name):
    with pytest.raises(ValueError, match=rf"{name}: axis 2 is out of range"):
        getattr(F, name)(leaf(np.ones((2, 3))), axis=2)
    with pytest.raises(ValueError, match=f"{name}: repeated axis"):
        getattr(F, name)(leaf(np.ones((2, 3))), axis=(0, -2))


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_bad_axis(name):
    with pytest.raises(ValueError, match=name):
        getattr(F, name)(leaf(np.ones((2, 3))), axis=3)
    with pytest.raises(ValueError, match=name):
        getattr(F, name)(leaf(np.float64(1.0)))


@pytest.mark.parametrize("name", ["sum", "mean", "var", "max", "min", "logsumexp", "softmax",
                                  "log_softmax"])
def test_float32_preserved(name):
    x = leaf(np.array([[0.5, 1.5], [2.5, -1.0]], dtype=np.float32))
    y = getattr(F, name)(x)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32


def test_var_with_ddof_at_least_n_is_refused():
    x = leaf(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"var: ddof=3.*3 \(shape \(2, 3\), axis 1\)"):
        x.var(axis=1, ddof=3)
    with pytest.raises(ValueError, match="var: ddof=-1"):
        x.var(ddof=-1)
    assert x.var(axis=1, ddof=2).shape == (2,)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape, axis", [((2, 0), 1), ((2, 0), -1), ((0, 3), 0), ((0, 3), 1),
                                         ((3, 0, 2), 1), ((0,), 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_family_over_an_empty_axis_is_empty_as_in_pytorch(name, shape, axis, dtype):
    x = leaf(np.zeros(shape, dtype=dtype))
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no NumPy reduction error nor warning
        y = getattr(F, name)(x, axis)
        y.backward(np.zeros(shape, dtype=dtype))
    assert y.shape == shape and y.dtype == dtype
    assert x.grad.shape == shape and x.grad.dtype == dtype
    torch = pytest.importorskip("torch")
    t = torch.zeros(shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
    out = getattr(torch, name)(t, axis)
    out.backward(torch.zeros(shape, dtype=t.dtype))
    assert tuple(out.shape) == y.shape and tuple(t.grad.shape) == x.grad.shape
