"""The convolution workload's floor (the book's SimpleConvNet by hand) computes what minigrad's
nn.SimpleConvNet computes: loss, gradients and two Adam steps, in float64; and the book's
im2col / col2im agree with minigrad's."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from benchmarks import convnet, reference
from floor_match import assert_steps_agree
from minigrad import nn, optim
from minigrad.functional.conv import col2im, im2col


@given(batch=st.integers(1, 4), side=st.integers(5, 9), filters=st.integers(1, 3),
       filter_size=st.integers(1, 4), hidden=st.integers(1, 5), classes=st.integers(2, 4),
       seed=st.integers(0, 2**16))
def test_floor_gradients_and_adam_steps_equal_minigrad(batch, side, filters, filter_size,
                                                       hidden, classes, seed):
    mg.manual_seed(seed)
    model = nn.SimpleConvNet((1, side, side), filters, filter_size, hidden_size=hidden,
                             output_size=classes, dtype=np.float64)
    floor = convnet.ReferenceConvNet((1, side, side), filters, filter_size, hidden, classes,
                                     dtype=np.float64, seed=seed + 1)
    assert [p.shape for p in model.parameters()] == [p.shape for p in floor.params()]
    for mine, theirs in zip(floor.params(), model.parameters()):
        mine[...] = theirs.data
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, 1, side, side))
    t = rng.integers(0, classes, batch)
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    adam = reference.ReferenceAdam(floor.params(), lr=1e-3)
    assert_steps_agree(model, optimizer, floor, adam, x, t, lambda: floor.loss(x, t), atol=1e-9)


@given(shape=st.tuples(st.integers(1, 3), st.integers(1, 3), st.integers(3, 7),
                       st.integers(3, 7)),
       kernel=st.integers(1, 3), stride=st.integers(1, 3), pad=st.integers(0, 2),
       seed=st.integers(0, 2**16))
def test_the_books_im2col_and_col2im_are_minigrads(shape, kernel, stride, pad, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    col = convnet.im2col(x, kernel, kernel, stride, pad)
    np.testing.assert_array_equal(col, im2col(x, kernel, stride, pad))
    c = rng.standard_normal(col.shape)
    np.testing.assert_allclose(convnet.col2im(c, shape, kernel, kernel, stride, pad),
                               col2im(c, shape, kernel, stride, pad), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_competitor_of_the_conv_workload_steps_in_its_dtype(dtype):
    workload = convnet.CONV_WORKLOADS["C1"].smoke()
    steps = convnet.steps_for(workload, dtype, ("numpy", "minigrad"))
    assert list(steps) == ["numpy", "minigrad"]
    assert np.isfinite(float(steps["numpy"]())) and np.isfinite(steps["minigrad"]().item())
    floor = convnet.ReferenceConvNet(workload.input_dim, 3, 3, 5, 4, dtype=dtype)
    x, t = convnet.make_batch(workload, dtype)
    reference.train_step(floor, reference.ReferenceAdam(floor.params()), x, t)
    assert all(g.dtype == dtype for g in floor.grads())
