"""The training loop: ``fit`` (epochs of mini-batch steps), ``evaluate`` (accuracy), ``History``.

One step is the textbook one: forward, loss, ``optimizer.zero_grad()``, ``loss.backward()``,
``optimizer.step()``. Nothing is copied per batch (``DataLoader`` permutes once per epoch) and
evaluation runs under ``no_grad`` in eval mode.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import math
import numbers
import os
import re
import secrets
import shutil
import sys
import tempfile
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

    Interrupted (Ctrl-C: KeyboardInterrupt), ``fit`` lets the KeyboardInterrupt propagate; the
    history (the one passed as ``history``, also attached to the exception as ``.history``)
    then holds exactly the epochs completed, one entry per list each (a partly trained epoch is
    not recorded, though its steps have changed the weights).

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
    loader, callbacks = _fit_arguments(model, loss_fn, optimizer, train_data, epochs,
                                       batch_size, val_data, callbacks, history)
    history = History() if history is None else history
    bar_factory = _progress_bar() if progress else None
    first = len(history) + 1
    last = first + epochs - 1
    try:
        for epoch in range(first, last + 1):
            start = time.perf_counter()
            model.train()
            bar = bar_factory(total=len(loader), desc=f"epoch {epoch}/{last}") if bar_factory \
                else None
            train_loss = _train_epoch(model, loss_fn, optimizer, loader, epoch, bar,
                                      check_finite)
            train_acc = evaluate(model, loader.X, loader.y)
            val_acc = None if val_data is None else evaluate(model, *val_data)
            _record(history, train_loss, train_acc, val_acc, time.perf_counter() - start)
            if bar is not None:
                bar.set_postfix_str(_summary(history), refresh=True)
                bar.close()
            elif progress:
                print(f"epoch {epoch:>{len(str(last))}}/{last}  "
                      f"{_summary(history)}  ({history.epoch_time[-1]:.2f} s)", flush=True)
            if any([callback(epoch, history) is True for callback in callbacks]):
                break
    except KeyboardInterrupt as interrupt:
        interrupt.history = history          # type: ignore[attr-defined]
        raise
    return history


def _fit_arguments(model: Any, loss_fn: Any, optimizer: Any, train_data: Any, epochs: Any,
                   batch_size: Any, val_data: Any, callbacks: Any,
                   history: Any) -> Tuple[DataLoader, List[Callback]]:
    """``fit``'s arguments checked: the loader to draw batches from and the callbacks."""
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
    if history is not None and not isinstance(history, History):
        raise TypeError(f"fit: history must be a History or None, got {type(history).__name__}")
    return loader, _callbacks(callbacks)


def _callbacks(callbacks: Any) -> List[Callback]:
    """``callbacks`` as a list, each checked to be callable."""
    try:
        callbacks = list(callbacks)
    except TypeError:
        raise TypeError(f"fit: callbacks must be an iterable of callables, got "
                        f"{type(callbacks).__name__}") from None
    for callback in callbacks:
        if not callable(callback):
            raise TypeError(f"fit: every callback must be callable, got "
                            f"{type(callback).__name__}")
    return callbacks


def _train_epoch(model: Any, loss_fn: Any, optimizer: Any, loader: DataLoader, epoch: int,
                 bar: Any, check_finite: bool) -> float:
    """One pass of steps over ``loader``; the mean batch loss, weighted by batch size."""
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
    return total / seen


def _record(history: History, train_loss: float, train_acc: float, val_acc: Optional[float],
            seconds: float) -> None:
    """Append one epoch's numbers to ``history``: all of them or, when interrupted (Ctrl-C)
    part-way, none, so that its lists keep one entry per epoch done."""
    lengths = [(values, len(values)) for values in (history.train_loss, history.train_acc,
                                                    history.val_acc, history.epoch_time)]
    try:
        history.train_loss.append(train_loss)
        history.train_acc.append(train_acc)
        if val_acc is not None:
            history.val_acc.append(val_acc)
        history.epoch_time.append(seconds)
    except BaseException:
        for values, length in lengths:
            del values[length:]
        raise


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
#: The name of one checkpoint's sub-folder (its generation): the epoch and 8 random hex digits.
_GENERATION = re.compile(r"epoch-[0-9]{6,}-[0-9a-f]{8}")
_READ_ATTEMPTS = 3               # reads retried when a concurrent save replaced the checkpoint


def save_checkpoint(folder: str, model: Any, optimizer: Any, history: History,
                    config: Optional[Dict[str, Any]] = None,
                    rng: Optional[np.random.Generator] = None) -> None:
    """Write everything a run needs to continue bit-identically into ``folder``.

    The files, in a new sub-folder ``epoch-NNNNNN-xxxxxxxx`` of ``folder`` (a generation):
    ``model.npz`` (``mg.save(model.state_dict())``), ``optimizer.npz`` (its state arrays, keyed
    ``"<param id>.<name>"``) with ``optimizer.json`` (its param_groups and scalar state such as
    Adam's ``step``), ``rng.json`` (``rng.bit_generator.state``, default minigrad's generator),
    ``history.json`` and ``config.json`` (``config``, e.g. the command-line options).

    The generation is written completely and made durable (fsync) first; then
    ``folder/checkpoint.json``, which names it and holds the epoch and a SHA-256 of every file
    (of the bytes this call wrote), replaces the previous one in one atomic rename. So at every
    instant ``folder`` holds one whole checkpoint: a save that fails part-way or is killed leaves
    the previous one loadable. The previous generation, and temporaries left by killed saves,
    are removed once the new one is in place. A second process saving into ``folder`` at the
    same time gets ``FolderLockedError`` (an OSError) at once. ``folder`` is created if needed;
    an existing file of that name is a NotADirectoryError.
    """
    from ._files import folder_lock, fsync_folder, save_json
    folder = os.fspath(folder)
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise NotADirectoryError(f"save_checkpoint: '{folder}' is a file, not a folder")
    os.makedirs(folder, exist_ok=True)
    with folder_lock(folder, "save_checkpoint"):
        _remove_leftovers(folder, keep=None)
        generation, hashes = _write_generation(folder, model, optimizer, history, config, rng)
        try:
            save_json(os.path.join(folder, "checkpoint.json"), {
                "format": 2, "epoch": len(history), "files": generation, "sha256": hashes})
        except BaseException:
            if _current_generation(folder) != generation:       # the switch did not happen
                shutil.rmtree(os.path.join(folder, generation), ignore_errors=True)
            raise
        _remove_leftovers(folder, keep=generation)
        fsync_folder(folder)


def _write_generation(folder: str, model: Any, optimizer: Any, history: History,
                      config: Optional[Dict[str, Any]],
                      rng: Optional[np.random.Generator]) -> Tuple[str, Dict[str, str]]:
    """Write the checkpoint files into a new, durable sub-folder of ``folder``; return its name
    and the SHA-256 of each file. Nothing of it is left behind when this fails."""
    from . import serialization
    from ._files import fsync_folder, save_json
    from .random import default_rng
    scratch = tempfile.mkdtemp(prefix=".tmp-", dir=folder)
    try:
        path = functools.partial(os.path.join, scratch)
        arrays, meta = _flatten_optimizer_state(optimizer.state_dict())
        hashes = {
            "model.npz": serialization._write(model.state_dict(), path("model.npz")),
            "optimizer.npz": serialization._write(arrays, path("optimizer.npz")),
            "optimizer.json": save_json(path("optimizer.json"), meta),
            "rng.json": save_json(path("rng.json"), (rng or default_rng()).bit_generator.state),
            "history.json": save_json(path("history.json"), history.as_dict()),
            "config.json": save_json(path("config.json"), config or {}),
        }
        generation = f"epoch-{len(history):06d}-{secrets.token_hex(4)}"
        os.rename(scratch, os.path.join(folder, generation))
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    fsync_folder(folder)
    return generation, hashes


def _current_generation(folder: str) -> Optional[str]:
    """The generation ``folder/checkpoint.json`` names, or None (none, or no valid manifest)."""
    try:
        return _read_manifest(folder).get("files") or None
    except ValueError:
        return None


def _remove_leftovers(folder: str, keep: Optional[str]) -> None:
    """Remove the temporaries of saves that were killed (``.tmp-*``); given the generation to
    ``keep``, also every other generation and the files of the first format (minigrad <= 0.x
    wrote them straight into ``folder``)."""
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        stale = name.startswith(".tmp-") or keep is not None and name != keep and (
            _GENERATION.fullmatch(name) is not None or name in CHECKPOINT_FILES)
        if not stale:
            continue
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.remove(path)


def checkpoint_path(folder: str, name: str = "model.npz") -> str:
    """The path of the file ``name`` (one of ``CHECKPOINT_FILES``) of the checkpoint that
    ``folder/checkpoint.json`` names, e.g. ``mg.load(checkpoint_path("runs/digits"))``.

    Raises ValueError naming the file when ``folder`` holds no checkpoint manifest.
    """
    if name not in CHECKPOINT_FILES:
        raise ValueError(f"checkpoint_path: name must be one of {list(CHECKPOINT_FILES)}, got "
                         f"{name!r}")
    folder = os.fspath(folder)
    return os.path.join(_files_folder(folder, _read_manifest(folder)), name)


def load_checkpoint(folder: str, model: Any, optimizer: Any,
                    rng: Optional[np.random.Generator] = None) -> History:
    """Restore ``model``, ``optimizer`` and the generator from ``save_checkpoint``'s files.

    Returns the saved ``History``. Raises ValueError naming the file when a file is missing,
    altered, from another epoch than the others, malformed, not a regular file, too large, or
    does not fit ``model`` / ``optimizer``; nothing is read with pickle. Every file is read and
    checked before anything is changed, and the optimizer's and the model's ``load_state_dict``
    each check everything before they change anything (the optimizer goes first and is restored
    if the model then refuses its state): when this raises, ``model``, ``optimizer`` and the
    generator are as they were. Folders written by earlier versions (the files straight in
    ``folder``, no ``"files"`` entry in ``checkpoint.json``) load too.
    """
    from .random import default_rng
    parts = read_checkpoint(folder)
    path = functools.partial(os.path.join, parts["folder"])
    history = _parse(path("history.json"), History.from_dict, parts["history.json"])
    if parts["manifest"]["epoch"] != len(history):
        raise ValueError(f"load_checkpoint: {os.path.join(folder, 'checkpoint.json')} is for "
                         f"epoch {parts['manifest']['epoch']} but {path('history.json')} holds "
                         f"{len(history)}")
    arrays = parts["optimizer.npz"]
    where = f"{path('optimizer.json')} and {path('optimizer.npz')}"
    optimizer_state = _parse(where, lambda m: _unflatten_optimizer_state(arrays, m),
                             parts["optimizer.json"])
    rng = rng or default_rng()
    rng_state = parts["rng.json"]

    def set_state(state: Any) -> None:
        type(rng.bit_generator)().state = state     # a scratch generator of the same kind

    _parse(path("rng.json"), set_state, rng_state)
    before = optimizer.state_dict()
    _parse(where, optimizer.load_state_dict, optimizer_state, "do not fit this optimizer")
    try:
        _parse(path("model.npz"), model.load_state_dict, parts["model.npz"],
               "does not fit this model")
    except BaseException:
        optimizer.load_state_dict(before)
        raise
    rng.bit_generator.state = rng_state
    return history


def read_checkpoint(folder: str) -> Dict[str, Any]:
    """Every file of the checkpoint in ``folder``, read, checked against the SHA-256 that
    ``checkpoint.json`` records and parsed: ``{"manifest": ..., "folder": where the files are,
    "model.npz": dict of arrays, ..., "config.json": dict}``. Raises ValueError naming the file
    (``minigrad train --resume`` calls this before it trusts ``config.json``).

    Each file is hashed (in chunks) and parsed from one open file, so what is checked is what is
    read; when a concurrent save replaces the checkpoint meanwhile, the read starts over.
    """
    folder = os.fspath(folder)
    for _ in range(_READ_ATTEMPTS):
        manifest = _read_manifest(folder)
        try:
            return _read_files(folder, manifest)
        except ValueError:
            if _read_manifest(folder) == manifest:
                raise
    raise ValueError(f"load_checkpoint: {folder} changed {_READ_ATTEMPTS} times while it was "
                     "being read (another process is saving into it); try again")


def _read_manifest(folder: str) -> Dict[str, Any]:
    """``folder/checkpoint.json``, checked to be a manifest (of either format)."""
    from ._files import read_json
    path = os.path.join(folder, "checkpoint.json")
    manifest = read_json(path, "load_checkpoint")
    files = manifest.get("files", "") if isinstance(manifest, dict) else None
    if not (isinstance(manifest, dict) and isinstance(manifest.get("sha256"), dict)
            and _is_count(manifest.get("epoch")) and isinstance(files, str)
            and (files == "" or _GENERATION.fullmatch(files))):
        raise ValueError(f"load_checkpoint: {path} is not a checkpoint manifest (expected an "
                         "'epoch', the 'files' folder and a 'sha256' of every file)")
    return manifest


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _files_folder(folder: str, manifest: Dict[str, Any]) -> str:
    """Where the manifest's files are: its generation's sub-folder, or ``folder`` itself for a
    checkpoint of the first format."""
    return os.path.join(folder, manifest["files"]) if manifest.get("files") else folder


def _read_files(folder: str, manifest: Dict[str, Any]) -> Dict[str, Any]:
    """The parsed files of ``manifest``, each checked against its SHA-256."""
    from ._files import MAX_JSON_BYTES, open_regular, parse_json, sha256_of
    from .serialization import read_archive
    base = _files_folder(folder, manifest)
    parts: Dict[str, Any] = {"manifest": manifest, "folder": base}
    for name in CHECKPOINT_FILES:
        path = os.path.join(base, name)
        with open_regular(path, "load_checkpoint") as f:
            if name.endswith(".json"):
                data = f.read(MAX_JSON_BYTES + 1)
                digest = hashlib.sha256(data).hexdigest()
            else:
                digest = sha256_of(f)
                f.seek(0)
            if manifest["sha256"].get(name) != digest:
                raise ValueError(f"load_checkpoint: {path} does not match checkpoint.json "
                                 "(changed after the checkpoint was written, or left by an "
                                 "interrupted save)")
            if not name.endswith(".json"):
                parts[name] = read_archive(f, path)
            elif len(data) > MAX_JSON_BYTES:
                raise ValueError(f"load_checkpoint: {path} is larger than {MAX_JSON_BYTES:,} "
                                 "bytes")
            else:
                parts[name] = parse_json(data, path, "load_checkpoint")
    return parts


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
