"""Memory: backward frees the graph's arrays at once, and training steps do not accumulate."""
import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, optim


@pytest.fixture
def no_gc():
    """Refcounting alone must free the graph: no cycle collector to tidy up behind us."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _graph(x):
    """A small graph; returns the loss and weak references to arrays only the graph holds."""
    h = x * 2.0                       # Tanh keeps h as its input
    y = h.tanh()                      # Mul keeps y (an input) and Tanh reads it as its output
    z = F.softmax_cross_entropy(y * y, np.array([0, 1]))   # saves softmax via save_for_backward
    fn = z.grad_fn
    refs = [weakref.ref(h.data), weakref.ref(y.data), weakref.ref(fn.saved_tensors[0]),
            weakref.ref(fn)]
    return z, refs


@pytest.mark.usefixtures("no_gc")
def test_backward_frees_the_intermediate_arrays():
    x = mg.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    loss, refs = _graph(x)
    assert all(ref() is not None for ref in refs[:3])          # alive while the graph is
    loss.backward()
    assert [ref() is None for ref in refs[:3]] == [True, True, True]
    assert x.grad is not None and x.grad.shape == (2, 3)


@pytest.mark.usefixtures("no_gc")
def test_the_graph_kept_after_backward_holds_no_intermediate_array():
    from minigrad import viz
    x = mg.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    loss, refs = _graph(x)
    before = viz.tape(loss, show=False)
    loss.backward()
    assert [ref() is None for ref in refs[:3]] == [True, True, True]
    assert refs[3]() is not None                               # the node itself is kept
    assert viz.tape(loss, show=False) == before                # with the shapes
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()
    del loss                                                    # and goes with the loss
    assert refs[3]() is None


@pytest.mark.usefixtures("no_gc")
def test_retain_graph_keeps_them_and_dropping_the_loss_frees_everything():
    x = mg.tensor(np.linspace(-1, 1, 6).reshape(2, 3), requires_grad=True)
    loss, refs = _graph(x)
    loss.backward(retain_graph=True)
    assert all(ref() is not None for ref in refs)              # kept for a second backward
    first = x.grad.data.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)
    assert all(ref() is None for ref in refs[:3])
    loss, refs = _graph(x)
    del loss                                                    # never differentiated
    assert all(ref() is None for ref in refs)


@pytest.mark.usefixtures("no_gc")
def test_a_graph_built_under_no_grad_holds_nothing():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    with mg.no_grad():
        y = (x * 2.0).tanh()
    assert y.grad_fn is None and not y.requires_grad


def _train(steps, model, opt, x, labels):
    loss_fn = nn.SoftmaxCrossEntropy()
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(x), labels)
        loss.backward()
        opt.step()
    return loss.item()


@pytest.mark.parametrize("make_opt", [lambda p: optim.SGD(p, lr=0.1, momentum=0.9),
                                      lambda p: optim.Adam(p, lr=1e-3)], ids=["sgd", "adam"])
def test_two_thousand_training_steps_do_not_grow_memory(make_opt):
    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((16, 8)).astype(np.float32))
    labels = rng.integers(0, 3, 16)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3))
    opt = make_opt(model.parameters())
    first = _train(50, model, opt, x, labels)               # warm up: optimizer state exists
    gc.collect()
    tracemalloc.start()
    try:
        _train(200, model, opt, x, labels)
        gc.collect()
        early, _ = tracemalloc.get_traced_memory()
        last = _train(1750, model, opt, x, labels)
        gc.collect()
        late, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last < first                                      # it did train
    # one step's arrays are a few KB; a leak of even 8 bytes a step would show as 14 KB
    assert late - early < 8 * 1024, f"memory grew by {late - early} bytes over 1750 steps"
