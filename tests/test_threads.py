"""Grad mode, the engine's state and tracing are per thread: what one thread does never changes
what another records or sees. Each test forces one interleaving with events (no sleeps)."""
import threading

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

WAIT = 20          # seconds; an event not set by then is a failure, not a hang


def run_threads(*targets):
    """Run each target in its own thread; re-raise the first error one of them raised."""
    errors = []

    def wrapped(target):
        try:
            target()
        except BaseException as error:          # noqa: BLE001  (re-raised below)
            errors.append(error)

    threads = [threading.Thread(target=wrapped, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(2 * WAIT)
        assert not t.is_alive(), "a thread did not finish"
    if errors:
        raise errors[0]


def wait(event):
    assert event.wait(WAIT), "the other thread never got there"


def test_a_thread_builds_and_differentiates_while_another_sits_in_no_grad():
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((5, 4)))
    layer = nn.Linear(4, 3, dtype=np.float64)
    gy = rng.standard_normal((5, 3))
    a_inside, b_done = threading.Event(), threading.Event()
    seen = {}

    def a():
        with mg.no_grad():
            a_inside.set()
            wait(b_done)                          # stays in no_grad while B works
            seen["a"] = mg.is_grad_enabled()

    def b():
        wait(a_inside)
        seen["b"] = mg.is_grad_enabled()
        h = layer(x).relu()
        h.backward(gy)
        b_done.set()

    run_threads(a, b)
    assert seen == {"a": False, "b": True}
    z = x.data @ layer.weight.data + layer.bias.data
    mask = gy * (z > 0)                           # relu'(z) ⊙ upstream, by hand
    np.testing.assert_allclose(layer.weight.grad.data, x.data.T @ mask)
    np.testing.assert_allclose(layer.bias.grad.data, mask.sum(0))


def test_a_backward_in_one_thread_does_not_turn_off_recording_in_another():
    w = mg.tensor(np.array([1.0, -2.0]), requires_grad=True)
    v = mg.tensor(np.array([0.5, 3.0]), requires_grad=True)
    in_backward, b_done = threading.Event(), threading.Event()
    seen = {}

    def a():
        h = w * 2.0

        def hook(grad):                           # runs inside A's backward
            in_backward.set()
            wait(b_done)
            seen["a rules record"] = mg.is_grad_enabled()
        h.register_hook(hook)
        (h * h).sum().backward()

    def b():
        wait(in_backward)
        seen["b records"] = mg.is_grad_enabled()
        loss = (v * v).sum()
        seen["b requires grad"] = loss.requires_grad
        loss.backward()
        b_done.set()

    run_threads(a, b)
    assert seen == {"a rules record": False, "b records": True, "b requires grad": True}
    np.testing.assert_allclose(w.grad.data, 8.0 * w.data)        # d/dw (2w)² = 8w
    np.testing.assert_allclose(v.grad.data, 2.0 * v.data)


def test_overlapping_no_grad_blocks_in_two_threads_leave_grad_mode_on():
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with mg.no_grad():                        # A in
            a_in.set()
            wait(b_in)
        seen["a after"] = mg.is_grad_enabled()    # A out, while B is still inside
        a_out.set()

    def b():
        wait(a_in)
        with mg.no_grad():                        # B in
            b_in.set()
            wait(a_out)
            seen["b inside, after a left"] = mg.is_grad_enabled()
        seen["b after"] = mg.is_grad_enabled()    # B out

    run_threads(a, b)
    assert seen == {"a after": True, "b inside, after a left": False, "b after": True}
    assert mg.is_grad_enabled()
    x = mg.tensor([1.0], requires_grad=True)
    assert (x * 2.0).requires_grad


def test_trace_backward_in_one_thread_does_not_record_another_threads_backward():
    tracing, b_done = threading.Event(), threading.Event()
    found = {}

    def a():
        x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
        with mg.trace_backward(show=False) as trace:
            tracing.set()
            wait(b_done)                           # B's backward runs now
            found["before own"] = list(trace.steps)
            (x.tanh()).sum().backward()
        found["own"] = [step.op for step in trace.steps]

    def b():
        wait(tracing)
        y = mg.tensor(np.array([3.0]), requires_grad=True)
        (y * y).exp().sum().backward()
        b_done.set()

    run_threads(a, b)
    assert found == {"before own": [], "own": ["Sum", "Tanh"]}


def test_anomaly_mode_is_process_wide_as_documented():
    inside, b_done = threading.Event(), threading.Event()
    seen = {}

    def a():
        with mg.detect_anomaly():
            inside.set()
            wait(b_done)

    def b():
        wait(inside)
        seen["b"] = mg.is_anomaly_enabled()
        x = mg.tensor(np.array([0.0]), requires_grad=True)
        with pytest.raises(RuntimeError, match="detect_anomaly: Log produced Inf"), \
                np.errstate(divide="ignore"):
            x.log()
        b_done.set()

    run_threads(a, b)
    assert seen == {"b": True}
    assert not mg.is_anomaly_enabled()
