"""``Linear`` (the book's Affine layer): y = x W + b."""
from __future__ import annotations

import math
from typing import Any, Optional, Union

import numpy as np

from ..functional.linear import checked_affine
from ..tensor import Tensor
from . import init as nn_init
from .module import Module, floating_dtype, positive_int
from .parameter import Parameter


class Linear(Module):
    """The affine map ``y = x W + b`` (also exported as ``nn.Affine``).

    Forward ``y = x W + b``; backward ``dx = dy Wᵀ``, ``dW = xᵀ dy``, ``db = Σₙ dy``.

    Parameters
    ----------
    in_features, out_features : int
        Sizes of each input and output sample. Inputs of more than two dimensions are
        flattened to (N, -1) first, as the book's Affine does; a 1-D input is one sample.
    bias : bool
        Whether to add the learnable bias ``b`` (initialised to zero).
    dtype : numpy dtype
        Floating dtype of the parameters (float32 by default); inputs must have the same.
    init : {'he', 'xavier'} or float
        ``W ~ N(0, 2/in_features)`` (He), ``N(0, 1/in_features)`` (the book's Xavier) or
        ``N(0, init²)``, drawn from the generator ``mg.manual_seed`` resets.

    Attributes
    ----------
    weight : Parameter
        Shape (in_features, out_features), as in the book (PyTorch stores its transpose).
    bias : Parameter or None
        Shape (out_features,).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 dtype: Any = np.float32, init: Union[str, float] = "he") -> None:
        super().__init__()
        self.in_features = positive_int(in_features, "in_features", "Linear")
        self.out_features = positive_int(out_features, "out_features", "Linear")
        dtype = floating_dtype(dtype, "Linear")
        self.init = init
        self.weight = Parameter(np.empty((self.in_features, self.out_features), dtype=dtype))
        init_weight(self.weight, init, "Linear")
        if bias:
            self.bias = Parameter(np.zeros(self.out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x: Tensor) -> Tensor:
        return checked_affine(x, self.weight, self.bias, "Linear")

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


def init_weight(weight: Tensor, init: Union[str, float], layer: str,
                fan_in: Optional[int] = None) -> None:
    """Initialise ``weight`` by name ('he', 'xavier') or with a float standard deviation;
    ``fan_in`` (inputs per output unit) defaults to ``nn.init.fan_in(weight)``, i.e. rows of an
    (in, out) weight, and a convolution gives C·kH·kW."""
    if isinstance(init, str):
        name = init.lower()
        if name in ("he", "relu", "xavier", "sigmoid"):
            gain = 2.0 if name in ("he", "relu") else 1.0       # N(0, 2/n) or N(0, 1/n)
            if fan_in is None:
                (nn_init.he_normal_ if gain == 2.0 else nn_init.lecun_normal_)(weight)
            else:
                nn_init.normal_(weight, std=math.sqrt(gain / fan_in))
        else:
            raise ValueError(f"{layer}: init must be 'he', 'xavier' or a float std, got {init!r}")
    elif isinstance(init, (int, float, np.floating, np.integer)) and \
            not isinstance(init, bool) and 0 <= init < math.inf:
        try:
            nn_init.normal_(weight, std=float(init))
        except ValueError as error:          # a std whose samples overflow the dtype
            raise ValueError(f"{layer}: init={init!r}: {error}") from None
    else:
        raise ValueError(f"{layer}: init must be 'he', 'xavier' or a finite non-negative float "
                         f"std, got {init!r}")


Affine = Linear
