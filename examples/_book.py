"""What the chapter-6 examples share: the command line, the data, a step loop, the figure.

Each example is ``python examples/NAME.py OUT_DIR [--quick] [--seed N]``: it prints its
numbers and, when matplotlib is installed, writes ``OUT_DIR/NAME.png`` (and nothing anywhere
else). ``--quick`` shrinks the budget so the test suite runs it in seconds. Every figure is
saved at ``DPI`` dots per inch or more and is checked before it is saved: each panel with data
has a title and axis labels (on it or on a panel it shares the axis with), and named curves
have a legend.
"""
import argparse
import os
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from minigrad import nn
from minigrad.data import DataLoader, load_digits
from minigrad._files import atomic_write
from minigrad.train import blas_threads

DPI = 100

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


def missing_labels(fig: Any) -> List[str]:
    """What a reader of ``fig`` would miss: a panel with data but no title or axis label (a
    label on a panel sharing that axis counts), named curves without a legend anywhere."""
    problems = []
    panels = [ax for ax in fig.axes if ax.has_data()]
    for ax in panels:
        name = repr(ax.get_title()) if ax.get_title() else f"panel {fig.axes.index(ax) + 1}"
        if not ax.get_title():
            problems.append(f"{name} has no title")
        for axis, shared in (("x", ax.get_shared_x_axes()), ("y", ax.get_shared_y_axes())):
            figure_label = getattr(fig, f"get_sup{axis}label", lambda: "")()   # matplotlib 3.8+
            labelled = (getattr(a, f"get_{axis}label")() for a in shared.get_siblings(ax))
            if not figure_label and not any(labelled):
                problems.append(f"{name} has no {axis} label")
    named = [line for ax in panels for line in ax.get_lines()
             if not line.get_label().startswith("_")]
    if len(named) > 1 and not fig.legends and not any(ax.get_legend() for ax in fig.axes):
        problems.append(f"{len(named)} named curves but no legend")
    return problems


def figure(out: str, name: str, draw: Callable[[Any], Any]) -> None:
    """Call ``draw(plt)`` (it returns the figure) and save it as ``out/name.png``, if possible.

    The figure is saved at ``DPI`` (or its own dpi if higher); a ValueError lists what
    ``missing_labels`` finds, before anything is written."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f'{name}.png skipped: matplotlib is not installed (pip install "minigrad[plot]")')
        return
    fig = draw(plt)
    problems = missing_labels(fig)
    if problems:
        plt.close(fig)
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise ValueError(f"{name}.png: " + "; ".join(problems[:5]) + more)
    path = os.path.join(out, f"{name}.png")
    dpi = max(DPI, fig.dpi)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=dpi))
    plt.close(fig)
    print(f"wrote {path}")


def limit_blas_threads() -> Any:
    """One BLAS thread: for these small matrices more threads only cost time."""
    return blas_threads(1)
