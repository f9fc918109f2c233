"""minigrad.viz: DOT export, draw, the tape printout, and mg.trace_backward."""
import ast
import io
import os
import re
import shutil
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import viz
from minigrad.testing import strategies as mst

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
NODE = re.compile(r"^\s+(\w+) \[(.*)\];$")
EDGE = re.compile(r"^\s+(\w+) -> (\w+);$")


def parse_dot(text):
    """A small DOT reader: (node id -> attribute text, list of edges); fails on other lines."""
    lines = text.strip().splitlines()
    assert lines[0] == "digraph minigrad {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if line.strip().startswith(("rankdir", "node [")):
            continue
        node, edge = NODE.match(line), EDGE.match(line)
        assert node or edge, f"unexpected DOT line {line!r}"
        if node:
            assert node.group(1) not in nodes, f"node {node.group(1)} defined twice"
            nodes[node.group(1)] = node.group(2)
        else:
            edges.append(edge.groups())
    for a, b in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} names a missing node"
    return nodes, edges


def label(attributes):
    """The label of a node, with DOT escapes undone."""
    text = re.search(r'label="((?:[^"\\]|\\.)*)"', attributes).group(1)
    return text.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")


def small_net(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    x = mg.tensor(rng.standard_normal((4, 3)).astype(dtype))
    W = mg.tensor(rng.standard_normal((3, 2)).astype(dtype), requires_grad=True)
    b = mg.tensor(rng.standard_normal(2).astype(dtype), requires_grad=True)
    loss = ((x @ W + b).tanh() ** 2).mean()
    return x, W, b, loss


# -- to_dot --------------------------------------------------------------------------------------
def test_to_dot_counts_ops_plus_tensors():
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    w = mg.tensor(np.ones(3), requires_grad=True)
    b = mg.tensor(2.0)
    y = (x * w + b).sum()                     # ops: Mul, Add, Sum; tensors: x, w, b, x*w, +b, y
    nodes, edges = parse_dot(viz.to_dot(y))
    ops = [n for n, a in nodes.items() if "shape=box" in a]
    tensors = [n for n, a in nodes.items() if "shape=ellipse" in a]
    assert len(ops) == 3 and len(tensors) == 6 and len(nodes) == 9
    assert sorted(label(nodes[n]).split()[1] for n in ops) == ["Add", "Mul", "Sum"]
    # each op has an edge from each input and one to its output
    assert len(edges) == (2 + 1) + (2 + 1) + (1 + 1)
    for n in ops:
        assert sum(1 for a, b_ in edges if a == n) == 1
    # the root is the only tensor without an outgoing edge
    sinks = [t for t in tensors if not any(a == t for a, _ in edges)]
    assert len(sinks) == 1 and "palegreen" in nodes[sinks[0]]


def test_to_dot_labels_shape_dtype_and_grad_norms():
    x, W, b, loss = small_net(np.float32)
    loss.backward(retain_graph=True)
    # gradient by hand: loss = mean(tanh(z)^2), z = xW + b
    z = x.data @ W.data + b.data
    t = np.tanh(z)
    gz = 2 * t * (1 - t ** 2) / z.size
    nodes, _ = parse_dot(viz.to_dot(loss, names={"x": x, "W": W, "b": b}))
    labels = {label(a).split("\n")[0]: label(a) for a in nodes.values()}
    assert labels["W"] == "W\n(3, 2) float32\n|grad| = " + format(
        float(np.linalg.norm(x.data.T @ gz)), ".4g")
    assert labels["b"].endswith(format(float(np.linalg.norm(gz.sum(0))), ".4g"))
    assert labels["x"] == "x\n(4, 3) float32"            # a constant input has no gradient
    assert "|grad|" not in viz.to_dot(loss, show_grads=False)


def test_to_dot_diamond_shares_tensor_nodes():
    a = mg.tensor(np.array([0.5, -1.0]), requires_grad=True)
    b = a.exp()
    c = a.tanh()
    d = b * c
    nodes, edges = parse_dot(viz.to_dot(d))
    assert len(nodes) == 3 + 4                           # exp, tanh, mul; a, b, c, d
    leaf = [n for n, attr in nodes.items() if "lightblue" in attr]
    assert len(leaf) == 1
    assert sum(1 for src, _ in edges if src == leaf[0]) == 2   # a feeds both branches


def test_to_dot_of_a_leaf_is_one_node():
    a = mg.tensor(np.zeros((2, 2)), requires_grad=True)
    nodes, edges = parse_dot(viz.to_dot(a))
    assert len(nodes) == 1 and edges == []


def test_to_dot_escapes_names():
    x, W, b, loss = small_net()
    text = viz.to_dot(loss, names={'W "weights" \\ 1': W})
    nodes, _ = parse_dot(text)
    assert any(label(a).startswith('W "weights" \\ 1\n') for a in nodes.values())


NO_RENDERER = 'neither Graphviz dot nor graphviz-pure is installed (pip install "minigrad[graph]")'


@pytest.mark.skipif(viz.renderer() is None, reason=NO_RENDERER)
def test_to_dot_is_accepted_by_graphviz():
    x, W, b, loss = small_net()
    text = viz.to_dot(loss, names={'W "q"': W, "b": b})
    result = subprocess.run([viz.renderer(), "-Tplain"], input=text, text=True,
                            capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("\nnode ") == 5 + 9       # 5 ops; x, W, b, const 2, 5 results


def test_graph_functions_work_after_backward_and_only_a_second_backward_is_refused():
    x, W, b, loss = small_net()
    names = {"x": x, "W": W, "b": b}
    dot_before = viz.to_dot(loss, names=names)
    tape_before = viz.tape(loss, names=names, show=False)
    loss.backward()                               # frees the saved arrays, keeps the structure
    dot_after = viz.to_dot(loss, names=names)
    assert viz.tape(loss, names=names, show=False) == tape_before
    # the same drawing, plus the norm of each leaf's gradient
    grads = {f"|grad| = {float(np.linalg.norm(t.grad.data)):.4g}" for t in (W, b)}
    added = [line for line in dot_after.split("\\n") if line.startswith("|grad|")]
    assert {line.split('"')[0] for line in added} == grads
    for grad in grads:
        dot_after = dot_after.replace("\\n" + grad, "")
    assert dot_after == dot_before
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        loss.backward()


def test_graph_functions_refuse_non_tensors():
    with pytest.raises(TypeError, match="to_dot: expected a Tensor"):
        viz.to_dot(np.ones(3))
    with pytest.raises(TypeError, match="names"):
        viz.tape(mg.tensor(1.0, requires_grad=True) * 2, names={"x": np.ones(1)})


@pytest.mark.parametrize("names, words", [
    (5, "got 5"),
    ("x", "got a str"),
    (np.ones(2), "got a ndarray"),
    ([mg.tensor([1.0, 2.0])], "item of type Tensor, not a (name, Tensor) pair"),
    ([("x",)], "item a tuple of length 1, not a (name, Tensor) pair"),
    ([3], "item of type int"),
])
def test_names_that_are_not_a_mapping_or_pairs_are_refused_by_name(names, words, tmp_path):
    x, W, b, loss = small_net()
    expected = r"mapping from name to Tensor.*\(name, Tensor\) pairs.*" + re.escape(words)
    for where, call in (("tape", lambda: viz.tape(loss, names=names, show=False)),
                        ("to_dot", lambda: viz.to_dot(loss, names=names)),
                        ("trace_backward", lambda: viz.trace_backward(names=names)),
                        ("draw", lambda: viz.draw(loss, tmp_path / "graph.svg", names=names))):
        with pytest.raises(TypeError, match=rf"^{where}: names must be a {expected}"):
            call()


def test_names_given_the_wrong_way_round_are_refused_by_name():
    x, W, b, loss = small_net()
    with pytest.raises(TypeError, match=r"tape: names\[<Tensor>\] must be a Tensor, got str"):
        viz.tape(loss, names={W: "W"})
    with pytest.raises(TypeError, match=r"tape: names\['W'\] must be a Tensor, got int"):
        viz.tape(loss, names=[("W", 3)])


def test_names_may_be_any_iterable_of_pairs(tmp_path, monkeypatch):
    x, W, b, loss = small_net()
    for names in ({"W": W}, [("W", W)], (("W", W),), iter([["W", W]])):
        assert viz.tape(loss, names=names, show=False)[0].inputs == ("const", "W")
    written = []
    monkeypatch.setattr(shutil, "which", lambda name, path=None: "/usr/bin/dot")
    monkeypatch.setattr(subprocess, "run", lambda args, input, **kw: written.append(
        input.decode()) or subprocess.CompletedProcess(args, 1, b"", b"stopped by the test"))
    with pytest.raises(RuntimeError, match="stopped by the test"):
        viz.draw(loss, tmp_path / "graph.svg", names=iter([("W", W)]))   # read once, kept
    assert written == [viz.to_dot(loss, names={"W": W})]
    assert "W\\n(3, 2) float64" in written[0]


def test_to_dot_and_tape_handle_a_long_chain():
    x = mg.tensor(np.ones(2), requires_grad=True)
    y = x
    for _ in range(3000):
        y = y * 1.0
    nodes, edges = parse_dot(viz.to_dot(y))
    assert len(nodes) == 3000 + 1 + 3000 + 3000            # ops, x, constants, outputs
    assert len(viz.tape(y, show=False)) == 3000


# -- draw and the renderers ---------------------------------------------------------------------
def fake_renderer(folder, name):
    """An executable ``folder/name`` that reads DOT on stdin and writes ``<svg>name -T..</svg>``
    on stdout, so a test can tell which renderer drew (a shebang to this Python: no PATH)."""
    folder.mkdir(exist_ok=True)
    script = folder / name
    script.write_text(f"#!{sys.executable}\nimport sys\nassert sys.stdin.read().startswith("
                      f"'digraph')\nsys.stdout.write('<svg>{name} ' + ' '.join(sys.argv[1:]) "
                      "+ '</svg>')\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return str(script)


@pytest.fixture
def only(tmp_path, monkeypatch):
    """``only("dot", ...)``: PATH and this Python's scripts folder hold just those fakes
    (``scripts=[...]`` for fakes in the scripts folder)."""
    if os.name == "nt":
        pytest.skip("the fake renderers are POSIX scripts")

    def make(*on_path, scripts=()):
        bin_dir, scripts_dir = tmp_path / "bin", tmp_path / "scripts"
        bin_dir.mkdir(exist_ok=True)
        scripts_dir.mkdir(exist_ok=True)
        for name in on_path:
            fake_renderer(bin_dir, name)
        for name in scripts:
            fake_renderer(scripts_dir, name)
        monkeypatch.setenv("PATH", str(bin_dir))
        monkeypatch.setattr(sysconfig, "get_path", lambda which: str(scripts_dir))
    return make


@pytest.mark.parametrize("on_path, scripts, chosen", [
    (("dot", "graphviz-pure"), (), "bin/dot"),                # Graphviz is preferred
    (("dot",), ("graphviz-pure",), "bin/dot"),
    (("graphviz-pure",), (), "bin/graphviz-pure"),            # the pip renderer alone
    ((), ("graphviz-pure",), "scripts/graphviz-pure"),        # a venv that is not activated
])
def test_draw_uses_dot_first_then_graphviz_pure(only, tmp_path, on_path, scripts, chosen):
    only(*on_path, scripts=scripts)
    assert viz.renderer() == str(tmp_path / chosen)
    x, W, b, loss = small_net()
    path = viz.draw(loss, tmp_path / "graph.svg")
    assert path.read_text() == f"<svg>{Path(chosen).name} -Tsvg</svg>"
    svg = viz.to_dot(loss)._repr_mimebundle_()["image/svg+xml"]
    assert svg == f"<svg>{Path(chosen).name} -Tsvg</svg>"
    graph = viz.to_dot(loss)
    for include, exclude in ((["text/plain"], None), (None, ["image/svg+xml"])):
        assert graph._repr_mimebundle_(include, exclude) == {"text/plain": str(graph)}


def test_graphviz_pure_refuses_pdf_and_dot_writes_it(only, tmp_path):
    x, W, b, loss = small_net()
    only("graphviz-pure")
    with pytest.raises(RuntimeError, match=r"draw: graphviz-pure writes png and svg, not pdf; "
                                           r"install Graphviz's `dot` for \.pdf"):
        viz.draw(loss, tmp_path / "graph.pdf")
    assert not (tmp_path / "graph.pdf").exists()
    only("dot", "graphviz-pure")
    assert viz.draw(loss, tmp_path / "graph.pdf").read_text() == "<svg>dot -Tpdf</svg>"


def test_draw_without_a_renderer_says_what_to_install(only, tmp_path):
    only()                                                    # nothing anywhere
    assert viz.renderer() is None
    x, W, b, loss = small_net()
    with pytest.raises(RuntimeError, match=r'^draw: no program .*pip install "minigrad\[graph\]"'
                                           r".*install Graphviz"):
        viz.draw(loss, tmp_path / "graph.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "scripts"]   # nothing written
    graph = viz.to_dot(loss)
    assert graph._repr_mimebundle_() == {"text/plain": str(graph)}   # Jupyter shows the text
    with pytest.raises(RuntimeError, match="DotGraph.render: no program"):
        graph.render("svg")
    with pytest.raises(ValueError, match=r"^DotGraph.render: fmt must be one of png, svg, pdf, "
                                         r"got 'jpg'$"):
        graph.render("jpg")


def test_draw_refuses_a_missing_folder_before_looking_for_a_renderer(only, tmp_path):
    x, W, b, loss = small_net()
    for installed in ((), ("graphviz-pure",)):
        only(*installed)
        with pytest.raises(FileNotFoundError, match="draw: the folder .*missing"):
            viz.draw(loss, tmp_path / "missing" / "graph.svg")
        assert not (tmp_path / "missing").exists()


def test_draw_rejects_unknown_formats(tmp_path):
    x, W, b, loss = small_net()
    with pytest.raises(ValueError, match=r"draw: .*graph\.jpg.*\.png, \.svg, \.pdf"):
        viz.draw(loss, tmp_path / "graph.jpg")


@pytest.mark.skipif(viz.renderer() is None, reason=NO_RENDERER)
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".png", b"\x89PNG")])
def test_draw_writes_the_image(tmp_path, suffix, magic):
    x, W, b, loss = small_net()
    path = viz.draw(loss, tmp_path / f"graph{suffix}", names={"W": W})
    assert path == tmp_path / f"graph{suffix}"
    assert magic in path.read_bytes()[:400]
    assert [p.name for p in tmp_path.iterdir()] == [f"graph{suffix}"]   # no temp file left


@pytest.mark.skipif(viz.renderer() is None, reason=NO_RENDERER)
def test_a_dot_graph_shows_as_svg_in_jupyter_and_stays_a_string():
    x, W, b, loss = small_net()
    graph = viz.to_dot(loss, names={"W": W})
    assert isinstance(graph, str) and graph == viz.to_dot(loss, names={"W": W})
    assert graph.startswith("digraph minigrad {")
    bundle = graph._repr_mimebundle_()
    assert bundle["text/plain"] == str(graph)
    svg = bundle["image/svg+xml"]
    assert svg.lstrip().startswith("<?xml") and "<svg" in svg
    # every op and every labelled tensor is drawn (SVG escapes nothing in these names)
    for text in (r"#\d+ MatMul<", r"#\d+ Tanh<", r"#\d+ Pow<", r"#\d+ Mean<", ">W<"):
        assert re.search(text, svg), text


@pytest.mark.parametrize("path", [None, 5, ["graph.svg"]])
def test_draw_refuses_a_path_that_is_not_a_path(path):
    x, W, b, loss = small_net()
    with pytest.raises(TypeError, match=r"^draw: path must be a str or os.PathLike ending in "
                                        r"\.png, \.svg, \.pdf, got " + type(path).__name__):
        viz.draw(loss, path)


def test_draw_reports_a_failing_dot(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, path=None: "/bin/false")
    x, W, b, loss = small_net()
    with pytest.raises(RuntimeError, match="dot -Tsvg. failed"):
        viz.draw(loss, tmp_path / "graph.svg")
    assert list(tmp_path.iterdir()) == []


def test_draw_refuses_a_missing_folder(tmp_path):
    x, W, b, loss = small_net()
    with pytest.raises(FileNotFoundError, match="draw: the folder"):
        viz.draw(loss, tmp_path / "missing" / "graph.svg")


class SplitHalves(mg.Function):
    """A two-output op for the tests: (x[:k], x[k:]) along the first axis."""

    def forward(self, x, k=1):
        self.k = k
        return x[:k].copy(), x[k:].copy()

    def backward(self, g_head, g_tail):
        return mg.functional.concatenate([g_head, g_tail], axis=0)


def test_multi_output_ops_in_dot_tape_and_trace():
    x = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    head, tail = SplitHalves.apply(x, k=1)
    loss = (head * 2.0).sum() + (tail * tail).sum()
    nodes, edges = parse_dot(viz.to_dot(loss))
    split = [n for n, a in nodes.items() if "SplitHalves" in a]
    assert len(split) == 1 and sum(1 for a, _ in edges if a == split[0]) == 2
    entry = next(e for e in viz.tape(loss, show=False) if e.op == "SplitHalves")
    assert entry.output_shapes == ((1,), (2,))
    seq = head.grad_fn._seq
    assert any(e.inputs == (f"#{seq}.1", f"#{seq}.1") for e in viz.tape(loss, show=False))
    stream = io.StringIO()
    with mg.trace_backward(stream) as trace:
        loss.backward()
    step = trace.steps[-1]
    assert step.op == "SplitHalves" and len(step.upstream) == 2
    np.testing.assert_array_equal(step.upstream[0], [2.0])
    np.testing.assert_array_equal(step.upstream[1], [4.0, 6.0])
    np.testing.assert_array_equal(step.grads[0], x.grad.data)
    assert f"receives dL/d#{seq}.1 (2,) = [4., 6.]" in stream.getvalue()


def test_multi_output_graph_after_backward_keeps_which_output_went_where():
    x = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    head, tail = SplitHalves.apply(x, k=1)
    loss = (head * 2.0).sum() + (tail * tail).sum()
    del head, tail                            # after backward only the graph remembers them
    dot_before, tape_before = viz.to_dot(loss), viz.tape(loss, show=False)
    loss.backward()
    assert viz.tape(loss, show=False) == tape_before      # shapes and labels #seq.0, #seq.1
    assert viz.to_dot(loss, show_grads=False) == dot_before.replace("\\n|grad|", "")


# -- tape ----------------------------------------------------------------------------------------
def test_tape_of_a_diamond_is_in_a_valid_order(capsys):
    a = mg.tensor(np.array([[0.5, -1.0, 2.0]]), requires_grad=True)
    b = a.exp()                    # a -> b -> d
    c = a * 3.0                    # a -> c -> d
    d = b + c.reshape(3, 1)        # broadcast (1, 3) + (3, 1) -> (3, 3)
    e = d.sum()
    entries = viz.tape(e, names={"a": a})
    order = [entry.seq for entry in entries]
    assert order == sorted(order) and len(order) == 5
    pos = {entry.seq: i for i, entry in enumerate(entries)}
    fb, fc, fd, fe = (t.grad_fn for t in (b, c, d, e))
    reshape = fd.inputs[1].grad_fn
    assert pos[fb._seq] < pos[fd._seq] and pos[fc._seq] < pos[reshape._seq] < pos[fd._seq]
    assert pos[fd._seq] < pos[fe._seq] == 4
    by_seq = {entry.seq: entry for entry in entries}
    assert by_seq[fd._seq].op == "Add"
    assert by_seq[fd._seq].input_shapes == ((1, 3), (3, 1))
    assert by_seq[fd._seq].output_shapes == ((3, 3),)
    assert by_seq[fc._seq].inputs == ("a", "const 3")
    assert by_seq[fd._seq].inputs == (f"#{fb._seq}", f"#{reshape._seq}")
    printed = capsys.readouterr().out.splitlines()
    assert [line.split() for line in printed] == [str(entry).split() for entry in entries]
    assert printed[-1].startswith(f"#{fe._seq}") and "Sum" in printed[-1]
    assert "(3, 3) -> ()" in printed[-1]


@given(st.lists(st.tuples(st.sampled_from(["add", "mul", "tanh", "sum0"]),
                          st.integers(0, 100), st.integers(0, 100)), min_size=1, max_size=12))
def test_tape_lists_every_producer_before_its_consumer(program):
    """A random DAG: each new tensor combines two earlier ones (chosen by index)."""
    values = [mg.tensor(np.full((2, 2), 0.5), requires_grad=True)]
    for op, i, j in program:
        a, b = values[i % len(values)], values[j % len(values)]
        if op == "add":
            values.append(a + b)
        elif op == "mul":
            values.append(a * b)
        elif op == "tanh":
            values.append(a.tanh())
        else:
            values.append(a.sum(axis=0, keepdims=True) + b)
    root = values[-1]
    entries = viz.tape(root, show=False)
    position = {entry.seq: i for i, entry in enumerate(entries)}
    # an independent walk: every op reachable from the root is listed once, after its inputs
    stack, seen = [root.grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn is None or fn._seq in seen:
            continue
        seen.add(fn._seq)
        for t in fn.inputs:
            if t.grad_fn is not None:
                assert position[t.grad_fn._seq] < position[fn._seq]
                stack.append(t.grad_fn)
    assert seen == set(position)


def test_tape_of_a_leaf_is_empty(capsys):
    assert viz.tape(mg.tensor(1.0, requires_grad=True)) == []
    assert capsys.readouterr().out == ""


def test_tape_can_print_to_a_stream_or_not_at_all(capsys):
    x, W, b, loss = small_net()
    stream = io.StringIO()
    entries = viz.tape(loss, names={"x": x, "W": W}, file=stream)
    lines = stream.getvalue().splitlines()
    assert [line.split() for line in lines] == [str(e).split() for e in entries]
    starts = {line.index(entry.inputs[0] + " (") for line, entry in zip(lines, entries)}
    assert len(starts) == 1                      # the inputs column is aligned
    assert str(entries[0]) == f"#{entries[0].seq} MatMul  x (4, 3), W (3, 2) -> (4, 2)"
    viz.tape(loss, show=False)
    assert capsys.readouterr().out == ""


def test_the_tape_shows_as_its_listing_and_as_an_html_table():
    x, W, b, loss = small_net()
    stream = io.StringIO()
    entries = viz.tape(loss, names={"x": x, "<W>": W}, file=stream)
    assert isinstance(entries, list) and len(entries) == 5
    assert repr(entries) == str(entries) == stream.getvalue().rstrip("\n")
    html = entries._repr_html_()
    assert html.count("<tr>") == 1 + 5                       # the header and one row per op
    for entry in entries:
        assert f"<td>#{entry.seq}</td><td>{entry.op}</td>" in html
    assert "&lt;W&gt; (3, 2)" in html and "<W>" not in html  # names are escaped
    assert "<td>(4, 2)</td>" in html                         # MatMul's output shape
    assert repr(viz.tape(mg.tensor(1.0, requires_grad=True))) == "Tape([])"


# -- trace_backward ------------------------------------------------------------------------------
def reduce_to(g, shape):
    """Sum a broadcast gradient back to ``shape`` (leading axes, then stretched axes)."""
    g = g.sum(axis=tuple(range(g.ndim - len(shape))))
    return g.sum(axis=tuple(i for i, n in enumerate(shape) if n == 1), keepdims=True)


def parse_trace(text):
    """The printed trace as a list of (seq, op, {'receives': [...], 'sends': {label: array}})."""
    steps = []
    for block in re.split(r"\n(?=#)", text.strip()):
        head, *rest = re.split(r"\n(?=    (?:receives|sends))", block)
        seq, op = re.fullmatch(r"#(\d+) (\w+)", head).groups()
        received, sent = [], {}
        for part in rest:
            kind, name, body = re.fullmatch(r"\s+(receives|sends)\s+dL/d(\S+) \([\d, ]*\) = "
                                            r"(.*)", part, re.S).groups()
            array = np.array(ast.literal_eval(" ".join(body.split())), dtype=float)
            (received.append(array) if kind == "receives" else sent.__setitem__(name, array))
        steps.append((int(seq), op, received, sent))
    return steps


@given(mst.broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=3).flatmap(
    lambda s: st.tuples(mst.arrays(shape=s[0]), mst.arrays(shape=s[1]))))
def test_trace_prints_the_real_chain_rule_gradients(xw):
    x = mg.tensor(xw[0], requires_grad=True)
    w = mg.tensor(xw[1], requires_grad=True)
    z = x * w
    y = z.tanh()
    loss = y.sum()
    stream = io.StringIO()
    with mg.trace_backward(stream, names={"x": x, "w": w}, precision=12) as trace:
        loss.backward()
    # the chain rule by hand in NumPy
    zb = xw[0] * xw[1]
    gz = 1 - np.tanh(zb) ** 2                        # dL/dz = dL/dy * (1 - tanh(z)^2)
    gx = reduce_to(gz * xw[1], x.shape)              # dL/dx = dL/dz * w, summed over broadcast
    gw = reduce_to(gz * xw[0], w.shape)
    printed = parse_trace(stream.getvalue())
    assert [(s, op) for s, op, _, _ in printed] == [
        (loss.grad_fn._seq, "Sum"), (y.grad_fn._seq, "Tanh"), (z.grad_fn._seq, "Mul")]
    (_, _, r_sum, s_sum), (_, _, r_tanh, s_tanh), (_, _, r_mul, s_mul) = printed
    zlabel = f"#{z.grad_fn._seq}"
    np.testing.assert_allclose(r_sum[0], 1.0)
    np.testing.assert_allclose(s_sum[f"#{y.grad_fn._seq}"], np.ones(zb.shape))
    np.testing.assert_allclose(s_tanh[zlabel], gz, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(r_mul[0], gz, rtol=1e-9, atol=1e-11)
    # what the trace says each leaf received is what backward stored in .grad
    np.testing.assert_allclose(s_mul["x"].reshape(x.shape), gx, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(s_mul["w"].reshape(w.shape), gw, rtol=1e-9, atol=1e-11)
    # and the recorded steps hold the exact arrays
    mul = trace.steps[-1]
    assert mul.inputs == ("x", "w")
    np.testing.assert_array_equal(mul.grads[0], x.grad.data)
    np.testing.assert_array_equal(mul.grads[1], w.grad.data)
    np.testing.assert_allclose(mul.upstream[0], gz, rtol=1e-12)


def test_trace_gradients_of_a_tensor_used_twice_add_up():
    x = mg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    loss = (x * x + x).sum()                         # dL/dx = 2x + 1
    with mg.trace_backward(show=False) as trace:
        loss.backward()
    sent = [g for step in trace.steps for label, g in zip(step.inputs, step.grads)
            if label == "leaf"]
    assert len(sent) == 3                            # twice from Mul, once from Add
    np.testing.assert_array_equal(sum(sent), 2 * x.data + 1)
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 1)


def test_trace_abbreviates_large_arrays():
    x = mg.tensor(np.arange(100.0).reshape(10, 10), requires_grad=True)
    stream = io.StringIO()
    with mg.trace_backward(stream):
        (x * 2.0).sum().backward()
    text = stream.getvalue()
    assert "..." in text and "98." not in text
    assert "dL/dleaf (10, 10) = [[2., 2., ..., 2., 2.]," in text


def test_trace_records_float32_and_skips_inputs_without_grad(capsys):
    x = mg.tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    c = mg.tensor(np.full((2, 2), 3.0, dtype=np.float32))
    with mg.trace_backward() as trace:
        (x * c).sum().backward()
    mul = trace.steps[-1]
    assert mul.grads[1] is None and mul.grads[0].dtype == np.float32
    out = capsys.readouterr().out
    assert "dL/dconst" not in out and "sends    dL/dleaf (2, 2) = [[3., 3.]," in out


def test_trace_shows_the_gradient_after_hooks_and_works_with_grad():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2.0
    y.register_hook(lambda g: g * 10.0)
    with mg.trace_backward(show=False) as trace:
        (gx,) = mg.grad(y.sum(), x)
    mul = trace.steps[-1]
    np.testing.assert_array_equal(mul.upstream[0], [10.0, 10.0])
    np.testing.assert_array_equal(mul.grads[0], [20.0, 20.0])
    np.testing.assert_array_equal(gx.data, [20.0, 20.0])


def test_trace_stops_at_the_end_of_the_block_even_after_an_error(capsys):
    x = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ZeroDivisionError):
        with mg.trace_backward():
            1 / 0
    (x * 2.0).sum().backward()
    assert capsys.readouterr().out == ""
    with mg.trace_backward(show=False) as outer, mg.trace_backward(show=False) as inner:
        (x * 2.0).sum().backward()
    assert len(outer.steps) == len(inner.steps) == 2


# -- the examples --------------------------------------------------------------------------------
def run_example(name, *args):
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_backprop_by_hand_agrees_with_minigrad_at_every_step():
    out = run_example("backprop_by_hand.py", "--trace")
    diffs = [float(d) for d in re.findall(r"max \|difference\| = (\S+)", out)]
    assert len(diffs) == 7 and max(diffs) < 1e-12
    assert re.search(r"^#\d+ +Affine +x \(4, 3\), 0\.weight \(3, 5\)", out, re.M)
    assert "sends    dL/d0.weight (3, 5) = " in out          # the trace names the parameters


def test_graph_example_writes_a_valid_dot_file(tmp_path):
    out = run_example("graph.py", "--out", str(tmp_path / "g"))
    nodes, edges = parse_dot((tmp_path / "g.dot").read_text())
    assert len(nodes) == 4 + 10 and len(edges) == 13         # 4 ops; x, labels, 4 params, ...
    assert "SoftmaxCrossEntropy" in out
    if viz.renderer() is not None:
        assert (tmp_path / "g.svg").read_bytes().count(b"<svg") == 1
        assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
