"""Overfitting and two remedies: weight decay and dropout (the book's Figs. 6-20, 6-21, 6-23).

A 7-layer network (six hidden layers of 100 ReLU units) trained on only 300 digits with SGD
(lr 0.01, batch 100) learns its training set by heart while its test accuracy stays far below.
Weight decay (λ = 0.1, i.e. the penalty ½λΣ‖W‖² on the weights, not the biases) and dropout
(p = 0.2 after each hidden layer) narrow that gap. Each panel plots train and test accuracy
per epoch.

    python examples/overfitting.py docs/               # writes docs/overfitting.png
"""
import minigrad as mg
from minigrad import nn, optim
from minigrad.train import fit

import _book


def run(data, epochs, seed, weight_decay=0.0, dropout=0.0):
    """Train the 7-layer net; its History (train and test accuracy per epoch)."""
    (x_train, y_train), test = data
    mg.manual_seed(seed)
    model = nn.MLP(64, [100] * 6, 10, dropout=dropout)
    weights = [layer.weight for layer in model.linears]
    biases = [layer.bias for layer in model.linears]
    optimizer = optim.SGD([{"params": weights, "weight_decay": weight_decay},
                           {"params": biases}], lr=0.01)
    return fit(model, nn.SoftmaxCrossEntropy(), optimizer, (x_train, y_train), epochs, 100,
               val_data=test, progress=False)


def main():
    args = _book.parse_args(__doc__)
    data = _book.digits(300, args.seed)
    short, long = (8, 8) if args.quick else (201, 301)      # the book's epoch counts
    runs = {"no regularisation": run(data, short, args.seed),
            "weight decay λ=0.1": run(data, short, args.seed, weight_decay=0.1),
            "dropout p=0.2": run(data, long, args.seed, dropout=0.2)}
    print("300 training digits, 6 hidden layers of 100, SGD lr 0.01, batch 100")
    for label, history in runs.items():
        print(f"  {label:<19} {len(history)} epochs: train accuracy {history.train_acc[-1]:.4f}"
              f"  test accuracy {history.val_acc[-1]:.4f}  gap "
              f"{history.train_acc[-1] - history.val_acc[-1]:.4f}")

    def draw(plt):
        fig, axes = plt.subplots(1, 3, figsize=(10, 3.2), sharey=True)
        for ax, (label, history) in zip(axes, runs.items()):
            ax.plot(range(1, len(history) + 1), history.train_acc, label="train")
            ax.plot(range(1, len(history) + 1), history.val_acc, label="test")
            ax.set(title=label, xlabel="epoch", ylim=(0, 1.02))
        axes[0].set_ylabel("accuracy")
        axes[0].legend(loc="lower right")
        fig.tight_layout()
        return fig
    _book.figure(args.out, "overfitting", draw)


if __name__ == "__main__":
    with _book.limit_blas_threads():
        main()
