"""Rich display in Jupyter (``_repr_html_``/``_repr_pretty_``) and short reprs for big tensors.

The graph's SVG display and the tape's table are tested in test_viz.py beside the rest of viz.
"""
import html
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.gradcheck import GradcheckError
from minigrad.testing import check_layer
from minigrad.train import History


class Printer:
    """What IPython hands to ``_repr_pretty_``: collects the text."""

    def __init__(self):
        self.parts = []

    def text(self, text):
        self.parts.append(text)


def pretty(obj):
    printer = Printer()
    obj._repr_pretty_(printer, False)
    return "".join(printer.parts)


def cells(html_text):
    """Each row of an HTML table as a list of its (unescaped) cell texts, header included."""
    return [[html.unescape(c) for c in re.findall(r"<t[hd]>(.*?)</t[hd]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", html_text)]


# -- History -----------------------------------------------------------------------------------
def test_history_shows_one_row_per_epoch():
    history = History(train_loss=[1.25, 0.5, 0.125], train_acc=[0.5, 0.75, 0.875],
                      val_acc=[0.25, 0.625, 0.8125], epoch_time=[1.0, 2.0, 3.5])
    rows = cells(history._repr_html_())
    assert rows[0] == ["epoch", "train loss", "train acc", "val acc", "seconds"]
    assert rows[1:] == [["1", "1.2500", "0.5000", "0.2500", "1.00"],
                        ["2", "0.5000", "0.7500", "0.6250", "2.00"],
                        ["3", "0.1250", "0.8750", "0.8125", "3.50"]]
    text = str(history)
    assert pretty(history) == text
    lines = text.splitlines()
    assert lines[0] == "History: 3 epochs"
    assert lines[1].split() == ["epoch", "train", "loss", "train", "acc", "val", "acc", "seconds"]
    assert lines[4].split() == ["3", "0.1250", "0.8750", "0.8125", "3.50"]
    assert "History(train_loss=" in repr(history)          # the dataclass repr is kept


def test_history_without_validation_and_a_long_run_stay_readable():
    n = 300
    history = History(train_loss=list(np.linspace(2, 0.1, n)), train_acc=[0.5] * n,
                      val_acc=[], epoch_time=[0.25] * n)
    rows = cells(history._repr_html_())
    assert rows[0] == ["epoch", "train loss", "train acc", "seconds"]
    assert len(rows) == 1 + 10 + 1 + 10                     # first 10, '...', last 10
    assert [r[0] for r in rows[1:3]] == ["1", "2"] and rows[11] == ["..."] * 4
    assert rows[-1] == ["300", "0.1000", "0.5000", "0.25"]
    assert len(str(history).splitlines()) == 2 + 21
    assert str(History()) == "History: no epochs yet"


def test_the_history_fit_returns_displays_its_epochs():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((40, 3)).astype(np.float32), rng.integers(0, 2, 40)
    mg.manual_seed(0)
    model = nn.MLP(3, [4], 2)
    history = mg.train.fit(model, nn.SoftmaxCrossEntropy(), mg.optim.SGD(model.parameters(),
                           lr=0.1), (x, y), 2, 10, val_data=(x, y), progress=False)
    rows = cells(history._repr_html_())
    assert len(rows) == 3
    for row, loss, acc in zip(rows[1:], history.train_loss, history.val_acc):
        assert float(row[1]) == pytest.approx(loss, abs=5e-5)
        assert float(row[3]) == pytest.approx(acc, abs=5e-5)


# -- check_layer's report and gradcheck's error -------------------------------------------------
def test_a_layer_check_report_shows_as_a_table():
    mg.manual_seed(0)
    report = check_layer(nn.Linear(3, 2), (4, 3))
    rows = cells(report._repr_html_())
    assert rows[0] == ["gradient", "shape", "max abs err", "max rel err", "max |grad|",
                       "at a kink"]
    n = 1 + len(report.gradients)                  # at the initial, then the random parameters
    assert [r[0] for r in rows[1:n]] == [g.name for g in report.gradients]
    assert rows[n] == rows[0] and [r[0] for r in rows[n + 1:]] == ["input", "weight", "bias"]
    assert len(rows) == 2 * n and n >= 4             # the input, weight and bias
    for row, g in zip(rows[1:n] + rows[n + 1:], report.gradients + report.random_gradients):
        assert row[1] == str(g.shape) and float(row[2]) == pytest.approx(g.max_abs_error,
                                                                       rel=0.01, abs=1e-300)
    page = report._repr_html_()
    assert "check_layer: Linear passed on an input of shape (4, 3)" in page
    assert page.count("<li>") == len(report.checks) + len(report.notes)
    assert pretty(report) == str(report)


def test_a_gradcheck_error_shows_its_message_with_the_lines_kept():
    class WrongSquare(mg.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, gy):
            (x,) = self.saved_tensors
            return gy * x                                     # should be 2x

    x = mg.tensor(np.array([1.0, -2.0, 3.0]), requires_grad=True)
    with pytest.raises(GradcheckError) as info:
        mg.gradcheck(WrongSquare.apply, (x,), seed=0)
    error = info.value
    first, details = str(error).split("\n", 1)
    page = error._repr_html_()
    assert f"<b>GradcheckError: {html.escape(first)}</b>" in page
    assert f"<pre>{html.escape(details)}</pre>" in page
    assert "analytic" in details and "numerical" in details
    assert pretty(error) == f"GradcheckError:\n{error}"


# -- Tensor's repr ------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(10 ** 6,), (1000, 1000), (100, 100, 100), (30,) * 4,
                                   (10,) * 5, (4,) * 9, (201, 1, 1, 1, 1, 1)])
def test_the_repr_of_a_big_tensor_stays_short(shape):
    data = np.zeros(shape)
    data.flat[0], data.flat[-1] = -1.5, 7.25
    text = repr(mg.tensor(data, requires_grad=True) * 1.0)
    assert len(text) < 1200 and text.count("\n") <= 30, text
    assert text.startswith("tensor([") and "..." in text
    assert text.endswith("dtype=float64, grad_fn=<Mul>)")
    assert re.search(r"^tensor\(\[+-1\.5 *,.*, +7\.25\]+, ", text, re.S)   # first and last
    if len(shape) > 4:
        assert f"shape={shape} shown flattened" in text


def test_the_repr_of_a_small_tensor_shows_every_value():
    data = np.arange(24.0).reshape(2, 3, 4)
    text = repr(mg.tensor(data))
    assert "..." not in text and all(f"{v:g}." in text for v in data.ravel())


# -- what Jupyter actually receives -------------------------------------------------------------
def test_ipython_shows_the_tables_and_the_plain_text():
    formatters = pytest.importorskip("IPython.core.formatters")
    from minigrad import viz

    history = History(train_loss=[0.5], train_acc=[0.75], val_acc=[], epoch_time=[1.0])
    x = mg.tensor(np.ones((2, 3)), requires_grad=True)
    loss = (x * 2.0).sum()
    tape = viz.tape(loss, show=False)
    graph = viz.to_dot(loss)
    report = check_layer(nn.Tanh(), (2, 3))
    shown = {name: formatters.DisplayFormatter().format(obj)[0] for name, obj in
             [("history", history), ("tape", tape), ("graph", graph), ("report", report)]}
    assert shown["history"]["text/plain"] == str(history)
    assert shown["history"]["text/html"] == history._repr_html_()
    assert shown["tape"]["text/plain"] == str(tape) and "<table" in shown["tape"]["text/html"]
    assert shown["graph"]["text/plain"] == str(graph)        # the DOT text, not a quoted repr
    assert ("image/svg+xml" in shown["graph"]) == (viz.renderer() is not None)
    assert shown["report"]["text/plain"] == str(report)
    assert shown["report"]["text/html"] == report._repr_html_()
