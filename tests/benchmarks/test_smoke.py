"""The benchmarks run (smoke mode: one repetition, tiny sizes) and the NumPy floor computes what
minigrad computes. No timing is asserted: these machines are shared and noisy."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from benchmarks import reference, report, run, workloads
from floor_match import assert_steps_agree
from minigrad import functional as F
from minigrad import nn, optim

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


# -- the NumPy floor against minigrad --------------------------------------------------------
def _twins(input_size, hidden, output_size, batchnorm, dropout, seed):
    """minigrad's nn.MLP in float64 and the hand-written network holding the same weights."""
    mg.manual_seed(seed)
    model = nn.MLP(input_size, hidden, output_size, use_batchnorm=batchnorm,
                   dropout=dropout).to(np.float64)
    floor = reference.ReferenceMLP(input_size, hidden, output_size, use_batchnorm=batchnorm,
                                   dropout=dropout, dtype=np.float64, seed=seed + 1)
    params = list(model.parameters())
    assert [p.shape for p in params] == [p.shape for p in floor.params()]
    for mine, theirs in zip(floor.params(), params):
        mine[...] = theirs.data
    return model, floor


def _hold_dropout(model, masks):
    """Make each of the model's Dropout layers use its fixed mask (a forward hook)."""
    layers = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(layers) == len(masks)
    for layer, mask in zip(layers, masks):
        layer.register_forward_hook(
            lambda module, inputs, output, mask=mask: F.dropout(inputs[0], module.p, mask=mask))


@given(batch=st.integers(2, 5), input_size=st.integers(1, 5),
       hidden=st.lists(st.integers(1, 5), min_size=1, max_size=3),
       output_size=st.integers(2, 5), batchnorm=st.booleans(),
       dropout=st.sampled_from([0.0, 0.2, 0.5]), seed=st.integers(0, 2**16))
def test_reference_gradients_and_adam_step_equal_minigrad(batch, input_size, hidden, output_size,
                                                          batchnorm, dropout, seed):
    model, floor = _twins(input_size, hidden, output_size, batchnorm, dropout, seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, input_size))
    t = rng.integers(0, output_size, batch)
    masks = [rng.random((batch, h)) >= dropout for h in hidden] if dropout else []
    _hold_dropout(model, masks)
    # A Linear bias followed by BatchNorm has a zero gradient, computed as rounding noise
    # (~1e-10) that Adam would blow up to a step of ±lr; eps = 1e-3 keeps such noise tiny.
    optimizer = optim.Adam(model.parameters(), lr=1e-3, eps=1e-3)
    adam = reference.ReferenceAdam(floor.params(), lr=1e-3, eps=1e-3)

    assert_steps_agree(model, optimizer, floor, adam, x, t,
                       lambda: floor.loss(x, t, train=True, masks=masks), atol=1e-8)
    running = [b for name, b in model.state_dict().items() if name.endswith("running_mean")]
    floor_running = [layer.running_mean for layer in floor.layers
                     if isinstance(layer, reference.BatchNormalization)]
    assert len(running) == len(floor_running)
    for mine, theirs in zip(floor_running, running):
        np.testing.assert_allclose(mine, theirs, rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_keeps_dtype(dtype):
    workload = workloads.WORKLOADS["W1"].smoke()
    floor = reference.ReferenceMLP(workload.input_size, workload.hidden_sizes,
                                   workload.output_size, use_batchnorm=True, dropout=0.2,
                                   dtype=dtype)
    adam = reference.ReferenceAdam(floor.params())
    x, t = workloads.make_batch(workload, dtype)
    before = [p.copy() for p in floor.params()]
    reference.train_step(floor, adam, x, t)
    assert all(g.dtype == dtype for g in floor.grads())
    assert all(p.dtype == dtype for p in floor.params())
    assert any(not np.array_equal(a, b) for a, b in zip(before, floor.params()))


# -- the harness in smoke mode ---------------------------------------------------------------
def test_smoke_run_writes_every_section(tmp_path, capsys):
    path = tmp_path / "results.json"
    assert run.main(["--smoke", "--json", str(path)]) == 0
    results = json.loads(path.read_text())
    assert results["settings"]["smoke"] is True
    trained = {(row["workload"], row["dtype"]) for row in results["train"]}
    assert trained == {(w, d) for w in ("W1", "W2", "W3", "C1")
                       for d in ("float32", "float64")}
    for row in results["train"]:
        assert {"numpy", "minigrad"} <= set(row["median_s"])
        assert all(t > 0 for t in row["median_s"].values())
        if "sklearn" in results["settings"]["competitors"]:   # it has no BatchNorm or Dropout
            assert ("sklearn" in row["median_s"]) == (row["workload"] in ("W2", "W3"))
    assert [(row["shape"], row["length"]) for row in results["overhead"]] == [
        ("(1,)", 10), ("(100,)", 10), ("(100,)", 100), ("(100,)", 1000)]
    assert all(us > 0 for row in results["overhead"] for us in row["us_per_op"].values())
    for row in results["digits"]:
        for fit in row["fits"].values():
            assert fit["fit_s"] > 0 and 0 <= fit["accuracy"] <= 1
    memory = results["memory"][0]["competitors"]["minigrad"]
    assert memory["peak_bytes"] > 0 and memory["rss"]["steps"] == [3, 6]
    printed = capsys.readouterr().out
    assert "Training step" in printed and "W3 wide" in printed and "Per-op overhead" in printed
    assert "C1 conv (SimpleConvNet 1x8x8, conv 3x3x3, pool 2, 5-4, batch 4)" in printed
    assert "Targets" not in printed                      # smoke numbers judge nothing

    assert run.main(["--from-json", str(path), "--markdown"]) == 0
    markdown = capsys.readouterr().out
    assert "| workload | dtype | numpy ms | minigrad ms" in markdown
    assert "NumPy calls: minigrad / floor |" in markdown
    for row in results["train"]:        # the floor and minigrad each make some NumPy calls
        assert all(row["numpy_calls_per_step"][c] > 5 for c in ("numpy", "minigrad"))
    assert all(f >= 0 for row in results["train"] for f in row["faults_per_step"].values())

    readme = tmp_path / "README.md"
    readme.write_text(f"# intro\n{report.README_BEGIN}\nold table\n{report.README_END}\nrest\n")
    assert run.main(["--from-json", str(path), "--update-readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old table" not in text and markdown.strip() in text
    assert text.startswith("# intro\n") and text.endswith(f"{report.README_END}\nrest\n")
    readme.write_text("# no markers\n")
    with pytest.raises(SystemExit, match="no .* markers"):
        run.main(["--from-json", str(path), "--update-readme", str(readme)])
    assert readme.read_text() == "# no markers\n"


def test_update_readme_without_a_file_writes_the_performance_page():
    # the tables live in docs/performance.md; that page has the markers to write between
    args = run.parse_args(["--update-readme"])
    page = os.path.join(ROOT, "docs", "performance.md")
    assert os.path.samefile(args.update_readme, page)
    with open(page, encoding="utf-8") as f:
        text = f.read()
    assert 0 <= text.find(report.README_BEGIN) < text.find(report.README_END)
    assert run.parse_args(["--update-readme", "other.md"]).update_readme == "other.md"
    assert run.parse_args([]).update_readme is None


def test_script_entry_point_runs_from_a_checkout(tmp_path):
    path = tmp_path / "r.json"
    completed = subprocess.run(
        [sys.executable, os.path.join("benchmarks", "run.py"), "--smoke", "--only", "overhead",
         "--competitors", "numpy,minigrad", "--keep-blas-env", "--json", str(path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    assert "minigrad µs/op" in completed.stdout
    assert json.loads(path.read_text())["overhead"][0]["length"] == 10


def test_profile_mode_splits_the_step_and_names_the_hot_functions(capsys):
    assert run.main(["--smoke", "--profile", "W2", "--dtypes", "float64"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("W2 tiny (64-64-64-10, batch 32), float64")
    for phase in ("forward + loss", "backward", "optimizer step", "total"):
        assert phase in printed
    assert "run_backward" in printed and "cProfile over 5 minigrad steps" in printed
    assert "Affine.backward" in printed and "engine (the rest)" in printed
    for op in (mg.functional.layers.Affine, mg.functional.elementwise.ReLU):
        assert op.backward.__qualname__ == f"{op.__name__}.backward"   # timing wrappers gone


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_training_step_frees_its_graph_and_the_measure_would_see_a_leak(dtype):
    from benchmarks import memory
    workload = workloads.WORKLOADS["W1"].smoke()
    step = workloads.minigrad_step(workload, np.dtype(dtype))
    measured = memory.traced_step(step)
    assert 0 < measured["retained_bytes"] < 4096 < measured["peak_bytes"]
    model, criterion, optimizer = workloads.build_minigrad(workload, np.dtype(dtype))
    x, t = workloads.make_batch(workload, dtype)
    kept = []

    def leaky_step():                               # keeps every graph alive
        loss = criterion(model(mg.tensor(x)), t)
        loss.backward(retain_graph=True)
        kept.append(loss)
    assert memory.traced_step(leaky_step)["retained_bytes"] > measured["peak_bytes"] // 2


def test_bad_options_are_refused():
    with pytest.raises(SystemExit, match="--only: unknown value 'speed'"):
        run.parse_args(["--only", "speed"])
    with pytest.raises(SystemExit):
        run.parse_args(["--memory-steps", "200,100"])


def test_target_checks_judge_ratios():
    results = {"train": [{"workload": "W2", "dtype": "float32",
                          "median_s": {"numpy": 1.0, "minigrad": 1.4, "torch": 2.0}},
                         {"workload": "W3", "dtype": "float32",
                          "median_s": {"numpy": 1.0, "minigrad": 1.02}}]}
    checks = {c["target"]: c["met"] for c in report.target_checks(results)}
    assert checks == {"W2 minigrad / NumPy <= 1.00": False,
                      "W3 minigrad / NumPy <= 1.02": True,
                      "W2 minigrad faster than PyTorch": True}


def test_the_backward_split_times_each_rule_once_even_when_a_subclass_inherits_it():
    from benchmarks.hotpath import _node_classes, _timed_rules

    class Double(mg.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 2

    class Triple(Double):                    # inherits Double's backward (wrong, but timed)
        def forward(self, x):
            return x * 3

    original = Double.backward
    for _ in range(5):                       # set order varies: either class may come first
        x = mg.tensor(np.ones(3), requires_grad=True)
        loss = Triple.apply(Double.apply(x)).sum()
        classes = _node_classes(loss)
        spent = {}
        with _timed_rules(classes, spent):
            loss.backward()
        assert spent[Double][1] == 1 and spent[Triple][1] == 1
        assert "backward" not in vars(Triple) and Double.backward is original   # restored


def test_the_graph_growth_target_compares_the_longest_chain_with_the_shortest():
    def row(length, us):
        return {"shape": "(100,)", "dtype": "float32", "length": length,
                "us_per_op": {"minigrad": us}}
    results = {"overhead": [row(1000, 4.0), row(10000, 4.8), row(100000, 5.6)]}
    checks = {c["target"]: (c["measured"], c["met"]) for c in report.target_checks(results)}
    assert checks["per-op cost at 100,000 ops <= 1.3x that at 1,000"] == ("1.40x", False)
    assert checks["per-op cost on (100,) float32 <= 5 µs"] == ("4.00 µs", True)
    results["overhead"][2] = row(100000, 5.2)
    checks = {c["target"]: c["met"] for c in report.target_checks(results)}
    assert checks["per-op cost at 100,000 ops <= 1.3x that at 1,000"] is True
