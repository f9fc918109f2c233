"""Seeing backprop: the graph as Graphviz DOT text, the tape in execution order, and a trace of
the backward pass that shows the chain rule one op at a time.

    import minigrad as mg
    from minigrad import viz

    loss = ((x @ W + b).sigmoid() ** 2).mean()
    viz.tape(loss)                           # the recorded ops, oldest first
    print(viz.to_dot(loss))                  # DOT text: paste into any Graphviz viewer
    with mg.trace_backward():                # prints what each op receives and sends
        loss.backward()
    viz.draw(loss, "graph.svg")              # after backward too; needs Graphviz `dot`

The graph is reached from a tensor through ``tensor.grad_fn`` and each node's inputs.
``backward()`` frees the arrays the graph saved but keeps its structure (as PyTorch does), so
``to_dot``, ``draw`` and ``tape`` work before and after backward; after it, ``show_grads``
adds the norm of each leaf's gradient. An input that only the graph held is then drawn from
what its node remembers (``autograd.FreedInput``: the op, shape and dtype).

Tensors have no names of their own; every function here takes ``names=``, a mapping (or pairs,
such as ``model.named_parameters()``) from a name to a tensor, used in place of the default
labels: ``#12`` for the output of the op with sequence number 12, ``leaf`` for a tensor you made
that requires grad, ``const`` for one that does not.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import (Any, Dict, Iterable, List, Mapping, Optional, TextIO, Tuple, Union)

import numpy as np

from . import autograd
from .autograd import Function, no_grad
from .tensor import Tensor

__all__ = ["to_dot", "draw", "tape", "trace_backward", "TapeEntry", "BackwardStep"]

Names = Union[Mapping[str, Tensor], Iterable[Tuple[str, Tensor]], None]
Shape = Tuple[int, ...]
_FORMATS = ("png", "svg", "pdf")


# -- walking the graph -------------------------------------------------------------------------
def _check_tensor(tensor: Any, where: str) -> None:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{where}: expected a Tensor, got {type(tensor).__name__}")


def _graph(tensor: Tensor, where: str) -> List[Function]:
    """The recorded nodes that produced ``tensor``, oldest first (ascending sequence number)."""
    _check_tensor(tensor, where)
    found: Dict[int, Function] = {}
    stack = [tensor.grad_fn] if tensor.grad_fn is not None else []
    while stack:                                   # iterative: deep chains are fine
        fn = stack.pop()
        if fn._seq in found:
            continue
        found[fn._seq] = fn
        stack.extend(t.grad_fn for t in fn.graph_inputs if t.grad_fn is not None)
    return [found[seq] for seq in sorted(found)]


def _outputs(fn: Function) -> tuple:
    """The node's output tensors that still exist."""
    return tuple(out for out in fn.outputs if out is not None)


def _key(tensor: Any) -> Any:
    """What identifies a tensor in a drawing: the op that made it and which output, or the
    tensor itself for a leaf (so a freed node's ``FreedInput`` and the tensor it stands for,
    if that still exists, are drawn once)."""
    fn = tensor.grad_fn
    if fn is None:
        return id(tensor)
    if isinstance(tensor, autograd.FreedInput):
        return fn._seq, tensor.index
    index = 0
    if len(fn._output_refs) > 1:
        index = next((i for i, ref in enumerate(fn._output_refs) if ref() is tensor), 0)
    return fn._seq, index


def _known_tensors(functions: List[Function]) -> Dict[Any, Any]:
    """Every tensor of the graph by ``_key``: the outputs that still exist, and the inputs (or
    what a freed node remembers of them)."""
    known: Dict[Any, Any] = {}
    for fn in functions:
        for out in _outputs(fn):
            known[_key(out)] = out
    for fn in functions:
        for t in fn.graph_inputs:
            known.setdefault(_key(t), t)
    return known


def _output_tensors(fn: Function, known: Dict[Any, Any]) -> list:
    """The node's outputs as drawn: each one that exists, or what a consumer remembers of it."""
    return [known[fn._seq, i] for i in range(len(fn._output_refs)) if (fn._seq, i) in known]


def _name_map(names: Names, where: str) -> Dict[int, str]:
    """``names`` as a dict from ``id(tensor)`` to its name; a clear TypeError naming ``where``
    for anything but a mapping from name to Tensor or an iterable of (name, Tensor) pairs."""
    if names is None:
        return {}
    expected = ("names must be a mapping from name to Tensor, such as {'x': x}, or (name, "
                "Tensor) pairs, such as model.named_parameters()")
    if isinstance(names, Mapping):
        pairs: Iterable[Any] = names.items()
    elif isinstance(names, (str, bytes, Tensor, np.ndarray)):
        raise TypeError(f"{where}: {expected}; got a {type(names).__name__}")
    else:
        try:
            pairs = iter(names)
        except TypeError:
            raise TypeError(f"{where}: {expected}; got {names!r}") from None
    result = {}
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            shown = (f"a {type(pair).__name__} of length {len(pair)}"
                     if isinstance(pair, (tuple, list)) else f"of type {type(pair).__name__}")
            raise TypeError(f"{where}: {expected}; got an item {shown}, not a (name, Tensor) "
                            "pair")
        name, tensor = pair
        if not isinstance(tensor, Tensor):
            key = f"<{type(name).__name__}>" if isinstance(name, (Tensor, np.ndarray)) else \
                repr(name)
            raise TypeError(f"{where}: names[{key}] must be a Tensor, got "
                            f"{type(tensor).__name__} ({expected})")
        result[_key(tensor)] = str(name)
    return result


def _label(tensor: Tensor, names: Dict[Any, str]) -> str:
    """A short name: the user's, ``#seq`` for an op's output, ``leaf`` or ``const``."""
    key = _key(tensor)
    name = names.get(key)
    if name is not None:
        return name
    fn = tensor.grad_fn
    if fn is not None:
        return f"#{fn._seq}.{key[1]}" if len(fn._output_refs) > 1 else f"#{fn._seq}"
    if tensor.requires_grad:
        return "leaf"
    if tensor.size == 1:
        return f"const {tensor.data.item():g}"
    return "const"


def _shape(shape: Shape) -> str:
    return str(tuple(int(n) for n in shape))     # (4, 3), (5,), ()


# -- the tape ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class TapeEntry:
    """One recorded op: its sequence number, name, inputs (labels and shapes) and outputs."""

    seq: int
    op: str
    inputs: Tuple[str, ...]
    input_shapes: Tuple[Shape, ...]
    output_shapes: Tuple[Shape, ...]

    def __str__(self) -> str:
        return self.format()

    def format(self, seq_width: int = 0, op_width: int = 0) -> str:
        """The line ``#seq op input (shape), ... -> (shape)``, columns padded to the widths."""
        ins = ", ".join(f"{label} {_shape(s)}" for label, s in zip(self.inputs, self.input_shapes))
        outs = ", ".join(_shape(s) for s in self.output_shapes)
        return f"{'#' + str(self.seq):<{seq_width}} {self.op:<{op_width}}  {ins} -> {outs}"


def tape(tensor: Tensor, *, names: Names = None, file: Optional[TextIO] = None,
         show: bool = True) -> List[TapeEntry]:
    """The ops recorded to compute ``tensor``, in execution order; printed one per line.

    Each line is ``#seq op input (shape), ... -> (output shape)``, where ``seq`` is the node's
    sequence number. Backward visits the same nodes in the reverse order. Needs nothing
    installed.

    Parameters
    ----------
    tensor : Tensor
        The result (usually a loss) whose graph to list; a leaf gives an empty tape.
    names : mapping or pairs (name, tensor), optional
        Labels for tensors, e.g. ``{"x": x, "W1": W1}`` or ``model.named_parameters()``.
    file : text stream, optional
        Where to print (``sys.stdout`` by default).
    show : bool
        Print the lines (True) or only return the entries.

    Returns
    -------
    list of TapeEntry
        One entry per op, ascending sequence number; ``str(entry)`` is its printed line
        (printed with the columns aligned). Works before and after ``backward()``.
    """
    labels = _name_map(names, "tape")
    entries = []
    functions = _graph(tensor, "tape")
    known = _known_tensors(functions)
    for fn in functions:
        meta = getattr(fn, "_output_meta", None)
        out_shapes = tuple(m[0] for m in meta) if meta else \
            tuple(o.shape for o in _output_tensors(fn, known))
        inputs = fn.graph_inputs
        entries.append(TapeEntry(fn._seq, fn.name, tuple(_label(t, labels) for t in inputs),
                                 tuple(t.shape for t in inputs), out_shapes))
    if show and entries:
        out = sys.stdout if file is None else file
        seq_width = max(len(str(e.seq)) for e in entries) + 1
        op_width = max(len(e.op) for e in entries)
        for entry in entries:
            print(entry.format(seq_width, op_width), file=out)
    return entries


# -- DOT export ----------------------------------------------------------------------------------
def _quote(text: str) -> str:
    """A DOT string literal; ``\\n`` inside ``text`` stays a line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _tensor_node(tensor: Tensor, labels: Dict[int, str], root: Tensor, show_grads: bool) -> str:
    """The DOT attributes of a tensor's node: name/role, shape, dtype and gradient norm."""
    lines = []
    name = labels.get(_key(tensor))
    if name is not None:
        lines.append(name)
    elif tensor.grad_fn is None:
        lines.append(_label(tensor, labels))
    lines.append(f"{_shape(tensor.shape)} {tensor.dtype}")
    if show_grads and tensor.grad is not None:
        lines.append(f"|grad| = {float(np.linalg.norm(tensor.grad.data)):.4g}")
    if tensor is root:
        color = "palegreen"
    elif tensor.grad_fn is not None:
        color = "white"
    elif tensor.requires_grad:
        color = "lightblue"
    else:
        color = "gray90"
    return f"shape=ellipse, style=filled, fillcolor={color}, label={_quote(chr(10).join(lines))}"


def to_dot(tensor: Tensor, show_grads: bool = True, *, names: Names = None) -> str:
    """Graphviz DOT text of the graph that produced ``tensor``.

    One box per op (``#seq Name``) and one ellipse per tensor (its name or role, shape, dtype,
    and with ``show_grads`` the norm ``||grad||_2`` of its ``.grad`` when it has one, which
    after a ``backward()`` is every leaf that requires grad). Arrows follow
    the data, input -> op -> output; backward runs against them. Colours: blue for leaves that
    require grad, grey for constants, green for ``tensor`` itself.

    Parameters
    ----------
    tensor : Tensor
        The result whose graph to draw.
    show_grads : bool
        Add the gradient norm to tensors that have a ``.grad``.
    names : mapping or pairs (name, tensor), optional
        Labels for tensors, e.g. ``{"x": x}`` or ``model.named_parameters()``.

    Returns
    -------
    str
        A ``digraph``; render it with ``draw``, the ``dot`` program or any Graphviz viewer.
        Works before and after ``backward()`` (which keeps the graph's structure).
    """
    functions = _graph(tensor, "to_dot")
    return _dot_text(tensor, functions, _name_map(names, "to_dot"), show_grads)


def _dot_text(tensor: Tensor, functions: List[Function], labels: Dict[int, str],
              show_grads: bool) -> str:
    """The DOT text of ``to_dot`` from the graph's nodes and the tensors' labels."""
    node_ids: Dict[int, str] = {}
    nodes: List[str] = []
    edges: List[str] = []

    def tensor_id(t: Tensor) -> str:
        key = _key(t)
        if key not in node_ids:
            node_ids[key] = f"t{len(node_ids)}"
            nodes.append(f"  {node_ids[key]} [{_tensor_node(t, labels, tensor, show_grads)}];")
        return node_ids[key]

    if not functions:
        tensor_id(tensor)
    known = _known_tensors(functions)
    for fn in functions:
        op = f"op{fn._seq}"
        nodes.append(f"  {op} [shape=box, style=\"rounded,filled\", fillcolor=lightyellow, "
                     f"label={_quote(f'#{fn._seq} {fn.name}')}];")
        for t in fn.graph_inputs:
            edges.append(f"  {tensor_id(t)} -> {op};")
        for t in _output_tensors(fn, known):
            edges.append(f"  {op} -> {tensor_id(t)};")
    header = ["digraph minigrad {", "  rankdir=TB;",
              "  node [fontname=\"Helvetica\", fontsize=11];"]
    return "\n".join(header + nodes + edges + ["}"]) + "\n"


def draw(tensor: Tensor, path: Union[str, "os.PathLike[str]"], show_grads: bool = True, *,
         names: Names = None) -> Path:
    """Render the graph of ``tensor`` (see ``to_dot``) to an image file with Graphviz.

    The format follows the extension of ``path``: ``.png``, ``.svg`` or ``.pdf``. The file is
    written atomically (a temporary file in the same folder, then renamed).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        For an extension other than .png, .svg or .pdf.
    RuntimeError
        If the Graphviz ``dot`` program is not installed (``to_dot`` still works), if ``dot``
        fails.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"draw: path must be a str or os.PathLike ending in "
                        f"{', '.join('.' + f for f in _FORMATS)}, got {type(path).__name__}")
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ValueError(f"draw: cannot tell the image format from {str(path)!r}; use a path "
                         f"ending in {', '.join('.' + f for f in _FORMATS)}")
    text = _dot_text(tensor, _graph(tensor, "draw"), _name_map(names, "draw"), show_grads)
    program = shutil.which("dot")
    if program is None:
        raise RuntimeError("draw: the Graphviz `dot` program was not found on PATH. Install "
                           "Graphviz (e.g. `apt-get install graphviz`, `brew install graphviz` "
                           "or `conda install graphviz`), or render the text of "
                           "minigrad.viz.to_dot(tensor) with any Graphviz viewer")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"draw: the folder {str(folder)!r} of {str(path)!r} does not "
                                "exist")
    handle, temp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=f".{fmt}")
    os.close(handle)
    os.chmod(temp, 0o644)                      # mkstemp makes it private; an image is not
    try:
        result = subprocess.run([program, f"-T{fmt}", "-o", temp], input=text, text=True,
                                capture_output=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"draw: `dot -T{fmt}` failed (exit code {result.returncode}): "
                               f"{result.stderr.strip()}")
        os.replace(temp, target)
    finally:
        if os.path.exists(temp):
            os.remove(temp)
    return target


# -- tracing the backward pass -------------------------------------------------------------------
@dataclass(frozen=True)
class BackwardStep:
    """What one op did during backward.

    ``upstream`` holds the gradient of each output (dL/d output, after hooks); ``grads`` the
    gradient sent to each input (dL/d input through this op, summed back to the input's shape),
    None for an input that gets none; ``inputs`` the inputs' labels.
    """

    seq: int
    op: str
    upstream: Tuple[np.ndarray, ...]
    inputs: Tuple[str, ...]
    grads: Tuple[Optional[np.ndarray], ...]


class trace_backward:
    """Print each op as backward reaches it: the gradient it receives, the gradients it sends.

    Use it as a context manager around ``backward()`` (or ``mg.grad``)::

        with mg.trace_backward(names={"W": W}) as trace:
            loss.backward()
        trace.steps          # the same information as BackwardStep records

    For an op ``y = f(a, b)`` a step shows the upstream gradient dL/dy and what the op sends to
    each input, dL/da = dL/dy · ∂y/∂a (the chain rule), summed back to the input's shape when
    it was broadcast. A tensor used twice receives one gradient per use; they add up. Arrays
    with more than ``threshold`` elements are abbreviated with ``...``.

    Parameters
    ----------
    file : text stream, optional
        Where to print (``sys.stdout`` by default); ``show=False`` prints nothing.
    names : mapping or pairs (name, tensor), optional
        Labels for tensors, e.g. ``{"x": x}`` or ``model.named_parameters()``.
    precision : int
        Digits printed after the decimal point.
    threshold : int
        Arrays with more elements than this are abbreviated.
    show : bool
        Print as backward runs (True) or only record ``steps``.
    """

    def __init__(self, file: Optional[TextIO] = None, *, names: Names = None,
                 precision: int = 4, threshold: int = 30, show: bool = True) -> None:
        self.file = file
        self.labels = _name_map(names, "trace_backward")
        self.precision = precision
        self.threshold = threshold
        self.show = show
        self.steps: List[BackwardStep] = []

    def __enter__(self) -> "trace_backward":
        self._observer = autograd.observe_backward(self._record).__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._observer.__exit__(*exc_info)

    def _record(self, fn: Function, grad_outputs: list, grad_inputs: tuple) -> None:
        """Called by the engine after ``fn.backward``; records (and prints) one step."""
        sent = []
        with no_grad():                       # the engine does the same reduction next
            for t, g in zip(fn.inputs, grad_inputs):
                keep = g is not None and t.requires_grad
                sent.append(autograd.sum_and_cast(g, t, f"{fn.name}.backward").data if keep
                            else None)
        step = BackwardStep(fn._seq, fn.name, tuple(g.data for g in grad_outputs),
                            tuple(_label(t, self.labels) for t in fn.inputs), tuple(sent))
        self.steps.append(step)
        if self.show:
            print(self.format(step), file=sys.stdout if self.file is None else self.file)

    def _array(self, array: np.ndarray, prefix: str) -> str:
        body = np.array2string(array, max_line_width=100, separator=", ", prefix=prefix,
                               precision=self.precision, threshold=self.threshold, edgeitems=2)
        return prefix + body

    def format(self, step: BackwardStep) -> str:
        """The printed text of one step: the op, dL/d(output), then dL/d(input) per input."""
        lines = [f"#{step.seq} {step.op}"]
        for i, gy in enumerate(step.upstream):
            out = f"#{step.seq}" + (f".{i}" if len(step.upstream) > 1 else "")
            lines.append(self._array(gy, f"    receives dL/d{out} {_shape(gy.shape)} = "))
        for label, g in zip(step.inputs, step.grads):
            if g is not None:
                lines.append(self._array(g, f"    sends    dL/d{label} {_shape(g.shape)} = "))
        return "\n".join(lines)
