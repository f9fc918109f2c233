"""The paths of SGD, Momentum, AdaGrad, RMSprop and Adam on f(x, y) = x²/20 + y² (Fig. 6-8).

Each optimizer starts at (−7, 2) and takes 30 steps with the book's learning rates (SGD 0.95,
Momentum 0.1, AdaGrad 1.5, Adam 0.3; RMSprop, which the book's figure leaves out, also 0.3).
x and y are minigrad Tensors, and each gradient (x/10, 2y) comes from ``backward()``. The
function is 20 times steeper along y than along x: SGD zig-zags across the valley, Momentum
rolls along it like a ball, AdaGrad's per-coordinate steps shrink the y-jumps fast and walk
straight, RMSprop and Adam start with steps of about ``lr`` in each coordinate.

    python examples/optimizer_paths.py docs/          # writes docs/optimizer_paths.png

(``--steps N`` changes the number of steps; ``--quick`` is accepted like in the other examples
and changes nothing, since 30 steps take a moment.)
"""
import numpy as np

import minigrad as mg
from minigrad import optim

import _book

OPTIMIZERS = {                        # the book's ch06/optimizer_compare_naive.py, plus RMSprop
    "SGD": lambda p: optim.SGD(p, lr=0.95),
    "Momentum": lambda p: optim.Momentum(p, lr=0.1, momentum=0.9),
    "AdaGrad": lambda p: optim.AdaGrad(p, lr=1.5),
    "RMSprop": lambda p: optim.RMSprop(p, lr=0.3),
    "Adam": lambda p: optim.Adam(p, lr=0.3),
}
START = (-7.0, 2.0)


def f(x, y):
    """The book's test function, x²/20 + y², on Tensors or arrays."""
    return x ** 2 / 20 + y ** 2


def path(make_optimizer, steps):
    """The points visited (steps + 1 rows of (x, y)) from START."""
    x = mg.tensor(START[0], requires_grad=True)
    y = mg.tensor(START[1], requires_grad=True)
    optimizer = make_optimizer([x, y])
    points = [(x.item(), y.item())]
    for _ in range(steps):
        optimizer.zero_grad()
        f(x, y).backward()
        optimizer.step()
        points.append((x.item(), y.item()))
    return np.array(points)


def draw(paths):
    def plot(plt):
        xs, ys = np.meshgrid(np.linspace(-10, 10, 201), np.linspace(-5, 5, 101))
        fig, axes = plt.subplots(2, 3, figsize=(13, 6.5))
        for ax, (name, points) in zip(axes.flat, paths.items()):
            ax.contour(xs, ys, f(xs, ys), levels=[0.1, 0.5, 1, 2, 3, 4, 5, 6, 7], colors="0.6",
                       linewidths=0.8)
            ax.plot(points[:, 0], points[:, 1], "o-", color="tab:red", markersize=3)
            ax.plot(0, 0, "+", color="black", markersize=10)
            ax.set(title=name, xlabel="x", ylabel="y", xlim=(-10, 10), ylim=(-5, 5))
        losses = axes.flat[len(paths)]
        for name, points in paths.items():
            losses.semilogy(f(points[:, 0], points[:, 1]), label=name)
        losses.set(title="f along the path", xlabel="step", ylabel="f(x, y) (log scale)")
        losses.legend(fontsize="small")
        fig.suptitle(f"{len(points) - 1} steps on f(x, y) = x²/20 + y² from (−7, 2)")
        fig.tight_layout()
        return fig
    return plot


def main():
    args = _book.parse_args(__doc__, steps=30)
    paths = {name: path(make, args.steps) for name, make in OPTIMIZERS.items()}
    print(f"start ({START[0]:+.6f}, {START[1]:+.6f})  f = {f(*START):.6f}")
    for name, points in paths.items():
        x, y = points[-1]
        print(f"{name:<9} final ({x:+.6f}, {y:+.6f})  f = {f(x, y):.6f}")
    _book.figure(args.out, "optimizer_paths", draw(paths))


if __name__ == "__main__":
    main()
