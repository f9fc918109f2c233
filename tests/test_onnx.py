"""``minigrad.onnx.export``: ONNX Runtime must give what minigrad gives, or export must refuse.

The round trips need ``onnx`` and ``onnxruntime`` (the ``test`` extra); without them those
tests are skipped and only the install hint is checked.
"""
import inspect
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.__main__ import main
from minigrad.onnx import ExportError, export

DTYPES = [np.float32, np.float64]


@pytest.fixture(autouse=True)
def needs_onnx(request):
    """Every test but the one about a missing onnx needs onnx and ONNX Runtime."""
    if "without_onnx" not in request.node.name:
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")


def onnx_module():
    return pytest.importorskip("onnx")


def run_onnx(path, **inputs):
    """The outputs of the ONNX file at ``path`` computed by ONNX Runtime."""
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    return session.run(None, inputs)


def eval_outputs(model, *arrays):
    with mg.no_grad():
        out = model(*[mg.Tensor(a) for a in arrays])
    return [o.data for o in out] if isinstance(out, tuple) else [out.data]


def assert_close_to_scale(got, expected, dtype):
    """float32: max |error| <= 1e-5 of the output's scale (float64: 1e-12)."""
    assert got.dtype == expected.dtype == dtype
    assert got.shape == expected.shape
    scale = max(1.0, float(np.abs(expected).max()))
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert np.abs(got - expected).max() <= tolerance * scale


def check_round_trip(model, path, dtype, features, batch_sizes=(1, 3, 64), seed=0):
    """The file passes the full ONNX check, and ONNX Runtime matches minigrad in eval mode on
    fresh inputs of several batch sizes."""
    onnx = onnx_module()
    onnx.checker.check_model(onnx.load(os.fspath(path)), full_check=True)
    rng = np.random.default_rng(seed)
    model.eval()
    for n in batch_sizes:
        x = rng.standard_normal((n, *features)).astype(dtype)
        expected = eval_outputs(model, x)
        got = run_onnx(path, input=x)
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_close_to_scale(g, e, dtype)


def trained_a_little(model, features, dtype, steps=3, seed=1):
    """A few training steps, so BatchNorm's running statistics and the weights are not their
    initial values (ones and zeros would hide a swapped mean and variance)."""
    rng = np.random.default_rng(seed)
    optimizer = mg.optim.SGD(model.parameters(), lr=0.05)
    model.train()
    for _ in range(steps):
        x = mg.Tensor((2 * rng.standard_normal((16, *features)) + 1).astype(dtype))
        loss = (model(x) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


# -- MLPs ------------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("batchnorm, dropout, activation", [
    (False, 0.0, "relu"), (True, 0.0, "tanh"), (False, 0.3, "sigmoid"),
    (True, 0.5, "leaky_relu"),
])
def test_mlp_round_trip(tmp_path, dtype, batchnorm, dropout, activation):
    mg.manual_seed(0)
    model = nn.MLP(8, [16, 12], 5, activation=activation, use_batchnorm=batchnorm,
                   dropout=dropout, dtype=dtype)
    trained_a_little(model, (8,), dtype)
    model.train()                                  # export from training mode
    state = model.state_dict()
    rng_state = mg.random.default_rng().bit_generator.state
    path = tmp_path / "mlp.onnx"
    proto = export(model, np.ones((4, 8), dtype), path)
    assert all(m.training for m in model.modules())     # modes restored
    for name, value in model.state_dict().items():      # running statistics untouched
        np.testing.assert_array_equal(value, state[name])
    assert mg.random.default_rng().bit_generator.state == rng_state   # no dropout mask drawn
    ops = [node.op_type for node in proto.graph.node]
    assert ops.count("Gemm") == 3
    assert ops.count("BatchNormalization") == (2 if batchnorm else 0)
    assert "Dropout" not in ops                         # dropout in eval: nothing
    check_round_trip(model, path, dtype, (8,))


@pytest.mark.parametrize("dtype", DTYPES)
def test_weights_are_initializers_named_and_typed_as_in_the_model(tmp_path, dtype):
    onnx = onnx_module()
    from onnx import numpy_helper
    mg.manual_seed(0)
    model = trained_a_little(nn.MLP(4, [6], 3, use_batchnorm=True, dtype=dtype), (4,), dtype)
    proto = export(model, np.zeros((2, 4), dtype), tmp_path / "m.onnx")
    stored = {t.name: numpy_helper.to_array(t) for t in proto.graph.initializer}
    for name, param in model.named_parameters():
        assert stored[name].dtype == dtype
        np.testing.assert_array_equal(stored[name], param.data)
    np.testing.assert_array_equal(stored["1.running_mean"], model[1].running_mean)
    if dtype == np.float32:
        np.testing.assert_array_equal(stored["1.running_var"], model[1].running_var)
    else:        # ONNX's epsilon is a float32: 1e-5 in float64 is kept in the variance instead
        np.testing.assert_array_equal(stored["1.running_var_plus_eps"],
                                      model[1].running_var + 1e-5)
    elem = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    assert proto.graph.input[0].type.tensor_type.elem_type == elem


@pytest.mark.parametrize("dtype", DTYPES)
def test_batchnorm_of_a_channel_without_variance_stays_exact(tmp_path, dtype):
    """σ² = 0 makes 1/√(σ² + ε) as sensitive to ε as it gets: ε must be the model's."""
    model = nn.Sequential(nn.BatchNorm1d(3, dtype=dtype))
    model[0].running_var[:] = [0, 1e-6, 2]
    model[0].running_mean[:] = [0.5, -1, 2]
    export(model, np.ones((2, 3), dtype), tmp_path / "bn.onnx")
    check_round_trip(model, tmp_path / "bn.onnx", dtype, (3,))


@given(hidden=st.lists(st.integers(1, 9), max_size=3), batchnorm=st.booleans(),
       activation=st.sampled_from(["relu", "sigmoid", "tanh", "leaky_relu", "identity"]),
       dtype=st.sampled_from(DTYPES), batch=st.integers(2, 7), seed=st.integers(0, 2 ** 16))
def test_any_mlp_round_trips(tmp_path_factory, hidden, batchnorm, activation, dtype, batch,
                             seed):
    mg.manual_seed(seed)
    model = nn.MLP(5, hidden, 3, activation=activation, use_batchnorm=batchnorm, dtype=dtype)
    if batchnorm and hidden:
        trained_a_little(model, (5,), dtype, steps=1, seed=seed)
    path = tmp_path_factory.mktemp("mlp") / "m.onnx"
    export(model, np.random.default_rng(seed).standard_normal((batch, 5)).astype(dtype), path)
    check_round_trip(model, path, dtype, (5,), batch_sizes=(1, batch + 3), seed=seed)


# -- a user's own forward --------------------------------------------------------------------
class TwoHeads(nn.Module):
    """Images (N, 2, 3, 4) -> scores and log-probabilities, with ops written out by hand."""

    def __init__(self, dtype):
        super().__init__()
        self.scale = nn.Parameter(np.linspace(0.5, 1.5, 4).astype(dtype))
        self.mix = nn.Parameter(np.random.default_rng(3).standard_normal((3, 3)).astype(dtype))
        self.norm = nn.BatchNorm1d(24, dtype=dtype)
        self.head = nn.Linear(24, 5, dtype=dtype)
        self.act = nn.LeakyReLU(0.25)
        self.drop = nn.Dropout(0.5)
        self.pick = np.eye(24, 5, dtype=dtype)                  # a constant array

    def forward(self, x):
        y = x * self.scale - 0.25                    # broadcast over the last axis
        y = y.transpose(0, 1, 3, 2) @ self.mix       # (N, 2, 4, 3) @ (3, 3)
        y = y / (1 + self.scale[None, None, :, None].detach())   # a constant, folded
        z = self.drop(self.act(self.norm(y.reshape(y.shape[0], 24))))
        scores = F.softmax(self.head(z), axis=1)
        return scores, F.log_softmax(self.head(z) + z @ self.pick, axis=-1)


@pytest.mark.parametrize("dtype", DTYPES)
def test_user_defined_module_round_trip(tmp_path, dtype):
    mg.manual_seed(0)
    model = trained_a_little(TwoHeads(dtype), (2, 3, 4), dtype, steps=0)
    model.norm.running_mean[:] = np.linspace(-1, 1, 24)
    model.norm.running_var[:] = np.linspace(0.5, 2, 24)
    path = tmp_path / "heads.onnx"
    proto = export(model, np.ones((3, 2, 3, 4), dtype), path,
                   output_names=("scores", "log_probs"))
    assert [o.name for o in proto.graph.output] == ["scores", "log_probs"]
    ops = {node.op_type for node in proto.graph.node}
    assert {"Transpose", "MatMul", "Reshape", "Softmax", "LogSoftmax", "LeakyRelu",
            "BatchNormalization", "Gemm"} <= ops
    check_round_trip(model, path, dtype, (2, 3, 4))


def test_a_plain_function_with_several_inputs(tmp_path):
    weight = mg.Tensor(np.arange(12.0).reshape(3, 4) / 10)

    def model(a, b):
        return mg.functional.tanh(a @ weight) - b.sigmoid() * 2, a.relu()

    a = np.random.default_rng(0).standard_normal((5, 3))
    b = np.random.default_rng(1).standard_normal((5, 4))
    path = tmp_path / "f.onnx"
    export(model, (a, b), path, input_names=("a", "b"), output_names=("y", "r"))
    got = run_onnx(path, a=a, b=b)
    expected = eval_outputs(model, a, b)
    for g, e in zip(got, expected):
        assert_close_to_scale(g, e, np.float64)


@pytest.mark.parametrize("op, dynamic", [
    (lambda x: -x, True), (lambda x: x.exp(), True), (lambda x: (x * x + 1).log(), True),
    (lambda x: (x * x).sqrt(), True), (lambda x: x.abs(), True), (lambda x: x ** 2, True),
    (lambda x: x.abs() ** x, True), (lambda x: x.maximum(x * 0.5), True),
    (lambda x: x.minimum(0.25), True), (lambda x: F.cast(x, np.float64) * 3, True),
    (lambda x: x + np.arange(4.0), True),                   # float32 + float64 -> float64
    (lambda x: 2 / (x * x + 1), True), (lambda x: F.leaky_relu(x, 0.1), True),
    (lambda x: x.reshape(-1, 2, 2).transpose(1, 0, 2), True),    # the batch axis moves
    (lambda x: x @ np.ones(4, np.float32), True),           # (N, 4) @ (4,) -> (N,)
    (lambda x: x @ x.T, False), (lambda x: x.T @ np.ones((3, 2), np.float32), False),
], ids=["neg", "exp", "log", "sqrt", "abs", "pow", "pow_tensor", "maximum", "minimum", "cast",
        "promotion", "rdiv", "leaky_relu", "batch_moved", "matvec", "x_xT", "xT_const"])
def test_other_mapped_ops(tmp_path, op, dynamic):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    path = tmp_path / "op.onnx"
    export(op, x, path, dynamic_batch=dynamic)
    for n in ((3, 1, 6) if dynamic else (3,)):
        probe = np.random.default_rng(n).standard_normal((n, 4)).astype(np.float32)
        expected, = eval_outputs(op, probe)
        got, = run_onnx(path, input=probe)
        assert_close_to_scale(got, expected, expected.dtype.type)


def test_a_product_summing_over_the_batch_needs_a_fixed_batch(tmp_path):
    onnx_module()
    with pytest.raises(ExportError, match="MatMul: cannot follow the batch axis"):
        export(lambda x: x.T @ np.ones((3, 2), np.float32), np.ones((3, 4), np.float32),
               tmp_path / "m.onnx")


def test_float64_leaky_relu_keeps_a_slope_float32_cannot_hold(tmp_path):
    x = np.linspace(-3, 3, 14).reshape(7, 2)
    proto = export(lambda t: F.leaky_relu(t, 0.1), x, tmp_path / "l.onnx")
    assert "LeakyRelu" not in [node.op_type for node in proto.graph.node]   # alpha is float32
    got, = run_onnx(tmp_path / "l.onnx", input=x)
    np.testing.assert_array_equal(got, F.leaky_relu(mg.Tensor(x), 0.1).data)   # exact


def test_opsets(tmp_path):
    onnx = onnx_module()
    mg.manual_seed(0)
    model = nn.MLP(3, [4], 2, use_batchnorm=True)
    for opset in (14, 15, onnx.defs.onnx_opset_version()):
        proto = export(model, np.ones((2, 3), np.float32), tmp_path / "m.onnx", opset=opset)
        assert proto.opset_import[0].version == opset
    assert export(model, np.ones((2, 3), np.float32), tmp_path / "m.onnx").opset_import[0] \
        .version == mg.onnx.DEFAULT_OPSET


def test_dynamic_batch_false_fixes_the_batch_size(tmp_path):
    onnx_module()
    model = nn.Sequential(nn.Flatten(0), nn.Tanh())             # merges the batch axis
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ExportError, match=r"Reshape: from \(2, 3\) to \(6,\) merges"):
        export(model, x, tmp_path / "m.onnx")
    proto = export(model, x, tmp_path / "m.onnx", dynamic_batch=False)
    dims = [d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [2, 3]
    got, = run_onnx(tmp_path / "m.onnx", input=x * 0.5)
    np.testing.assert_allclose(got, np.tanh(0.5 * x).ravel(), rtol=1e-6)


@pytest.mark.parametrize("bias", [True, False])
def test_linear_of_one_1d_sample_exports_with_a_fixed_shape(tmp_path, bias):
    model = nn.Linear(3, 2, bias=bias, dtype=np.float64)
    x = np.array([0.5, -1.0, 2.0])
    with pytest.raises(ExportError, match=r"Affine: the batch axis is axis 0 of its input of "
                                          r"shape \(3,\)"):
        export(model, x, tmp_path / "m.onnx")       # a 1-D input has no batch axis
    export(model, x, tmp_path / "m.onnx", dynamic_batch=False)
    for sample in (x, x[::-1].copy()):
        got, = run_onnx(tmp_path / "m.onnx", input=sample)
        assert_close_to_scale(got, eval_outputs(model, sample)[0], np.float64)


def test_a_batch_of_one_cannot_tell_where_the_batch_axis_goes(tmp_path):
    onnx_module()
    with pytest.raises(ExportError, match="trace with a batch of at least 2"):
        export(lambda x: x.reshape(1, 1, 3) * 2, np.ones((1, 3)), tmp_path / "m.onnx")
    export(lambda x: x.reshape(x.shape[0], 1, 3) * 2, np.ones((2, 3)), tmp_path / "m.onnx")
    with pytest.raises(ExportError, match="model fails on a second input"):   # batch of 2 only
        export(lambda x: x.reshape(2, 1, 3) * 2, np.ones((2, 3)), tmp_path / "m.onnx")


# -- refusals --------------------------------------------------------------------------------
def line_of(text, function):
    """The line number of the first line of ``function`` containing ``text``."""
    lines, start = inspect.getsourcelines(function)
    return start + next(i for i, line in enumerate(lines) if text in line)


class WithSum(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 3)

    def forward(self, x):
        hidden = self.layer(x).relu()
        return hidden.sum(axis=1, keepdims=True)


def test_an_op_without_mapping_names_itself_and_where_it_was_created(tmp_path):
    onnx_module()
    model = nn.Sequential(nn.Linear(4, 4), WithSum())
    path = tmp_path / "m.onnx"
    with pytest.raises(ExportError) as info:
        export(model, np.ones((2, 4), np.float32), path)
    message = str(info.value)
    assert "the op Sum" in message and "no ONNX mapping" in message
    assert f"{__file__}:{line_of('hidden.sum', WithSum.forward)} in forward" in message
    assert "in module '1' (WithSum)" in message
    assert not path.exists()


def test_training_mode_ops_are_refused(tmp_path):
    onnx_module()
    x = np.ones((3, 4), np.float32)

    def dropout_always(t):
        return F.dropout(t, 0.5, training=True)

    with pytest.raises(ExportError, match=r"Dropout: dropout in training mode .*created at "
                                          + re.escape(f"{__file__}:")):
        export(dropout_always, x, tmp_path / "m.onnx")
    no_stats = nn.Sequential(nn.BatchNorm1d(4, track_running_stats=False))
    with pytest.raises(ExportError, match="BatchNorm: normalises with the batch's own "
                                          "statistics.*in module '0' \\(BatchNorm1d\\)"):
        export(no_stats, x, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_export_leaves_each_module_in_its_mode_even_after_an_error(tmp_path):
    onnx_module()
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5), WithSum())
    model[1].eval()
    modes = [m.training for m in model.modules()]
    with pytest.raises(ExportError):
        export(model, np.ones((2, 4), np.float32), tmp_path / "m.onnx")
    assert [m.training for m in model.modules()] == modes
    profiler = sys.getprofile()
    export(model[:2], np.ones((2, 4), np.float32), tmp_path / "m.onnx")
    assert [m.training for m in model.modules()] == modes
    assert sys.getprofile() is profiler


class MaskedByComparison(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 3)

    def forward(self, x):
        y = self.layer(x)
        return y * (y > 0)                              # a comparison: not on the tape


class ThroughNumPy(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(4, 3)

    def forward(self, x):
        return self.layer(x) + mg.Tensor(np.tanh(x.data[:, :3]))    # .data: off the tape


@pytest.mark.parametrize("dynamic_batch", [True, False])
@pytest.mark.parametrize("model, words", [
    (MaskedByComparison, "not computed from the input by recorded ops|does not reproduce"),
    (ThroughNumPy, "not computed from the input by recorded ops|does not reproduce"),
    (lambda: (lambda x: mg.Tensor(x.data * 2)), "does not depend on the input"),
    (lambda: (lambda x: x * mg.Tensor(np.random.rand(1, 4))), "does not reproduce"),
])
def test_a_forward_that_leaves_the_tape_is_refused(tmp_path, model, words, dynamic_batch):
    onnx_module()
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    with pytest.raises(ExportError, match=words):
        export(model(), x, tmp_path / "m.onnx", dynamic_batch=dynamic_batch)
    assert not (tmp_path / "m.onnx").exists()


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(path=None), TypeError, "path must be a str"),
    (dict(path="."), ValueError, "path must name a file"),
    (dict(example_input=np.ones((2, 4), np.int64)), TypeError, "must be floating"),
    (dict(example_input=[[1.0], [1.0, 2.0]]), ValueError, "not an array"),
    (dict(example_input=np.float32(1)), ValueError, "0-d"),
    (dict(input_names=("a", "b")), ValueError, "input_names has 2 name"),
    (dict(input_names=("a",), output_names=("a",)), ValueError, "must all differ"),
    (dict(output_names=("y", "z")), ValueError, "output_names has 2 name"),
    (dict(output_names=[3]), TypeError, "output_names must be a tuple of non-empty strings"),
    (dict(dynamic_batch="yes"), TypeError, "dynamic_batch must be True or False"),
    (dict(opset=13), ValueError, r"opset must be in \[14, "),
    (dict(opset=10 ** 6), ValueError, "opset must be in"),
    (dict(opset=17.0), TypeError, "opset must be an int"),
    (dict(model="mlp"), TypeError, "model must be an nn.Module or a callable"),
    (dict(model=lambda x: x.data), TypeError, "must return a Tensor or a tuple of Tensors"),
])
def test_bad_arguments_are_clear_errors(tmp_path, kwargs, error, words):
    onnx_module()
    arguments = dict(model=nn.Linear(4, 2), example_input=np.ones((2, 4), np.float32),
                     path=tmp_path / "m.onnx")
    arguments.update(kwargs)
    with pytest.raises(error, match=words):
        export(arguments.pop("model"), arguments.pop("example_input"), arguments.pop("path"),
               **arguments)


def test_without_onnx_the_error_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)          # `import onnx` now fails
    hint = re.escape('pip install "minigrad[onnx]"')
    with pytest.raises(ImportError, match=hint):
        export(nn.Linear(2, 2), np.ones((1, 2), np.float32), tmp_path / "m.onnx")
    assert main(["train", "--epochs", "1", "--export", str(tmp_path / "m.onnx")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""                               # refused before training
    assert re.search(f"^minigrad train: error: --export: .*{hint}", captured.err)
    assert not (tmp_path / "m.onnx").exists()


def test_export_to_a_folder_is_refused_before_training(tmp_path, capsys):
    assert main(["train", "--export", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "is a folder, not a file" in captured.err and captured.out == ""


def test_the_package_is_reached_by_absolute_import():
    onnx = onnx_module()
    assert "minigrad" not in onnx.__file__
    assert mg.onnx.export is export


# -- the command line ------------------------------------------------------------------------
def test_the_default_train_model_runs_in_onnx_runtime_with_its_test_accuracy(capsys, tmp_path,
                                                                           monkeypatch):
    from minigrad.data import load_digits
    path = tmp_path / "model.onnx"
    assert main(["train", "--no-progress", "--export", str(path)]) == 0
    out = capsys.readouterr().out
    printed = re.search(r"^test accuracy: (\d\.\d{4})$", out, re.M).group(1)
    assert f"wrote {path}" in out
    _, (x_test, y_test) = load_digits()
    logits, = run_onnx(path, input=x_test)
    correct = int((logits.argmax(axis=1) == y_test).sum())
    assert f"{correct / len(y_test):.4f}" == printed
    # 4 decimals tell the count apart: 1/359 > 0.0001
    assert round(float(printed) * len(y_test)) == correct
    # the five lines of docs/onnx.md, run where the file is, print that accuracy
    doc = open(os.path.join(os.path.dirname(os.path.dirname(__file__)), "docs", "onnx.md"),
               encoding="utf-8").read()
    section = doc[doc.index("## Running the file with ONNX Runtime"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert len(code.strip().splitlines()) == 5
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/onnx.md", "exec"), {})
    assert f"{float(capsys.readouterr().out):.4f}" == printed
