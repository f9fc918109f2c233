"""The convolution workload: the book's SimpleConvNet on 1×28×28, batch 100, Adam.

The floor is the book's own code (chapter 7 of *Deep Learning from Scratch*: ``im2col`` and
``col2im`` looping over the filter offsets, ``Convolution`` and ``Pooling`` layers with a manual
``backward``), written as a careful person would: every array in the data's dtype (the book's
``np.zeros`` would turn float32 into float64) and no gradient for the input of the first layer.
The remaining layers and Adam are those of ``benchmarks.reference``. A test checks that the
floor computes the same loss, gradients and Adam steps as minigrad's ``nn.SimpleConvNet``.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import reference


def im2col(x: np.ndarray, filter_h: int, filter_w: int, stride: int = 1,
           pad: int = 0) -> np.ndarray:
    """The book's im2col: (N, C, H, W) to rows (N·OH·OW, C·FH·FW), one per window position."""
    n, c, h, w = x.shape
    out_h = (h + 2 * pad - filter_h) // stride + 1
    out_w = (w + 2 * pad - filter_w) // stride + 1
    img = np.pad(x, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    col = np.zeros((n, c, filter_h, filter_w, out_h, out_w), dtype=x.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x_ in range(filter_w):
            x_max = x_ + stride * out_w
            col[:, :, y, x_, :, :] = img[:, :, y:y_max:stride, x_:x_max:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(n * out_h * out_w, -1)


def col2im(col: np.ndarray, input_shape: Tuple[int, ...], filter_h: int, filter_w: int,
           stride: int = 1, pad: int = 0) -> np.ndarray:
    """The book's col2im: rows back to (N, C, H, W), overlapping windows added up."""
    n, c, h, w = input_shape
    out_h = (h + 2 * pad - filter_h) // stride + 1
    out_w = (w + 2 * pad - filter_w) // stride + 1
    col = col.reshape(n, out_h, out_w, c, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((n, c, h + 2 * pad + stride - 1, w + 2 * pad + stride - 1), dtype=col.dtype)
    for y in range(filter_h):
        y_max = y + stride * out_h
        for x_ in range(filter_w):
            x_max = x_ + stride * out_w
            img[:, :, y:y_max:stride, x_:x_max:stride] += col[:, :, y, x_, :, :]
    return img[:, :, pad:h + pad, pad:w + pad]


class Convolution:
    """The book's Convolution: y = im2col(x) Wᵀ + b; dW = dyᵀ col, db = Σ dy,
    dx = col2im(dy W)."""

    def __init__(self, W: np.ndarray, b: np.ndarray, stride: int = 1, pad: int = 0) -> None:
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.stride, self.pad = stride, pad
        self.x: Optional[np.ndarray] = None
        self.col: Optional[np.ndarray] = None
        self.col_W: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        W, b = self.params
        fn, _, fh, fw = W.shape
        n, _, h, w = x.shape
        out_h = (h + 2 * self.pad - fh) // self.stride + 1
        out_w = (w + 2 * self.pad - fw) // self.stride + 1
        self.x = x
        self.col = im2col(x, fh, fw, self.stride, self.pad)
        self.col_W = W.reshape(fn, -1).T
        out = self.col @ self.col_W + b
        return out.reshape(n, out_h, out_w, -1).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        W, _ = self.params
        fn, c, fh, fw = W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, fn)
        np.sum(dout, axis=0, out=self.grads[1])
        self.grads[0][...] = (self.col.T @ dout).T.reshape(fn, c, fh, fw)
        if not need_dx:
            return None
        return col2im(dout @ self.col_W.T, self.x.shape, fh, fw, self.stride, self.pad)


class Pooling:
    """The book's max Pooling: the max of each window row of im2col; dx = col2im(dy at the
    argmax)."""

    def __init__(self, pool_h: int, pool_w: int, stride: int = 2, pad: int = 0) -> None:
        self.params: List[np.ndarray] = []
        self.grads: List[np.ndarray] = []
        self.pool_h, self.pool_w, self.stride, self.pad = pool_h, pool_w, stride, pad
        self.x: Optional[np.ndarray] = None
        self.arg_max: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        n, c, h, w = x.shape
        out_h = (h - self.pool_h) // self.stride + 1
        out_w = (w - self.pool_w) // self.stride + 1
        col = im2col(x, self.pool_h, self.pool_w, self.stride, self.pad)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        self.x = x
        self.arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        return out.reshape(n, out_h, out_w, c).transpose(0, 3, 1, 2)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = dout.transpose(0, 2, 3, 1)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size), dtype=dout.dtype)
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))
        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        return col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)


class Flatten:
    """(N, C, H, W) to (N, C·H·W) and back (inside the book's Affine)."""

    params: List[np.ndarray] = []
    grads: List[np.ndarray] = []

    def __init__(self) -> None:
        self.shape: Tuple[int, ...] = ()

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self.shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout.reshape(self.shape)


class ReferenceConvNet(reference.ReferenceMLP):
    """The book's SimpleConvNet: Convolution - Relu - Pooling - Affine - Relu - Affine -
    SoftmaxWithLoss, He-normal weights and zero biases; ``params()`` in minigrad's order."""

    def __init__(self, input_dim: Tuple[int, int, int] = (1, 28, 28), filter_num: int = 30,
                 filter_size: int = 5, hidden_size: int = 100, output_size: int = 10,
                 dtype: type = np.float32, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        c, h, w = input_dim
        fan_in = c * filter_size * filter_size
        W = rng.standard_normal((filter_num, c, filter_size, filter_size)) * np.sqrt(2 / fan_in)
        pooled = filter_num * ((h - filter_size + 1) // 2) * ((w - filter_size + 1) // 2)
        self.layers: list = [
            Convolution(W.astype(dtype), np.zeros(filter_num, dtype=dtype)),
            reference.Relu(), Pooling(2, 2, stride=2), Flatten(),
            reference._he_affine(pooled, hidden_size, dtype, rng), reference.Relu(),
            reference._he_affine(hidden_size, output_size, dtype, rng)]
        self.last_layer = reference.SoftmaxWithLoss()


@dataclasses.dataclass(frozen=True)
class ConvWorkload:
    """A SimpleConvNet training step: input (C, H, W), filters and sizes, batch."""

    name: str
    title: str
    input_dim: Tuple[int, int, int]
    filter_num: int
    filter_size: int
    hidden_size: int
    output_size: int
    batch_size: int

    def describe(self) -> str:
        """E.g. ``SimpleConvNet 1x28x28, conv 30x5x5, pool 2, 100, 10, batch 100``."""
        c, h, w = self.input_dim
        return (f"SimpleConvNet {c}x{h}x{w}, conv {self.filter_num}x{self.filter_size}x"
                f"{self.filter_size}, pool 2, {self.hidden_size}-{self.output_size}, batch "
                f"{self.batch_size}")

    def smoke(self) -> "ConvWorkload":
        """The same architecture at tiny sizes, for the test suite."""
        return dataclasses.replace(self, input_dim=(1, 8, 8), filter_num=3, filter_size=3,
                                   hidden_size=5, output_size=4, batch_size=4)


CONV_WORKLOADS: Dict[str, ConvWorkload] = {
    "C1": ConvWorkload("C1", "conv", (1, 28, 28), 30, 5, 100, 10, 100),
}


def make_batch(workload: ConvWorkload, dtype: Any,
               seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """A fixed batch of standard-normal images and uniformly drawn integer labels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((workload.batch_size, *workload.input_dim)).astype(dtype)
    return x, rng.integers(0, workload.output_size, workload.batch_size)


def numpy_step(workload: ConvWorkload, dtype: Any, seed: int = 0) -> Any:
    """The floor: the book's layers by hand with the in-place Adam of ``reference``."""
    model = ReferenceConvNet(workload.input_dim, workload.filter_num, workload.filter_size,
                             workload.hidden_size, workload.output_size, dtype=dtype, seed=seed)
    optimizer = reference.ReferenceAdam(model.params(), lr=1e-3)
    x, t = make_batch(workload, dtype, seed)

    def step() -> float:
        return reference.train_step(model, optimizer, x, t)
    return step


def build_minigrad(workload: ConvWorkload, dtype: Any, seed: int = 0) -> Any:
    """minigrad's ``nn.SimpleConvNet`` in ``dtype``."""
    import minigrad as mg
    from minigrad import nn
    mg.manual_seed(seed)
    return nn.SimpleConvNet(workload.input_dim, workload.filter_num, workload.filter_size,
                            hidden_size=workload.hidden_size, output_size=workload.output_size,
                            dtype=dtype)


def minigrad_step(workload: ConvWorkload, dtype: Any, seed: int = 0) -> Any:
    """minigrad, written as its README shows a training step."""
    import minigrad as mg
    from minigrad import nn, optim

    from .workloads import _training_step
    model = build_minigrad(workload, dtype, seed)
    x, t = make_batch(workload, dtype, seed)
    return _training_step(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(),
                                                                      lr=1e-3), mg.tensor(x), t)


def torch_step(workload: ConvWorkload, dtype: Any, seed: int = 0) -> Any:
    """PyTorch CPU eager mode: the same network with ``torch.nn`` and ``torch.optim.Adam``."""
    import torch

    from .workloads import _training_step
    torch.manual_seed(seed)
    c, h, w = workload.input_dim
    pooled = workload.filter_num * ((h - workload.filter_size + 1) // 2) * \
        ((w - workload.filter_size + 1) // 2)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(c, workload.filter_num, workload.filter_size), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(pooled, workload.hidden_size),
        torch.nn.ReLU(), torch.nn.Linear(workload.hidden_size, workload.output_size))
    model = model.to(torch.float32 if np.dtype(dtype) == np.float32 else torch.float64)
    x, t = make_batch(workload, dtype, seed)
    return _training_step(model, torch.nn.CrossEntropyLoss(),
                          torch.optim.Adam(model.parameters(), lr=1e-3), torch.from_numpy(x),
                          torch.from_numpy(t))


def steps_for(workload: ConvWorkload, dtype: Any, competitors: Tuple[str, ...],
              seed: int = 0) -> Dict[str, Any]:
    """A ``step`` per available competitor (scikit-learn has no convolution), the floor
    first."""
    builders = {"numpy": numpy_step, "minigrad": minigrad_step, "torch": torch_step}
    return {name: builders[name](workload, dtype, seed) for name in competitors
            if name in builders}
