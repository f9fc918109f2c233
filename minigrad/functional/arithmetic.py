"""Arithmetic: + - * / ** @, negation and dtype casts.

Binary ops broadcast as NumPy does. Their backward returns the gradient at the *output's*
shape; the engine sums it back to each input's shape (``sum_to``), in one place.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from ..tensor import Tensor


class Add(Function):
    """y = a + b."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a + b

    def backward(self, gy: Tensor) -> tuple:
        return gy, gy                                   # dy/da = dy/db = 1


class Sub(Function):
    """y = a - b."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a - b

    def backward(self, gy: Tensor) -> tuple:
        return gy, -gy                                  # dy/da = 1, dy/db = -1


class Mul(Function):
    """y = a * b."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a * b

    def backward(self, gy: Tensor) -> tuple:
        return self._grads(gy, *self.inputs)

    def backward_arrays(self, gy: np.ndarray) -> tuple:
        return self._grads(gy, self.inputs[0].data, self.inputs[1].data)   # on ndarrays

    def _grads(self, gy: Any, a: Any, b: Any) -> tuple:
        """The rule, for Tensors or ndarrays alike."""
        ga = gy * b if self.needs_input_grad[0] else None    # dy/da = b
        gb = gy * a if self.needs_input_grad[1] else None    # dy/db = a
        return ga, gb


class Div(Function):
    """y = a / b."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a / b

    def backward(self, gy: Tensor) -> tuple:
        return self._grads(gy, *self.inputs)

    def backward_arrays(self, gy: np.ndarray) -> tuple:
        return self._grads(gy, self.inputs[0].data, self.inputs[1].data)   # on ndarrays

    def _grads(self, gy: Any, a: Any, b: Any) -> tuple:
        """The rule, for Tensors or ndarrays alike."""
        ga = gy / b                                          # dy/da = 1/b
        gb = -gy * a / (b * b) if self.needs_input_grad[1] else None   # dy/db = -a/b²
        return ga, gb


class Neg(Function):
    """y = -x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        return -x

    def backward(self, gy: Tensor) -> Tensor:
        return -gy


class Pow(Function):
    """y = a ** b (b a tensor or a number)."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return a ** b

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        ga = gb = None
        if self.needs_input_grad[0]:                     # dy/da = b a^(b-1)
            both_zero = (a.data == 0) & (b.data == 0)    # 0 · 0^(-1): take 0, as PyTorch
            base = where(both_zero, 1.0, a) if both_zero.any() else a
            ga = gy * b * base ** (b - 1)
        if self.needs_input_grad[1]:                     # dy/db = a^b ln a, 0 where a = 0
            zero_a = a.data == 0
            gb = gy * self.output * log(where(zero_a, 1.0, a) if zero_a.any() else a)
        return ga, gb


class MatMul(Function):
    """y = a @ b for 1-D, 2-D and batched (broadcast) operands, as ``np.matmul``."""

    def forward(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"MatMul: both operands need at least one dimension, got shapes "
                             f"{a.shape} and {b.shape}")
        inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
        if a.shape[-1] != inner_b:
            raise ValueError(f"MatMul: shapes {a.shape} and {b.shape} are not aligned: "
                             f"{a.shape[-1]} (last dim of the left) != {inner_b} "
                             f"({'first' if b.ndim == 1 else 'second-to-last'} dim of the right)")
        return a @ b

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        if a.ndim == 1 and b.ndim == 1:                      # inner product: y = Σ a_i b_i
            return gy * b, gy * a
        # Promote vectors to matrices so that ga = gy bᵀ and gb = aᵀ gy hold in every case.
        a2 = a.unsqueeze(0) if a.ndim == 1 else a
        b2 = b.unsqueeze(-1) if b.ndim == 1 else b
        gy2 = gy.unsqueeze(-2) if a.ndim == 1 else gy
        gy2 = gy2.unsqueeze(-1) if b.ndim == 1 else gy2
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = gy2 @ b2.mT                                # dL/da = dL/dy bᵀ
            ga = ga.squeeze(-2) if a.ndim == 1 else ga
        if self.needs_input_grad[1]:
            gb = a2.mT @ gy2                                # dL/db = aᵀ dL/dy
            gb = gb.squeeze(-1) if b.ndim == 1 else gb
        return ga, gb


class Cast(Function):
    """y = x converted to another dtype; the gradient is converted back."""

    def forward(self, x: np.ndarray, dtype: Any = None) -> np.ndarray:
        return x.astype(dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return cast(gy, self.inputs[0].dtype)


def add(a: Any, b: Any) -> Tensor:
    """a + b, broadcasting."""
    return Add.apply(a, b)


def sub(a: Any, b: Any) -> Tensor:
    """a - b, broadcasting."""
    return Sub.apply(a, b)


def mul(a: Any, b: Any) -> Tensor:
    """a * b, broadcasting."""
    return Mul.apply(a, b)


def div(a: Any, b: Any) -> Tensor:
    """a / b, broadcasting."""
    return Div.apply(a, b)


def neg(x: Any) -> Tensor:
    """-x."""
    return Neg.apply(x)


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001  (the operator's name, as in torch.pow)
    """a ** b, broadcasting; b may be a Tensor or a number."""
    return Pow.apply(a, b)


def matmul(a: Any, b: Any) -> Tensor:
    """a @ b, as ``np.matmul`` (1-D, 2-D and batched)."""
    return MatMul.apply(a, b)


def cast(x: Any, dtype: Any) -> Tensor:
    """x converted to ``dtype`` (the gradient flows back in x's dtype)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError as error:
        raise TypeError(f"cast: {error}") from None
    if dtype.kind not in "fiub":
        raise TypeError(f"cast: unsupported dtype {dtype}; minigrad tensors hold floating, "
                        "integer or boolean numbers")
    if isinstance(x, Tensor) and x.dtype == dtype:
        return x
    return Cast.apply(x, dtype=dtype)


from .elementwise import log, where  # noqa: E402  (used by Pow's backward; avoids a cycle)
