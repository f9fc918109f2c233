"""The floor: the benchmark networks written by hand in NumPy, the book's way.

Each layer is one of the book's classes (chapter 5 and 6 of *Deep Learning from Scratch*) with
``forward`` and a manual ``backward``; ``ReferenceMLP`` is its ``MultiLayerNetExtend`` and
``ReferenceAdam`` its Adam, written as a careful person would: buffers updated in place, every
constant in the data's dtype, no framework at all.

The numerics follow minigrad's (and PyTorch's) conventions rather than the book's where the two
differ, so that the floor computes exactly what minigrad computes (a test checks the gradients
agree in float64):

- BatchNorm normalises with the biased batch variance, ``eps = 1e-5``, and updates the running
  variance with the unbiased one, ``running = (1 - momentum) running + momentum batch``;
- Dropout is inverted dropout (kept units scaled by 1/(1 - p) in training, identity in eval);
- Adam is ``torch.optim.Adam``'s update (``eps`` added to the bias-corrected √v̂).
"""
from __future__ import annotations

from typing import List, Optional, Sequence

import numpy as np


class Affine:
    """y = x W + b; dx = dy Wᵀ, dW = xᵀ dy, db = Σ dy."""

    def __init__(self, W: np.ndarray, b: np.ndarray) -> None:
        self.params = [W, b]
        self.grads = [np.zeros_like(W), np.zeros_like(b)]
        self.x: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self.x = x
        W, b = self.params
        return x @ W + b

    def backward(self, dout: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        W, _ = self.params
        np.matmul(self.x.T, dout, out=self.grads[0])        # kept buffers: no allocator churn
        np.sum(dout, axis=0, out=self.grads[1])
        return dout @ W.T if need_dx else None


class Relu:
    """y = max(x, 0); dx = dy·[x > 0]."""

    def __init__(self) -> None:
        self.params: List[np.ndarray] = []
        self.grads: List[np.ndarray] = []
        self.mask: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        self.mask = x > 0
        return x * self.mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout * self.mask


class BatchNormalization:
    """y = γ x̂ + β with x̂ = (x − μ)/√(σ² + ε) over the batch;
    dx = γ/(N σ) · (N dy − Σ dy − x̂ Σ(dy x̂))."""

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.1,
                 eps: float = 1e-5) -> None:
        self.params = [gamma, beta]
        self.grads = [np.zeros_like(gamma), np.zeros_like(beta)]
        self.momentum = momentum
        self.eps = eps
        self.running_mean = np.zeros_like(gamma)
        self.running_var = np.ones_like(gamma)
        self.xn: Optional[np.ndarray] = None
        self.inv_std: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, train: bool = True) -> np.ndarray:
        gamma, beta = self.params
        if not train:
            xn = (x - self.running_mean) / np.sqrt(self.running_var + self.eps)
            return gamma * xn + beta
        n = x.shape[0]
        mu = x.mean(axis=0)
        xc = x - mu
        var = (xc * xc).mean(axis=0)
        self.inv_std = 1 / np.sqrt(var + self.eps)
        self.xn = xc * self.inv_std
        m = self.momentum
        self.running_mean *= 1 - m
        self.running_mean += m * mu
        self.running_var *= 1 - m
        self.running_var += (m * n / (n - 1)) * var
        return gamma * self.xn + beta

    def backward(self, dout: np.ndarray) -> np.ndarray:
        gamma, _ = self.params
        n = dout.shape[0]
        dgamma = np.sum(dout * self.xn, axis=0, out=self.grads[0])
        dbeta = np.sum(dout, axis=0, out=self.grads[1])
        return (gamma * self.inv_std / n) * (n * dout - dbeta - self.xn * dgamma)


class Dropout:
    """Inverted dropout: y = x·m/(1 − p) with m ~ Bernoulli(1 − p); dx = dy·m/(1 − p)."""

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        self.params: List[np.ndarray] = []
        self.grads: List[np.ndarray] = []
        self.p = p
        self.rng = rng
        self.scaled_mask: Optional[np.ndarray] = None

    def forward(self, x: np.ndarray, train: bool = True,
                mask: Optional[np.ndarray] = None) -> np.ndarray:
        if not train or self.p == 0:
            self.scaled_mask = None
            return x
        if mask is None:
            mask = self.rng.random(x.shape, dtype=x.dtype) >= self.p
        self.scaled_mask = mask * x.dtype.type(1 / (1 - self.p))
        return x * self.scaled_mask

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout if self.scaled_mask is None else dout * self.scaled_mask


class SoftmaxWithLoss:
    """L = −(1/N) Σ log softmax(z)[t]; dz = (softmax(z) − onehot(t))/N · dL."""

    def __init__(self) -> None:
        self.p: Optional[np.ndarray] = None
        self.t: Optional[np.ndarray] = None

    def forward(self, z: np.ndarray, t: np.ndarray) -> float:
        shifted = z - z.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        s = e.sum(axis=1, keepdims=True)
        self.p = e / s
        self.t = t
        rows = np.arange(z.shape[0])
        return float((np.log(s[:, 0]) - shifted[rows, t]).mean())

    def backward(self, dout: float = 1.0) -> np.ndarray:
        n = self.p.shape[0]
        dz = self.p.copy()
        dz[np.arange(n), self.t] -= 1
        dz *= self.p.dtype.type(dout / n)
        return dz


class ReferenceMLP:
    """The book's ``MultiLayerNetExtend``: (Affine, [BatchNorm], ReLU, [Dropout]) per hidden
    layer, then Affine and softmax cross-entropy, with He-normal weights and zero biases.

    ``params()`` and ``grads()`` list the arrays in minigrad's ``nn.MLP`` order: for each hidden
    layer the Affine's W and b, then (with BatchNorm) γ and β; then the last Affine's W and b.
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], output_size: int,
                 use_batchnorm: bool = False, dropout: float = 0.0, dtype: type = np.float32,
                 seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.layers: list = []
        sizes = [input_size, *hidden_sizes]
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            self.layers.append(_he_affine(fan_in, fan_out, dtype, rng))
            if use_batchnorm:
                self.layers.append(BatchNormalization(np.ones(fan_out, dtype=dtype),
                                                      np.zeros(fan_out, dtype=dtype)))
            self.layers.append(Relu())
            if dropout > 0:
                self.layers.append(Dropout(dropout, rng))
        self.layers.append(_he_affine(sizes[-1], output_size, dtype, rng))
        self.last_layer = SoftmaxWithLoss()

    def params(self) -> List[np.ndarray]:
        """The trainable arrays, in minigrad's order."""
        return [p for layer in self.layers for p in layer.params]

    def grads(self) -> List[np.ndarray]:
        """The gradients of the last ``backward``, in the order of ``params()``."""
        return [g for layer in self.layers for g in layer.grads]

    def loss(self, x: np.ndarray, t: np.ndarray, train: bool = True,
             masks: Optional[Sequence[np.ndarray]] = None) -> float:
        """Forward pass and loss; ``masks`` (one boolean keep-mask per Dropout) hold dropout
        fixed, as a gradient comparison needs."""
        masks = list(masks) if masks is not None else None
        for layer in self.layers:
            if isinstance(layer, Dropout) and masks is not None:
                x = layer.forward(x, train, mask=masks.pop(0))
            else:
                x = layer.forward(x, train)
        return self.last_layer.forward(x, t)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Logits in eval mode (running statistics, no dropout)."""
        for layer in self.layers:
            x = layer.forward(x, False)
        return x

    def backward(self) -> None:
        """Fill every layer's ``grads`` from the last ``loss`` (the input's gradient, which no
        one uses, is not computed: minigrad skips it too, the input not requiring grad)."""
        dout = self.last_layer.backward()
        for layer in reversed(self.layers[1:]):
            dout = layer.backward(dout)
        self.layers[0].backward(dout, need_dx=False)        # nobody needs d(loss)/d(input)


def _he_affine(fan_in: int, fan_out: int, dtype: type, rng: np.random.Generator) -> Affine:
    """An Affine layer with He-normal weights (std √(2/fan_in)) and zero bias."""
    W = (rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype)
    return Affine(W, np.zeros(fan_out, dtype=dtype))


class ReferenceAdam:
    """Adam as ``torch.optim.Adam`` computes it, in place on the parameters:

    m ← β₁m + (1 − β₁)g,  v ← β₂v + (1 − β₂)g²,
    p ← p − (lr/(1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε).

    Every temporary goes into one scratch buffer per parameter, kept across steps: fresh
    multi-megabyte temporaries each step make glibc hand memory back to the OS and fault it in
    again (hundreds of page faults per step on W3), which would slow the floor down.
    """

    def __init__(self, params: List[np.ndarray], lr: float = 1e-3,
                 betas: tuple = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = params
        self.lr = lr
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.scratch = [np.empty_like(p) for p in params]

    def step(self, grads: List[np.ndarray]) -> None:
        """One update of every parameter from ``grads`` (in the order of ``params``)."""
        self.t += 1
        b1, b2 = self.beta1, self.beta2
        step_size = self.lr / (1 - b1 ** self.t)
        sqrt_bc2 = (1 - b2 ** self.t) ** 0.5
        for p, g, m, v, s in zip(self.params, grads, self.m, self.v, self.scratch):
            np.subtract(g, m, out=s)
            s *= 1 - b1
            m += s                                          # m ← m + (1 − β₁)(g − m)
            np.multiply(g, g, out=s)
            s *= 1 - b2
            v *= b2
            v += s                                          # v ← β₂v + (1 − β₂)g²
            np.sqrt(v, out=s)
            s /= sqrt_bc2
            s += self.eps                                   # √v̂ + ε
            np.divide(m, s, out=s)
            s *= step_size
            p -= s


def train_step(model: ReferenceMLP, optimizer: ReferenceAdam, x: np.ndarray,
               t: np.ndarray) -> float:
    """One full training step: forward, loss, backward, Adam update. Returns the loss."""
    loss = model.loss(x, t, train=True)
    model.backward()
    optimizer.step(model.grads())
    return loss
