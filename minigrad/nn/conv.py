"""Convolution and pooling layers (the book's chapter 7): ``Conv2d``, ``MaxPool2d``,
``AvgPool2d``, on (N, C, H, W) inputs."""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np

from .._checks import as_pair
from .._checks import pool_padding as check_pool_padding
from ..functional.conv import IntOrPair, checked_conv2d, checked_pool2d
from ..tensor import Tensor
from .linear import init_weight
from .module import Module, floating_dtype, positive_int
from .parameter import Parameter


class Conv2d(Module):
    """2-D convolution: ``y[n, f, i, j] = Σ_{c,p,q} x_pad[n, c, i·s + p, j·s + q] · W[f, c, p, q]
    + b[f]`` (cross-correlation, as in PyTorch and the book), computed with im2col.

    Backward: ``dW = dyᵀ · col``, ``db = Σ dy``, ``dx = col2im(dy · W)`` (col: the im2col rows
    of the padded input, see ``minigrad.functional.conv``).

    Parameters
    ----------
    in_channels, out_channels : int
        C of the input and of the output (the book's FN, the number of filters).
    kernel_size : int or (int, int)
        kH, kW.
    stride : int or (int, int)
        Step of the window (>= 1).
    padding : int or (int, int)
        Zeros added on each side of H and W (>= 0).
    bias : bool
        Whether to add the learnable bias ``b`` (initialised to zero).
    init : {'he', 'xavier'} or float
        ``W ~ N(0, 2/n)`` (He), ``N(0, 1/n)`` (the book's Xavier) or ``N(0, init²)`` with
        n = in_channels·kH·kW, drawn from the generator ``mg.manual_seed`` resets.
    dtype : numpy dtype
        Floating dtype of the parameters (float32 by default); inputs must have the same.

    Attributes
    ----------
    weight : Parameter
        Shape (out_channels, in_channels, kH, kW), as in PyTorch and the book.
    bias : Parameter or None
        Shape (out_channels,).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrPair,
                 stride: IntOrPair = 1, padding: IntOrPair = 0, bias: bool = True,
                 init: Union[str, float] = "he", dtype: Any = np.float32) -> None:
        super().__init__()
        self.in_channels = positive_int(in_channels, "in_channels", "Conv2d")
        self.out_channels = positive_int(out_channels, "out_channels", "Conv2d")
        self.kernel_size = as_pair(kernel_size, "kernel_size", "Conv2d")
        self.stride = as_pair(stride, "stride", "Conv2d")
        self.padding = as_pair(padding, "padding", "Conv2d", minimum=0)
        dtype = floating_dtype(dtype, "Conv2d")
        self.init = init
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        fan_in = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        init_weight(self.weight, init, "Conv2d", fan_in=fan_in)
        if bias:
            self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return checked_conv2d(x, self.weight, self.bias, self.stride, self.padding, "Conv2d")

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")


class _Pool2d(Module):
    """Shared by MaxPool2d and AvgPool2d: the window settings, checked once."""

    kind = ""

    def __init__(self, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
                 padding: IntOrPair = 0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = as_pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else as_pair(stride, "stride", name)
        self.padding = as_pair(padding, "padding", name, minimum=0)
        check_pool_padding(self.kernel_size, self.padding, name)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"

    def forward(self, x: Tensor) -> Tensor:
        return checked_pool2d(self.kind, x, self.kernel_size, self.stride, self.padding,
                              type(self).__name__)


class MaxPool2d(_Pool2d):
    """Max pooling: ``y[n, c, i, j] = max_{p,q} x_pad[n, c, i·s + p, j·s + q]`` (padding −∞).

    Backward: each window's ``dy`` goes to its first largest element (ties to one element, as
    in PyTorch), added up where windows overlap.

    Parameters
    ----------
    kernel_size : int or (int, int)
        Window size.
    stride : int or (int, int), optional
        Window step; default the kernel size (windows side by side, the book's Pooling).
    padding : int or (int, int)
        At most half the kernel size.
    """

    kind = "max"


class AvgPool2d(_Pool2d):
    """Average pooling: ``y[n, c, i, j] = (1/(kH·kW)) Σ_{p,q} x_pad[n, c, i·s + p, j·s + q]``
    (padding zeros counted, as PyTorch's default).

    Backward: ``dx = col2im(dy / (kH·kW))``. Parameters as ``MaxPool2d``.
    """

    kind = "avg"
