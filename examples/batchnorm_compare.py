"""Training with and without BatchNorm across 16 initial weight scales (the book's Fig. 6-19).

Five hidden layers of 100 ReLU units, each Linear followed by BatchNorm in one network and not
in the other, trained on 1,000 digits with SGD (lr 0.01, batch 100) for 20 epochs from initial
weights of std w for each of the 16 values np.logspace(0, -4, 16). Each small plot shows both
networks' training accuracy per epoch: with BatchNorm learning starts fast for almost every w;
without it, it depends on w and often stalls.

    python examples/batchnorm_compare.py docs/         # writes docs/batchnorm_compare.png
"""
import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.train import fit

import _book


def run(x, y, std, batchnorm, epochs, seed):
    """Train one network; its training accuracy after each epoch."""
    mg.manual_seed(seed)
    model = nn.MLP(64, [100] * 5, 10, weight_init=std, use_batchnorm=batchnorm)
    with np.errstate(over="ignore", invalid="ignore"):   # w = 1 without BatchNorm overflows
        history = fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.01),
                      (x, y), epochs, 100, progress=False, check_finite=False)   # let it diverge
    return history.train_acc, not np.isfinite(history.train_loss[-1])


def main():
    args = _book.parse_args(__doc__)
    (x, y), _ = _book.digits(1000, args.seed)
    scales = np.logspace(0, -4, 16)[::5] if args.quick else np.logspace(0, -4, 16)
    epochs = 3 if args.quick else 20
    print(f"digits: 1000 training images, SGD lr 0.01, batch 100, {epochs} epochs; "
          "final training accuracy")
    curves = []
    for std in scales:
        with_bn, diverged_bn = run(x, y, std, True, epochs, args.seed)
        without, diverged = run(x, y, std, False, epochs, args.seed)
        curves.append((std, with_bn, without))
        print(f"  w = {std:.2e}: with BatchNorm {with_bn[-1]:.4f}"
              f"{' (diverged: the loss overflowed)' if diverged_bn else ''}  without "
              f"{without[-1]:.4f}{' (diverged: the loss overflowed)' if diverged else ''}")

    def draw(plt):
        side = int(np.ceil(np.sqrt(len(curves))))
        fig, axes = plt.subplots(side, side, figsize=(8, 7), sharex=True, sharey=True,
                                 squeeze=False)
        for ax, (std, with_bn, without) in zip(axes.ravel(), curves):
            ax.plot(range(1, epochs + 1), with_bn, label="BatchNorm", lw=1.5)
            ax.plot(range(1, epochs + 1), without, "--", label="no BatchNorm", lw=1.2)
            ax.set_title(f"w = {std:.2g}", fontsize=9)
            ax.set_ylim(0, 1.02)
            ax.tick_params(labelsize=7)
        axes[0, 0].legend(fontsize=7, loc="lower right")
        for ax in axes[-1]:
            ax.set_xlabel("epoch", fontsize=8)
        for ax in axes[:, 0]:
            ax.set_ylabel("train acc", fontsize=8)
        fig.tight_layout()
        return fig
    _book.figure(args.out, "batchnorm_compare", draw)


if __name__ == "__main__":
    with _book.limit_blas_threads():
        main()
