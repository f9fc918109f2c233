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
import math
import numbers
import os
import sys
import time
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import numpy as np

from ._display import elide, html_table, text_table
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

    # -- display: a table per epoch (the dataclass repr stays for debugging) ------------------
    def _table(self) -> Tuple[Tuple[str, ...], List[Tuple[str, ...]]]:
        """The header and one row per epoch (the first and last 10 of a long run)."""
        header = ("epoch", "train loss", "train acc") + (("val acc",) if self.val_acc else ()) \
            + ("seconds",)
        rows = []
        for i in range(len(self)):
            val = (f"{self.val_acc[i]:.4f}" if i < len(self.val_acc) else "",) \
                if self.val_acc else ()
            rows.append((str(i + 1), f"{self.train_loss[i]:.4f}", f"{self.train_acc[i]:.4f}",
                         *val, f"{self.epoch_time[i]:.2f}"))
        return header, elide(rows, keep=10)

    def __str__(self) -> str:
        if not len(self):
            return "History: no epochs yet"
        header, rows = self._table()
        return f"History: {len(self)} epochs\n" + text_table(header, rows)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))

    def _repr_html_(self) -> str:
        header, rows = self._table()
        return html_table(header, rows, caption=f"History: {len(self)} epochs")

    def as_dict(self) -> Dict[str, List[float]]:
        """The records as plain lists (what ``history.json`` holds)."""
        return {f.name: list(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, records: Dict[str, Sequence[float]]) -> "History":
        """The inverse of ``as_dict``.

        Raises ValueError for unknown or missing keys, a value that is not a list of numbers,
        and lists of different lengths: ``train_loss``, ``train_acc`` and ``epoch_time`` have
        one entry per epoch, ``val_acc`` at most as many (none without validation data).
        """
        names = {f.name for f in fields(cls)}
        if not isinstance(records, dict) or set(records) != names:
            got = sorted(records) if isinstance(records, dict) else type(records).__name__
            raise ValueError(f"History.from_dict: expected the keys {sorted(names)}, got {got}")
        lists = {}
        for name in names:
            values = records[name]
            if isinstance(values, np.ndarray) and values.ndim == 1:
                values = values.tolist()
            if not isinstance(values, (list, tuple)) or not all(
                    isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values):
                raise ValueError(f"History.from_dict: {name} must be a list of numbers, got "
                                 f"{values!r}")
            lists[name] = [float(v) for v in values]
        epochs = len(lists["train_loss"])
        if len(lists["train_acc"]) != epochs or len(lists["epoch_time"]) != epochs or \
                len(lists["val_acc"]) > epochs:
            lengths = {name: len(values) for name, values in sorted(lists.items())}
            raise ValueError(f"History.from_dict: train_loss, train_acc and epoch_time need one "
                             f"entry per epoch and val_acc at most as many, got the lengths "
                             f"{lengths}")
        return cls(**lists)


def evaluate(model: Any, X: Any, y: Any, batch_size: int = 4096) -> float:
    """The fraction of rows of ``X`` whose highest logit is the label.

    ``accuracy = mean(argmax_c model(X)_nc == y_n)``, computed in eval mode (BatchNorm uses its
    running statistics, Dropout is the identity) under ``no_grad``, ``batch_size`` rows at a
    time. Every sub-module's previous mode is restored afterwards. ``y`` holds integer labels
    (N,) or one-hot / probability rows (N, C), whose argmax is the label; C must be the number
    of logits the model gives per row. ``batch_size`` is a positive integer.
    """
    X = _numeric(X, "X")
    labels = _numeric(y, "y")
    columns = labels.shape[1] if labels.ndim == 2 else None
    if labels.ndim == 2:
        labels = labels.argmax(axis=1)
    if not hasattr(model, "modules"):
        raise TypeError(f"evaluate: model must be an nn.Module, got {type(model).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"evaluate: batch_size must be a positive integer, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"evaluate: batch_size must be a positive integer, got {batch_size!r}")
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
                if columns is not None and logits.shape[-1] != columns:
                    raise ValueError(f"evaluate: y has one-hot / probability rows of "
                                     f"{columns} columns (shape {np.shape(y)}), but the model "
                                     f"gives logits of shape {logits.shape[1:]} per row")
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
        callbacks: Iterable[Callback] = (), *, history: Optional[History] = None,
        check_finite: bool = True) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_data``; return the ``History``.

    Each step: ``loss = loss_fn(model(xb), yb)``, ``optimizer.zero_grad()``,
    ``loss.backward()``, ``optimizer.step()``. After each epoch the training accuracy (and the
    validation accuracy, given ``val_data``) is measured with ``evaluate``, and then every
    callback is called as ``callback(epoch, history)`` (``epoch`` counts from 1 across a
    continued history); a callback that returns True stops training after that epoch.

    A loss that becomes NaN or infinite stops training with FloatingPointError before the
    optimizer steps on it (the weights are those of the step before); it usually means the
    learning rate is too high. ``check_finite=False`` trains on instead (to watch a run
    diverge, as the book's Fig. 6-19 does), recording a NaN or infinite ``train_loss``.

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
    check_finite : bool
        Whether a non-finite batch loss raises FloatingPointError (default) or is trained on.

    Raises
    ------
    FloatingPointError
        When a batch's loss is not finite (naming the epoch and the batch), unless
        ``check_finite`` is False.
    ValueError
        For bad arguments, a ``train_data`` that yields no batches, or a ``loss_fn`` that does
        not return a scalar (e.g. ``reduction='none'``).
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
    if epochs and len(loader) == 0:
        raise ValueError(f"fit: train_data yields no batches ({len(loader.X)} rows, batch_size "
                         f"{loader.batch_size}, drop_last={loader.drop_last})")
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(f"fit: callbacks must be an iterable of callables, got "
                        f"{type(callbacks).__name__}") from None
    for callback in callbacks:
        if not callable(callback):
            raise TypeError(f"fit: every callback must be callable, got "
                            f"{type(callback).__name__}")
    if history is not None and not isinstance(history, History):
        raise TypeError(f"fit: history must be a History or None, got {type(history).__name__}")
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
        for batch, (xb, yb) in enumerate(loader, 1):
            loss = loss_fn(model(xb), yb)
            if not isinstance(loss, Tensor) or loss.data.size != 1:
                raise ValueError(f"fit: loss_fn must return a scalar Tensor (a mean or sum, not "
                                 f"reduction='none'), got {_describe(loss)}")
            value = float(loss.data)
            if check_finite and not math.isfinite(value):
                raise FloatingPointError(
                    f"fit: the training loss became {value} at epoch {epoch}, batch {batch}; "
                    "the weights or gradients overflowed: try a lower learning rate (and check "
                    "the initial weights and the data for inf / NaN)")
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            n = len(xb.data)
            total += value * n
            seen += n
            if bar is not None:
                bar.set_postfix_str(f"loss {total / seen:.4f}", refresh=False)
                bar.update(1)
        if not seen:
            raise ValueError(f"fit: train_data yielded no batches in epoch {epoch}")
        history.train_loss.append(total / seen)
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


def _describe(value: Any) -> str:
    """A Tensor's shape, or another value's type, for error messages."""
    if isinstance(value, Tensor):
        return f"a Tensor of shape {value.shape}"
    return type(value).__name__


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
    ``folder`` is created if needed; an existing file of that name is a NotADirectoryError.
    """
    import minigrad as mg
    from ._files import save_json
    from .random import default_rng
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"save_checkpoint: '{folder}' is a file, not a folder")
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
    altered, from another epoch than the others, malformed, or does not fit ``model`` /
    ``optimizer``; nothing is read with pickle. Every file is read and checked before anything
    is changed, and the optimizer's and the model's ``load_state_dict`` each check everything
    before they change anything (the optimizer goes first and is restored if the model then
    refuses its state): when this raises, ``model``, ``optimizer`` and the generator are as
    they were.
    """
    import minigrad as mg
    from .random import default_rng
    path = functools.partial(os.path.join, os.fspath(folder))
    manifest = _verify_checkpoint(folder)
    history = _parse(path("history.json"), History.from_dict, _read_json(path("history.json")))
    if manifest["epoch"] != len(history):
        raise ValueError(f"load_checkpoint: {path('checkpoint.json')} is for epoch "
                         f"{manifest['epoch']} but {path('history.json')} holds {len(history)}")
    model_state = mg.load(path("model.npz"))
    arrays = mg.load(path("optimizer.npz"))
    meta = _read_json(path("optimizer.json"))
    where = f"{path('optimizer.json')} and {path('optimizer.npz')}"
    optimizer_state = _parse(where, lambda m: _unflatten_optimizer_state(arrays, m), meta)
    rng = rng or default_rng()
    rng_state = _read_json(path("rng.json"))

    def set_state(state: Any) -> None:
        type(rng.bit_generator)().state = state     # a scratch generator of the same kind

    _parse(path("rng.json"), set_state, rng_state)
    before = optimizer.state_dict()
    _parse(where, optimizer.load_state_dict, optimizer_state, "do not fit this optimizer")
    try:
        _parse(path("model.npz"), model.load_state_dict, model_state, "does not fit this model")
    except BaseException:
        optimizer.load_state_dict(before)
        raise
    rng.bit_generator.state = rng_state
    return history


def _verify_checkpoint(folder: str) -> Dict[str, Any]:
    """Check that ``folder`` holds a whole checkpoint: every file is there and matches the
    SHA-256 that ``checkpoint.json`` records. Returns the manifest, else raises ValueError naming
    the file (``minigrad train --resume`` calls this before it reads ``config.json``)."""
    path = functools.partial(os.path.join, os.fspath(folder))
    manifest = _read_json(path("checkpoint.json"))
    if not (isinstance(manifest, dict) and isinstance(manifest.get("sha256"), dict)
            and isinstance(manifest.get("epoch"), int) and manifest["epoch"] >= 0):
        raise ValueError(f"load_checkpoint: {path('checkpoint.json')} is not a checkpoint "
                         "manifest (expected an 'epoch' and a 'sha256' of every file)")
    hashes = manifest["sha256"]
    for name in CHECKPOINT_FILES:
        if not os.path.exists(path(name)):
            raise ValueError(f"load_checkpoint: {path(name)} is missing")
        if hashes.get(name) != _sha256(path(name)):
            raise ValueError(f"load_checkpoint: {path(name)} does not match checkpoint.json "
                             "(changed after the checkpoint was written, or left by an "
                             "interrupted save)")
    return manifest


def _parse(where: str, parse: Callable[[Any], Any], content: Any,
           problem: str = "is malformed") -> Any:
    """``parse(content)``, with the errors malformed content raises turned into one ValueError
    naming the file(s) ``where`` it came from."""
    try:
        return parse(content)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        detail = f"{type(error).__name__}: {error}" if isinstance(error, KeyError) else error
        raise ValueError(f"load_checkpoint: {where} {problem}: {detail}") from None


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
    if not isinstance(meta, dict) or set(meta) != {"param_groups", "scalars"}:
        got = sorted(meta) if isinstance(meta, dict) else type(meta).__name__
        raise ValueError(f"expected the keys ['param_groups', 'scalars'], got {got}")
    if not isinstance(meta["scalars"], dict) or not isinstance(meta["param_groups"], list) or \
            not all(isinstance(g, dict) for g in meta["param_groups"]):
        raise ValueError("'scalars' must be a dict and 'param_groups' a list of dicts")
    state: Dict[int, Dict[str, Any]] = {}
    for key, value in arrays.items():
        pid, _, name = key.partition(".")
        state.setdefault(int(pid), {})[name] = value
    for pid, entries in meta["scalars"].items():
        if not isinstance(entries, dict):
            raise ValueError(f"the scalars of parameter {pid} must be a dict, got {entries!r}")
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
    badly so on a busy machine. Uses threadpoolctl, a dependency of minigrad (were it missing
    anyway, this would do nothing).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")
