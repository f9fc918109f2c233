"""Initial weights of std 0.01 vs Xavier vs He in a 5-layer ReLU network (the book's Fig. 6-15).

Four hidden layers of 100 ReLU units trained with SGD (lr 0.01, batch 128) from each of the
three initialisations. With std 0.01 the signal (and the gradient) shrinks layer after layer and
the loss barely moves; Xavier (std √(1/n)) learns, He (std √(2/n), n the fan-in) learns fastest.

    python examples/weight_init_compare.py docs/        # writes docs/weight_init_compare.png
"""
import numpy as np

import minigrad as mg
from minigrad import nn, optim
from minigrad.data import DataLoader
from minigrad.train import evaluate

import _book

INITS = {"std=0.01": 0.01, "Xavier": "xavier", "He": "he"}


def main():
    args = _book.parse_args(__doc__)
    iterations = 20 if args.quick else 1000
    (x_train, y_train), (x_test, y_test) = _book.digits()
    print(f"digits: {len(x_train)} training images, SGD lr 0.01, batch 128, {iterations} steps")
    curves = {}
    for label, init in INITS.items():
        mg.manual_seed(args.seed)
        model = nn.MLP(64, [100] * 4, 10, activation="relu", weight_init=init)
        loader = DataLoader(x_train, y_train, 128)
        curves[label] = _book.train_steps(model, optim.SGD(model.parameters(), lr=0.01), loader,
                                          iterations)
        print(f"  {label:<9} first loss {curves[label][0]:.4f}  final loss "
              f"{np.mean(curves[label][-10:]):.4f}  test accuracy "
              f"{evaluate(model, x_test, y_test):.4f}")

    def draw(plt):
        fig, ax = plt.subplots(figsize=(5, 3.6))
        _book.plot_losses(ax, curves, "weight initialisation, 5-layer ReLU net")
        fig.tight_layout()
        return fig
    _book.figure(args.out, "weight_init_compare", draw)


if __name__ == "__main__":
    with _book.limit_blas_threads():
        main()
