"""Convolution and pooling (chapter 7 of the book): ``conv2d``, ``max_pool2d``, ``avg_pool2d``.

All three rest on one picture, the book's im2col. Pad the input (N, C, H, W); slide a kH×kW
window over it with the stride; each of the N·OH·OW window positions is one *row*, holding the
C·kH·kW values under the window. A convolution is then one matrix product (rows × filters), and
a pooling a reduction along each row. Going back, col2im adds every row's gradient to the input
positions its window covered (overlapping windows add up) and drops the padding.

Here the rows are a strided *view* of the padded input (no Python loop over positions; one copy
when the matrix product needs them contiguous), and col2im loops over the kH·kW offsets of a
window, adding a strided slice each time, as the book's does. Pooling works on the kH·kW
offset views directly, elementwise (see docs/conv.md for why and what it measured).

Layouts follow PyTorch (and the book): x is (N, C, H, W), a convolution weight is
(out_channels, in_channels, kH, kW) (the book's (FN, C, FH, FW)), the output is
(N, out_channels, OH, OW) with ``OH = (H + 2·padding − kH) // stride + 1``.
"""
from __future__ import annotations

import math
from typing import Any, Iterator, Optional, Tuple, Union

import numpy as np
from numpy.lib.stride_tricks import as_strided

from .. import _checks as checks
from .._checks import as_pair
from .._checks import pool_padding as check_pool_padding  # noqa: F401  (its old name)
from ..autograd import Function
from ..tensor import Tensor

Pair = Tuple[int, int]
IntOrPair = Union[int, Tuple[int, int]]


def output_size(size: Pair, kernel: Pair, stride: Pair, padding: Pair) -> Pair:
    """(OH, OW) = ((H + 2·pad − kH) // stride + 1, same for W)."""
    return ((size[0] + 2 * padding[0] - kernel[0]) // stride[0] + 1,
            (size[1] + 2 * padding[1] - kernel[1]) // stride[1] + 1)


# -- im2col and col2im -----------------------------------------------------------------------
def _pad(x: np.ndarray, padding: Pair, value: float = 0.0) -> np.ndarray:
    """x with ``padding`` rows/columns of ``value`` on each side of H and W (x itself if 0)."""
    ph, pw = padding
    if ph == 0 and pw == 0:
        return x
    n, c, h, w = x.shape
    shape = (n, c, h + 2 * ph, w + 2 * pw)
    out = np.zeros(shape, x.dtype) if value == 0 else np.full(shape, value, x.dtype)
    out[:, :, ph:ph + h, pw:pw + w] = x
    return out


def windows(x: np.ndarray, kernel: Pair, stride: Pair, padding: Pair = (0, 0),
            pad_value: float = 0.0) -> np.ndarray:
    """A read-only strided view of shape (N, C, OH, OW, kH, kW) of the padded x:
    ``view[n, c, i, j, p, q] = x_padded[n, c, i·sH + p, j·sW + q]`` (no copy of x's values)."""
    xp = _pad(x, padding, pad_value)
    n, c, h, w = xp.shape
    oh, ow = output_size((h, w), kernel, stride, (0, 0))
    sn, sc, sh, sw = xp.strides
    return as_strided(xp, (n, c, oh, ow) + kernel,
                      (sn, sc, sh * stride[0], sw * stride[1], sh, sw), writeable=False)


def im2col(x: np.ndarray, kernel: IntOrPair, stride: IntOrPair = 1,
           padding: IntOrPair = 0) -> np.ndarray:
    """The book's im2col: one row per window position, (N·OH·OW, C·kH·kW), rows in (n, i, j)
    order and each row in (c, p, q) order, so ``conv = im2col(x) @ W.reshape(FN, -1).T``."""
    kernel, stride = as_pair(kernel, "kernel_size", "im2col"), as_pair(stride, "stride", "im2col")
    return _rows(windows(x, kernel, stride, as_pair(padding, "padding", "im2col", 0)))


def _rows(view: np.ndarray) -> np.ndarray:
    """The window view (N, C, OH, OW, kH, kW) as im2col rows (N·OH·OW, C·kH·kW) (a copy)."""
    n, c, oh, ow, kh, kw = view.shape
    return view.transpose(0, 2, 3, 1, 4, 5).reshape(n * oh * ow, c * kh * kw)


def window_offsets(kernel: Pair, stride: Pair, out_size: Pair) -> Iterator[Tuple[int, tuple]]:
    """For each offset (p, q) inside a window, numbered k = p·kW + q: (k, region), region the
    index of the (N, C, OH, OW) strided slice of the padded input that offset covers in every
    window at once (``x_pad[region] == windows(x)[..., p, q]``)."""
    (kh, kw), (sh, sw), (oh, ow) = kernel, stride, out_size
    for p in range(kh):
        for q in range(kw):
            yield p * kw + q, (slice(None), slice(None), slice(p, p + sh * oh, sh),
                               slice(q, q + sw * ow, sw))


def _offset_views(view: np.ndarray) -> list:
    """The kH·kW (N, C, OH, OW) views ``view[..., p, q]`` of a window view, k = p·kW + q."""
    kh, kw = view.shape[4:]
    return [view[:, :, :, :, p, q] for p in range(kh) for q in range(kw)]


def add_windows(grads: np.ndarray, shape: Tuple[int, ...], stride: Pair, padding: Pair,
                like: Optional[np.ndarray] = None) -> np.ndarray:
    """col2im on window-shaped gradients (N, C, OH, OW, kH, kW): each window's values are added
    to the input positions it covered (offset by offset, as the book's col2im) and the padding
    is dropped; returns an array of ``shape`` (laid out as ``like``, if given)."""
    kh, kw = grads.shape[4:]
    out = _padded_zeros(shape, padding, grads.dtype, like)
    for k, region in window_offsets((kh, kw), stride, grads.shape[2:4]):
        out[region] += grads[:, :, :, :, k // kw, k % kw]
    return _unpad(out, padding)


def _padded_zeros(shape: Tuple[int, ...], padding: Pair, dtype: np.dtype,
                  like: Optional[np.ndarray] = None) -> np.ndarray:
    """Zeros of ``shape`` padded by ``padding`` on each side of H and W; without padding laid
    out in memory as ``like`` (the input), so that the gradient and the input match in layout
    and elementwise ops between them run over contiguous memory."""
    if like is not None and padding == (0, 0):
        return np.zeros_like(like, dtype)
    return np.zeros((shape[0], shape[1], shape[2] + 2 * padding[0], shape[3] + 2 * padding[1]),
                    dtype)


def _unpad(x: np.ndarray, padding: Pair) -> np.ndarray:
    """x without its ``padding`` rows and columns."""
    ph, pw = padding
    return x[:, :, ph:x.shape[2] - ph, pw:x.shape[3] - pw]


def col2im(col: np.ndarray, shape: Tuple[int, ...], kernel: IntOrPair, stride: IntOrPair = 1,
           padding: IntOrPair = 0) -> np.ndarray:
    """The book's col2im, the adjoint of ``im2col``: rows (N·OH·OW, C·kH·kW) back to an
    (N, C, H, W) array of ``shape``, the values of overlapping windows added up."""
    kernel, stride = as_pair(kernel, "kernel_size", "col2im"), as_pair(stride, "stride", "col2im")
    padding = as_pair(padding, "padding", "col2im", 0)
    n, c, h, w = shape
    oh, ow = output_size((h, w), kernel, stride, padding)
    grads = col.reshape(n, oh, ow, c, *kernel).transpose(0, 3, 1, 2, 4, 5)
    return add_windows(grads, shape, stride, padding)


# -- convolution -----------------------------------------------------------------------------
class Conv2d(Function):
    """y[n, f, i, j] = Σ_{c,p,q} x_pad[n, c, i·sH + p, j·sW + q] · W[f, c, p, q] + b[f], computed
    as the matrix product col · Wᵀ of the im2col rows and the flattened filters."""

    once_differentiable = True          # its backward reads the saved rows (raw arrays)

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: Optional[np.ndarray] = None,
                stride: Pair = (1, 1), padding: Pair = (0, 0)) -> np.ndarray:
        self.stride, self.padding = stride, padding
        filters = weight.shape[0]
        flat_weight = weight.reshape(filters, math.prod(weight.shape[1:]))
        view = windows(x, weight.shape[2:], stride, padding)
        n, _, oh, ow = view.shape[:4]
        col = _rows(view)                                        # im2col
        y = col @ flat_weight.T                                  # (N·OH·OW, FN)
        if bias is not None:
            y += bias
        self.save_for_backward(col if self.needs_input_grad[1] else None, flat_weight)
        return y.reshape(n, oh, ow, filters).transpose(0, 3, 1, 2)

    def backward(self, gy: Tensor) -> tuple:
        col, flat_weight = self.saved_tensors
        x, weight = self.inputs[0], self.inputs[1]
        filters = weight.shape[0]
        n, _, oh, ow = gy.shape
        gy_rows = gy.data.transpose(0, 2, 3, 1).reshape(n * oh * ow, filters)
        needs = self.needs_input_grad
        gx = gw = gb = None
        if needs[0]:
            g_col = gy_rows @ flat_weight                        # dcol = dy · W
            g_windows = g_col.reshape(n, oh, ow, x.shape[1], *weight.shape[2:])
            gx = Tensor(add_windows(g_windows.transpose(0, 3, 1, 2, 4, 5), x.shape,
                                    self.stride, self.padding, x.data))  # dx = col2im(dcol)
        if needs[1]:
            gw = Tensor((gy_rows.T @ col).reshape(weight.shape))   # dW = dyᵀ · col
        if len(needs) == 3 and needs[2]:
            gb = Tensor(np.add.reduce(gy_rows, axis=0))          # db = Σ_{n,i,j} dy
        return (gx, gw, gb) if len(needs) == 3 else (gx, gw)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: IntOrPair = 1,
           padding: IntOrPair = 0) -> Tensor:
    """2-D convolution (strictly, cross-correlation, as in PyTorch and the book).

    ``y[n, f, i, j] = Σ_{c,p,q} x_pad[n, c, i·sH + p, j·sW + q] · W[f, c, p, q] + b[f]``, x
    padded with ``padding`` zeros on each side. Computed with im2col: ``y = col · Wᵀ + b``, col
    the (N·OH·OW, C·kH·kW) window rows. Backward: ``dW = dyᵀ · col``, ``db = Σ dy``,
    ``dx = col2im(dy · W)``.

    Parameters
    ----------
    x : Tensor
        Floating, shape (N, C, H, W).
    weight : Tensor
        Shape (out_channels, C, kH, kW) (the book's (FN, C, FH, FW)), of x's dtype.
    bias : Tensor, optional
        Shape (out_channels,).
    stride, padding : int or (int, int)
        Step of the window (>= 1) and zeros added on each side (>= 0), for H and W.

    Returns
    -------
    Tensor
        Shape (N, out_channels, OH, OW), ``OH = (H + 2·padding − kH) // stride + 1``.
    """
    return checked_conv2d(x, weight, bias, stride, padding, "conv2d")


def checked_conv2d(x: Any, weight: Any, bias: Any, stride: Any, padding: Any,
                   op: str) -> Tensor:
    """``conv2d`` with errors that name ``op`` (the layer calling it)."""
    stride, padding = checks.conv2d(x, weight, bias, stride, padding, op)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    return Conv2d.apply(*inputs, stride=stride, padding=padding)


# -- pooling ---------------------------------------------------------------------------------
def checked_pool2d(kind: str, x: Any, kernel_size: Any, stride: Any, padding: Any,
                   op: str) -> Tensor:
    """``max_pool2d`` (kind 'max') or ``avg_pool2d`` ('avg') with errors naming ``op``; stride
    None means the kernel size."""
    kernel, stride, padding = checks.pool2d(x, kernel_size, stride, padding, op)
    pool = MaxPool2d if kind == "max" else AvgPool2d
    return pool.apply(x, kernel=kernel, stride=stride, padding=padding)


class MaxPool2d(Function):
    """y[n, c, i, j] = max over the window at (i, j) of x padded with −∞; the gradient goes to
    the first largest element of each window (in row-major order), as in PyTorch."""

    once_differentiable = True          # its backward reads the saved positions of the maxima

    def forward(self, x: np.ndarray, kernel: Pair = (2, 2), stride: Pair = (2, 2),
                padding: Pair = (0, 0)) -> np.ndarray:
        self.kernel, self.stride, self.padding = kernel, stride, padding
        offsets = _offset_views(windows(x, kernel, stride, padding, pad_value=-np.inf))
        # elementwise over the kH·kW offsets: argmax along a short last axis costs ~10x more
        y = offsets[0].copy()
        for values in offsets[1:]:
            np.maximum(y, values, out=y)                         # NaN propagates, as in PyTorch
        if not self.needs_input_grad[0]:
            return y                        # no backward (evaluation): no positions needed
        first = np.zeros(y.shape, np.min_scalar_type(len(offsets)))
        for k in range(len(offsets) - 1, -1, -1):                # the smallest k wins a tie
            np.putmask(first, offsets[k] == y, k)
        self.first = first                  # a window holding NaN sends its gradient to k = 0
        return y

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        gx = _padded_zeros(x.shape, self.padding, gy.dtype, x.data)
        for k, region in window_offsets(self.kernel, self.stride, gy.shape[2:]):
            gx[region] += gy.data * (self.first == k)            # dx = dy at each window's max
        return Tensor(_unpad(gx, self.padding))


class AvgPool2d(Function):
    """y[n, c, i, j] = (1 / (kH·kW)) Σ over the window at (i, j) of x padded with zeros (the
    zeros count, as PyTorch's default ``count_include_pad=True``)."""

    def forward(self, x: np.ndarray, kernel: Pair = (2, 2), stride: Pair = (2, 2),
                padding: Pair = (0, 0)) -> np.ndarray:
        self.kernel, self.stride, self.padding = kernel, stride, padding
        self.scale = x.dtype.type(1 / (kernel[0] * kernel[1]))
        offsets = _offset_views(windows(x, kernel, stride, padding))
        y = offsets[0].copy()
        for values in offsets[1:]:
            y += values
        y *= self.scale
        return y

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        share = gy.data * self.scale                             # dx = col2im(dy / (kH·kW))
        gx = _padded_zeros(x.shape, self.padding, gy.dtype, x.data)
        for _, region in window_offsets(self.kernel, self.stride, gy.shape[2:]):
            gx[region] += share
        return Tensor(_unpad(gx, self.padding))


def max_pool2d(x: Any, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
               padding: IntOrPair = 0) -> Tensor:
    """Max pooling: the largest value of each kH×kW window.

    ``y[n, c, i, j] = max_{p,q} x_pad[n, c, i·sH + p, j·sW + q]``, x padded with −∞. Backward:
    each window's ``dy`` goes to its first largest element (ties to one element, as PyTorch's),
    and col2im adds them up where windows overlap.

    Parameters
    ----------
    x : Tensor
        Floating, shape (N, C, H, W).
    kernel_size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Window step (default: the kernel size, windows side by side).
    padding : int or (int, int)
        −∞ added on each side, at most half the kernel size.

    Returns
    -------
    Tensor
        Shape (N, C, OH, OW), ``OH = (H + 2·padding − kH) // stride + 1``.
    """
    return checked_pool2d("max", x, kernel_size, stride, padding, "max_pool2d")


def avg_pool2d(x: Any, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
               padding: IntOrPair = 0) -> Tensor:
    """Average pooling: the mean of each kH×kW window (padding zeros counted, as PyTorch's
    default).

    ``y[n, c, i, j] = (1 / (kH·kW)) Σ_{p,q} x_pad[n, c, i·sH + p, j·sW + q]``. Backward:
    ``dx = col2im(dy / (kH·kW))``, every element of a window getting an equal share.

    Parameters
    ----------
    x : Tensor
        Floating, shape (N, C, H, W).
    kernel_size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Window step (default: the kernel size).
    padding : int or (int, int)
        Zeros added on each side, at most half the kernel size.

    Returns
    -------
    Tensor
        Shape (N, C, OH, OW).
    """
    return checked_pool2d("avg", x, kernel_size, stride, padding, "avg_pool2d")


__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "im2col", "col2im"]
