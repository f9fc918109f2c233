"""The training-step workloads and one builder per competitor.

Every builder returns a ``step()`` that performs one full training step (forward, loss,
backward, optimizer update) on a fixed batch; the competitors start from their own seeded
initialisation, since only the time per step is compared here (``tests/benchmarks`` checks that
minigrad and the NumPy floor compute the same gradients).
"""
from __future__ import annotations

import dataclasses
import warnings
from typing import Any, Callable, Dict, Tuple

import numpy as np

from . import convnet, jax_step, reference

Step = Callable[[], Any]


@dataclasses.dataclass(frozen=True)
class Workload:
    """An MLP training step: sizes, batch and the book's optional layers."""

    name: str
    title: str
    input_size: int
    hidden_sizes: Tuple[int, ...]
    output_size: int
    batch_size: int
    batchnorm: bool = False
    dropout: float = 0.0

    def describe(self) -> str:
        """E.g. ``784-[100]x5-10, BN, dropout 0.2, batch 100``."""
        hidden = self.hidden_sizes
        if len(set(hidden)) == 1 and len(hidden) > 2:
            middle = f"[{hidden[0]}]x{len(hidden)}"
        else:
            middle = "-".join(str(h) for h in hidden)
        extras = (", BN" if self.batchnorm else "") + \
                 (f", dropout {self.dropout:g}" if self.dropout else "")
        return f"{self.input_size}-{middle}-{self.output_size}{extras}, batch {self.batch_size}"

    def smoke(self) -> "Workload":
        """The same architecture at tiny sizes, for the test suite."""
        return dataclasses.replace(self, input_size=12, output_size=4, batch_size=6,
                                   hidden_sizes=tuple(min(h, 8) for h in self.hidden_sizes))


WORKLOADS: Dict[str, Workload] = {
    "W1": Workload("W1", "book", 784, (100,) * 5, 10, 100, batchnorm=True, dropout=0.2),
    "W2": Workload("W2", "tiny", 64, (64, 64), 10, 32),
    "W3": Workload("W3", "wide", 784, (1024, 1024), 10, 512),
}
#: The MLP workloads and the convolution one (``benchmarks.convnet``), by name.
ALL_WORKLOADS: Dict[str, Any] = {**WORKLOADS, **convnet.CONV_WORKLOADS}


def make_batch(workload: Workload, dtype: Any, seed: int = 0) -> Tuple[np.ndarray, np.ndarray]:
    """A fixed batch of standard-normal inputs and uniformly drawn integer labels."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((workload.batch_size, workload.input_size)).astype(dtype)
    t = rng.integers(0, workload.output_size, workload.batch_size)
    return x, t


def numpy_step(workload: Workload, dtype: Any, seed: int = 0) -> Step:
    """The floor: the book's layers by hand (``benchmarks.reference``) with in-place Adam."""
    model = reference.ReferenceMLP(workload.input_size, workload.hidden_sizes,
                                   workload.output_size, use_batchnorm=workload.batchnorm,
                                   dropout=workload.dropout, dtype=dtype, seed=seed)
    optimizer = reference.ReferenceAdam(model.params(), lr=1e-3)
    x, t = make_batch(workload, dtype, seed)

    def step() -> float:
        return reference.train_step(model, optimizer, x, t)
    return step


def build_minigrad(workload: Workload, dtype: Any, seed: int = 0) -> Tuple[Any, Any, Any]:
    """minigrad's ``nn.MLP``, its loss and ``optim.Adam`` for ``workload`` in ``dtype``."""
    import minigrad as mg
    from minigrad import nn, optim
    mg.manual_seed(seed)
    model = nn.MLP(workload.input_size, list(workload.hidden_sizes), workload.output_size,
                   use_batchnorm=workload.batchnorm, dropout=workload.dropout).to(dtype)
    model.train()
    return model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=1e-3)


def minigrad_step(workload: Workload, dtype: Any, seed: int = 0) -> Step:
    """minigrad, written as its README shows a training step."""
    import minigrad as mg
    model, criterion, optimizer = build_minigrad(workload, dtype, seed)
    x, t = make_batch(workload, dtype, seed)
    return _training_step(model, criterion, optimizer, mg.tensor(x), t)


def _training_step(model: Any, criterion: Any, optimizer: Any, x: Any, t: Any) -> Step:
    """One training step as both minigrad's README and PyTorch write it (the same API)."""
    def step() -> Any:
        optimizer.zero_grad()
        loss = criterion(model(x), t)
        loss.backward()
        optimizer.step()
        return loss
    return step


def torch_step(workload: Workload, dtype: Any, seed: int = 0) -> Step:
    """PyTorch CPU eager mode, the same network with ``torch.nn`` and ``torch.optim.Adam``."""
    import torch
    torch.manual_seed(seed)
    torch_dtype = torch.float32 if np.dtype(dtype) == np.float32 else torch.float64
    layers = []
    sizes = [workload.input_size, *workload.hidden_sizes]
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        layers.append(torch.nn.Linear(fan_in, fan_out))
        if workload.batchnorm:
            layers.append(torch.nn.BatchNorm1d(fan_out))
        layers.append(torch.nn.ReLU())
        if workload.dropout:
            layers.append(torch.nn.Dropout(workload.dropout))
    layers.append(torch.nn.Linear(sizes[-1], workload.output_size))
    model = torch.nn.Sequential(*layers).to(torch_dtype)
    model.train()
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, t = make_batch(workload, dtype, seed)
    return _training_step(model, criterion, optimizer, torch.from_numpy(x), torch.from_numpy(t))


def fits_sklearn(workload: Workload) -> bool:
    """Whether ``MLPClassifier`` can train this network (it has no BatchNorm and no Dropout)."""
    return not workload.batchnorm and not workload.dropout


def sklearn_step(workload: Workload, dtype: Any, seed: int = 0, batches: int = 20) -> Step:
    """scikit-learn's ``MLPClassifier`` (ReLU, Adam, no L2 penalty) on the same sizes.

    Its training loop lives inside ``fit``, so one call is one epoch of ``batches`` batches
    (``warm_start`` keeps the weights between calls, shuffling is off) and the harness divides
    by ``step.steps_per_call``; the per-call input checks are spread over those steps.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    rng = np.random.default_rng(seed)
    n = batches * workload.batch_size
    x = rng.standard_normal((n, workload.input_size)).astype(dtype)
    t = rng.permutation(np.arange(n) % workload.output_size)    # every class present
    classifier = MLPClassifier(hidden_layer_sizes=workload.hidden_sizes, alpha=0.0,
                               batch_size=workload.batch_size, learning_rate_init=1e-3,
                               max_iter=1, shuffle=False, warm_start=True, random_state=seed)

    def step() -> Any:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return classifier.fit(x, t)
    step.steps_per_call = batches   # type: ignore[attr-defined]
    return step


def steps_for(workload: Workload, dtype: Any, competitors: Tuple[str, ...],
              seed: int = 0, smoke: bool = False) -> Dict[str, Step]:
    """A ``step`` per available competitor that can train ``workload``, the NumPy floor first."""
    if isinstance(workload, convnet.ConvWorkload):
        return convnet.steps_for(workload, dtype, competitors, seed)
    builders = {"numpy": numpy_step, "minigrad": minigrad_step, "torch": torch_step}
    steps = {name: builders[name](workload, dtype, seed)
             for name in competitors if name in builders}
    if "jax" in competitors and jax_step.runs(dtype):                  # float32 only
        steps["jax"] = jax_step.jax_step(workload, dtype, seed)
    if "sklearn" in competitors and fits_sklearn(workload):
        steps["sklearn"] = sklearn_step(workload, dtype, seed, batches=2 if smoke else 20)
    return steps
