"""``SimpleConvNet``: the book's small convolutional network (chapter 7) as a Sequential
builder."""
from __future__ import annotations

from collections.abc import Sequence as SequenceABC
from typing import Any, Sequence, Tuple, Union

import numpy as np

from ..functional.conv import output_size
from .activation import Flatten, ReLU
from .container import Sequential
from .conv import Conv2d, MaxPool2d
from .linear import Linear
from .module import positive_int


class SimpleConvNet(Sequential):
    """Conv2d → ReLU → MaxPool2d(2) → Flatten → Linear → ReLU → Linear (logits), the book's
    ``SimpleConvNet``.

    With the defaults, a (N, 1, 28, 28) input goes through 30 filters of 5×5 to (N, 30, 24, 24),
    2×2 max pooling to (N, 30, 12, 12), then 4320 → 100 → 10. The book's ``conv_param`` dict is
    spelled out as ``filter_num``, ``filter_size``, ``pad`` and ``stride``.

    Parameters
    ----------
    input_dim : (int, int, int)
        (C, H, W) of one input image.
    filter_num, filter_size, pad, stride : int
        The convolution's out_channels, kernel size, padding and stride.
    hidden_size, output_size : int
        Width of the hidden Linear and number of logits.
    weight_init : {'he', 'xavier'} or float
        For the convolution and both Linears (the book uses a std of 0.01; He suits ReLU).
    pool_size : int
        Size and stride of the max pooling window.
    dtype : numpy dtype
        Floating dtype of every parameter (float32 by default).
    """

    def __init__(self, input_dim: Sequence[int] = (1, 28, 28), filter_num: int = 30,
                 filter_size: int = 5, pad: int = 0, stride: int = 1, hidden_size: int = 100,
                 output_size: int = 10, weight_init: Union[str, float] = "he",
                 pool_size: int = 2, dtype: Any = np.float32) -> None:
        channels, height, width = _input_dim(input_dim)
        conv = Conv2d(channels, filter_num, filter_size, stride, pad, init=weight_init,
                      dtype=dtype)
        pool = MaxPool2d(pool_size)
        conv_h, conv_w = _output_size((height, width), conv.kernel_size, conv.stride,
                                      conv.padding, "the convolution")
        pool_h, pool_w = _output_size((conv_h, conv_w), pool.kernel_size, pool.stride,
                                      pool.padding, "the pooling")
        super().__init__(
            conv, ReLU(), pool, Flatten(),
            Linear(conv.out_channels * pool_h * pool_w, hidden_size, dtype=dtype,
                   init=weight_init),
            ReLU(),
            Linear(hidden_size, output_size, dtype=dtype, init=weight_init))

    @property
    def weighted(self) -> list:
        """The Conv2d and Linear layers, in order (their weights are the ones weight decay
        applies to)."""
        return [m for m in self if isinstance(m, (Conv2d, Linear))]


def _input_dim(input_dim: Any) -> Tuple[int, int, int]:
    """``input_dim`` as three positive ints (C, H, W), or an error naming SimpleConvNet."""
    if isinstance(input_dim, np.ndarray):
        input_dim = input_dim.tolist()
    if not isinstance(input_dim, SequenceABC) or isinstance(input_dim, str) or \
            len(input_dim) != 3:
        raise ValueError(f"SimpleConvNet: input_dim must be (channels, height, width), got "
                         f"{input_dim!r}")
    names = ("channels", "height", "width")
    c, h, w = (positive_int(v, f"input_dim {n}", "SimpleConvNet")
               for v, n in zip(input_dim, names))
    return c, h, w


def _output_size(size: Tuple[int, int], kernel: Tuple[int, int], stride: Tuple[int, int],
                 padding: Tuple[int, int], what: str) -> Tuple[int, int]:
    """The (H, W) after a window op, or a ValueError when its window does not fit."""
    out = output_size(size, kernel, stride, padding)
    if min(out) < 1:
        raise ValueError(f"SimpleConvNet: the window {kernel} of {what} does not fit its input "
                         f"of size {size} (padding {padding})")
    return out


__all__ = ["SimpleConvNet"]
