"""mg.detect_anomaly(): the first NaN/Inf in a forward or backward raises, naming op and line."""
import inspect

import numpy as np
import pytest

import minigrad as mg

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")   # NumPy's own log(0) warning


def _line_of(marker: str) -> int:
    """The line number of this file's source line that contains ``marker``."""
    lines = inspect.getsource(inspect.getmodule(_line_of)).splitlines()
    return next(i for i, text in enumerate(lines, 1) if marker in text and "_line_of" not in text)


def test_forward_nan_raises_with_op_shapes_and_user_line():
    x = mg.tensor([1.0, 0.0, 2.0], requires_grad=True)
    with mg.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            mg.functional.log(x * 1.0)   # MARK-forward
    message = str(info.value)
    assert "Log produced Inf in output 0 (shape (3,))" in message
    assert "all inputs were finite" in message
    assert "input 0 shape (3,) float64 (finite)" in message
    assert f"test_anomaly.py:{_line_of('MARK-forward')}" in message


def test_backward_inf_raises_naming_the_op_the_input_and_where_it_was_created():
    x = mg.tensor([0.0, 4.0], requires_grad=True)
    with mg.detect_anomaly():
        y = x.sqrt()   # MARK-backward
        loss = y.sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    message = str(info.value)
    assert "Sqrt.backward returned Inf in the gradient of input 0 (shape (2,))" in message
    assert "output 0 gradient shape (2,) float64 (finite)" in message
    assert f"test_anomaly.py:{_line_of('MARK-backward')}" in message
    assert "x.sqrt()" in message


def test_nan_already_in_the_data_is_blamed_on_the_input():
    x = mg.tensor([np.nan, 1.0])
    with mg.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"Exp produced NaN.*input 0 already held"):
            x.exp()


def test_nan_in_backward_of_a_multi_op_graph_points_at_the_right_op():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.detect_anomaly():
        a = x * 3.0
        b = (a - a).sqrt()   # MARK-sqrt: forward is 0, backward is 1/0
        loss = (a.sum() + b.sum())
        with pytest.raises(RuntimeError, match="Sqrt.backward") as info:
            loss.backward()
    assert f":{_line_of('MARK-sqrt')}" in str(info.value)


def test_off_by_default_and_costs_no_stack_capture():
    assert not mg.is_anomaly_enabled()
    x = mg.tensor([0.0], requires_grad=True)
    y = x.log()                          # -inf, silently, as in NumPy and PyTorch
    assert np.isneginf(y.data).all()
    assert "_created_at" not in y.grad_fn.__dict__
    y.sum().backward()                   # inf gradient, no error outside anomaly mode
    assert np.isinf(x.grad.data).all()


def test_mode_is_restored_after_an_error_and_nests():
    with pytest.raises(ZeroDivisionError):
        with mg.detect_anomaly():
            assert mg.is_anomaly_enabled()
            with mg.detect_anomaly():
                pass
            assert mg.is_anomaly_enabled()
            raise ZeroDivisionError
    assert not mg.is_anomaly_enabled()


def test_decorator_form():
    @mg.detect_anomaly()
    def step(x):
        assert mg.is_anomaly_enabled()
        return (x / 0.0).sum()

    with pytest.raises(RuntimeError, match="Div produced Inf"):
        step(mg.tensor([1.0], requires_grad=True))
    assert not mg.is_anomaly_enabled()


def test_finite_computation_is_unchanged_in_anomaly_mode():
    x = mg.tensor([0.5, 1.5, -2.0], requires_grad=True)
    with mg.detect_anomaly():
        loss = (x.exp() * x.tanh()).sum()
        loss.backward()
    expected = np.exp(x.data) * (np.tanh(x.data) + 1 - np.tanh(x.data) ** 2)
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12)


def test_in_place_error_shows_the_creation_line_in_anomaly_mode():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    with mg.detect_anomaly():
        h = x * 1.0
        y = h.exp()   # MARK-exp
        with mg.no_grad():
            h.add_(1.0)
        with pytest.raises(RuntimeError, match="Exp: input 0") as info:
            y.sum().backward()
    assert f"test_anomaly.py:{_line_of('MARK-exp')}" in str(info.value)


def test_float32_overflow_is_caught():
    x = mg.tensor(np.array([100.0], dtype=np.float32), requires_grad=True)
    with mg.detect_anomaly():
        with pytest.raises(RuntimeError, match=r"Exp produced Inf in output 0 \(shape \(1,\)\)"):
            x.exp()


def test_an_op_inside_a_layer_is_blamed_on_the_users_line():
    layer = mg.nn.Linear(2, 2)
    with mg.no_grad():
        layer.weight.fill_(float("inf"))
    x = mg.tensor(np.array([[1.0, -1.0]], dtype=np.float32))
    with mg.detect_anomaly():
        with pytest.raises(RuntimeError) as info:
            layer(x)   # MARK-layer
    message = str(info.value)
    assert "produced NaN" in message and "input 1 already held" in message
    assert f"test_anomaly.py:{_line_of('MARK-layer')}" in message
