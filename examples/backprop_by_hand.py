"""Backprop by hand: every chain-rule step of a two-layer network, next to minigrad's answer.

The network is the book's: Affine -> Sigmoid -> Affine -> SoftmaxWithLoss, on a batch of four
points. We compute each gradient with the chain rule in plain NumPy and print it beside the one
minigrad's backward produced, with their largest difference (float64, so ~1e-17).

minigrad keeps gradients only for leaves (the parameters), so to see the gradients of the
intermediate results z1, h, z2 we use both kinds of hook: a forward hook on each layer
registers a gradient hook on the layer's output, which records dL/d(output) during backward.

    python examples/backprop_by_hand.py            # the comparison
    python examples/backprop_by_hand.py --trace    # plus mg.trace_backward()'s own printout
"""
import argparse

import numpy as np

import minigrad as mg
from minigrad import nn, viz


def show(step: str, formula: str, by_hand: np.ndarray, by_minigrad: np.ndarray) -> float:
    """Print one chain-rule step: the formula, both values, and their largest difference."""
    diff = float(np.max(np.abs(by_hand - by_minigrad)))
    print(f"\n{step}   {formula}")
    with np.printoptions(precision=5, suppress=True, linewidth=100):
        print(f"  by hand  : {np.array2string(by_hand, prefix='  by hand  : ')}")
        print(f"  minigrad : {np.array2string(by_minigrad, prefix='  minigrad : ')}")
    print(f"  max |difference| = {diff:.2e}")
    return diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trace", action="store_true", help="also print mg.trace_backward()")
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    N, D, H, C = 4, 3, 5, 3                      # batch, inputs, hidden units, classes
    x = mg.tensor(rng.standard_normal((N, D)))
    labels = np.array([0, 2, 1, 2])
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(D, H, dtype=np.float64), nn.Sigmoid(),
                          nn.Linear(H, C, dtype=np.float64))
    loss_fn = nn.SoftmaxCrossEntropy()
    W1, b1 = model[0].weight, model[0].bias
    W2, b2 = model[2].weight, model[2].bias

    # record dL/d(output) of every layer: forward hook -> gradient hook on the output
    grads = {}
    for name, layer in zip(["z1", "h", "z2"], model.children()):
        def keep_grad(module, inputs, out, name=name):
            out.register_hook(lambda g: grads.__setitem__(name, g.data))
        layer.register_forward_hook(keep_grad)

    loss = loss_fn(model(x), labels)
    print(f"loss = {loss.item():.6f}\n\nThe forward pass recorded these ops (oldest first):")
    names = {"x": x, **dict(model.named_parameters())}
    viz.tape(loss, names=names)
    if args.trace:
        print("\nmg.trace_backward(): what each op receives and sends")
        with mg.trace_backward(names=names, precision=4):
            loss.backward()
    else:
        loss.backward()

    # -- the same backward, by hand ---------------------------------------------------------
    X = x.data
    z1 = X @ W1.data + b1.data                   # forward, again in NumPy
    h = 1 / (1 + np.exp(-z1))
    z2 = h @ W2.data + b2.data
    p = np.exp(z2 - z2.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    t = np.eye(C)[labels]                        # one-hot labels

    print("\nThe chain rule, from the loss back to the first layer:")
    worst = 0.0
    dz2 = (p - t) / N
    worst = max(worst, show("1. dL/dz2", "= (softmax(z2) - t) / N", dz2, grads["z2"]))
    dW2 = h.T @ dz2
    worst = max(worst, show("2. dL/dW2", "= h^T dL/dz2", dW2, W2.grad.data))
    db2 = dz2.sum(axis=0)
    worst = max(worst, show("3. dL/db2", "= sum over the batch of dL/dz2", db2, b2.grad.data))
    dh = dz2 @ W2.data.T
    worst = max(worst, show("4. dL/dh", "= dL/dz2 W2^T", dh, grads["h"]))
    dz1 = dh * h * (1 - h)
    worst = max(worst, show("5. dL/dz1", "= dL/dh * h (1 - h)   (sigmoid' = y(1-y))", dz1,
                            grads["z1"]))
    dW1 = X.T @ dz1
    worst = max(worst, show("6. dL/dW1", "= x^T dL/dz1", dW1, W1.grad.data))
    db1 = dz1.sum(axis=0)
    worst = max(worst, show("7. dL/db1", "= sum over the batch of dL/dz1", db1, b1.grad.data))
    print(f"\nlargest difference over all steps: {worst:.2e}")
    if worst > 1e-12:
        raise SystemExit("minigrad disagrees with the hand-written chain rule")


if __name__ == "__main__":
    main()
