"""The ``minigrad`` command (also ``python -m minigrad``).

``minigrad check`` checks a layer's gradients (see ``minigrad.testing.cli``); ``minigrad train``
trains an MLP (or, with ``--model cnn``, the book's SimpleConvNet) on the bundled digits (or
MNIST, Fashion-MNIST, a spiral) and
ends with the line ``test accuracy: 0.XXXX``; ``--out DIR`` keeps a checkpoint that
``--resume DIR`` continues bit-identically.
"""
from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

#: The options of ``minigrad train`` and their defaults: with none given, the bundled digits
#: reach >= 0.975 test accuracy in a few seconds.
TRAIN_DEFAULTS: Dict[str, Any] = {
    "model": "mlp", "dataset": "digits", "hidden": [256], "activation": "relu", "init": "he",
    "batchnorm": False, "dropout": 0.0, "optimizer": "adam", "lr": None, "weight_decay": 0.0,
    "epochs": 40, "batch_size": 32, "seed": 0,
}
OPTIMIZERS = ("sgd", "momentum", "adagrad", "rmsprop", "adam")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.01, "adagrad": 0.01, "rmsprop": 0.001, "adam": 0.001}
ACTIVATIONS = ("relu", "sigmoid", "tanh")
CHECKPOINT_EVERY = 30.0       # seconds between checkpoints of a running `--out` run
DATASETS = ("digits", "mnist", "fashion", "spiral")
MODELS = ("mlp", "cnn")
#: ``--model cnn``: SimpleConvNet with 3x3 filters padded by 1 (for images as small as 8x8)
CNN_SETTINGS: Dict[str, int] = {"filter_num": 30, "filter_size": 3, "pad": 1}


class UsageError(Exception):
    """A bad command-line option: reported on one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (``minigrad train: error: ...``) and status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def _number(low: float, high: float = float("inf"), low_open: bool = False,
            high_open: bool = True) -> Any:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not (low < value if low_open else low <= value) or \
                not (value < high if high_open else value <= high):
            left, right = "(" if low_open else "[", ")" if high_open else "]"
            raise argparse.ArgumentTypeError(f"expected a number in {left}{low:g}, {high:g}"
                                             f"{right}, got {text!r}")
        return value
    return parse


def _hidden(text: str) -> List[int]:
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    try:
        sizes = [int(p) for p in parts]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive layer sizes such "
                                         f"as 100,100, got {text!r}")
    return sizes


_FLOAT32 = np.finfo(np.float32)


def _valid_std(std: float) -> bool:
    """Whether ``std`` is a positive standard deviation that float32 (the model's dtype) holds:
    finite, at most ~3.4e38, and not so small that it rounds to 0."""
    return math.isfinite(std) and 0 < std <= float(_FLOAT32.max) and np.float32(std) > 0


def _init(text: str) -> Any:
    if text in ("he", "xavier"):
        return text
    try:
        std = float(text)
    except ValueError:
        std = -1.0
    if not _valid_std(std):
        raise argparse.ArgumentTypeError(f"expected 'he', 'xavier' or a positive standard "
                                         f"deviation that float32 can hold (at most "
                                         f"{_FLOAT32.max:.3g}), got {text!r}")
    return std


def build_parser() -> argparse.ArgumentParser:
    """The ``minigrad`` argument parser (sub-commands under ``command``)."""
    parser = _Parser(prog="minigrad", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    train = commands.add_parser(
        "train", help="train an MLP and print its test accuracy",
        description="Train an MLP (the book's MultiLayerNetExtend) and print its test "
                    "accuracy. Defaults: "
                    + ", ".join(f"{k}={v}" for k, v in TRAIN_DEFAULTS.items()))
    add = train.add_argument
    add("--model", choices=MODELS, help="mlp (default), or cnn: the book's SimpleConvNet, conv "
                                        "30x3x3 pad 1 - ReLU - max pool 2 - Linear(--hidden) - "
                                        "ReLU - Linear, on images (N, 1, side, side)")
    add("--dataset", choices=DATASETS, help="data set (default digits, bundled)")
    add("--hidden", type=_hidden, metavar="N,N,...", help="hidden layer sizes (default 256)")
    add("--activation", choices=ACTIVATIONS, help="hidden activation (default relu)")
    add("--init", type=_init, metavar="he|xavier|STD", help="weight init (default he)")
    add("--batchnorm", action=argparse.BooleanOptionalAction, default=None,
        help="BatchNorm after every hidden Linear (default off)")
    add("--dropout", type=_number(0, 1), metavar="P", help="dropout probability (default 0)")
    add("--optimizer", choices=OPTIMIZERS, help="optimizer (default adam)")
    add("--lr", type=_number(0, low_open=True), metavar="LR",
        help="learning rate (default: "
             + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    add("--weight-decay", type=_number(0), metavar="L",
        help="L2 penalty on the weights, not biases: adds L*W to their gradients (default 0)")
    add("--epochs", type=_positive_int, help="total number of epochs (default 40)")
    add("--batch-size", type=_positive_int, help="mini-batch size (default 32)")
    add("--seed", type=_non_negative_int, help="seed of init, shuffling, dropout (default 0)")
    add("--out", metavar="DIR", help="write a resumable checkpoint (at the end, every 30 s "
                                     "and on Ctrl-C) and training.png here")
    add("--resume", metavar="DIR", help="continue the run checkpointed in DIR up to --epochs "
                                        "(its other options come from DIR/config.json)")
    add("--export", metavar="FILE.onnx",
        help="also write the trained model as ONNX (needs pip install \"minigrad[onnx]\"; "
             "run it with ONNX Runtime, see docs/onnx.md)")
    add("--data-root", default="~/.cache/minigrad", metavar="DIR",
        help="where MNIST / Fashion-MNIST are cached (default ~/.cache/minigrad)")
    add("--threads", type=_positive_int, default=1, metavar="N",
        help="BLAS threads (default 1: for matrices this small, more threads cost more time "
             "than they save, much more on a busy machine)")
    add("--no-progress", dest="progress", action="store_false",
        help="no per-epoch output")
    from .testing import cli as check_cli          # `minigrad check`: minigrad/testing/cli.py
    check_cli.add_parser(commands)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the ``minigrad`` command; returns (and, as a console script, exits with) its status."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        if args.command == "check":
            return args.run(args)
    except UsageError as error:
        command = f"minigrad {argv[0]}" if argv[:1] in (["train"], ["check"]) else "minigrad"
        print(f"{command}: error: {error}", file=sys.stderr)
        return 2
    try:
        config = _train_config(args)
        if args.resume is not None and _nothing_left(args.resume, config["epochs"]):
            return 0
        if args.out is not None:
            _check_out_folder(args.out, "--out")
        elif args.resume is not None:
            _check_out_folder(args.resume, "--resume")
        if args.export is not None:
            _check_export(args.export)
        from ._files import folder_lock
        from .train import blas_threads
        out = args.out or args.resume
        with blas_threads(args.threads), (folder_lock(out, "minigrad train", ".run.lock")
                                          if out is not None else contextlib.nullcontext()):
            return train_command(config, out=out, resume=args.resume,
                                 data_root=args.data_root, progress=args.progress,
                                 export=args.export)
    except UsageError as error:
        print(f"minigrad train: error: {error}", file=sys.stderr)
        return 2
    except (OSError, ValueError, FloatingPointError) as error:
        # a DownloadError lists every URL tried on the lines after its first
        message = str(error).splitlines()[0] if _is_download_error(error) else error
        print(f"minigrad train: error: {message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:                # Ctrl-C outside the epochs (loading, saving)
        print("minigrad train: interrupted", file=sys.stderr)
        return 130


def _is_download_error(error: BaseException) -> bool:
    from .data.mnist import DownloadError
    return isinstance(error, DownloadError)


def _nothing_left(folder: str, epochs: int) -> bool:
    """Whether the run checkpointed in ``folder`` already has ``epochs`` epochs; then say so
    (and change nothing)."""
    from .train import read_checkpoint
    done = read_checkpoint(folder)["manifest"]["epoch"]
    if epochs > done:
        return False
    print(f"{folder} already holds {done} epochs and --epochs {epochs} asks for no more: "
          f"nothing trained, nothing written (give --epochs above {done} to continue)")
    return True


def _check_out_folder(folder: str, option: str) -> None:
    """Make sure ``folder`` is (or now is) a folder we can write in, before anything trains;
    else a ValueError naming ``option`` (exit status 1, as for other unusable paths)."""
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise ValueError(f"{option} {folder!r} is a file, not a folder")
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise ValueError(f"{option} {folder!r}: cannot write there "
                         f"({error.strerror or error})") from None


def _check_export(path: str) -> None:
    """Before anything trains: ``--export`` needs the onnx package and a file path."""
    from .onnx import _require_onnx
    try:
        _require_onnx()
    except ImportError as error:
        raise ValueError(f"--export: {error}") from None
    if os.path.isdir(path):
        raise ValueError(f"--export {path!r} is a folder, not a file")


def _train_config(args: argparse.Namespace) -> Dict[str, Any]:
    """The run's options: the defaults, those of the resumed run, then the ones given."""
    given = {k: getattr(args, k) for k in TRAIN_DEFAULTS if getattr(args, k) is not None}
    if args.resume is None:
        config = {**TRAIN_DEFAULTS, **given}
    else:
        extra = sorted(set(given) - {"epochs"})
        if extra:
            raise UsageError(f"--resume continues the run with the options in its config.json; "
                             f"only --epochs may be given (got --{extra[0].replace('_', '-')})")
        config = {**TRAIN_DEFAULTS, **_resumed_config(args.resume), **given}
    if config["lr"] is None:
        config["lr"] = DEFAULT_LR[config["optimizer"]]
    if config["model"] == "cnn":
        _check_cnn_options(config)
    return config


def _check_cnn_options(config: Dict[str, Any]) -> None:
    """UsageError for the options ``--model cnn`` cannot honour (SimpleConvNet is fixed)."""
    if config["dataset"] == "spiral":
        raise UsageError("--model cnn needs images (digits, mnist or fashion), not the spiral")
    if len(config["hidden"]) != 1:
        raise UsageError(f"--model cnn has one hidden layer: give --hidden one size, got "
                         f"{','.join(map(str, config['hidden']))}")
    fixed = {"activation": "relu", "batchnorm": False, "dropout": 0.0}
    for key, value in fixed.items():
        if config[key] != value:
            raise UsageError(f"--model cnn is the book's SimpleConvNet (ReLU, no BatchNorm, no "
                             f"Dropout); --{key} is for --model mlp")


def _resumed_config(folder: str) -> Dict[str, Any]:
    """The options in ``folder/config.json``, once the whole checkpoint has been checked against
    its manifest; ValueError naming the file for a missing, edited or malformed one."""
    from .train import read_checkpoint
    parts = read_checkpoint(folder)                  # every file checked before it is trusted
    path = os.path.join(parts["folder"], "config.json")
    config = parts["config.json"]
    if not isinstance(config, dict):
        raise ValueError(f"load_checkpoint: {path} must hold an object of options, got "
                         f"{type(config).__name__}")
    for key, value in config.items():
        check = _CONFIG_CHECKS.get(key)
        if check is None:
            raise ValueError(f"load_checkpoint: {path} has an unknown option {key!r}")
        if not check[0](value):
            raise ValueError(f"load_checkpoint: {path}: {key!r} must be {check[1]}, got "
                             f"{value!r}")
    return config


def _is_int(value: Any, low: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= low


def _is_real(value: Any, low: float, low_open: bool = False, high: float = math.inf) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and \
        math.isfinite(value) and (low < value if low_open else low <= value) and value < high


#: What each option read back from a checkpoint's config.json may be (as the parser allows).
_CONFIG_CHECKS: Dict[str, Tuple[Any, str]] = {
    "model": (lambda v: v in MODELS, f"one of {', '.join(MODELS)}"),
    "dataset": (lambda v: v in DATASETS, f"one of {', '.join(DATASETS)}"),
    "hidden": (lambda v: isinstance(v, list) and len(v) > 0 and all(_is_int(n, 1) for n in v),
               "a non-empty list of positive layer sizes"),
    "activation": (lambda v: v in ACTIVATIONS, f"one of {', '.join(ACTIVATIONS)}"),
    "init": (lambda v: v in ("he", "xavier") or (_is_real(v, 0, True) and _valid_std(v)),
             "'he', 'xavier' or a positive standard deviation that float32 can hold"),
    "batchnorm": (lambda v: isinstance(v, bool), "true or false"),
    "dropout": (lambda v: _is_real(v, 0, high=1), "a number in [0, 1)"),
    "optimizer": (lambda v: v in OPTIMIZERS, f"one of {', '.join(OPTIMIZERS)}"),
    "lr": (lambda v: v is None or _is_real(v, 0, True), "a positive number"),
    "weight_decay": (lambda v: _is_real(v, 0), "a non-negative number"),
    "epochs": (lambda v: _is_int(v, 1), "a positive integer"),
    "batch_size": (lambda v: _is_int(v, 1), "a positive integer"),
    "seed": (lambda v: _is_int(v, 0), "a non-negative integer"),
}


def load_dataset(name: str, seed: int, data_root: str) -> Tuple[tuple, tuple]:
    """``((x_train, y_train), (x_test, y_test))`` of a data set named on the command line."""
    from .data import load_digits, load_mnist, make_spiral
    if name == "digits":
        return load_digits()
    if name == "spiral":
        return (make_spiral(100, 3, 0.2, rng=np.random.default_rng([seed, 1])),
                make_spiral(100, 3, 0.2, rng=np.random.default_rng([seed, 2])))
    return load_mnist(data_root, kind=name)


def build_run(config: Dict[str, Any], n_features: int, n_classes: int) -> Tuple[Any, Any]:
    """The model and the optimizer of a run (weight decay on Linear weights only)."""
    from . import nn, optim
    from .random import manual_seed
    manual_seed(config["seed"])
    if config.get("model") == "cnn":
        model = nn.SimpleConvNet(image_shape(n_features), hidden_size=config["hidden"][0],
                                 output_size=n_classes, weight_init=config["init"],
                                 **CNN_SETTINGS)
    else:
        model = nn.MLP(n_features, config["hidden"], n_classes, activation=config["activation"],
                       weight_init=config["init"], use_batchnorm=config["batchnorm"],
                       dropout=config["dropout"])
    weights = [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    others = [p for p in model.parameters() if all(p is not w for w in weights)]
    groups = [{"params": weights, "weight_decay": config["weight_decay"]}]
    if others:
        groups.append({"params": others, "weight_decay": 0.0})
    optimizer_class = {"sgd": optim.SGD, "momentum": optim.Momentum, "adagrad": optim.AdaGrad,
                       "rmsprop": optim.RMSprop, "adam": optim.Adam}[config["optimizer"]]
    return model, optimizer_class(groups, lr=config["lr"])


def image_shape(n_features: int) -> Tuple[int, int, int]:
    """(1, side, side) for rows of ``n_features`` = side² pixels (digits 8x8, MNIST 28x28)."""
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise ValueError(f"--model cnn: {n_features} features are not a square image")
    return (1, side, side)


def _architecture(config: Dict[str, Any], n_features: int, n_classes: int) -> str:
    """'MLP 64-256-10' or 'SimpleConvNet 1x8x8-conv30x3x3-pool2-256-10', for the run's header."""
    if config["model"] == "cnn":
        image = "x".join(map(str, image_shape(n_features)))
        conv = "conv{filter_num}x{filter_size}x{filter_size}".format(**CNN_SETTINGS)
        return f"SimpleConvNet {image}-{conv}-pool2-{config['hidden'][0]}-{n_classes}"
    return "MLP " + "-".join(str(n) for n in [n_features, *config["hidden"], n_classes])


def train_command(config: Dict[str, Any], out: Optional[str] = None,
                  resume: Optional[str] = None, data_root: str = "~/.cache/minigrad",
                  progress: bool = True, export: Optional[str] = None) -> int:
    """Train as ``config`` says, print the per-epoch lines and ``test accuracy: 0.XXXX``;
    ``export``: also write the trained model there as ONNX."""
    from . import nn
    from .train import History, evaluate, fit, load_checkpoint, save_checkpoint
    (x_train, y_train), (x_test, y_test) = load_dataset(config["dataset"], config["seed"],
                                                        data_root)
    n_classes = int(max(y_train.max(), y_test.max())) + 1
    model, optimizer = build_run(config, x_train.shape[1], n_classes)
    history = History()
    if resume is not None:
        history = load_checkpoint(resume, model, optimizer)
    print(f"{config['dataset']}: {len(x_train)} training and {len(x_test)} test samples of "
          f"{x_train.shape[1]} features ('val acc' is the test split's, for monitoring only)")
    print(f"{_architecture(config, x_train.shape[1], n_classes)} ({config['activation']}, "
          f"init {config['init']}"
          f"{', batchnorm' if config['batchnorm'] else ''}"
          f"{', dropout %g' % config['dropout'] if config['dropout'] else ''}), "
          f"{config['optimizer']} lr {config['lr']:g}"
          f"{', weight decay %g' % config['weight_decay'] if config['weight_decay'] else ''}, "
          f"batch {config['batch_size']}, {config['epochs']} epochs, seed {config['seed']}"
          + (f"; resumed after epoch {len(history)}" if resume else ""), flush=True)
    last_epoch = [_snapshot(model, optimizer, history)]

    def remember(epoch: int, hist: History) -> None:
        """Keep the state after each whole epoch, for Ctrl-C to go back to."""
        last_epoch[0] = _snapshot(model, optimizer, hist)

    callbacks = [remember]
    last_save = [time.perf_counter()]
    if out is not None:
        def checkpoint(epoch: int, hist: History) -> None:
            """Save after the last epoch, and after any epoch CHECKPOINT_EVERY s since the last
            save, so that an interrupted long run loses little and a short one is not slowed."""
            if epoch == config["epochs"] or time.perf_counter() - last_save[0] > \
                    CHECKPOINT_EVERY:
                save_checkpoint(out, model, optimizer, hist, config)
                last_save[0] = time.perf_counter()
        callbacks.append(checkpoint)
    done, start = len(history), time.perf_counter()
    # NumPy's overflow warnings are left out: a loss that overflows stops fit with one clear
    # FloatingPointError (naming the epoch and batch) instead
    if config["model"] == "cnn":                      # rows of pixels -> (N, 1, side, side)
        x_train, x_test = (x.reshape(-1, *image_shape(x.shape[1])) for x in (x_train, x_test))
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            fit(model, nn.SoftmaxCrossEntropy(), optimizer, (x_train, y_train),
                max(config["epochs"] - len(history), 0), config["batch_size"],
                val_data=(x_test, y_test), progress=progress, callbacks=callbacks,
                history=history)
    except KeyboardInterrupt:
        return _interrupted(last_epoch[0], model, optimizer, history, config, out)
    seconds = time.perf_counter() - start
    if out is not None:
        if len(history) == done:                 # no epoch ran, so no callback saved it
            save_checkpoint(out, model, optimizer, history, config)
        print(_plot_notice(plot_history(history, os.path.join(out, "training.png"))))
        print(f"checkpoint: {out} (epoch {len(history)}; continue with --resume {out})")
    print(f"trained {len(history)} epochs in {seconds:.2f} s")
    if export is not None:
        from .onnx import export as export_onnx
        export_onnx(model, x_train[:2], export)
        features = ", ".join(map(str, x_train.shape[1:]))    # (batch, 1, 8, 8) for the CNN
        print(f"wrote {export} (ONNX: input 'input' of shape (batch, {features}), "
              f"output 'output', the {n_classes} logits)")
    print(f"test accuracy: {evaluate(model, x_test, y_test):.4f}")
    return 0


def _snapshot(model: Any, optimizer: Any, history: Any) -> Tuple[dict, dict, dict, int]:
    """Copies of the model's, the optimizer's and the generator's states, and the epoch count."""
    from .random import default_rng
    return (model.state_dict(), optimizer.state_dict(), default_rng().bit_generator.state,
            len(history))


def _interrupted(snapshot: Tuple[dict, dict, dict, int], model: Any, optimizer: Any,
                 history: Any, config: Dict[str, Any], out: Optional[str]) -> int:
    """Ctrl-C during training: go back to the state after the last whole epoch (``snapshot``),
    checkpoint it into ``out``, say so on one line; the exit status of a SIGINT, 130."""
    from .random import default_rng
    from .train import save_checkpoint
    model_state, optimizer_state, rng_state, epochs = snapshot
    model.load_state_dict(model_state)
    optimizer.load_state_dict(optimizer_state)
    default_rng().bit_generator.state = rng_state
    for name in history.as_dict():                   # an epoch recorded after the snapshot
        del getattr(history, name)[epochs:]
    if out is None:
        print(f"interrupted after epoch {epochs} (no --out, nothing saved)", file=sys.stderr)
    else:
        save_checkpoint(out, model, optimizer, history, config)
        print(f"interrupted after epoch {epochs}; continue with --resume {out}",
              file=sys.stderr)
    return 130


def _plot_notice(written: Optional[str]) -> str:
    if written is None:
        return 'training.png skipped: matplotlib is not installed (pip install "minigrad[plot]")'
    return f"wrote {written}"


def plot_history(history: Any, path: str) -> Optional[str]:
    """Draw the loss and accuracy curves into ``path``; None when matplotlib is missing."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    from ._files import atomic_write
    epochs = np.arange(1, len(history) + 1)
    fig, (left, right) = plt.subplots(1, 2, figsize=(8, 3), dpi=80)
    left.plot(epochs, history.train_loss, marker=".")
    left.set(xlabel="epoch", ylabel="training loss", yscale="log")
    right.plot(epochs, history.train_acc, marker=".", label="train")
    if len(history.val_acc) == len(history):
        right.plot(epochs, history.val_acc, marker=".", label="test")
    right.set(xlabel="epoch", ylabel="accuracy")
    right.legend()
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
