"""Draw the computational graph of a small MLP's loss.

Prints the tape (the recorded ops, oldest first), runs backward (which keeps the graph's
structure) so every parameter has a gradient, then writes the graph as Graphviz
DOT text (always) and as PNG and SVG images when a renderer is installed: Graphviz's ``dot``, or
``graphviz-pure`` from ``pip install "minigrad[graph]"``.

    python examples/graph.py                        # writes mlp_graph.dot (+ .png, .svg)
    python examples/graph.py --out docs/mlp_graph   # another path stem
"""
import argparse
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad import nn, viz
from minigrad._files import atomic_write


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="mlp_graph", help="path stem of the files to write")
    args = parser.parse_args()
    stem = Path(args.out)
    stem.parent.mkdir(parents=True, exist_ok=True)

    mg.manual_seed(0)
    rng = np.random.default_rng(0)
    model = nn.MLP(4, [6], 3, activation="relu")           # Linear -> ReLU -> Linear
    x = mg.tensor(rng.standard_normal((8, 4)).astype(np.float32))
    labels = mg.tensor(rng.integers(0, 3, size=8))
    loss = nn.SoftmaxCrossEntropy()(model(x), labels)

    names = {"x": x, "labels": labels, "loss": loss, **dict(model.named_parameters())}
    print("The tape (oldest first):")
    viz.tape(loss, names=names)
    loss.backward()                                 # frees the saved arrays, keeps the graph

    dot_path = stem.with_suffix(".dot")
    text = viz.to_dot(loss, names=names)
    atomic_write(str(dot_path), lambda file: file.write(text.encode("utf-8")))
    print(f"\nwrote {dot_path}")
    if viz.renderer() is None:
        print('No renderer is installed: render the .dot file with any Graphviz viewer, or '
              'pip install "minigrad[graph]" (or install Graphviz) for PNG/SVG')
        return
    for suffix in (".png", ".svg"):
        print(f"wrote {viz.draw(loss, stem.with_suffix(suffix), names=names)}")


if __name__ == "__main__":
    main()
