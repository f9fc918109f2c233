"""What a graph costs Python's cyclic collector (issue 20): few tracked objects per node, and no
reference cycles, so reference counting alone frees a graph."""
import gc
import weakref

import numpy as np
import pytest

import minigrad as mg


def _tracked_per_node(build, nodes: int) -> tuple:
    """Objects the collector tracks, per node: after the forward, and after the backward."""
    x = mg.tensor(np.ones(8), requires_grad=True)
    gc.collect()
    start = len(gc.get_objects())
    y = build(x, nodes)
    gc.collect()                              # (also untracks tuples of plain values)
    forward = (len(gc.get_objects()) - start) / nodes
    y.backward(np.ones(8))
    gc.collect()
    after = (len(gc.get_objects()) - start) / nodes
    return forward, after


def _chain(x, nodes):
    c = mg.tensor(np.full(8, 0.5))
    y = x
    for _ in range(nodes):
        y = y * c
    return y


def test_a_node_costs_the_collector_four_objects_then_three():
    forward, after = _tracked_per_node(_chain, 2000)
    # the Function, its inputs tuple, the weakref to its output, the output Tensor; after
    # backward the Function, the weakref and one flat list of what it remembers of its inputs
    assert forward == pytest.approx(4, abs=0.05)
    assert after == pytest.approx(3, abs=0.05)


@pytest.mark.parametrize("retain_graph", [False, True])
def test_reference_counting_alone_frees_a_graph(retain_graph):
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        x = mg.tensor(np.linspace(-1, 1, 6), requires_grad=True)
        y = x
        for _ in range(20):
            y = (y * 2.0).tanh().reshape(2, 3).transpose().reshape(6)
        a, b = y[:3], y[3:]
        loss = (a * b).sum()
        node = weakref.ref(loss.grad_fn)
        loss.backward(retain_graph=retain_graph)
        del y, a, b, loss
        assert node() is None                 # freed as soon as the last reference went
        assert gc.collect() == 0              # and nothing was left in a cycle
    finally:
        if was_enabled:
            gc.enable()
