"""The fused layer ops of chapter 5 and 6: affine, softmax cross-entropy, batch normalisation,
dropout and leaky ReLU.

Affine, softmax cross-entropy and batch norm are single ``Function``s with the textbook
closed-form backward (fast, and checked in the tests against the same computation composed from
primitive ops). Dropout and batch norm stay pure: the random mask and the batch statistics are
computed by the wrapper and passed in as constants, and batch norm's running statistics are
updated by the wrapper, outside the differentiable op.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from .._checks import real_number
from ..autograd import Function, is_grad_enabled, times_constant
from ..random import default_rng
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def _describe(x: Any) -> str:
    """'a float32 tensor of shape (3, 4)' for error messages."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        return f"a {type(x).__name__}"
    kind = "tensor" if isinstance(x, Tensor) else type(x).__name__
    return f"a {dtype} {kind} of shape {tuple(x.shape)}"


def check_floating(x: Any, op: str) -> None:
    """Raise TypeError unless ``x`` is a floating Tensor or ndarray."""
    array = x.data if isinstance(x, Tensor) else x
    if not isinstance(array, np.ndarray) or array.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating tensor, got {_describe(x)}; convert it "
                        "first, e.g. x.astype(np.float32)")


def check_same_dtype(x: Any, param: Any, op: str, what: str) -> None:
    """Raise TypeError when the input's dtype differs from a parameter's (as PyTorch does)."""
    if param is not None and x.dtype != param.dtype:
        raise TypeError(f"{op}: the input has dtype {x.dtype} but the {what} has dtype "
                        f"{param.dtype}; convert one of them (module.double() / .float(), or "
                        f"x.astype(...))")


# -- affine ----------------------------------------------------------------------------------
def _rows(x: Any) -> Any:
    """x as (N, features), one row per sample (the book's flattening; also for N = 0); a 1-D
    x is one sample, a row."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(1, x.shape[0])
    return x.reshape(x.shape[0], math.prod(x.shape[1:]))


class Affine(Function):
    """y = x W + b, with x flattened to (N, in_features) as the book's Affine layer does; a 1-D
    x (one sample) gives a 1-D y."""

    def forward(self, x: np.ndarray, W: np.ndarray, b: Optional[np.ndarray] = None):
        y = _rows(x) @ W
        if b is not None:
            y += b
        return y[0] if x.ndim == 1 else y

    def backward(self, gy: Tensor) -> tuple:
        x, W = self.inputs[0], self.inputs[1]
        if is_grad_enabled():       # create_graph: record the backward, differentiable again
            needs = self.needs_input_grad
            wanted = needs if len(needs) == 3 else needs + (False,)
            grads = iter(AffineBackward.apply(gy, x, W, wanted=wanted))
            return tuple(next(grads) if need else None for need in needs)
        # first order: the same NumPy calls, without a node
        return tuple([None if g is None else Tensor(g)
                      for g in _affine_grads(gy.data, x.data, W.data, self.needs_input_grad)])


def _affine_grads(gy: np.ndarray, x: np.ndarray, W: np.ndarray,
                  wanted: Tuple[bool, ...]) -> list:
    """[dx, dW, db] = [dy Wᵀ, xᵀ dy, Σₙ dy] as arrays, None for those not ``wanted`` (two
    flags: no bias, so no db)."""
    dx = dW = db = None
    if x.ndim == 1:
        gy = gy.reshape(1, gy.shape[0])                      # one sample: a row, as x
    if wanted[0]:
        dx = gy @ W.T                                        # dx = dy Wᵀ
        if x.ndim != 2:
            dx = dx.reshape(x.shape)
    if wanted[1]:
        dW = _rows(x).T @ gy                                 # dW = xᵀ dy
    if len(wanted) == 2:
        return [dx, dW]
    if wanted[2]:
        db = np.add.reduce(gy, axis=0)                       # db = Σₙ dy
    return [dx, dW, db]


class AffineBackward(Function):
    """(dx, dW, db) = (dy Wᵀ, xᵀ dy, Σₙ dy), only those ``wanted``: the backward of Affine as
    an op of its own, recorded when the backward itself is differentiated (create_graph); its
    own backward (below) makes Affine twice differentiable."""

    def forward(self, gy: np.ndarray, x: np.ndarray, W: np.ndarray,
                wanted: Tuple[bool, bool, bool] = (True, True, True)) -> tuple:
        self.wanted = wanted
        return tuple([g for g in _affine_grads(gy, x, W, wanted) if g is not None])

    def backward(self, *grads: Tensor) -> tuple:
        gy, x, W = self.inputs
        given = iter(grads)
        g_dx, g_dW, g_db = (next(given) if want else None for want in self.wanted)
        x2 = _rows(x)
        gy2 = _rows(gy)                                      # (N, out_features), as x2
        g_dx2 = None if g_dx is None else g_dx.reshape(x2.shape)
        # ⟨g_dx, dy Wᵀ⟩ + ⟨g_dW, xᵀ dy⟩ + ⟨g_db, Σₙ dy⟩, differentiated by dy, x and W
        g_gy = None
        if self.needs_input_grad[0]:
            g_gy = (g_dx2 @ W if g_dx2 is not None else 0) + \
                (x2 @ g_dW if g_dW is not None else 0)
            if g_db is not None:
                g_gy = g_db.broadcast_to(gy2.shape) + g_gy
            g_gy = g_gy.reshape(gy.shape)
        g_x = None
        if g_dW is not None and self.needs_input_grad[1]:
            g_x = (gy2 @ g_dW.T).reshape(x.shape)
        g_W = None
        if g_dx2 is not None and self.needs_input_grad[2]:
            g_W = g_dx2.T @ gy2
        return g_gy, g_x, g_W


def affine(x: Any, W: Any, b: Any = None) -> Tensor:
    """The affine map ``y = x W + b`` (W of shape (in_features, out_features)).

    ``x`` of shape (N, in_features) gives (N, out_features); an input of more dimensions is
    flattened to (N, -1) first (the book's Affine), a 1-D input is one sample. The backward is
    ``dx = dy Wᵀ``, ``dW = xᵀ dy``, ``db = Σₙ dy`` (itself differentiable).

    Parameters
    ----------
    x : Tensor
        Floating input of shape (N, in_features) (or (N, ...) with in_features values per row).
    W : Tensor
        Weight of shape (in_features, out_features), of x's dtype.
    b : Tensor, optional
        Bias of shape (out_features,).

    Returns
    -------
    Tensor
        Shape (N, out_features).
    """
    return checked_affine(x, W, b, "affine")


def checked_affine(x: Any, W: Any, b: Any, op: str) -> Tensor:
    """``affine`` with errors that name ``op`` (the layer calling it)."""
    xa = x.data if isinstance(x, Tensor) else x             # checks on the arrays: no
    Wa = W.data if isinstance(W, Tensor) else W             # property calls on the hot path
    ba = b.data if isinstance(b, Tensor) else b
    if type(xa) is not np.ndarray or type(Wa) is not np.ndarray or Wa.ndim != 2 or \
            xa.ndim != 2 or xa.dtype != Wa.dtype or xa.dtype.kind != "f" or \
            xa.shape[1] != Wa.shape[0] or \
            (b is not None and (type(ba) is not np.ndarray or ba.dtype != xa.dtype or
                                ba.shape != Wa.shape[1:])):
        return _checked_affine_slow(x, W, b, op)        # raises, or an unusual but valid input
    return Affine.apply(x, W) if b is None else Affine.apply(x, W, b)


def _checked_affine_slow(x: Any, W: Any, b: Any, op: str) -> Tensor:
    """``checked_affine`` for inputs its one-line test does not pass: every check, one by one,
    with its own message; an input of 1 or more than 2 dimensions is reshaped."""
    check_floating(x, op)
    check_floating(W, op)
    if b is not None:
        check_floating(b, op)
    xa = x.data if isinstance(x, Tensor) else x
    Wa = W.data if isinstance(W, Tensor) else W
    if Wa.ndim != 2:
        raise ValueError(f"{op}: the weight must have shape (in_features, out_features), got "
                         f"{Wa.shape}")
    check_same_dtype(xa, Wa, op, "weight")
    in_features, out_features = Wa.shape
    if xa.ndim == 0:
        raise ValueError(f"{op}: expected an input of shape (N, {in_features}), got a 0-d one")
    features = xa.shape[0] if xa.ndim == 1 else math.prod(xa.shape[1:])
    if features != in_features:
        raise ValueError(f"{op} expected {in_features} input features, got {features} "
                         f"(input shape {xa.shape})")
    if b is not None:
        check_same_dtype(xa, b, op, "bias")
        if b.shape != (out_features,):
            raise ValueError(f"{op}: the bias must have shape ({out_features},), got "
                             f"{tuple(b.shape)}")
    return Affine.apply(x, W) if b is None else Affine.apply(x, W, b)


# -- softmax cross-entropy -------------------------------------------------------------------
class SoftmaxCrossEntropy(Function):
    """loss = −Σ_c t_c log softmax(z)_c per row, then the reduction; t = one-hot(labels) or
    probabilities. Keeps softmax(z) from forward: dz = (softmax(z)·Σ_c t_c − t) · gy (/ N for
    mean), which is softmax(z) − t when the rows of t sum to 1 (one-hot labels always do)."""

    once_differentiable = True

    def forward(self, z: np.ndarray, t: np.ndarray, reduction: str = "mean") -> np.ndarray:
        self.reduction = reduction
        with np.errstate(over="ignore"):   # below −max float: −inf, and e^−inf = 0 exactly
            shifted = z - z.max(axis=1, keepdims=True)      # ≤ 0, so exp never overflows
        exp = np.exp(shifted)
        sum_exp = exp.sum(axis=1, keepdims=True)
        log_p = shifted
        log_p -= np.log(sum_exp)                            # log softmax, finite for any z
        exp /= sum_exp
        self.labels = t.dtype.kind in "iu"
        if self.labels:
            losses = -log_p[np.arange(z.shape[0]), t]
        else:
            losses = -(t * log_p).sum(axis=1)
        self.save_for_backward(exp, log_p if self.needs_input_grad[1] else None)
        if reduction == "none":
            return losses
        total = losses.sum()
        return total / z.shape[0] if reduction == "mean" else total

    def backward(self, gy: Tensor) -> tuple:
        p, log_p = self.saved_tensors
        z, t = self.inputs
        n = z.shape[0]
        if self.reduction == "none":
            scale = gy.data[:, None]
        else:
            scale = float(gy.data)                          # a Python number: NumPy keeps
            if self.reduction == "mean":                    # gz's dtype, and a 0-d array
                scale /= n                                  # would cost a ufunc call
        gz = gt = None
        if self.needs_input_grad[0]:
            if self.labels:
                gz = p.copy()
                gz[np.arange(n), t.data] -= 1               # softmax(z) − one-hot(t)
            else:
                gz = p * t.data.sum(axis=1, keepdims=True)  # softmax(z)·Σ_c t_c − t: any
                gz -= t.data                                # t, not only rows summing to 1
            gz *= scale
        if self.needs_input_grad[1]:
            gt = -log_p * scale                             # d loss / dt = −log softmax(z)
        return Tensor(gz) if gz is not None else None, Tensor(gt) if gt is not None else None


def softmax_cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy of softmax(logits) against integer labels or class probabilities.

    ``logits`` has shape (N, C). ``target`` is integer labels of shape (N,) in [0, C), or
    probabilities / one-hot rows of shape (N, C). Per row ``ℓₙ = −Σ_c t_nc log softmax(zₙ)_c``;
    ``reduction`` 'mean' gives Σₙ ℓₙ / N, 'sum' Σₙ ℓₙ, 'none' the vector ℓ. Backward:
    ``dz = (softmax(z)·Σ_c t_c − t) · dy`` (divided by N for 'mean'), i.e. ``softmax(z) − t``
    for labels or rows that sum to 1; finite for logits of any size.

    Parameters
    ----------
    logits : Tensor
        Floating, shape (N, C).
    target : array or Tensor
        Integer labels (N,) in [0, C), or floating probabilities (N, C) (converted to the
        logits' dtype; if a Tensor that requires grad, it gets ``dt = −log softmax(z) · dy``).
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor
        A scalar, or shape (N,) for 'none'.
    """
    return checked_softmax_cross_entropy(logits, target, reduction, "softmax_cross_entropy")


def checked_softmax_cross_entropy(logits: Any, target: Any, reduction: str, op: str) -> Tensor:
    """``softmax_cross_entropy`` with errors that name ``op`` (the layer calling it)."""
    z = logits.data if isinstance(logits, Tensor) else logits   # no property calls
    # one test for the usual case: an ndarray of integer labels in range (a constant input,
    # wrapped here: apply's generic conversion is slower)
    if type(z) is np.ndarray and z.dtype.kind == "f" and z.ndim == 2 and z.size and \
            reduction in _REDUCTIONS and type(target) is np.ndarray and \
            target.dtype.kind in "iu" and target.shape == z.shape[:1] and \
            _labels_in_range(target, z.shape[1]):
        target = Tensor(target)
    else:
        target = _checked_target(logits, target, reduction, op)   # raises, or converts it
    return SoftmaxCrossEntropy.apply(logits, target, reduction=reduction)


def _checked_target(logits: Any, target: Any, reduction: str, op: str) -> Tensor:
    """``target`` as a Tensor of labels or of probabilities in the logits' dtype, after every
    check of ``checked_softmax_cross_entropy`` one by one, each with its own message."""
    check_floating(logits, op)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")
    if logits.ndim != 2:
        raise ValueError(f"{op}: logits must have shape (N, C), got {tuple(logits.shape)}")
    n, classes = logits.shape
    if n == 0 or classes == 0:
        raise ValueError(f"{op}: logits of shape {tuple(logits.shape)} are empty")
    if not isinstance(target, Tensor):
        try:
            target = np.asarray(target)
        except ValueError as error:                          # a ragged list
            raise ValueError(f"{op}: target is not an array: {error}") from None
    kind = target.dtype.kind
    if kind in "iu":
        if tuple(target.shape) != (n,):
            raise ValueError(f"{op}: integer labels must have shape ({n},) for logits of shape "
                             f"{tuple(logits.shape)}, got {tuple(target.shape)}")
        labels = target.data if isinstance(target, Tensor) else target
        if not _labels_in_range(labels, classes):
            low = np.minimum.reduce(labels)                  # n > 0
            bad = low if low < 0 else np.maximum.reduce(labels)
            raise ValueError(f"{op}: label {bad} is out of range for {classes} classes "
                             f"(labels must be in [0, {classes - 1}])")
    elif kind == "f":
        if tuple(target.shape) != (n, classes):
            hint = (" (class labels must be integers: convert them, e.g. t.astype(np.int64))"
                    if tuple(target.shape) == (n,) else "")
            raise ValueError(f"{op}: target probabilities must have the logits' shape "
                             f"{(n, classes)}, got {tuple(target.shape)}{hint}")
        if target.dtype != logits.dtype:
            target = target.astype(logits.dtype)
    else:
        raise TypeError(f"{op}: target must be integer labels or floating probabilities, got "
                        f"dtype {target.dtype}")
    return target if isinstance(target, Tensor) else Tensor(target)


# For _labels_in_range: each signed integer dtype (either byte order) -> its unsigned twin
# and 2^(bits − 1).
_UNSIGNED = {np.dtype(order + "i" + str(size)): (np.dtype(order + "u" + str(size)),
                                                 1 << (8 * size - 1))
             for order in "<>" for size in (1, 2, 4, 8)}


def _labels_in_range(labels: np.ndarray, classes: int) -> bool:
    """Whether every label is in [0, classes), in one pass (a single maximum): read as its
    unsigned twin, a non-negative signed label keeps its value, below 2^(bits − 1), and a
    negative one becomes 2^(bits − 1) or more."""
    if labels.dtype.kind == "i":
        unsigned, first_negative = _UNSIGNED[labels.dtype]
        labels = labels.view(unsigned)
        classes = min(classes, first_negative)   # int8 labels, 200 classes: −100 reads 156
    return np.maximum.reduce(labels) < classes


# -- batch normalisation ---------------------------------------------------------------------
class BatchNorm(Function):
    """y = γ x̂ + β with x̂ = (x − μ) / √(σ² + ε) per channel (axis 1).

    μ and σ² are given as constants: the batch statistics in training (then the backward
    treats them as functions of x), the running averages in evaluation. ``centered``, if
    given, is x − μ already computed (for the variance) and becomes x̂ in place.
    """

    once_differentiable = True

    def forward(self, x: np.ndarray, weight: Optional[np.ndarray] = None,
                bias: Optional[np.ndarray] = None, mean: Any = None, var: Any = None,
                eps: float = 1e-5, training: bool = True,
                centered: Optional[np.ndarray] = None) -> np.ndarray:
        self.training, self.mean, self.var, self.eps = training, mean, var, eps   # (for export)
        self.axes = (0,) + tuple(range(2, x.ndim))
        shape = (1, -1) + (1,) * (x.ndim - 2)              # broadcast per channel
        inv_std = 1 / np.sqrt(var + x.dtype.type(eps))
        inv_std = inv_std.reshape(shape)
        x_hat = x - mean.reshape(shape) if centered is None else centered
        x_hat *= inv_std
        self.save_for_backward(x_hat, inv_std)
        if weight is None:
            return x_hat.copy()
        y = x_hat * weight.reshape(shape)
        y += bias.reshape(shape)
        return y

    def backward(self, gy: Tensor) -> tuple:
        x_hat, inv_std = self.saved_tensors
        gy = gy.data
        shape = inv_std.shape
        affine = len(self.inputs) == 3
        needs = self.needs_input_grad
        gx = gw = gb = None
        if self.training or (affine and (needs[1] or needs[2])):
            sum_gy = np.add.reduce(gy, axis=self.axes)                  # Σ dy = dβ
            sum_gy_xhat = np.add.reduce(gy * x_hat, axis=self.axes)     # Σ dy·x̂ = dγ
        if needs[0]:
            scale = inv_std * self.inputs[1].data.reshape(shape) if affine else inv_std
            if self.training:
                m = x_hat.size // x_hat.shape[1]             # values per channel
                # dx = γ/(m σ) · (m·dy − Σdy − x̂·Σ(dy·x̂)) = γ/σ · (dy − Σdy/m − x̂·Σ(dy·x̂)/m)
                gx = x_hat * (sum_gy_xhat / m).reshape(shape)
                np.subtract(gy, gx, out=gx)
                gx -= (sum_gy / m).reshape(shape)
                gx *= scale
            else:
                gx = gy * scale                              # dx = γ/σ · dy (constant stats)
        if affine and needs[1]:
            gw = Tensor(sum_gy_xhat)
        if affine and needs[2]:
            gb = Tensor(sum_gy)
        gx = Tensor(gx) if gx is not None else None
        return (gx, gw, gb) if affine else gx


def batch_norm(x: Any, running_mean: Optional[np.ndarray], running_var: Optional[np.ndarray],
               weight: Any = None, bias: Any = None, training: bool = False,
               momentum: Optional[float] = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalisation per channel (axis 1) of x of shape (N, C, ...).

    ``y = γ (x − μ) / √(σ² + ε) + β``. In training μ and σ² are the batch mean and biased
    variance over every axis but 1, and the running statistics (ndarrays, updated in place,
    outside the differentiable op) become ``(1 − momentum)·running + momentum·batch`` (the
    variance unbiased); ``momentum=None`` gives the cumulative average, counting in
    ``num_batches_tracked``. In evaluation the running statistics are used. Backward (training):
    ``dx = γ/(m σ) · (m·dy − Σdy − x̂·Σ(dy·x̂))``, m = values per channel.

    Parameters
    ----------
    x : Tensor
        Floating, shape (N, C, ...).
    running_mean, running_var : ndarray of shape (C,) or None
        Updated in place in training; used in evaluation. None: always batch statistics.
    weight, bias : Tensor of shape (C,), optional
        γ and β (both or neither).
    training : bool
        Batch statistics (and running update) or running statistics.
    momentum : float
        Weight of the new batch in the running averages.
    eps : float
        ε added to the variance.
    """
    return checked_batch_norm(x, running_mean, running_var, weight, bias, training, momentum,
                              eps, None, "batch_norm")


def checked_batch_norm(x: Any, running_mean: Optional[np.ndarray],
                       running_var: Optional[np.ndarray], weight: Any, bias: Any,
                       training: bool, momentum: Optional[float], eps: float,
                       num_batches_tracked: Optional[np.ndarray], op: str) -> Tensor:
    """``batch_norm`` counting batches in ``num_batches_tracked``, with errors naming ``op``."""
    data = x.data if isinstance(x, Tensor) else x           # checks on the arrays: no
    w = weight.data if isinstance(weight, Tensor) else weight   # property calls
    b = bias.data if isinstance(bias, Tensor) else bias
    # one test for nn.BatchNorm's usual case: γ, β and running statistics, float settings
    if type(data) is not np.ndarray or data.dtype.kind != "f" or data.ndim < 2 or \
            type(eps) is not float or not eps > 0 or \
            type(momentum) is not float or not 0 <= momentum <= 1 or \
            not _channel_vectors(data, (w, b, running_mean, running_var)):
        eps, momentum = _checked_batch_norm_settings(     # raises, or an unusual valid input
            x, running_mean, running_var, weight, bias, training, momentum, eps,
            num_batches_tracked, op)
    channels = data.shape[1]
    use_batch = training or running_mean is None
    if use_batch:
        axes = (0,) + tuple(range(2, data.ndim))
        m = data.size // max(channels, 1)
        if m <= 1:
            raise ValueError(f"{op}: expected more than 1 value per channel in training, got "
                             f"input shape {tuple(x.shape)}; a batch of one cannot be "
                             "normalised with its own statistics (every gradient would be 0)")
        mean = _mean(data, axes, m)
        centered = data - mean.reshape((1, -1) + (1,) * (data.ndim - 2))
        var = _mean(np.square(centered), axes, m)          # biased: Σ(x − μ)²/m
        if training and running_mean is not None:
            _update_running(running_mean, running_var, mean, var, m, momentum,
                            num_batches_tracked, op)
    else:
        mean, var, centered = running_mean, running_var, None
    inputs = (x,) if weight is None else (x, weight, bias)
    return BatchNorm.apply(*inputs, mean=mean, var=var, eps=eps, training=use_batch,
                           centered=centered)


def _channel_vectors(data: np.ndarray, arrays: tuple) -> bool:
    """Whether each of ``arrays`` is an ndarray of shape (C,) (C = axis 1) in data's dtype."""
    channels, dtype = data.shape[1:2], data.dtype
    for array in arrays:
        if type(array) is not np.ndarray or array.shape != channels or array.dtype != dtype:
            return False
    return True


def _checked_batch_norm_settings(x: Any, running_mean: Optional[np.ndarray],
                                 running_var: Optional[np.ndarray], weight: Any, bias: Any,
                                 training: bool, momentum: Any, eps: Any,
                                 num_batches_tracked: Optional[np.ndarray],
                                 op: str) -> Tuple[float, Optional[float]]:
    """Every check of ``checked_batch_norm``, one by one with its own message; returns eps and
    momentum as floats (they may be NumPy numbers or 0-d arrays)."""
    check_floating(x, op)
    data = x.data if isinstance(x, Tensor) else x
    eps = real_number(eps, "eps", op)
    if momentum is not None:
        momentum = real_number(momentum, "momentum", op)
    if not eps > 0:                                          # (also refuses NaN)
        raise ValueError(f"{op}: eps must be positive, got {eps}")
    if momentum is not None and not 0 <= momentum <= 1:
        raise ValueError(f"{op}: momentum must be in [0, 1] or None, got {momentum}")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: give both running_mean and running_var, or neither")
    for name, array in (("running_mean", running_mean), ("running_var", running_var)):
        if array is not None and type(array) is not np.ndarray:
            raise TypeError(f"{op}: {name} must be an ndarray (updated in place) or None, got "
                            f"{type(array).__name__}")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is not None:
            check_floating(param, f"{op} ({name})")
    if data.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, ...), got {data.shape}")
    channels = data.shape[1]
    for name, array in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                        ("running_var", running_var)):
        if array is None:
            continue
        values = array.data if isinstance(array, Tensor) else array
        if values.shape != (channels,):
            raise ValueError(f"{op}: the {name} has shape {tuple(values.shape)} but the input "
                             f"of shape {data.shape} has {channels} channels in axis 1")
        if values.dtype != data.dtype:
            check_same_dtype(data, values, op, name)         # raises
    if (weight is None) != (bias is None):
        raise ValueError(f"{op}: give both weight and bias, or neither")
    if momentum is None and num_batches_tracked is None and training and \
            running_mean is not None:
        raise ValueError(f"{op}: momentum=None (a cumulative average) needs a batch counter; "
                         "use nn.BatchNorm1d/2d, or give a momentum")
    return eps, momentum


def _mean(a: np.ndarray, axes: tuple, m: int) -> np.ndarray:
    """``a.mean(axis=axes)`` (m values each) without ndarray.mean's Python layer: Σ / m, the
    same bits for float32 and wider (float16 keeps NumPy's float32 accumulation)."""
    if a.dtype.char == "e":
        return a.mean(axis=axes)
    return np.add.reduce(a, axis=axes) / m


def _update_running(running_mean: np.ndarray, running_var: np.ndarray, mean: np.ndarray,
                    var: np.ndarray, m: int, momentum: Optional[float],
                    num_batches_tracked: Optional[np.ndarray], op: str) -> None:
    """running = (1 − momentum)·running + momentum·batch, in place (unbiased variance)."""
    if num_batches_tracked is not None:
        if num_batches_tracked.dtype.kind not in "iu":   # a bool would stop counting at 1
            raise TypeError(f"{op}: num_batches_tracked must be an integer array, got dtype "
                            f"{num_batches_tracked.dtype}")
        num_batches_tracked[()] += 1     # as a scalar: 10x faster than a ufunc on a 0-d array
    if momentum is None:                                     # cumulative moving average
        momentum = 1.0 / float(num_batches_tracked)
    running_mean *= 1 - momentum
    running_mean += momentum * mean
    running_var *= 1 - momentum
    running_var += (momentum * m / (m - 1)) * var


# -- dropout ---------------------------------------------------------------------------------
class Dropout(Function):
    """y = x ⊙ mask, where mask holds 0 for dropped units and 1/(1 − p) for kept ones."""

    def forward(self, x: np.ndarray, mask: Any = None) -> np.ndarray:
        self.mask = mask
        return x * mask

    def backward(self, gy: Tensor) -> Tensor:
        return times_constant(gy, self.mask)                 # dx = dy ⊙ mask


def dropout(x: Any, p: float = 0.5, training: bool = True,
            rng: Optional[np.random.Generator] = None, mask: Any = None) -> Tensor:
    """Inverted dropout: zero each unit with probability p, scale the rest by 1/(1 − p).

    ``E[y] = x``, so evaluation (``training=False``) is the identity. The mask is drawn from
    ``rng`` or, if None, from minigrad's default generator at call time (``mg.manual_seed``
    makes it repeat); or pass ``mask``, a boolean array of x's shape (True = kept), to hold it
    fixed. Backward: ``dx = dy ⊙ mask / (1 − p)``.

    Parameters
    ----------
    x : Tensor
        Floating input.
    p : float
        Drop probability in [0, 1).
    training : bool
        False: return x unchanged.
    rng : numpy.random.Generator, optional
        Source of the mask.
    mask : boolean array, optional
        The units kept; overrides ``rng``.
    """
    data = x.data if isinstance(x, Tensor) else x           # no property calls on the hot path
    if type(data) is not np.ndarray or data.dtype.kind != "f" or type(p) is not float or \
            not 0 <= p < 1:
        _check_dropout(x, p)                    # raises, or an unusual but valid x or p
    if not training or (p == 0 and mask is None):
        return x if isinstance(x, Tensor) else Tensor(x)
    if mask is None:
        draw_dtype = data.dtype if data.dtype.char in "fd" else np.float64  # float32/64 only
        keep = (rng or default_rng()).random(data.shape, dtype=draw_dtype) >= p
    else:
        keep = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
        if keep.shape != data.shape or keep.dtype != bool:
            raise ValueError(f"dropout: mask must be a boolean array of the input's shape "
                             f"{data.shape}, got {keep.dtype} of shape {keep.shape}")
    return Dropout.apply(x, mask=keep * data.dtype.type(1 / (1 - p)))   # 0 or 1/(1 − p)


def _check_dropout(x: Any, p: Any) -> None:
    """The checks of ``dropout``'s input and p, one by one with their own messages."""
    check_floating(x, "dropout")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or \
            not 0 <= p < 1:
        raise ValueError(f"dropout: p must be a probability in [0, 1), got {p!r}")


# -- leaky ReLU ------------------------------------------------------------------------------
class LeakyReLU(Function):
    """y = x for x > 0, slope·x otherwise."""

    def forward(self, x: np.ndarray, slope: float = 0.01) -> np.ndarray:
        self.slope = slope                                   # (for export)
        self.factor = np.where(x > 0, np.ones((), x.dtype), np.asarray(slope, dtype=x.dtype))
        return x * self.factor

    def backward(self, gy: Tensor) -> Tensor:
        return times_constant(gy, self.factor)               # dy/dx = 1 or slope


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    """max(x, 0) + negative_slope · min(x, 0) elementwise; dx = dy · (1 or negative_slope)."""
    data = x.data if isinstance(x, Tensor) else x           # no property calls on the hot path
    if type(data) is not np.ndarray or data.dtype.kind != "f" or \
            type(negative_slope) is not float or not math.isfinite(negative_slope):
        _check_leaky_relu(x, negative_slope)    # raises, or an unusual but valid input
    return LeakyReLU.apply(x, slope=float(negative_slope))


def _check_leaky_relu(x: Any, negative_slope: Any) -> None:
    """The checks of ``leaky_relu``'s input and slope, one by one with their own messages."""
    check_floating(x, "leaky_relu")
    if isinstance(negative_slope, bool) or \
            not isinstance(negative_slope, (int, float, np.floating, np.integer)):
        raise TypeError(f"leaky_relu: negative_slope must be a number, got {negative_slope!r}")
    if not np.isfinite(negative_slope):
        raise ValueError(f"leaky_relu: negative_slope must be finite, got {negative_slope}")


__all__ = ["affine", "softmax_cross_entropy", "batch_norm", "dropout", "leaky_relu"]
