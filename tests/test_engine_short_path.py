"""The engine's short path (single-output nodes in first order) against the cases that must
leave it: mg.grad with no inputs runs nothing, and an output rebased in place by a hook while
its gradient waits gets a clear error, not a bare KeyError."""
import numpy as np
import pytest

import minigrad as mg


def test_grad_with_no_inputs_runs_and_frees_nothing():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 3.0
    fired = []
    y.register_hook(lambda g: fired.append(g))
    loss = (y * y).sum()
    assert mg.grad(loss, []) == ()
    assert fired == []                                      # nothing below the root ran
    loss.backward()                                         # the graph is still there
    np.testing.assert_allclose(x.grad.data, 18.0 * x.data)


def test_output_rebased_by_a_hook_during_backward_names_the_op():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    t = x * 3.0
    s = x * 5.0
    u = t * 1.0

    def hook(g):
        with mg.enable_grad():
            t.mul_(2.0)                                     # t's gradient is already waiting
    s.register_hook(hook)
    with pytest.raises(RuntimeError, match="Mul: its output was modified by an in-place"):
        (u.sum() + s.sum()).backward()
