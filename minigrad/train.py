"""The training loop: ``fit`` (epochs of mini-batch steps), ``evaluate`` (accuracy), ``History``.

One step is the textbook one: forward, loss, ``optimizer.zero_grad()``, ``loss.backward()``,
``optimizer.step()``. Nothing is copied per batch (``DataLoader`` permutes once per epoch) and
evaluation runs under ``no_grad`` in eval mode.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from .autograd import no_grad
from .data.loader import DataLoader
from .tensor import Tensor

Callback = Callable[[int, "History"], Optional[bool]]


@dataclass
class History:
    """Per-epoch records of a training run (one entry per epoch in each list).

    ``train_loss`` is the mean of the batch losses over the epoch (weighted by batch size);
    ``train_acc`` and ``val_acc`` are accuracies measured after the epoch with ``evaluate``
    (``val_acc`` stays empty without validation data); ``epoch_time`` is in seconds.
    """

    train_loss: List[float] = field(default_factory=list)
    train_acc: List[float] = field(default_factory=list)
    val_acc: List[float] = field(default_factory=list)
    epoch_time: List[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.train_loss)

    def as_dict(self) -> Dict[str, List[float]]:
        """The records as plain lists (what ``history.json`` holds)."""
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, records: Dict[str, Sequence[float]]) -> "History":
        """The inverse of ``as_dict``; unknown or missing keys raise ValueError."""
        names = {f.name for f in fields(cls)}
        if not isinstance(records, dict) or set(records) != names:
            got = sorted(records) if isinstance(records, dict) else type(records).__name__
            raise ValueError(f"History.from_dict: expected the keys {sorted(names)}, got {got}")
        return cls(**{name: [float(v) for v in records[name]] for name in names})


def evaluate(model: Any, X: Any, y: Any, batch_size: int = 4096) -> float:
    """The fraction of rows of ``X`` whose highest logit is the label.

    ``accuracy = mean(argmax_c model(X)_nc == y_n)``, computed in eval mode (BatchNorm uses its
    running statistics, Dropout is the identity) under ``no_grad``, ``batch_size`` rows at a
    time. Every sub-module's previous mode is restored afterwards. ``y`` holds integer labels
    (N,) or one-hot / probability rows (N, C), whose argmax is the label.
    """
    X = _numeric(X, "X")
    labels = _numeric(y, "y")
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    if not hasattr(model, "modules"):
        raise TypeError(f"evaluate: model must be an nn.Module, got {type(model).__name__}")
    if X.ndim == 0 or labels.ndim != 1 or len(labels) != len(X) or len(X) == 0:
        raise ValueError(f"evaluate: X and y need the same number (>= 1) of rows, got shapes "
                         f"{X.shape} and {np.shape(y)}")
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        with no_grad():
            correct = 0
            for start in range(0, len(X), batch_size):
                logits = model(Tensor(X[start:start + batch_size])).data
                correct += int(np.count_nonzero(logits.argmax(axis=1)
                                                == labels[start:start + batch_size]))
    finally:
        for module, mode in modes:
            module.training = mode
    return correct / len(X)


def _numeric(data: Any, name: str) -> np.ndarray:
    """``data`` (array-like or Tensor) as a numeric ndarray, or a TypeError naming ``name``."""
    array = data.data if isinstance(data, Tensor) else np.asarray(data)
    if array.dtype.kind not in "fiub":
        raise TypeError(f"evaluate: {name} must hold numbers, got dtype {array.dtype}")
    return array


def fit(model: Any, loss_fn: Callable[[Tensor, Tensor], Tensor], optimizer: Any,
        train_data: Union[DataLoader, Tuple[Any, Any]], epochs: int, batch_size: int,
        val_data: Optional[Tuple[Any, Any]] = None, progress: bool = True,
        callbacks: Iterable[Callback] = (), *, history: Optional[History] = None) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_data``; return the ``History``.

    Each step: ``loss = loss_fn(model(xb), yb)``, ``optimizer.zero_grad()``,
    ``loss.backward()``, ``optimizer.step()``. After each epoch the training accuracy (and the
    validation accuracy, given ``val_data``) is measured with ``evaluate``, and then every
    callback is called as ``callback(epoch, history)`` (``epoch`` counts from 1 across a
    continued history); a callback that returns True stops training after that epoch.

    Parameters
    ----------
    model : nn.Module
    loss_fn : callable
        ``loss_fn(logits, labels)`` returning a scalar Tensor, e.g. ``nn.SoftmaxCrossEntropy()``.
    optimizer : optim.Optimizer
    train_data : (X, y) or DataLoader
        Arrays (or Tensors) are batched by a shuffling ``DataLoader(X, y, batch_size)`` that
        draws from minigrad's generator (``mg.manual_seed``); a DataLoader is used as it is.
    epochs : int
        Number of passes in this call (>= 0).
    batch_size : int
        Rows per step when ``train_data`` is (X, y).
    val_data : (X, y), optional
    progress : bool
        Show progress: a tqdm bar with the running loss when tqdm is installed and stderr is a
        terminal, otherwise one line per epoch on stdout.
    callbacks : iterable of callables
    history : History, optional
        Records to continue (for a resumed run); new epochs are appended to it.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable, got {type(loss_fn).__name__}")
    if not (hasattr(optimizer, "step") and hasattr(optimizer, "zero_grad")):
        raise TypeError(f"fit: optimizer must have step() and zero_grad(), got "
                        f"{type(optimizer).__name__}")
    if not (hasattr(model, "train") and hasattr(model, "modules")):
        raise TypeError(f"fit: model must be an nn.Module, got {type(model).__name__}")
    if isinstance(train_data, DataLoader):
        loader = train_data
    elif isinstance(train_data, (tuple, list)) and len(train_data) == 2:
        loader = DataLoader(train_data[0], train_data[1], batch_size, shuffle=True)
    else:
        raise TypeError(f"fit: train_data must be (X, y) or a DataLoader, got "
                        f"{type(train_data).__name__}")
    if val_data is not None and not (isinstance(val_data, (tuple, list)) and len(val_data) == 2):
        raise TypeError(f"fit: val_data must be (X, y) or None, got {type(val_data).__name__}")
    callbacks = list(callbacks)
    history = History() if history is None else history
    bar_factory = _progress_bar() if progress else None
    first = len(history) + 1
    last = first + epochs - 1
    for epoch in range(first, last + 1):
        start = time.perf_counter()
        model.train()
        bar = bar_factory(total=len(loader), desc=f"epoch {epoch}/{last}") if bar_factory \
            else None
        total, seen = 0.0, 0
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n = len(xb.data)
            total += float(loss.data) * n
            seen += n
            if bar is not None:
                bar.set_postfix_str(f"loss {total / seen:.4f}", refresh=False)
                bar.update(1)
        history.train_loss.append(total / seen if seen else float("nan"))
        history.train_acc.append(evaluate(model, loader.X, loader.y))
        if val_data is not None:
            history.val_acc.append(evaluate(model, *val_data))
        history.epoch_time.append(time.perf_counter() - start)
        if bar is not None:
            bar.set_postfix_str(_summary(history), refresh=True)
            bar.close()
        elif progress:
            print(f"epoch {epoch:>{len(str(last))}}/{last}  "
                  f"{_summary(history)}  ({history.epoch_time[-1]:.2f} s)", flush=True)
        if any([callback(epoch, history) is True for callback in callbacks]):
            break
    return history


def _summary(history: History) -> str:
    """The last epoch's numbers on one line."""
    text = f"loss {history.train_loss[-1]:.4f}  train acc {history.train_acc[-1]:.4f}"
    if len(history.val_acc) == len(history):
        text += f"  val acc {history.val_acc[-1]:.4f}"
    return text


def _progress_bar() -> Optional[Callable[..., Any]]:
    """tqdm's bar when it is installed and stderr is a terminal, else None (plain lines)."""
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return lambda **kwargs: tqdm(leave=True, dynamic_ncols=True, **kwargs)


# -- checkpoints -----------------------------------------------------------------------------
CHECKPOINT_FILES = ("model.npz", "optimizer.npz", "optimizer.json", "rng.json", "history.json",
                    "config.json")


def save_checkpoint(folder: str, model: Any, optimizer: Any, history: History,
                    config: Optional[Dict[str, Any]] = None,
                    rng: Optional[np.random.Generator] = None) -> None:
    """Write everything a run needs to continue bit-identically into ``folder``.

    ``model.npz`` (``mg.save(model.state_dict())``), ``optimizer.npz`` (its state arrays, keyed
    ``"<param id>.<name>"``) with ``optimizer.json`` (its param_groups and scalar state such as
    Adam's ``step``), ``rng.json`` (``rng.bit_generator.state``, default minigrad's generator),
    ``history.json`` and ``config.json`` (``config``, e.g. the command-line options). Each file
    is written atomically; ``checkpoint.json``, written last, records the epoch and a SHA-256 of
    every file, so ``load_checkpoint`` can tell a checkpoint that a crash left half-updated.
    """
    import minigrad as mg
    from ._files import save_json
    from .random import default_rng
    os.makedirs(folder, exist_ok=True)
    path = functools.partial(os.path.join, folder)
    mg.save(model.state_dict(), path("model.npz"))
    arrays, meta = _flatten_optimizer_state(optimizer.state_dict())
    mg.save(arrays, path("optimizer.npz"))
    save_json(path("optimizer.json"), meta)
    save_json(path("rng.json"), (rng or default_rng()).bit_generator.state)
    save_json(path("history.json"), history.as_dict())
    save_json(path("config.json"), config or {})
    save_json(path("checkpoint.json"), {"epoch": len(history), "sha256": {
        name: _sha256(path(name)) for name in CHECKPOINT_FILES}})


def load_checkpoint(folder: str, model: Any, optimizer: Any,
                    rng: Optional[np.random.Generator] = None) -> History:
    """Restore ``model``, ``optimizer`` and the generator from ``save_checkpoint``'s files.

    Returns the saved ``History``. Raises ValueError naming the file when a file is missing,
    altered or from another epoch than the others; nothing is read with pickle.
    """
    import minigrad as mg
    from .random import default_rng
    path = functools.partial(os.path.join, folder)
    manifest = _read_json(path("checkpoint.json"))
    hashes = manifest.get("sha256", {}) if isinstance(manifest, dict) else {}
    for name in CHECKPOINT_FILES:
        if not os.path.exists(path(name)):
            raise ValueError(f"load_checkpoint: {path(name)} is missing")
        if hashes.get(name) != _sha256(path(name)):
            raise ValueError(f"load_checkpoint: {path(name)} does not match checkpoint.json "
                             "(changed after the checkpoint was written, or left by an "
                             "interrupted save)")
    history = History.from_dict(_read_json(path("history.json")))
    model.load_state_dict(mg.load(path("model.npz")))
    meta = _read_json(path("optimizer.json"))
    arrays = mg.load(path("optimizer.npz"))
    optimizer.load_state_dict(_unflatten_optimizer_state(arrays, meta))
    (rng or default_rng()).bit_generator.state = _read_json(path("rng.json"))
    return history


def _flatten_optimizer_state(state_dict: Dict[str, Any]) -> Tuple[Dict[str, np.ndarray], dict]:
    """Split an optimizer state dict into arrays (for .npz) and JSON-ready numbers and groups."""
    arrays: Dict[str, np.ndarray] = {}
    scalars: Dict[str, Dict[str, Any]] = {}
    for pid, entries in state_dict["state"].items():
        for name, value in entries.items():
            if isinstance(value, np.ndarray):
                arrays[f"{pid}.{name}"] = value
            else:
                scalars.setdefault(str(pid), {})[name] = _plain(value)
    groups = [{k: _plain(v) for k, v in group.items()} for group in state_dict["param_groups"]]
    return arrays, {"param_groups": groups, "scalars": scalars}


def _unflatten_optimizer_state(arrays: Dict[str, np.ndarray], meta: dict) -> Dict[str, Any]:
    """The inverse of ``_flatten_optimizer_state``."""
    state: Dict[int, Dict[str, Any]] = {}
    for key, value in arrays.items():
        pid, _, name = key.partition(".")
        state.setdefault(int(pid), {})[name] = value
    for pid, entries in meta["scalars"].items():
        state.setdefault(int(pid), {}).update(entries)
    groups = [{k: (tuple(v) if isinstance(v, list) and k != "params" else v)
               for k, v in group.items()} for group in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def _plain(value: Any) -> Any:
    """A JSON-ready copy of ``value`` (NumPy scalars to Python numbers, tuples to lists)."""
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _sha256(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        raise ValueError(f"load_checkpoint: {path} is missing") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"load_checkpoint: {path} is not valid JSON ({error})") from None


def blas_threads(n: int) -> Any:
    """A context limiting NumPy's BLAS to ``n`` threads while training small networks.

    For matrices this small (tens of rows), extra BLAS threads mostly wait on each other,
    badly so on a busy machine. Uses threadpoolctl when it is installed (``pip install
    threadpoolctl``); without it this does nothing.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")
