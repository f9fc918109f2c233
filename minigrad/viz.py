"""Seeing backprop: the graph as Graphviz DOT text, the tape in execution order, and a trace of
the backward pass that shows the chain rule one op at a time.

    import minigrad as mg
    from minigrad import viz

    loss = ((x @ W + b).sigmoid() ** 2).mean()
    viz.tape(loss)                           # the recorded ops, oldest first
    print(viz.to_dot(loss))                  # DOT text: paste into any Graphviz viewer
    with mg.trace_backward():                # prints what each op receives and sends
        loss.backward()
    viz.draw(loss, "graph.svg")              # after backward too; needs a renderer, see below

The graph is reached from a tensor through ``tensor.grad_fn`` and each node's inputs.
``backward()`` frees the arrays the graph saved but keeps its structure (as PyTorch does), so
``to_dot``, ``draw`` and ``tape`` work before and after backward; after it, ``show_grads``
adds the norm of each leaf's gradient. An input that only the graph held is then drawn from
what its node remembers (``autograd.FreedInput``: the op, shape and dtype).

Rendering needs a program that reads DOT: Graphviz's ``dot`` when it is on PATH, otherwise
``graphviz-pure`` (a self-contained port of ``dot``, PNG and SVG only, installed by
``pip install "minigrad[graph]"``). In Jupyter, what ``to_dot`` returns shows as a picture when
one of them is there and as its DOT text otherwise; ``tape`` shows as a table.

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
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import (Any, Dict, Iterable, List, Mapping, Optional, TextIO, Tuple, Union)

import numpy as np

from . import autograd
from ._display import html_table
from ._files import atomic_write
from .autograd import Function, no_grad
from .tensor import Tensor

__all__ = ["to_dot", "draw", "tape", "trace_backward", "renderer", "DotGraph", "Tape",
           "TapeEntry", "BackwardStep"]

Names = Union[Mapping[str, Tensor], Iterable[Tuple[str, Tensor]], None]
Shape = Tuple[int, ...]
_FORMATS = ("png", "svg", "pdf")
# The programs that turn DOT into a picture, the preferred first, with the formats each writes.
_RENDERERS = (("dot", _FORMATS), ("graphviz-pure", ("png", "svg")))
_INSTALL_HINT = ('pip install "minigrad[graph]" (graphviz-pure, no system package needed), or '
                 "install Graphviz (apt-get install graphviz, brew install graphviz, conda "
                 "install graphviz)")


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


class Tape(List[TapeEntry]):
    """The list of ``TapeEntry`` records ``tape`` returns; it shows itself as the aligned listing
    (``str`` and ``repr``) and, in Jupyter, as a table."""

    def __str__(self) -> str:
        if not self:
            return ""
        seq_width = max(len(str(e.seq)) for e in self) + 1
        op_width = max(len(e.op) for e in self)
        return "\n".join(entry.format(seq_width, op_width) for entry in self)

    def __repr__(self) -> str:
        return str(self) if self else "Tape([])"

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))

    def _repr_html_(self) -> str:
        rows = [(f"#{e.seq}", e.op,
                 ", ".join(f"{label} {_shape(s)}" for label, s in zip(e.inputs, e.input_shapes)),
                 ", ".join(_shape(s) for s in e.output_shapes)) for e in self]
        return html_table(("seq", "op", "inputs (shape)", "output shape"), rows,
                          caption=f"the tape: {len(self)} ops, oldest first; backward runs "
                                  "them bottom to top")


def tape(tensor: Tensor, *, names: Names = None, file: Optional[TextIO] = None,
         show: bool = True) -> Tape:
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
        Print the lines (True) or only return the entries (in Jupyter, ``show=False`` as the
        last line of a cell shows the tape as a table).

    Returns
    -------
    Tape
        A list of ``TapeEntry``, one per op, ascending sequence number; ``str(entry)`` is its
        printed line and ``str(tape)`` the whole listing, columns aligned. Works before and
        after ``backward()``.
    """
    labels = _name_map(names, "tape")
    entries = Tape()
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
        print(entries, file=sys.stdout if file is None else file)
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


class DotGraph(str):
    """Graphviz DOT text (a ``str``, usable wherever the text is) that Jupyter shows as a picture.

    In a notebook a ``DotGraph`` as the last line of a cell displays as an SVG image when a
    renderer is installed (see ``renderer``) and as its DOT text otherwise. ``render(fmt)``
    returns the image's bytes.
    """

    def render(self, fmt: str = "svg") -> bytes:
        """The picture as ``fmt`` ('svg', 'png' or, with Graphviz's ``dot``, 'pdf') bytes.

        Raises ValueError for another format, RuntimeError when no renderer is installed, it
        cannot write ``fmt`` or it fails."""
        if fmt not in _FORMATS:
            raise ValueError(f"DotGraph.render: fmt must be one of {', '.join(_FORMATS)}, got "
                             f"{fmt!r}")
        return _render(str(self), fmt, "DotGraph.render")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(str(self))                 # IPython's text: the DOT itself, not a repr

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, str]:
        bundle = {"text/plain": str(self)}
        wanted = (include is None or "image/svg+xml" in include) and \
            (exclude is None or "image/svg+xml" not in exclude)
        if wanted and renderer() is not None:
            try:
                bundle["image/svg+xml"] = self.render("svg").decode("utf-8")
            except RuntimeError:              # a failing renderer: the text still shows
                pass
        return bundle


def to_dot(tensor: Tensor, show_grads: bool = True, *, names: Names = None) -> DotGraph:
    """Graphviz DOT text of the graph that produced ``tensor``.

    One box per op (``#seq Name``) and one ellipse per tensor (its name or role, shape, dtype,
    and with ``show_grads`` the norm ``||grad||_2`` of its ``.grad`` when it has one, which
    after ``backward()`` is every leaf that requires grad). Arrows follow the data,
    input -> op -> output; backward runs against them. Colours: blue for leaves that require
    grad, grey for constants, green for ``tensor`` itself.

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
    DotGraph
        A ``digraph`` as a ``str``; render it with ``draw``, ``DotGraph.render``, the ``dot``
        program or any Graphviz viewer. In Jupyter it shows as a picture. Works before and
        after ``backward()`` (which keeps the graph's structure).
    """
    functions = _graph(tensor, "to_dot")
    return DotGraph(_dot_text(tensor, functions, _name_map(names, "to_dot"), show_grads))


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


def renderer() -> Optional[str]:
    """The path of the program ``draw`` renders with, or None when there is none.

    Graphviz's ``dot`` on PATH is preferred; otherwise ``graphviz-pure`` (``pip install
    "minigrad[graph]"``), looked for on PATH and then beside this Python's own scripts, so
    that it is found in a virtual environment that is not activated (as a Jupyter kernel's
    often is not).
    """
    found = _find_renderer()
    return None if found is None else found[1]


def _find_renderer() -> Optional[Tuple[str, str]]:
    """(name, path) of the preferred renderer, or None."""
    for name, _ in _RENDERERS:
        path = shutil.which(name)
        if path is not None:
            return name, path
    path = shutil.which("graphviz-pure", path=sysconfig.get_path("scripts"))
    return None if path is None else ("graphviz-pure", path)


def _render(text: str, fmt: str, where: str) -> bytes:
    """DOT ``text`` rendered as ``fmt`` by the preferred renderer; a RuntimeError naming
    ``where`` when there is none, it cannot write ``fmt`` or it fails."""
    found = _find_renderer()
    if found is None:
        raise RuntimeError(f"{where}: no program to render the graph with: neither Graphviz's "
                           f"`dot` nor `graphviz-pure` is installed. Use {_INSTALL_HINT}; the "
                           "text of minigrad.viz.to_dot(tensor) works without either")
    name, program = found
    formats = dict(_RENDERERS)[name]
    if fmt not in formats:
        raise RuntimeError(f"{where}: {name} writes {' and '.join(formats)}, not {fmt}; install "
                           "Graphviz's `dot` for .pdf, or draw to .svg or .png")
    try:
        result = subprocess.run([program, f"-T{fmt}"], input=text.encode("utf-8"),
                                capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise RuntimeError(f"{where}: `{name} -T{fmt}` could not run: {error}") from None
    if result.returncode != 0:
        raise RuntimeError(f"{where}: `{name} -T{fmt}` failed (exit code {result.returncode}): "
                           f"{result.stderr.decode('utf-8', 'replace').strip()}")
    return result.stdout


def draw(tensor: Tensor, path: Union[str, "os.PathLike[str]"], show_grads: bool = True, *,
         names: Names = None) -> Path:
    """Render the graph of ``tensor`` (see ``to_dot``) to an image file.

    The format follows the extension of ``path``: ``.png``, ``.svg`` or ``.pdf``. The renderer
    is Graphviz's ``dot`` when it is on PATH, otherwise ``graphviz-pure`` (``pip install
    "minigrad[graph]"``; PNG and SVG only); see ``renderer``. The file is written atomically
    (a temporary file in the same folder, then renamed).

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        For an extension other than .png, .svg or .pdf.
    FileNotFoundError
        If the folder of ``path`` does not exist.
    RuntimeError
        If no renderer is installed (``to_dot`` still works), the renderer cannot write the
        format or fails.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"draw: path must be a str or os.PathLike ending in "
                        f"{', '.join('.' + f for f in _FORMATS)}, got {type(path).__name__}")
    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in _FORMATS:
        raise ValueError(f"draw: cannot tell the image format from {str(path)!r}; use a path "
                         f"ending in {', '.join('.' + f for f in _FORMATS)}")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"draw: the folder {str(folder)!r} of {str(path)!r} does not "
                                "exist")
    text = _dot_text(tensor, _graph(tensor, "draw"), _name_map(names, "draw"), show_grads)
    image = _render(text, fmt, "draw")
    atomic_write(str(target), lambda file: file.write(image))
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
