"""The shipped hypothesis strategies generate what their docstrings promise."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minigrad.testing import strategies as mst

FLOATS = [np.float16, np.float32, np.float64]


@given(data=st.data(), min_dims=st.integers(0, 3), extra_dims=st.integers(0, 2),
       min_side=st.integers(0, 3), extra_side=st.integers(0, 3))
def test_shapes_respect_their_bounds(data, min_dims, extra_dims, min_side, extra_side):
    max_dims, max_side = min_dims + extra_dims, min_side + extra_side
    shape = data.draw(mst.shapes(min_dims, max_dims, min_side, max_side))
    assert isinstance(shape, tuple)
    assert min_dims <= len(shape) <= max_dims
    assert all(isinstance(n, int) and min_side <= n <= max_side for n in shape)


def test_shapes_defaults_are_small_and_include_0d():
    seen = set()

    @given(mst.shapes())
    def collect(shape):
        assert len(shape) <= 3 and all(1 <= n <= 4 for n in shape)
        seen.add(len(shape))
    collect()
    assert 0 in seen


@given(data=st.data(), num_shapes=st.integers(1, 4), max_dims=st.integers(0, 4))
def test_broadcastable_shapes_broadcast_together(data, num_shapes, max_dims):
    shapes = data.draw(mst.broadcastable_shapes(num_shapes=num_shapes, max_dims=max_dims))
    assert isinstance(shapes, tuple) and len(shapes) == num_shapes
    assert all(len(s) <= max_dims and all(1 <= n <= 4 for n in s) for s in shapes)
    np.broadcast_shapes(*shapes)        # raises if they do not broadcast


def test_broadcastable_shapes_do_stretch_axes():
    stretched = []

    @given(mst.broadcastable_shapes())
    def collect(shapes):
        target = np.broadcast_shapes(*shapes)
        stretched.append(any(s != target for s in shapes))
    collect()
    assert any(stretched)


@given(data=st.data(), dtype=st.sampled_from(FLOATS), bound=st.sampled_from([0.5, 1.0, 3.0, 7.5]))
def test_arrays_are_bounded_and_typed(data, dtype, bound):
    x = data.draw(mst.arrays(mst.shapes(min_side=0), dtype=dtype, bound=bound))
    assert isinstance(x, np.ndarray) and x.dtype == dtype
    assert np.all(np.isfinite(x))
    assert np.all(np.abs(x.astype(np.float64)) <= bound)


@given(data=st.data(), shape=mst.shapes())
def test_arrays_with_a_fixed_shape(data, shape):
    assert data.draw(mst.arrays(shape)).shape == shape


@given(data=st.data(), dtype=st.sampled_from(FLOATS),
       margin=st.sampled_from([1e-3, 1e-2, 0.1, 0.5]))
def test_positive_arrays_stay_above_the_margin(data, dtype, margin):
    x = data.draw(mst.arrays(dtype=dtype, positive=True, margin=margin))
    assert x.dtype == dtype
    assert np.all(x.astype(np.float64) >= margin) and np.all(x <= 3.0)


KINK_SETS = [(0.0,), (-1.0, 1.0), (-3.0, 0.0, 3.0)]
# With bound 0.05 a drawn value is often near a kink: kinks closer together than two margins,
# and kinks near the bound, where pushing a value away must not land it near another kink or
# outside the bound.
CROWDED_KINK_SETS = [(0.0,), (0.0, 0.015), (0.045,), (-0.05, 0.0, 0.012), (0.0, 0.01, 0.02)]


@given(data=st.data(), kinks=st.sampled_from(KINK_SETS), dtype=st.sampled_from(FLOATS),
       margin=st.sampled_from([1e-3, 1e-2, 0.05]))
def test_arrays_keep_away_from_every_kink_and_inside_the_bound(data, kinks, dtype, margin):
    x = data.draw(mst.arrays(dtype=dtype, away_from=kinks, margin=margin))
    _assert_away(x, dtype, kinks, margin, 3.0)


@given(data=st.data(), kinks=st.sampled_from(CROWDED_KINK_SETS), dtype=st.sampled_from(FLOATS))
def test_crowded_kinks_near_the_bound(data, kinks, dtype):
    x = data.draw(mst.arrays(dtype=dtype, away_from=kinks, margin=0.01, bound=0.05))
    _assert_away(x, dtype, kinks, 0.01, 0.05)


def _assert_away(x, dtype, kinks, margin, bound):
    assert x.dtype == dtype
    values = x.astype(np.float64)
    for kink in kinks:
        assert np.all(np.abs(values - kink) >= margin), (kink, values)
    assert np.all(np.abs(values) <= bound)


def test_values_at_a_kink_are_moved_to_both_sides():
    pushed = mst.away_from(0.0)(np.array([-4e-3, -1e-12, 1e-12, 4e-3]))
    np.testing.assert_array_equal(pushed, [-1e-2, -1e-2, 1e-2, 1e-2])   # each to its own side
    signs = set()

    @settings(max_examples=200, derandomize=True)   # a fixed sample: the verdict cannot flicker
    @given(mst.arrays((4,), away_from=(0.0,)))
    def collect(x):
        assert np.all(np.abs(x) >= 1e-2)
        signs.update(np.sign(x[np.abs(x) < 0.5]).tolist())
    collect()
    assert signs == {-1.0, 1.0}


def test_away_from_as_a_map_keeps_dtype_and_values_far_from_kinks():
    push = mst.away_from(0.0, 1.0, margin=0.1)
    x = np.array([-0.05, 0.0, 0.02, 0.5, 0.95, 1.0, 2.0], dtype=np.float32)
    y = push(x)
    assert y.dtype == np.float32
    assert np.all(np.abs(y.astype(np.float64)) >= 0.1)
    assert np.all(np.abs(y.astype(np.float64) - 1.0) >= 0.1)
    np.testing.assert_array_equal(y[[3, 6]], x[[3, 6]])       # far values are untouched
    np.testing.assert_array_equal(x[1], 0.0)                  # the input is not modified
    assert np.all(np.abs(y - x) <= 0.1 + 1e-6)                # moved no further than needed


@given(data=st.data(), n_features=st.integers(1, 4))
def test_batches_are_rows_of_n_features(data, n_features):
    x = data.draw(mst.batches(n_features, min_batch=2, max_batch=5, bound=2.0))
    assert x.ndim == 2 and x.shape[1] == n_features and 2 <= x.shape[0] <= 5
    assert np.all(np.abs(x) <= 2.0)


def test_bad_arguments_are_refused_at_construction():
    with pytest.raises(TypeError, match="arrays: dtype"):
        mst.arrays(dtype=np.int64)
    with pytest.raises(ValueError, match="arrays: bound"):
        mst.arrays(bound=-1.0)
    with pytest.raises(ValueError, match="arrays: positive"):
        mst.arrays(positive=True, margin=3.0, bound=2.0)
    with pytest.raises(ValueError, match="arrays: no value"):
        mst.arrays(bound=0.01, away_from=(0.0,), margin=0.1)


def test_hypothesis_profiles_are_registered_and_chosen_by_the_environment():
    import os

    from hypothesis import settings
    assert settings.get_profile("ci").max_examples >= 50
    assert settings.get_profile("thorough").max_examples > settings.get_profile("ci").max_examples
    assert settings.get_profile("dev").max_examples >= 20
    expected = os.environ.get("HYPOTHESIS_PROFILE") or (
        "ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev")
    assert settings().max_examples == settings.get_profile(expected).max_examples
