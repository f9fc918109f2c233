"""DataLoader: batches cover the data once per pass, shuffling, drop_last, bad input."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad.data import DataLoader


@given(n=st.integers(1, 40), batch_size=st.integers(1, 12), shuffle=st.booleans(),
       drop_last=st.booleans(), seed=st.integers(0, 1000))
def test_batches_cover_each_row_once(n, batch_size, shuffle, drop_last, seed):
    X = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    loader = DataLoader(X, y, batch_size, shuffle=shuffle, drop_last=drop_last,
                        rng=np.random.default_rng(seed))
    batches = list(loader)
    assert len(batches) == len(loader)
    expected_batches = n // batch_size if drop_last else -(-n // batch_size)
    assert len(loader) == expected_batches
    if not batches:
        return
    xs = np.concatenate([xb.data for xb, _ in batches])
    ys = np.concatenate([yb.data for _, yb in batches])
    assert all(isinstance(xb, mg.Tensor) and isinstance(yb, mg.Tensor) for xb, yb in batches)
    assert all(len(xb) == batch_size for xb, _ in batches[:-1])
    np.testing.assert_array_equal(xs, X[ys])              # rows stay with their labels
    assert len(set(ys.tolist())) == len(ys)               # no row twice
    if drop_last:
        assert len(ys) == expected_batches * batch_size
    else:
        assert sorted(ys.tolist()) == list(range(n))
    if not shuffle:
        np.testing.assert_array_equal(ys, np.arange(len(ys)))


def test_each_pass_reshuffles_and_the_seed_repeats_it():
    X, y = np.zeros((50, 1)), np.arange(50)
    loader = DataLoader(X, y, 10, rng=np.random.default_rng(3))
    first = np.concatenate([yb.data for _, yb in loader])
    second = np.concatenate([yb.data for _, yb in loader])
    assert not np.array_equal(first, second)
    rng = np.random.default_rng(3)
    np.testing.assert_array_equal(first, rng.permutation(50))
    np.testing.assert_array_equal(second, rng.permutation(50))


def test_default_generator_follows_manual_seed():
    X, y = np.zeros((20, 1)), np.arange(20)
    loader = DataLoader(X, y, 5)
    mg.manual_seed(7)
    a = np.concatenate([yb.data for _, yb in loader])
    mg.manual_seed(7)
    b = np.concatenate([yb.data for _, yb in loader])
    np.testing.assert_array_equal(a, b)


def test_unshuffled_batches_are_views_not_copies():
    X = np.arange(12.0).reshape(6, 2)
    xb, _ = next(iter(DataLoader(X, np.arange(6), 4, shuffle=False)))
    assert np.shares_memory(xb.data, X)


def test_accepts_tensors_and_keeps_dtype():
    X = mg.tensor(np.ones((4, 2), dtype=np.float32))
    xb, yb = next(iter(DataLoader(X, mg.tensor([0, 1, 2, 3]), 2)))
    assert xb.dtype == np.float32 and yb.dtype.kind == "i"


@pytest.mark.parametrize("args, error, word", [
    ((np.zeros((3, 2)), np.zeros(4), 2), ValueError, "same number of rows"),
    ((np.zeros((0, 2)), np.zeros(0), 2), ValueError, "empty"),
    ((np.zeros((3, 2)), np.zeros(3), 0), ValueError, "batch_size"),
    ((np.zeros((3, 2)), np.zeros(3), 2.5), ValueError, "batch_size"),
    ((np.zeros((3, 2)), np.zeros(3), True), ValueError, "batch_size"),
    (([[1, 2], [3]], [0, 1], 1), ValueError, "rectangular"),
    ((np.array(["a", "b"]), np.zeros(2), 1), TypeError, "numbers"),
    ((np.float32(1.0), np.zeros(1), 1), ValueError, "same number of rows"),
])
def test_bad_input(args, error, word):
    with pytest.raises(error, match=f"DataLoader: .*{word}"):
        DataLoader(*args)


def test_bad_rng():
    with pytest.raises(TypeError, match="DataLoader: rng"):
        DataLoader(np.zeros((3, 1)), np.zeros(3), 2, rng=0)
