"""Digits end to end: a 64-100-10 MLP trained with Adam (lr 1e-3, batch 32) for 30 epochs.

minigrad and the NumPy floor run the same loop (a fresh shuffle each epoch, the last partial
batch kept); scikit-learn's ``MLPClassifier(hidden_layer_sizes=(100,), batch_size=32,
max_iter=30)`` does the same with its own loop (it also adds an L2 penalty ``alpha=1e-4`` and may
stop early; its iteration count is reported). Measured: fit time and test accuracy.
"""
from __future__ import annotations

import time
import warnings
from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from . import reference
from .harness import optional_import

Data = Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]
HIDDEN = 100
BATCH = 32
LR = 1e-3


def load_data() -> Optional[Data]:
    """The bundled digits (``minigrad.data.load_digits``), else scikit-learn's copy with a seeded
    80/20 split, else None."""
    try:
        from minigrad.data import load_digits
        return load_digits()
    except ImportError:
        pass
    datasets = optional_import("sklearn.datasets")
    if datasets is None:
        return None
    x, y = datasets.load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    cut = int(0.8 * len(y))
    x = x.astype(np.float32) / np.float32(16)
    return (x[order[:cut]], y[order[:cut]]), (x[order[cut:]], y[order[cut:]])


def _batches(n: int, rng: np.random.Generator):
    """Index arrays of one shuffled epoch in batches of ``BATCH``."""
    order = rng.permutation(n)
    return [order[i:i + BATCH] for i in range(0, n, BATCH)]


def fit_minigrad(data: Data, dtype: Any, epochs: int, seed: int = 0) -> Dict[str, Any]:
    """Train minigrad's ``nn.MLP(64, [100], 10)`` with ``optim.Adam``; time and accuracy."""
    import minigrad as mg
    from minigrad import nn, optim
    (x_train, y_train), (x_test, y_test) = data
    x_train, x_test = x_train.astype(dtype), x_test.astype(dtype)
    start = time.perf_counter()
    mg.manual_seed(seed)
    model = nn.MLP(x_train.shape[1], [HIDDEN], 10).to(dtype)
    criterion = nn.SoftmaxCrossEntropy()
    optimizer = optim.Adam(model.parameters(), lr=LR)
    rng = np.random.default_rng(seed)
    model.train()
    for _ in range(epochs):
        for index in _batches(len(y_train), rng):
            optimizer.zero_grad()
            loss = criterion(model(mg.tensor(x_train[index])), y_train[index])
            loss.backward()
            optimizer.step()
    seconds = time.perf_counter() - start
    model.eval()
    with mg.no_grad():
        predicted = model(mg.tensor(x_test)).data.argmax(axis=1)
    return {"fit_s": seconds, "accuracy": float((predicted == y_test).mean()), "epochs": epochs}


def fit_numpy(data: Data, dtype: Any, epochs: int, seed: int = 0) -> Dict[str, Any]:
    """The same loop with the hand-written NumPy network and Adam."""
    (x_train, y_train), (x_test, y_test) = data
    x_train, x_test = x_train.astype(dtype), x_test.astype(dtype)
    start = time.perf_counter()
    model = reference.ReferenceMLP(x_train.shape[1], [HIDDEN], 10, dtype=dtype, seed=seed)
    optimizer = reference.ReferenceAdam(model.params(), lr=LR)
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        for index in _batches(len(y_train), rng):
            reference.train_step(model, optimizer, x_train[index], y_train[index])
    seconds = time.perf_counter() - start
    predicted = model.predict(x_test).argmax(axis=1)
    return {"fit_s": seconds, "accuracy": float((predicted == y_test).mean()), "epochs": epochs}


def fit_sklearn(data: Data, dtype: Any, epochs: int, seed: int = 0) -> Dict[str, Any]:
    """``MLPClassifier(hidden_layer_sizes=(100,), batch_size=32, max_iter=epochs)``."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier
    (x_train, y_train), (x_test, y_test) = data
    x_train, x_test = x_train.astype(dtype), x_test.astype(dtype)
    classifier = MLPClassifier(hidden_layer_sizes=(HIDDEN,), batch_size=BATCH, max_iter=epochs,
                               learning_rate_init=LR, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        classifier.fit(x_train, y_train)
    seconds = time.perf_counter() - start
    accuracy = float((classifier.predict(x_test) == y_test).mean())
    return {"fit_s": seconds, "accuracy": accuracy, "epochs": int(classifier.n_iter_)}


def fitters_for(competitors: Tuple[str, ...]) -> Dict[str, Callable[..., Dict[str, Any]]]:
    """The end-to-end fit of each competitor that applies (scikit-learn when installed)."""
    fitters: Dict[str, Callable[..., Dict[str, Any]]] = {"numpy": fit_numpy}
    if "minigrad" in competitors:
        fitters["minigrad"] = fit_minigrad
    if "sklearn" in competitors:
        fitters["sklearn"] = fit_sklearn
    return fitters
