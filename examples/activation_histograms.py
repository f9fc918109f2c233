"""Histograms of hidden-layer activations for each activation and initialisation (Figs. 6-10..14).

1,000 samples of 100 standard-normal features go forward (no training) through 5 layers of
100 units without bias. Each row of the figure is one (activation, initial weights) pair and
shows the histogram of each layer's output. Sigmoid with std 1 saturates at 0 and 1 (vanishing
gradients), std 0.01 collapses to 0.5 (no expressiveness), Xavier keeps a spread; for ReLU
(histograms of the positive outputs), std 0.01 and Xavier shrink towards 0 layer by layer while
He keeps the spread, and std 1 blows up.

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
        fig, axes = plt.subplots(len(rows), 5, figsize=(7.5, 1.05 * len(rows)), dpi=60,
                                 sharey="row")
        for r, ((activation, label), outs) in enumerate(rows.items()):
            for c, a in enumerate(outs):
                ax = axes[r, c]
                if activation == "relu":              # the zeros would dwarf the rest
                    values = a[a > 0]
                    span = (0.0, max(1.0, float(np.percentile(values, 99))) if values.size
                            else 1.0)
                else:
                    values, span = a.ravel(), (0.0 if activation == "sigmoid" else -1.0, 1.0)
                ax.hist(values, bins=30, range=span, color="C0")
                ax.set_yticks([])
                ax.tick_params(labelsize=6)
                if r == 0:
                    ax.set_title(f"layer {c + 1}", fontsize=8)
            axes[r, 0].set_ylabel(f"{activation}\n{label}", fontsize=7, rotation=0,
                                  ha="right", va="center")
        fig.subplots_adjust(left=0.14, right=0.99, top=0.97, bottom=0.02, hspace=0.35,
                            wspace=0.08)
        return fig
    _book.figure(args.out, "activation_histograms", draw)


if __name__ == "__main__":
    with _book.limit_blas_threads():
        main()
