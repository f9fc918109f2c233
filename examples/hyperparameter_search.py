"""Random search for the learning rate and weight decay on a validation split (Fig. 6-24).

500 training digits, of which 20% are held out for validation (the test split stays unused).
Each trial draws lr = 10^U(−6, −2) and weight decay = 10^U(−8, −4), trains a network of six
hidden layers of 100 with SGD (batch 100) for 50 epochs, and records the validation accuracy.
The best trials are printed and plotted (validation accuracy solid, training accuracy dashed):
the good ones cluster at lr ≈ 10^−2 and weight decay matters far less, as in the book.

The full run trains 100 networks (a minute on an idle core, many more on a busy machine), so it
shows its progress: a tqdm bar in a terminal when tqdm is installed, otherwise a line per trial.

    python examples/hyperparameter_search.py docs/     # writes docs/hyperparameter_search.png
"""
import sys

import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.train import fit

import _book


def trial(data, lr, weight_decay, epochs, seed):
    """Train one network; its History with validation accuracy per epoch."""
    (x_train, y_train), validation = data
    mg.manual_seed(seed)
    model = nn.MLP(64, [100] * 6, 10)
    weights = [layer.weight for layer in model.linears]
    biases = [layer.bias for layer in model.linears]
    optimizer = optim.SGD([{"params": weights, "weight_decay": weight_decay},
                           {"params": biases}], lr=lr)
    return fit(model, nn.SoftmaxCrossEntropy(), optimizer, (x_train, y_train), epochs, 100,
               val_data=validation, progress=False)


def progress(trials):
    """``range(trials)`` with a tqdm bar in a terminal, else plain (main prints a line each)."""
    if sys.stderr.isatty():
        try:
            from tqdm import tqdm
        except ImportError:
            pass
        else:
            return tqdm(range(trials), desc="trials", unit="trial"), True
    return range(trials), False


def main():
    args = _book.parse_args(__doc__, trials=100, best=20)
    trials, epochs = (4, 3) if args.quick else (args.trials, 50)
    (x, y), _ = _book.digits(500, args.seed)
    n_val = len(x) // 5
    data = ((x[n_val:], y[n_val:]), (x[:n_val], y[:n_val]))
    rng = np.random.default_rng(args.seed)
    results = []
    steps, bar = progress(trials)
    for i in steps:
        lr, weight_decay = 10 ** rng.uniform(-6, -2), 10 ** rng.uniform(-8, -4)
        history = trial(data, lr, weight_decay, epochs, args.seed + i)
        results.append((history.val_acc[-1], lr, weight_decay, history))
        if bar:
            steps.set_postfix(best=f"{max(r[0] for r in results):.3f}")
        else:
            print(f"trial {i + 1}/{trials}: lr {lr:.3e}  weight decay {weight_decay:.3e}  "
                  f"val acc {history.val_acc[-1]:.4f}", flush=True)
    results.sort(key=lambda r: -r[0])
    best = results[:args.best]
    print(f"{trials} trials, {len(data[0][0])} training and {n_val} validation digits, "
          f"{epochs} epochs each; the best {len(best)}:")
    for rank, (val_acc, lr, weight_decay, _) in enumerate(best, 1):
        print(f"  best-{rank:<2} val acc {val_acc:.4f}  lr {lr:.3e}  weight decay "
              f"{weight_decay:.3e}")

    def draw(plt):
        cols = min(5, len(best))
        rows = int(np.ceil(len(best) / cols))
        fig, axes = plt.subplots(rows, cols, figsize=(2.7 * cols, 2.3 * rows + 0.9), sharex=True,
                                 sharey=True, squeeze=False)
        for ax in axes.ravel()[len(best):]:
            ax.axis("off")
        for rank, (ax, (val_acc, lr, weight_decay, history)) in enumerate(
                zip(axes.ravel(), best), 1):
            epochs_run = range(1, len(history) + 1)
            ax.plot(epochs_run, history.val_acc, lw=1.5, label="validation")
            ax.plot(epochs_run, history.train_acc, "--", lw=1.2, label="training")
            ax.set_title(f"best-{rank}: lr {lr:.1e}, wd {weight_decay:.1e}", fontsize=9)
            ax.set_ylim(0, 1.02)
        for ax in axes[-1]:
            ax.set_xlabel("epoch")
        for ax in axes[:, 0]:
            ax.set_ylabel("accuracy")
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="upper right", ncol=2)
        fig.suptitle(f"the {len(best)} best of {trials} random (lr, weight decay) trials",
                     x=0.02, ha="left")
        fig.tight_layout(rect=(0, 0, 1, 0.96))
        return fig
    _book.figure(args.out, "hyperparameter_search", draw)


if __name__ == "__main__":
    with _book.limit_blas_threads():
        main()
