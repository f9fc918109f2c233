"""conv2d, max_pool2d, avg_pool2d against their definition written as plain NumPy loops over
the output positions (always) and against PyTorch (when installed); gradients by central
differences; im2col / col2im; bad arguments."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad.functional.conv import col2im, im2col

from .helpers import leaf


# -- the definitions, one output position at a time ------------------------------------------
def _padded(x, padding, value=0.0):
    ph, pw = padding
    return np.pad(x, [(0, 0), (0, 0), (ph, ph), (pw, pw)], constant_values=value)


def _positions(x_padded, kernel, stride):
    """(i, j, rows, cols) of every window of a padded input."""
    (kh, kw), (sh, sw) = kernel, stride
    oh = (x_padded.shape[2] - kh) // sh + 1
    ow = (x_padded.shape[3] - kw) // sw + 1
    for i in range(oh):
        for j in range(ow):
            yield i, j, slice(i * sh, i * sh + kh), slice(j * sw, j * sw + kw)


def conv_definition(x, w, b, stride, padding, gy):
    """y and the gradients (dx, dW, db) for the upstream gradient gy, window by window."""
    xp = _padded(x, padding)
    kernel = w.shape[2:]
    oh = (xp.shape[2] - kernel[0]) // stride[0] + 1
    ow = (xp.shape[3] - kernel[1]) // stride[1] + 1
    y = np.zeros((x.shape[0], w.shape[0], oh, ow))
    gxp, gw = np.zeros_like(xp), np.zeros_like(w)
    for i, j, rows, cols in _positions(xp, kernel, stride):
        patch = xp[:, :, rows, cols]
        y[:, :, i, j] = np.einsum("nchw,fchw->nf", patch, w) + b
        g = gy[:, :, i, j] if gy is not None else np.zeros(y.shape[:2])
        gxp[:, :, rows, cols] += np.einsum("nf,fchw->nchw", g, w)
        gw += np.einsum("nf,nchw->fchw", g, patch)
    ph, pw = padding
    gx = gxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
    gb = gy.sum(axis=(0, 2, 3)) if gy is not None else None
    return y, gx, gw, gb


def pool_definition(kind, x, kernel, stride, padding, gy):
    """Max (first largest wins) or mean of every window, and dx for the upstream gy."""
    xp = _padded(x, padding, -np.inf if kind == "max" else 0.0)
    n, c = x.shape[:2]
    oh = (xp.shape[2] - kernel[0]) // stride[0] + 1
    ow = (xp.shape[3] - kernel[1]) // stride[1] + 1
    y = np.zeros((n, c, oh, ow))
    gxp = np.zeros_like(xp)
    for i, j, rows, cols in _positions(xp, kernel, stride):
        window = xp[:, :, rows, cols].reshape(n, c, -1)
        share = np.zeros_like(window)
        if kind == "max":
            first = window.argmax(axis=2)
            y[:, :, i, j] = window.max(axis=2)
            np.put_along_axis(share, first[..., None], gy[:, :, i, j][..., None], axis=2)
        else:
            y[:, :, i, j] = window.mean(axis=2)
            share[...] = gy[:, :, i, j][..., None] / window.shape[2]
        gxp[:, :, rows, cols] += share.reshape(n, c, *kernel)
    ph, pw = padding
    return y, gxp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]


# -- drawn settings --------------------------------------------------------------------------
@st.composite
def conv_settings(draw, pool=False):
    """(x shape, kernel, stride, padding): kernels up to the padded input's size, strides
    beyond the kernel, paddings up to kernel − 1 (half the kernel for pooling)."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = tuple(draw(st.integers(0, k // 2 if pool else k - 1)) for k in kernel)
    stride = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    # the padded input is the kernel size (kernel = input size) plus 0 to 4
    h, w = (max(1, k - 2 * p + draw(st.integers(0, 4))) for k, p in zip(kernel, padding))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), h, w)
    return shape, kernel, stride, padding


def _values(rng, shape, ties=False):
    """Standard normal values, or small integers (many ties) for max pooling."""
    return rng.integers(-2, 3, shape).astype(float) if ties else rng.standard_normal(shape)


# -- conv2d ----------------------------------------------------------------------------------
@given(conv_settings(), st.integers(1, 3), st.booleans(), st.integers(0, 2**16))
def test_conv2d_is_its_definition_with_right_gradients(settings, filters, use_bias, seed):
    shape, kernel, stride, padding = settings
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    w = rng.standard_normal((filters, shape[1], *kernel))
    b = rng.standard_normal(filters)
    tensors = [leaf(x), leaf(w)] + ([leaf(b)] if use_bias else [])
    y = F.conv2d(*tensors[:2], tensors[2] if use_bias else None, stride, padding)
    gy = rng.standard_normal(y.shape)
    y_ref, gx, gw, gb = conv_definition(x, w, b if use_bias else 0.0, stride, padding, gy)
    assert y.dtype == np.float64
    np.testing.assert_allclose(y.data, y_ref, rtol=1e-10, atol=1e-12)
    y.backward(mg.tensor(gy))
    np.testing.assert_allclose(tensors[0].grad.data, gx, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tensors[1].grad.data, gw, rtol=1e-10, atol=1e-12)
    if use_bias:
        np.testing.assert_allclose(tensors[2].grad.data, gb, rtol=1e-10, atol=1e-12)

    def conv(*args):
        return F.conv2d(args[0], args[1], args[2] if use_bias else None, stride, padding)
    assert mg.gradcheck(conv, [leaf(t.data) for t in tensors], seed=seed)


@pytest.mark.parametrize("shape, kernel, stride, padding", [
    ((2, 3, 5, 4), (5, 4), (1, 1), (0, 0)),      # kernel = input size: one output position
    ((2, 2, 7, 7), (2, 2), (4, 3), (0, 0)),      # stride > kernel: rows and columns skipped
    ((1, 2, 4, 5), (3, 2), (1, 2), (2, 1)),      # padding = kernel − 1: windows of 1 value
    ((3, 1, 1, 1), (1, 1), (1, 1), (0, 0)),      # 1x1
])
def test_conv2d_edge_cases(shape, kernel, stride, padding):
    rng = np.random.default_rng(0)
    x, w, b = rng.standard_normal(shape), rng.standard_normal((2, shape[1], *kernel)), \
        rng.standard_normal(2)
    tensors = [leaf(x), leaf(w), leaf(b)]
    y = F.conv2d(*tensors, stride=stride, padding=padding)
    gy = rng.standard_normal(y.shape)
    expected = conv_definition(x, w, b, stride, padding, gy)
    y.backward(mg.tensor(gy))
    np.testing.assert_allclose(y.data, expected[0], rtol=1e-10, atol=1e-12)
    for t, g in zip(tensors, expected[1:]):
        np.testing.assert_allclose(t.grad.data, g, rtol=1e-10, atol=1e-12)
    assert mg.gradcheck(lambda *a: F.conv2d(*a, stride=stride, padding=padding),
                        [leaf(x), leaf(w), leaf(b)], seed=1)


def test_conv2d_keeps_float32_and_only_computes_the_gradients_needed():
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((2, 3, 6, 6)), dtype=np.float32)
    w = mg.tensor(rng.standard_normal((4, 3, 3, 3)), dtype=np.float32, requires_grad=True)
    b = mg.tensor(np.zeros(4), dtype=np.float32, requires_grad=True)
    y = F.conv2d(x, w, b, stride=2, padding=1)
    assert y.dtype == np.float32 and y.shape == (2, 4, 3, 3)
    (y * mg.tensor(rng.standard_normal(y.shape), dtype=np.float32)).sum().backward()
    assert w.grad.dtype == np.float32 and b.grad.dtype == np.float32
    assert x.grad is None


def test_conv2d_is_once_differentiable():
    rng = np.random.default_rng(0)
    x, w = leaf(rng.standard_normal((1, 1, 4, 4))), leaf(rng.standard_normal((1, 1, 2, 2)))
    (gx,) = mg.grad(F.conv2d(x, w).sum(), [x], create_graph=True)
    with pytest.raises(RuntimeError, match="Conv2d is once_differentiable"):
        gx.sum().backward()


# -- pooling ---------------------------------------------------------------------------------
@given(conv_settings(pool=True), st.sampled_from(["max", "avg"]), st.booleans(),
       st.integers(0, 2**16))
def test_pooling_is_its_definition_with_right_gradients(settings, kind, ties, seed):
    shape, kernel, stride, padding = settings
    rng = np.random.default_rng(seed)
    x = _values(rng, shape, ties)
    pool = F.max_pool2d if kind == "max" else F.avg_pool2d
    xt = leaf(x)
    y = pool(xt, kernel, stride, padding)
    gy = rng.standard_normal(y.shape)
    y_ref, gx = pool_definition(kind, x, kernel, stride, padding, gy)
    np.testing.assert_allclose(y.data, y_ref, rtol=1e-12, atol=1e-12)
    y.backward(mg.tensor(gy))
    np.testing.assert_allclose(xt.grad.data, gx, rtol=1e-12, atol=1e-12)
    if not ties:        # distinct values: central differences do not cross a tie
        assert mg.gradcheck(lambda t: pool(t, kernel, stride, padding), [leaf(x)], seed=seed)


def test_max_pool_ties_go_to_the_first_largest_element():
    x = leaf(np.array([[[[1.0, 3.0, 3.0], [3.0, 0.0, 3.0], [2.0, 3.0, 1.0]]]]))
    y = F.max_pool2d(x, 2, stride=1)
    np.testing.assert_array_equal(y.data, [[[[3.0, 3.0], [3.0, 3.0]]]])
    y.backward(mg.tensor(np.array([[[[1.0, 10.0], [100.0, 1000.0]]]])))
    # windows at (0,0), (0,1), (1,0), (1,1): their first 3s are (0,1), (0,1), (1,0), (1,2)
    np.testing.assert_array_equal(x.grad.data, [[[[0, 11, 0], [100, 0, 1000], [0, 0, 0]]]])


def test_pooling_defaults_stride_to_the_kernel_and_keeps_float32():
    x = mg.tensor(np.arange(2 * 3 * 5 * 4).reshape(2, 3, 5, 4), dtype=np.float32,
                  requires_grad=True)
    for pool in (F.max_pool2d, F.avg_pool2d):
        y = pool(x, 2)
        assert y.shape == (2, 3, 2, 2) and y.dtype == np.float32
        y.backward(mg.tensor(np.ones(y.shape), dtype=np.float32))
        assert x.grad.dtype == np.float32
        x.grad = None
    np.testing.assert_array_equal(F.max_pool2d(x, 2).data[0, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(F.avg_pool2d(x, (1, 4)).data[0, 0, :, 0], [1.5, 5.5, 9.5,
                                                                               13.5, 17.5])


def test_max_pool_propagates_nan():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0, 1, 2] = np.nan
    y = F.max_pool2d(mg.tensor(x), 2)
    assert np.isnan(y.data[0, 0, 0, 1]) and y.data[0, 0, 0, 0] == 0


# -- im2col and col2im -----------------------------------------------------------------------
@given(conv_settings(), st.integers(0, 2**16))
def test_im2col_rows_are_the_windows_and_col2im_is_its_adjoint(settings, seed):
    shape, kernel, stride, padding = settings
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    col = im2col(x, kernel, stride, padding)
    xp = _padded(x, padding)
    windows = [xp[n, :, rows, cols].ravel() for n in range(shape[0])
               for _, _, rows, cols in _positions(xp, kernel, stride)]
    np.testing.assert_array_equal(col, np.array(windows).reshape(col.shape))
    c = rng.standard_normal(col.shape)
    back = col2im(c, shape, kernel, stride, padding)
    assert back.shape == shape
    np.testing.assert_allclose(np.vdot(col, c), np.vdot(x, back), rtol=1e-10)   # ⟨Ax, c⟩ = ⟨x, Aᵀc⟩


# -- PyTorch ---------------------------------------------------------------------------------
@given(conv_settings(), st.integers(1, 3), st.sampled_from([np.float64, np.float32]),
       st.integers(0, 2**16))
def test_conv_and_pooling_match_torch(settings, filters, dtype, seed):
    torch = pytest.importorskip("torch")
    shape, kernel, stride, padding = settings
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, shape).astype(dtype)      # integers: ties in the max pooling
    w = rng.standard_normal((filters, shape[1], *kernel)).astype(dtype)
    b = rng.standard_normal(filters).astype(dtype)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-12)
    pool_padding = tuple(min(p, k // 2) for p, k in zip(padding, kernel))
    ops = [(lambda a, *p: F.conv2d(a, *p, stride=stride, padding=padding),
            lambda a, *p: torch.nn.functional.conv2d(a, *p, stride=stride, padding=padding),
            [w, b]),
           (lambda a: F.max_pool2d(a, kernel, stride, pool_padding),
            lambda a: torch.nn.functional.max_pool2d(a, kernel, stride, pool_padding), []),
           (lambda a: F.avg_pool2d(a, kernel, stride, pool_padding),
            lambda a: torch.nn.functional.avg_pool2d(a, kernel, stride, pool_padding), [])]
    for ours, theirs, params in ops:
        mine = [mg.tensor(a, requires_grad=True) for a in [x, *params]]
        their = [torch.tensor(a, requires_grad=True) for a in [x, *params]]
        y, y_t = ours(*mine), theirs(*their)
        assert y.dtype == dtype
        np.testing.assert_allclose(y.data, y_t.detach().numpy(), **tol)
        gy = rng.standard_normal(y.shape).astype(dtype)
        y.backward(mg.tensor(gy))
        y_t.backward(torch.from_numpy(gy))
        for m, t in zip(mine, their):
            assert m.grad.dtype == dtype
            np.testing.assert_allclose(m.grad.data, t.grad.numpy(), **tol)


# -- bad arguments ---------------------------------------------------------------------------
X = np.zeros((2, 3, 5, 5))
W = np.zeros((4, 3, 3, 3))


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(np.zeros((3, 5, 5)), W), r"conv2d: expected an input of shape "
                                               r"\(N, C, H, W\), got shape \(3, 5, 5\)"),
    (lambda: F.conv2d(X, np.zeros((4, 2, 3, 3))),
     r"conv2d: the input of shape \(2, 3, 5, 5\) has 3 channels, but the weight of shape "
     r"\(4, 2, 3, 3\) expects 2"),
    (lambda: F.conv2d(X, np.zeros((4, 3, 3))), r"conv2d: the weight must have shape "
                                               r"\(out_channels, in_channels, kH, kW\), got "
                                               r"\(4, 3, 3\)"),
    (lambda: F.conv2d(X, W, np.zeros(3)), r"conv2d: the bias must have shape \(4,\)"),
    (lambda: F.conv2d(X, W, stride=0), r"conv2d: stride must be a positive integer or a pair "
                                       r"of them, got 0"),
    (lambda: F.conv2d(X, W, stride=(1, -2)), r"conv2d: stride .* got \(1, -2\)"),
    (lambda: F.conv2d(X, W, stride=1.5), r"conv2d: stride .* got 1.5"),
    (lambda: F.conv2d(X, W, padding=-1), r"conv2d: padding must be a non-negative integer"),
    (lambda: F.conv2d(X, np.zeros((4, 3, 6, 3))),
     r"conv2d: the kernel \(6, 3\) is larger than the padded input \(5, 5\) \(input shape "
     r"\(2, 3, 5, 5\), padding \(0, 0\)\)"),
    (lambda: F.max_pool2d(X, 6), r"max_pool2d: the kernel \(6, 6\) is larger than the padded "
                                 r"input \(5, 5\)"),
    (lambda: F.max_pool2d(X, 3, padding=2), r"max_pool2d: padding \(2, 2\) must be at most "
                                            r"half the kernel size \(3, 3\)"),
    (lambda: F.avg_pool2d(X, 0), r"avg_pool2d: kernel_size must be a positive integer"),
    (lambda: F.avg_pool2d(X, 2, stride=(1, 2, 3)), r"avg_pool2d: stride .* got \(1, 2, 3\)"),
    (lambda: F.avg_pool2d(np.zeros((5, 5)), 2), r"avg_pool2d: expected an input of shape "
                                                r"\(N, C, H, W\), got shape \(5, 5\)"),
])
def test_bad_arguments_name_the_op_and_the_shapes(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_bad_dtypes_are_type_errors():
    with pytest.raises(TypeError, match="conv2d: expected a floating tensor"):
        F.conv2d(np.zeros((1, 1, 3, 3), dtype=int), np.zeros((1, 1, 2, 2)))
    with pytest.raises(TypeError, match="conv2d: the input has dtype float32 but the weight "
                                        "has dtype float64"):
        F.conv2d(np.zeros((1, 1, 3, 3), np.float32), np.zeros((1, 1, 2, 2)))
    with pytest.raises(TypeError, match="max_pool2d: expected a floating tensor"):
        F.max_pool2d(np.zeros((1, 1, 3, 3), dtype=int), 2)
