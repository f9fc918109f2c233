"""examples/backprop.ipynb runs from top to bottom (offline, in a few seconds) and shows what it
says: the graph before and after backward, the tape as a table, the trace, gradients by hand
equal to minigrad's, a passing and a failing gradient check, and the optimizer paths figure.

The kernel is this Python (``sys.executable -m ipykernel_launcher``) through a kernel spec made
for the test, so a user's own ``python3`` kernel spec (which may point at another Python) plays
no part; its runtime and IPython folders are temporary too.
"""
import json
import os
import re
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")
kernelspec = pytest.importorskip("jupyter_client.kernelspec")
manager = pytest.importorskip("jupyter_client.manager")

from minigrad import viz  # noqa: E402

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "backprop.ipynb"


def code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def cell_with(notebook, text):
    """The one code cell whose source contains ``text``."""
    found = [cell for cell in code_cells(notebook) if text in cell.source]
    assert len(found) == 1, f"{len(found)} cells contain {text!r}"
    return found[0]


def text_of(cell):
    """Everything the cell printed or returned, as plain text."""
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        parts.append(output.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def data_of(cell, mime):
    found = [o["data"][mime] for o in cell.outputs if mime in o.get("data", {})]
    assert len(found) == 1, f"{len(found)} outputs of {mime} in {cell.source[:60]!r}"
    return found[0]


def test_the_notebook_is_stored_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    for cell in code_cells(notebook):
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.fixture(scope="module")
def executed(tmp_path_factory, request):
    """The notebook after running it, in its own folder, with a kernel of this Python."""
    folder = tmp_path_factory.mktemp("kernel")
    spec = folder / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (the tests' own)", "language": "python"}))
    specs = kernelspec.KernelSpecManager(kernel_dirs=[str(spec.parent)])
    assert specs.get_kernel_spec("python3").argv[0] == sys.executable
    monkeypatch = pytest.MonkeyPatch()
    request.addfinalizer(monkeypatch.undo)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(folder / "runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(folder / "ipython"))
    monkeypatch.setenv("MPLCONFIGDIR", str(folder / "matplotlib"))
    # the kernel imports this checkout's minigrad, as the test process does
    root = str(NOTEBOOK.parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [root] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    kernel = manager.KernelManager(kernel_name="python3", kernel_spec_manager=specs)
    client = nbclient.NotebookClient(notebook, km=kernel, timeout=120,
                                     resources={"metadata": {"path": str(NOTEBOOK.parent)}})
    client.execute()
    return notebook


def test_the_notebook_runs_without_errors(executed):
    for cell in code_cells(executed):
        assert cell.execution_count is not None
        assert not [o for o in cell.outputs if o.output_type == "error"], cell.source[:60]
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], cell.source[:60]


def test_the_graph_shows_before_and_after_backward(executed):
    before = cell_with(executed, "viz.to_dot(loss, names=names)")
    after = cell_with(executed, "show_grads=True")
    assert re.search(r"^loss\.backward\(", after.source, re.M)
    for cell, has_grads in ((before, False), (after, True)):
        dot = data_of(cell, "text/plain")
        assert dot.startswith("digraph minigrad {")          # the DOT text, not a quoted repr
        assert dot.count("shape=box") == 8          # MatMul, Add, Tanh, MatMul, Add, Sub, Pow, Mean
        assert ("|grad| = " in dot) == has_grads
        if has_grads:
            assert len(re.findall(r'label="(W1|b1|W2|b2)\\n[^"]*\\n\|grad\| = ', dot)) == 4
        if viz.renderer() is not None:
            svg = data_of(cell, "image/svg+xml")
            assert "<svg" in svg and ">W1<" in svg and ("|grad|" in svg) == has_grads


def test_the_tape_is_a_table_and_the_trace_runs_backward(executed):
    table = data_of(cell_with(executed, "viz.tape("), "text/html")
    ops = re.findall(r"<tr><td>#\d+</td><td>(\w+)</td>", table)
    assert ops == ["MatMul", "Add", "Tanh", "MatMul", "Add", "Sub", "Pow", "Mean"]
    trace = text_of(cell_with(executed, "mg.trace_backward("))
    steps = re.findall(r"^#\d+ (\w+)$", trace, re.M)
    assert steps == ops[::-1]                                 # backward: the tape reversed
    assert "sends    dL/dW1 (3, 5) = " in trace and "sends    dL/db2 (2,) = " in trace


def test_the_gradients_by_hand_equal_minigrads(executed):
    printed = text_of(cell_with(executed, "by_hand = {"))
    differences = re.findall(r"^(W1|b1|W2|b2): max \|by hand − minigrad\| = (\S+)$", printed,
                             re.M)
    assert [name for name, _ in differences] == ["W1", "b1", "W2", "b2"]
    assert max(float(d) for _, d in differences) < 1e-12


def test_the_hand_written_layer_is_checked(executed):
    assert text_of(cell_with(executed, "mg.gradcheck(Softplus.apply")) == "True"
    report = data_of(cell_with(executed, "check_layer(Softplus"), "text/html")
    assert "check_layer: Softplus passed" in report and "<td>input</td>" in report
    error = data_of(cell_with(executed, "WrongSoftplus"), "text/html")
    assert "GradcheckError: gradcheck: the gradient of input 0" in error
    assert "analytic" in error and "numerical" in error


def test_the_optimizer_paths_figure_is_drawn(executed):
    png = data_of(cell_with(executed, "optimizer_paths.draw("), "image/png")
    assert png.startswith("iVBORw0KGgo")                      # base64 of the PNG signature
