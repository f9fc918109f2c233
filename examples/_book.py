"""What the chapter-6 examples share: the command line, the data, a step loop, the figure.

Each example is ``python examples/NAME.py OUT_DIR [--quick] [--seed N]``: it prints its
numbers and, when matplotlib is installed, writes ``OUT_DIR/NAME.png``. ``--quick`` shrinks the
budget so the test suite runs it in seconds.
"""
import argparse
import os
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from minigrad import nn
from minigrad.data import DataLoader, load_digits
from minigrad._files import atomic_write
from minigrad.train import blas_threads


def parse_args(doc: str, **extra: Any) -> argparse.Namespace:
    """``out`` (a folder), ``--quick`` and ``--seed``, plus ``extra`` options (name=default)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("out", help="folder for the figure")
    parser.add_argument("--quick", action="store_true", help="a tiny budget (for the tests)")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything random")
    for name, default in extra.items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    return args


def digits(n_train: Optional[int] = None, seed: int = 0) -> tuple:
    """The bundled digits' split; with ``n_train`` a random subset of the training part."""
    (x_train, y_train), test = load_digits()
    if n_train is not None:
        keep = np.random.default_rng(seed).permutation(len(x_train))[:n_train]
        x_train, y_train = x_train[keep], y_train[keep]
    return (x_train, y_train), test


def train_steps(model: Any, optimizer: Any, loader: DataLoader, iterations: int) -> List[float]:
    """``iterations`` textbook steps over ``loader`` (cycled); the loss of each step."""
    loss_fn = nn.SoftmaxCrossEntropy()
    losses: List[float] = []
    model.train()
    while len(losses) < iterations:
        for xb, yb in loader:
            loss = loss_fn(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            if len(losses) == iterations:
                break
    return losses


def smooth(values: List[float], width: int) -> np.ndarray:
    """A moving average over the last ``width`` values (fewer at the start)."""
    c = np.cumsum(np.insert(np.asarray(values, dtype=np.float64), 0, 0.0))
    ends = np.arange(1, len(values) + 1)
    starts = np.maximum(ends - width, 0)
    return (c[ends] - c[starts]) / (ends - starts)


def plot_losses(ax: Any, curves: Dict[str, List[float]], title: str) -> None:
    """Draw each named loss curve (smoothed over 10 iterations) on a log scale."""
    for label, losses in curves.items():
        ax.plot(smooth(losses, 10), label=label, lw=1.2)
    ax.set(title=title, xlabel="iteration", ylabel="loss", yscale="log")
    ax.legend()


def figure(out: str, name: str, draw: Callable[[Any], Any]) -> None:
    """Call ``draw(plt)`` (it returns the figure) and save it as ``out/name.png``, if possible."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{name}.png skipped: matplotlib is not installed (pip install minigrad[plot])")
        return
    fig = draw(plt)
    path = os.path.join(out, f"{name}.png")
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    plt.close(fig)
    print(f"wrote {path}")


def limit_blas_threads() -> Any:
    """One BLAS thread: for these small matrices more threads only cost time."""
    return blas_threads(1)
