"""Layers whose backward is right only at the values a check usually starts from.

Each is a bug people really make, and each passed ``check_layer``, ``minigrad check`` and
``mg.gradcheck`` before the checkers varied the parameters, looked at each backward's raw
result and tried a batch of another size. ``tests/testing/test_default_value_catalogue.py``
checks that all three catch every one of them, naming the likely cause. This file is also
loaded by ``minigrad check`` in those tests, so it imports only minigrad and NumPy.
"""
import numpy as np

import minigrad as mg
from minigrad import functional as F
from minigrad import nn


# -- a LayerNorm whose dx forgets γ: right while γ = 1 ---------------------------------------
class LayerNormNoGammaInDx(mg.Function):
    """y = γ·x̂ + β over the last axis; dx uses dy instead of dy·γ."""

    def forward(self, x, weight, bias):
        mean = x.mean(axis=-1, keepdims=True)
        self.inv_std = 1 / np.sqrt(x.var(axis=-1, keepdims=True) + 1e-5)
        self.x_hat = (x - mean) * self.inv_std
        return self.x_hat * weight + bias

    def backward(self, gy):
        g, x_hat = gy.data, self.x_hat                 # bug: g = dy·γ is meant
        gx = (g - g.mean(axis=-1, keepdims=True)
              - x_hat * (g * x_hat).mean(axis=-1, keepdims=True)) * self.inv_std
        batch = tuple(range(g.ndim - 1))
        return (mg.Tensor(gx), mg.Tensor((gy.data * x_hat).sum(axis=batch)),
                mg.Tensor(gy.data.sum(axis=batch)))


class GammaIgnoringLayerNorm(nn.Module):
    def __init__(self, features=5):
        super().__init__()
        self.weight = nn.Parameter(np.ones(features))    # γ = 1, β = 0: the usual start
        self.bias = nn.Parameter(np.zeros(features))

    def forward(self, x):
        return LayerNormNoGammaInDx.apply(x, self.weight, self.bias)


# -- a Swish whose dx forgets β: right while β = 1 -------------------------------------------
class SwishNoBetaInDx(mg.Function):
    """y = x·σ(βx); dx is SiLU's derivative σ(x) + x·σ(x)(1 − σ(x)), β forgotten."""

    def forward(self, x, beta):
        return x / (1 + np.exp(-beta * x))

    def backward(self, gy):
        x, beta = self.inputs
        s_beta = F.sigmoid(beta * x)
        s = F.sigmoid(x)                                 # bug: σ(βx) and a factor β are meant
        gx = gy * (s + x * s * (1 - s))
        gbeta = (gy * x * x * s_beta * (1 - s_beta)).sum()
        return gx, gbeta


class BetaIgnoringSwish(nn.Module):
    def __init__(self, beta=1.0):
        super().__init__()
        self.beta = nn.Parameter(np.array(beta))

    def forward(self, x):
        return SwishNoBetaInDx.apply(x, self.beta)


# -- an affine map y = x·a + b whose dx forgets a: right while a = 1 -------------------------
class AffineNoScaleInDx(mg.Function):
    def forward(self, x, scale, shift):
        return x * scale + shift

    def backward(self, gy):
        x, scale, _ = self.inputs
        return gy, (gy * x).sum(axis=0), gy.sum(axis=0)   # bug: dx = dy·a is meant


class ScaleIgnoringAffine(nn.Module):
    def __init__(self, features=5):
        super().__init__()
        self.scale = nn.Parameter(np.ones(features))
        self.shift = nn.Parameter(np.zeros(features))

    def forward(self, x):
        return AffineNoScaleInDx.apply(x, self.scale, self.shift)


# -- a bias gradient returned unsummed: the engine's sum_to would hide it --------------------
class AddBiasUnsummed(mg.Function):
    def forward(self, x, bias):
        return x + bias

    def backward(self, gy):
        return gy, gy                                    # bug: db = Σ dy over the batch


class UnsummedBias(nn.Module):
    def __init__(self, features=5):
        super().__init__()
        self.bias = nn.Parameter(np.linspace(-0.5, 0.5, features))

    def forward(self, x):
        return AddBiasUnsummed.apply(x, self.bias)


# -- a bias gradient summed over the wrong axis ----------------------------------------------
class AddBiasWrongAxis(mg.Function):
    def forward(self, x, bias):
        return x + bias

    def backward(self, gy):
        return gy, gy.sum(axis=1)                        # bug: over the batch, axis 0


class WrongAxisBias(UnsummedBias):
    def forward(self, x):
        return AddBiasWrongAxis.apply(x, self.bias)


# -- a keepdims slip: right for a batch of one only ------------------------------------------
class CentreRowsKeepdimsSlip(mg.Function):
    """y = x − mean(x) over each row; dx = dy − mean(dy) needs keepdims=True."""

    def forward(self, x):
        return x - x.mean(axis=-1, keepdims=True)

    def backward(self, gy):
        return gy - gy.mean(axis=-1)                     # bug: (N, D) − (N,) is wrong for N > 1


class KeepdimsSlip(nn.Module):
    def forward(self, x):
        return CentreRowsKeepdimsSlip.apply(x)


def function_inputs(name, rng):
    """(the Function, its float64 inputs) for ``mg.gradcheck`` of each catalogue entry, with
    parameter values a user might pass (not only the neutral ones)."""
    x = rng.standard_normal((6, 5))
    feature = lambda: rng.uniform(0.5, 1.5, 5) * rng.choice([-1.0, 1.0], 5)   # noqa: E731
    table = {
        "gamma-ignoring LayerNorm": (LayerNormNoGammaInDx, [x, feature(), feature()]),
        "beta-ignoring Swish": (SwishNoBetaInDx, [x, np.array(1.7)]),
        "scale-ignoring affine": (AffineNoScaleInDx, [x, feature(), feature()]),
        "unsummed bias": (AddBiasUnsummed, [x, feature()]),
        "bias summed over the wrong axis": (AddBiasWrongAxis, [x, feature()]),
        "keepdims slip": (CentreRowsKeepdimsSlip, [x]),
    }
    return table[name]
