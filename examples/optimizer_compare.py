"""SGD, Momentum, AdaGrad, RMSprop and Adam train the same 5-layer network (the book's Fig. 6-9).

The network has four hidden layers of 100 ReLU units (He init) and a softmax output; each
optimizer starts from the same weights (same seed) and sees the same mini-batches of 128 for
the same number of steps, with the book's learning rates. It runs on the bundled digits, and
also on MNIST when ``load_mnist`` finds it already downloaded (no download is attempted).

    python examples/optimizer_compare.py docs/            # writes docs/optimizer_compare.png
"""
import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.data import DataLoader, DownloadError, load_mnist
from minigrad.train import evaluate

import _book

OPTIMIZERS = {                          # the book's choices (ch06/optimizer_compare_mnist.py)
    "SGD": lambda p: optim.SGD(p, lr=0.01),
    "Momentum": lambda p: optim.Momentum(p, lr=0.01, momentum=0.9),
    "AdaGrad": lambda p: optim.AdaGrad(p, lr=0.01),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.01, alpha=0.99),
    "Adam": lambda p: optim.Adam(p, lr=0.001),
}


def compare(name, data, iterations, seed):
    """Train one network per optimizer; return {optimizer: per-step losses}."""
    (x_train, y_train), (x_test, y_test) = data
    curves = {}
    print(f"{name}: {len(x_train)} training images, batch 128, {iterations} steps")
    for label, make in OPTIMIZERS.items():
        mg.manual_seed(seed)                                 # same initial weights and batches
        model = nn.MLP(x_train.shape[1], [100] * 4, 10, weight_init="he")
        loader = DataLoader(x_train, y_train, 128)
        losses = _book.train_steps(model, make(model.parameters()), loader, iterations)
        curves[label] = losses
        print(f"  {label:<9} final loss {np.mean(losses[-10:]):.4f}  "
              f"test accuracy {evaluate(model, x_test, y_test):.4f}")
    return curves


def main():
    args = _book.parse_args(__doc__, data_root="~/.cache/minigrad")
    iterations = 20 if args.quick else 600
    results = {"digits": compare("digits", _book.digits(), iterations, args.seed)}
    try:
        mnist = load_mnist(args.data_root, download=False)
    except DownloadError:
        print("MNIST: not downloaded (run minigrad.data.load_mnist() once to add it here)")
    else:
        results["MNIST"] = compare("MNIST", mnist, 20 if args.quick else 2000, args.seed)

    def draw(plt):
        fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6),
                                 squeeze=False)
        for ax, (name, curves) in zip(axes[0], results.items()):
            _book.plot_losses(ax, curves, f"{name}: 5-layer ReLU net")
        fig.tight_layout()
        return fig
    _book.figure(args.out, "optimizer_compare", draw)


if __name__ == "__main__":
    with _book.limit_blas_threads():
        main()
