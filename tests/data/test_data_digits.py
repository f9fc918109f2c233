"""The bundled digits, the stratified split, make_spiral."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minigrad.data import load_digits, make_spiral
from minigrad.data.digits import DIGITS_PATH, stratified_split


def test_bundled_file_is_small_and_pickle_free():
    import os
    assert os.path.getsize(DIGITS_PATH) < 100_000
    with np.load(DIGITS_PATH, allow_pickle=False) as f:
        assert f["images"].shape == (1797, 8, 8) and f["images"].dtype == np.uint8
        assert f["labels"].shape == (1797,) and f["labels"].max() == 9


def test_load_digits_types_ranges_and_sizes():
    (x_train, y_train), (x_test, y_test) = load_digits()
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert x_train.shape == (1438, 64) and x_test.shape == (359, 64)
    assert x_train.min() == 0.0 and x_train.max() == 1.0
    assert len(y_train) == 1438 and len(y_test) == 359
    # values are counts / 16
    assert np.array_equal(x_train * 16, np.round(x_train * 16))


def test_load_digits_split_is_a_stratified_partition():
    with np.load(DIGITS_PATH, allow_pickle=False) as f:
        images, labels = f["images"], f["labels"]
    (x_train, y_train), (x_test, y_test) = load_digits()
    # together the two parts are exactly the data set, each image once
    both = np.concatenate([x_train, x_test]) * 16
    all_rows = images.reshape(-1, 64).astype(np.float32)
    key = lambda a: np.lexsort(a.T[::-1])  # noqa: E731
    assert np.array_equal(both[key(both)], all_rows[key(all_rows)])
    counts = np.bincount(labels, minlength=10)
    np.testing.assert_array_equal(np.bincount(y_test, minlength=10), np.rint(counts * 0.2))


def test_load_digits_same_seed_same_split_other_seed_other_split():
    (a, _), _ = load_digits(0)
    (b, _), _ = load_digits(0)
    (c, _), _ = load_digits(1)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_load_digits_unflattened_and_bad_seed():
    (x, _), _ = load_digits(flatten=False)
    assert x.shape == (1438, 1, 8, 8)
    with pytest.raises(ValueError, match="load_digits: split_seed"):
        load_digits(-1)
    with pytest.raises(ValueError, match="test_fraction"):
        load_digits(test_fraction=1.5)


@pytest.mark.parametrize("fraction", ["a", None, True, [0.2]], ids=repr)
def test_load_digits_refuses_a_test_fraction_that_is_not_a_number(fraction):
    with pytest.raises(TypeError, match="load_digits: test_fraction must be a number in "
                                        r"\(0, 1\), got "):
        load_digits(test_fraction=fraction)


@pytest.mark.parametrize("fraction, empty", [(0.999, "training"), (0.001, "test"),
                                             (float("nan"), None), (0.0, None)], ids=repr)
def test_load_digits_refuses_a_test_fraction_that_leaves_a_part_empty(fraction, empty):
    match = f"leaves the {empty} part empty" if empty else "test_fraction must lie in"
    with pytest.raises(ValueError, match=f"load_digits: .*{match}"):
        load_digits(test_fraction=fraction)
    (x_train, _), (x_test, _) = load_digits(test_fraction=np.float32(0.5))
    assert len(x_train) and len(x_test)


@given(labels=st.lists(st.integers(0, 4), min_size=1, max_size=60),
       fraction=st.floats(0.05, 0.95), seed=st.integers(0, 2**32 - 1))
def test_stratified_split_property(labels, fraction, seed):
    labels = np.array(labels)
    train, test = stratified_split(labels, fraction, np.random.default_rng(seed))
    assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(len(labels)))
    for c in np.unique(labels):
        n_c = np.sum(labels == c)
        assert np.sum(labels[test] == c) == np.rint(n_c * fraction)


def test_make_spiral_shapes_geometry_and_seed():
    x, y = make_spiral(50, 4, noise=0.0, rng=np.random.default_rng(0))
    assert x.shape == (200, 2) and x.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50] * 4)
    r = np.arange(50) / 50
    np.testing.assert_allclose(np.hypot(x[:, 0], x[:, 1]), np.tile(r, 4), atol=1e-6)
    theta = 4.0 * 2 + 4.0 * r                       # class 2, no noise
    np.testing.assert_allclose(x[100:150], np.stack([r * np.sin(theta), r * np.cos(theta)], 1),
                               atol=1e-6)
    a, _ = make_spiral(10, 3, 0.3, rng=np.random.default_rng(5))
    b, _ = make_spiral(10, 3, 0.3, rng=np.random.default_rng(5))
    assert np.array_equal(a, b)


@pytest.mark.parametrize("kwargs, word", [({"n_per_class": 0}, "n_per_class"),
                                          ({"n_classes": 1}, "n_classes"),
                                          ({"noise": -0.1}, "noise"),
                                          ({"noise": float("nan")}, "noise"),
                                          ({"noise": float("inf")}, "noise"),
                                          ({"noise": None}, "noise"),
                                          ({"n_per_class": 2.5}, "n_per_class")])
def test_make_spiral_bad_arguments(kwargs, word):
    with pytest.raises(ValueError, match=f"make_spiral: {word}"):
        make_spiral(**kwargs)


def test_make_spiral_bad_rng():
    with pytest.raises(TypeError, match="make_spiral: rng"):
        make_spiral(rng=42)
