"""Bad arguments to the tensor factories, ``fill_`` and the comparisons: a TypeError or
ValueError naming the function and the value, never a NumPy RuntimeWarning, a truncated sample
or a garbage integer."""
import numpy as np
import pytest

import minigrad as mg

pytestmark = pytest.mark.filterwarnings("error")


@pytest.mark.parametrize("factory", [mg.randn, mg.rand], ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint8, bool, "int32"], ids=repr)
def test_random_factories_refuse_non_floating_dtypes(factory, dtype):
    name = factory.__name__
    with pytest.raises(TypeError, match=rf"{name}: dtype must be floating, got "
                                        rf"{np.dtype(dtype)}"):
        factory(8, dtype=dtype)


@pytest.mark.parametrize("factory", [mg.randn, mg.rand], ids=lambda f: f.__name__)
def test_random_factories_still_take_floating_dtypes_and_refuse_a_bad_rng(factory):
    assert factory(3, dtype=np.float64).dtype == np.float64
    assert factory(3, dtype="float16").dtype == np.float16
    assert factory(2, 3).dtype == np.float32
    rng = np.random.default_rng(0)
    expected = factory(4, rng=np.random.default_rng(0)).data
    np.testing.assert_array_equal(factory(4, rng=rng).data, expected)
    with pytest.raises(TypeError, match=rf"{factory.__name__}: rng must be a "
                                        r"numpy.random.Generator or None, got int"):
        factory(2, rng=5)


@pytest.mark.parametrize("factory", [mg.zeros, mg.ones, mg.randn, mg.rand],
                         ids=lambda f: f.__name__)
def test_factories_name_themselves_for_an_unknown_dtype(factory):
    with pytest.raises(TypeError, match=rf"{factory.__name__}: dtype .*'nope'"):
        factory(3, dtype="nope")


def test_other_factories_name_themselves_for_an_unknown_dtype():
    x = mg.ones(2)
    for call, name in [(lambda: mg.full(3, 1.0, dtype="nope"), "full"),
                       (lambda: mg.arange(3, dtype="nope"), "arange"),
                       (lambda: mg.zeros_like(x, dtype="nope"), "zeros_like"),
                       (lambda: mg.ones_like(x, dtype="nope"), "ones_like"),
                       (lambda: mg.tensor([1.0], dtype="nope"), "tensor")]:
        with pytest.raises(TypeError, match=rf"{name}: dtype .*'nope'"):
            call()
    with pytest.raises(TypeError, match="zeros: unsupported dtype object"):
        mg.zeros(2, dtype=object)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")], ids=repr)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_full_and_fill_refuse_a_non_finite_value_for_an_integer_dtype(value, dtype):
    with pytest.raises(ValueError, match=rf"full: {value!r} cannot be stored in a tensor of "
                                         rf"dtype {np.dtype(dtype)}"):
        mg.full(3, value, dtype=dtype)
    t = mg.ones(3, dtype=dtype)
    with pytest.raises(ValueError, match=rf"fill_: {value!r} cannot be stored"):
        t.fill_(value)
    with pytest.raises(ValueError, match="fill_: nan cannot be stored"):
        t.fill_(np.array([1.0, np.nan, 2.0]))
    np.testing.assert_array_equal(t.data, np.ones(3))
    assert t._version == 0


def test_full_and_fill_refuse_values_out_of_the_dtype_range():
    with pytest.raises(ValueError, match=r"full: 300 cannot be stored in a tensor of dtype int8"):
        mg.full(2, 300, dtype=np.int8)
    with pytest.raises(ValueError, match=r"full: 1e\+300 overflows dtype float32"):
        mg.full(2, 1e300, dtype=np.float32)
    with pytest.raises(ValueError, match=r"fill_: 1e\+300 overflows dtype float32"):
        mg.ones(2).fill_(1e300)
    with pytest.raises(ValueError, match="full: fill_value .* does not fit any integer dtype"):
        mg.full(2, 2 ** 70)


def test_full_and_fill_still_accept_what_the_dtype_can_hold():
    assert np.isnan(mg.full(2, float("nan")).data).all()
    assert np.isinf(mg.full(2, float("inf"), dtype=np.float32).data).all()
    assert mg.full(2, 2.5, dtype=np.int64).data.tolist() == [2, 2]     # truncated, as in torch
    assert mg.full(2, np.float32(1.5)).dtype == np.float32
    assert mg.ones(2, dtype=np.int8).fill_(-128).data.tolist() == [-128, -128]
    assert np.isnan(mg.ones(2).fill_(float("nan")).data).all()
    with pytest.raises(TypeError, match="full: fill_value must be a real number"):
        mg.full(2, 1j)


@pytest.mark.parametrize("args", [(0, float("inf")), (float("-inf"), 0), (0, 1, float("nan")),
                                  (float("nan"),)], ids=repr)
def test_arange_refuses_non_finite_bounds_and_steps(args):
    with pytest.raises(ValueError, match=r"arange: (start|stop|step) must be finite"):
        mg.arange(*args)


def test_arange_names_itself_when_the_result_is_too_large():
    with pytest.raises(ValueError, match="arange: cannot make the values from 0 to 1e"):
        mg.arange(0, 1e20)
    assert mg.arange(0, 1, 0.25, dtype=np.float32).data.tolist() == [0, 0.25, 0.5, 0.75]


@pytest.mark.parametrize("compare, op", [
    (lambda x: x < None, r"less \(<\)"), (lambda x: x <= "a", r"less_equal \(<=\)"),
    (lambda x: x > None, r"greater \(>\)"), (lambda x: x >= "a", r"greater_equal \(>=\)"),
    (lambda x: x < object(), r"less \(<\)")])
def test_ordering_something_that_is_not_numbers_is_a_type_error(compare, op):
    with pytest.raises(TypeError, match=rf"{op}: cannot compare a tensor with "):
        compare(mg.tensor([1.0, 2.0, 3.0]))


@pytest.mark.parametrize("other", [None, "a", object(), np.array(["a", "b", "c"])])
def test_equality_with_something_that_is_not_numbers_is_false_as_in_pytorch(other):
    x = mg.tensor([1.0, 2.0, 3.0])
    assert (x == other) is False and (x != other) is True
    assert x in [None, x] and None not in [x]


def test_comparisons_with_numbers_arrays_and_tensors_still_work():
    x = mg.tensor([1.0, 2.0, 3.0])
    assert (x == 2.0).data.tolist() == [False, True, False]
    assert (x < [2, 2, 2]).data.tolist() == [True, False, False]
    assert (x >= np.float32(2)).data.tolist() == [False, True, True]
    assert (x != mg.tensor([1.0, 0.0, 3.0])).data.tolist() == [False, True, False]
    assert (x == True).data.tolist() == [True, False, False]          # noqa: E712
    with pytest.raises(ValueError, match=r"less \(<\): cannot compare a tensor with a ragged"):
        x < [[1], [1, 2]]
