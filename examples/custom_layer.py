"""Write your own layer and trust its backward pass: Swish and LayerNorm, checked in one call.

Each layer is written twice, the way you would in minigrad:

- as a ``Function`` (forward on ndarrays, backward on Tensors, the derivative beside it), and
- as an ``nn.Module`` that owns the learnable parameters and calls the Function.

``minigrad.testing.check_layer`` then checks each one: gradients of the input and every
parameter against central differences in float64, and the things a gradient check alone
misses (linear in the upstream gradient, no in-place change of it, no stale cache, float32 kept
float32). A LayerNorm with a classic mistake in its backward is caught with a readable message.

Run:  python examples/custom_layer.py
  or: minigrad check examples/custom_layer.py:LayerNorm --input-shape 8,5
"""
from __future__ import annotations

import argparse

import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.testing import check_layer


# -- Swish: y = x·σ(βx) ----------------------------------------------------------------------
class SwishFunction(mg.Function):
    """y = x·σ(βx), with a learnable scalar β (β = 1 is SiLU)."""

    def forward(self, x: np.ndarray, beta: np.ndarray) -> np.ndarray:
        return x * (0.5 + 0.5 * np.tanh(0.5 * beta * x))    # σ(t) = ½(1 + tanh(t/2))

    def backward(self, gy: mg.Tensor) -> tuple:
        x, beta = self.inputs
        s = F.sigmoid(beta * x)
        gx = gy * (s + beta * x * s * (1 - s))               # dy/dx = σ + βx·σ(1 − σ)
        gbeta = (gy * x * x * s * (1 - s)).sum()             # dy/dβ = x²·σ(1 − σ)
        return gx, gbeta


def swish(x: mg.Tensor, beta: mg.Tensor) -> mg.Tensor:
    """x·σ(βx) elementwise."""
    return SwishFunction.apply(x, beta)


class Swish(nn.Module):
    """Swish activation ``y = x·σ(βx)`` with a learnable β (initially ``beta``)."""

    def __init__(self, beta: float = 1.0, dtype: type = np.float32) -> None:
        super().__init__()
        self.beta = nn.Parameter(np.full((), beta, dtype=dtype))

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        return swish(x, self.beta)


# -- LayerNorm: y = γ·x̂ + β, x̂ = (x − μ)/√(σ² + ε) over the last axis ------------------------
class LayerNormFunction(mg.Function):
    """Layer normalisation over the last axis, with per-feature γ (weight) and β (bias)."""

    once_differentiable = True        # backward uses the saved arrays, not Tensor ops

    def forward(self, x: np.ndarray, weight: np.ndarray, bias: np.ndarray,
                eps: float = 1e-5) -> np.ndarray:
        mean = x.mean(axis=-1, keepdims=True)
        inv_std = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + np.asarray(eps, dtype=x.dtype))
        x_hat = (x - mean) * inv_std
        self.save_for_backward(x_hat, inv_std)
        return x_hat * weight + bias

    def backward(self, gy: mg.Tensor) -> tuple:
        x_hat, inv_std = self.saved_tensors
        gy = gy.data
        g = gy * self.inputs[1].data                          # the gradient of x̂
        batch_axes = tuple(range(gy.ndim - 1))
        # dx = (g − mean(g) − x̂·mean(g·x̂)) / σ   (means over the last axis)
        gx = (g - g.mean(axis=-1, keepdims=True)
              - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) * inv_std
        gweight = (gy * x_hat).sum(axis=batch_axes)           # dγ = Σ dy·x̂
        gbias = gy.sum(axis=batch_axes)                       # dβ = Σ dy
        return mg.Tensor(gx), mg.Tensor(gweight), mg.Tensor(gbias)


class BrokenLayerNormFunction(LayerNormFunction):
    """The classic mistake: σ treated as a constant, so the x̂·mean(g·x̂) term is missing."""

    def backward(self, gy: mg.Tensor) -> tuple:
        x_hat, inv_std = self.saved_tensors
        g = gy.data * self.inputs[1].data
        batch_axes = tuple(range(g.ndim - 1))
        gx = (g - g.mean(axis=-1, keepdims=True)) * inv_std  # wrong: forgets how σ moves
        return (mg.Tensor(gx), mg.Tensor((gy.data * x_hat).sum(axis=batch_axes)),
                mg.Tensor(gy.data.sum(axis=batch_axes)))


class LayerNorm(nn.Module):
    """``y = γ·(x − μ)/√(σ² + ε) + β`` with μ, σ² over the last axis (``normalized_shape``)."""

    function = LayerNormFunction

    def __init__(self, normalized_shape: int = 5, eps: float = 1e-5,
                 dtype: type = np.float32) -> None:
        super().__init__()
        self.eps = eps
        rng = mg.random.default_rng()      # non-trivial γ, β so that the check sees them act
        self.weight = nn.Parameter((1 + 0.1 * rng.standard_normal(normalized_shape))
                                   .astype(dtype))
        self.bias = nn.Parameter((0.1 * rng.standard_normal(normalized_shape)).astype(dtype))

    def forward(self, x: mg.Tensor) -> mg.Tensor:
        if x.shape[-1:] != self.weight.shape:
            raise ValueError(f"{type(self).__name__}: expected inputs whose last axis has "
                             f"{self.weight.shape[0]} features, got shape {x.shape}")
        return self.function.apply(x, self.weight, self.bias, eps=self.eps)


class BrokenLayerNorm(LayerNorm):
    """LayerNorm with the broken backward above."""

    function = BrokenLayerNormFunction


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0]).parse_args()   # --help
    mg.manual_seed(0)
    x = mg.randn(8, 5, dtype=np.float64)
    print(check_layer(Swish(beta=1.5), x), end="\n\n")
    print(check_layer(LayerNorm(5), x), end="\n\n")
    # a plain callable works too (here SiLU: β fixed at 1, built in the input's dtype)
    report = check_layer(lambda t: swish(t, mg.ones((), dtype=t.dtype)), x)
    print(f"swish as a callable: input gradient max abs error "
          f"{report.errors['input'][0]:.1e}", end="\n\n")
    try:
        check_layer(BrokenLayerNorm(5), x)
    except mg.GradcheckError as error:
        print(f"BrokenLayerNorm is caught:\n{error}")


if __name__ == "__main__":
    main()
