"""The benchmark's NumPy call counter counts each entry into NumPy once, and leaves no trace."""
import numpy as np
import pytest

from benchmarks import numpy_calls

A = np.arange(9.0).reshape(3, 3)
B = np.ones((3, 3))
OUT = np.empty((3, 3))

ONE_CALL = {
    "operator": lambda: A + B, "reflected operator": lambda: 2.0 * A, "matmul": lambda: A @ B,
    "power": lambda: A ** 2, "negation": lambda: -A, "comparison": lambda: A > 0,
    "index": lambda: A[0:2], "ufunc": lambda: np.exp(A),
    "ufunc with out": lambda: np.maximum(A, 0, out=OUT), "method": lambda: A.sum(),
    "C function": lambda: np.zeros(3),
    "dispatched C function": lambda: np.dot(A, B), "Python function": lambda: np.sum(A),
    "ufunc method": lambda: np.add.at(OUT, [0, 0], 1.0),
    "function calling NumPy inside": lambda: np.linalg.norm(A),
}


@pytest.mark.parametrize("name", sorted(ONE_CALL))
def test_one_numpy_call_is_counted_once(name):
    with numpy_calls.counting() as counter:
        ONE_CALL[name]()
    assert counter.calls == 1


def test_python_work_is_not_counted_and_several_calls_add_up():
    def step():
        x = A.copy()
        x += 1.0                       # 2 calls so far
        x[0] = 5.0                     # 3
        total = 0
        for i in range(10):            # Python arithmetic: none
            total += i
        return np.where(x > 2, x, 0.0), total     # comparison + where: 5
    assert numpy_calls.calls_per_step(step, steps=4) == 5


def test_the_counter_leaves_numpy_as_it_was():
    with numpy_calls.counting() as counter:
        A + B
    assert counter.calls == 1
    result = A * B + np.exp(A)                     # after the block: nothing counts any more
    assert counter.calls == 1
    np.testing.assert_array_equal(result, A * B + np.exp(A))
    with pytest.raises(ValueError):
        A @ np.ones((2, 2))                        # errors still raise normally


def test_numpy_raising_inside_the_count_fails_loudly_and_does_not_crash():
    with pytest.raises(RuntimeError, match="the count is void") as raised:
        with numpy_calls.counting():
            with pytest.raises(TypeError):
                A @ np.ones((2, 2))
    assert isinstance(raised.value.__cause__, ValueError)
    np.testing.assert_array_equal(A @ B, np.dot(A, B))


def test_the_layout_check_reads_fields_python_shows():
    assert numpy_calls.supported()          # a 64-bit CPython release build, as here
    table = numpy_calls._slot_table(np.ndarray, 0)
    assert table[numpy_calls._TP_FLAGS] == np.ndarray.__flags__
