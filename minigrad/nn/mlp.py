"""``MLP``: the book's MultiLayerNetExtend as a Sequential builder."""
from __future__ import annotations

from collections.abc import Iterable as IterableABC
from collections.abc import Sequence as SequenceABC
from typing import Any, List, Sequence, Union

import numpy as np

from .activation import Identity, LeakyReLU, ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm1d
from .container import Sequential
from .dropout import Dropout
from .linear import Linear
from .module import positive_int, real_number

_ACTIVATIONS = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh, "leaky_relu": LeakyReLU,
                "identity": Identity}


class MLP(Sequential):
    """A fully connected network: per hidden layer Linear → [BatchNorm1d] → activation →
    [Dropout], then a final Linear to ``output_size`` (logits; the loss applies softmax).

    Parameters
    ----------
    input_size, output_size : int
        Features in and logits out.
    hidden_sizes : sequence of int
        Width of each hidden layer (empty: a single Linear).
    activation : {'relu', 'sigmoid', 'tanh', 'leaky_relu', 'identity'}
        Nonlinearity after each hidden layer.
    weight_init : {'he', 'xavier'} or float
        For every Linear: std √(2/n), √(1/n) (n = fan-in) or the given std; biases start at 0.
    use_batchnorm : bool
        Put a BatchNorm1d after each hidden Linear.
    dropout : float
        Drop probability of a Dropout after each activation (0: no Dropout layers).
    dtype : numpy dtype
        Floating dtype of every parameter (float32 by default).
    """

    def __init__(self, input_size: int, hidden_sizes: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init: Union[str, float] = "he",
                 use_batchnorm: bool = False, dropout: float = 0.0,
                 dtype: Any = np.float32) -> None:
        if not isinstance(activation, str) or activation not in _ACTIVATIONS:
            raise ValueError(f"MLP: activation must be one of {sorted(_ACTIVATIONS)}, got "
                             f"{activation!r}")
        if not 0 <= real_number(dropout, "dropout", "MLP") < 1:
            raise ValueError(f"MLP: dropout must be a probability in [0, 1), got {dropout!r}")
        sizes = [positive_int(input_size, "input_size", "MLP"), *_hidden_sizes(hidden_sizes)]
        output_size = positive_int(output_size, "output_size", "MLP")
        layers: list = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            layers.append(Linear(fan_in, fan_out, dtype=dtype, init=weight_init))
            if use_batchnorm:
                layers.append(BatchNorm1d(fan_out, dtype=dtype))
            layers.append(_ACTIVATIONS[activation]())
            if dropout > 0:
                layers.append(Dropout(dropout))
        layers.append(Linear(sizes[-1], output_size, dtype=dtype, init=weight_init))
        super().__init__(*layers)

    @property
    def linears(self) -> list:
        """The Linear layers, in order (their weights are the ones weight decay applies to)."""
        return [m for m in self if isinstance(m, Linear)]


def _hidden_sizes(hidden_sizes: Any) -> List[int]:
    """``hidden_sizes`` as a list of ints, or an error naming MLP: positive integers in a list,
    tuple, 1-d array or any other iterable (a generator too), not one number or a string."""
    if isinstance(hidden_sizes, np.ndarray) and hidden_sizes.ndim == 1:
        hidden_sizes = hidden_sizes.tolist()
    elif isinstance(hidden_sizes, IterableABC) and not isinstance(hidden_sizes, (str, bytes)):
        hidden_sizes = list(hidden_sizes)
    if isinstance(hidden_sizes, (str, bytes)) or not isinstance(hidden_sizes, SequenceABC):
        raise TypeError(f"MLP: hidden_sizes must be a sequence of positive integers (e.g. "
                        f"[100, 50], or [] for none), got {hidden_sizes!r}")
    return [positive_int(n, f"hidden_sizes[{i}]", "MLP") for i, n in enumerate(hidden_sizes)]
