"""Histograms of hidden-layer activations for each activation and initialisation (Figs. 6-10..14).

1,000 samples of 100 standard-normal features go forward (no training) through 5 layers of
100 units without bias. Each panel of the figure is one (activation, initial weights) pair
(rows: activations, columns: initialisations) and overlays the histograms of the 5 layers'
outputs. Sigmoid with std 1 saturates at 0 and 1 (vanishing gradients), std 0.01 collapses to
0.5 (no expressiveness), Xavier keeps a spread; for ReLU (histograms of the positive outputs on
a log scale, so that a shrinking spread is a shift to the left), std 0.01 and Xavier shrink
towards 0 layer by layer while He keeps the spread, and std 1 blows up.

    python examples/activation_histograms.py docs/     # writes docs/activation_histograms.png
"""
import numpy as np

import minigrad as mg
from minigrad import nn

import _book

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
INITS = {"std=1": 1.0, "std=0.01": 0.01, "Xavier": "xavier", "He": "he"}


def activations(activation, init, x, layers=5):
    """The outputs of each of ``layers`` Linear(100, 100, no bias) + activation layers."""
    outputs = []
    with mg.no_grad():
        h = mg.tensor(x)
        for _ in range(layers):
            h = ACTIVATIONS[activation]()(nn.Linear(100, 100, bias=False, init=init)(h))
            outputs.append(h.data)
    return outputs


def histogram_panel(ax, activation, outs, colors):
    """One step histogram per layer: sigmoid on [0, 1], tanh on [-1, 1], ReLU's positive
    outputs on log-spaced bins (its spread changes by orders of magnitude across layers)."""
    if activation == "relu":
        positive = [a[a > 0] for a in outs]
        present = np.concatenate([p for p in positive if p.size] or [np.ones(1)])
        low, high = np.percentile(present, [0.5, 99.5])
        bins = np.geomspace(max(low, 1e-300), max(high, low * 10, 1e-299), 41)
        ax.set_xscale("log")
        ax.set_xlabel("positive ReLU output (log scale)")
    else:
        positive = [a.ravel() for a in outs]
        bins = np.linspace(0.0 if activation == "sigmoid" else -1.0, 1.0, 41)
        ax.set_xlabel(f"{activation} output")
    for values, color in zip(positive, colors):
        weights = np.full(values.size, 1.0 / max(values.size, 1))
        ax.hist(values, bins=bins, weights=weights, histtype="step", color=color, lw=1.5)


def main():
    args = _book.parse_args(__doc__)
    mg.manual_seed(args.seed)
    n = 200 if args.quick else 1000
    x = mg.randn(n, 100).data
    rows = {}
    print(f"{n} samples of 100 features through 5 layers of 100 units; per layer: "
          "std of the outputs / share near 0 (|a| < 0.02) / share saturated (sigmoid, tanh)")
    for activation in ACTIVATIONS:
        for label, init in INITS.items():
            outs = activations(activation, init, x)
            rows[(activation, label)] = outs
            stats = []
            for a in outs:
                saturated = (np.mean((a < 0.02) | (a > 0.98)) if activation == "sigmoid"
                             else np.mean(np.abs(a) > 0.98) if activation == "tanh" else 0.0)
                stats.append(f"{a.std():.3f}/{np.mean(np.abs(a) < 0.02):.2f}/{saturated:.2f}")
            print(f"  {activation:<7} {label:<9} " + "  ".join(stats))

    def draw(plt):
        fig, axes = plt.subplots(len(ACTIVATIONS), len(INITS), figsize=(14, 9.5),
                                 squeeze=False)
        colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, 5))
        for (activation, label), outs in rows.items():
            ax = axes[list(ACTIVATIONS).index(activation), list(INITS).index(label)]
            histogram_panel(ax, activation, outs, colors)
            ax.set_title(f"{activation}, {label}")
        handles = [plt.Line2D([], [], color=c, lw=1.5) for c in colors]
        fig.legend(handles, [f"layer {i}" for i in range(1, 6)], loc="upper center", ncol=5)
        fig.supylabel("share of the layer's outputs per bin")
        fig.tight_layout(rect=(0, 0, 1, 0.95))
        return fig
    _book.figure(args.out, "activation_histograms", draw)


if __name__ == "__main__":
    with _book.limit_blas_threads():
        main()
