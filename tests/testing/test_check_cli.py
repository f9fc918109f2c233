"""`minigrad check FILE_OR_MODULE:NAME --input-shape 8,5`: exit 0 pass, 1 failure, 2 usage."""
import pathlib
import subprocess
import sys

import pytest

from minigrad.__main__ import main

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "custom_layer.py")

LAYERS = '''
import numpy as np
import minigrad as mg
from minigrad import nn


class Double(mg.Function):
    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return 2 * gy


class Halving(mg.Function):
    def forward(self, x):
        return x / 2

    def backward(self, gy):
        return gy                       # bug: forgets the 1/2


class Scale(nn.Module):
    def __init__(self, features=5):
        super().__init__()
        self.weight = nn.Parameter(np.linspace(0.5, 1.5, features))

    def forward(self, x):
        return x * self.weight


class NeedsSize(nn.Module):
    def __init__(self, features):
        super().__init__()


def make_scale():
    return Scale(5)


def square(x):
    return x * x


scaled = Scale(5)
'''


@pytest.fixture
def layers(tmp_path):
    path = tmp_path / "my_layers.py"
    path.write_text(LAYERS)
    return str(path)


def check(capsys, *argv):
    status = main(["check", *argv])
    out, err = capsys.readouterr()
    return status, out, err


def test_a_good_layer_passes_with_its_report(capsys):
    status, out, err = check(capsys, f"{EXAMPLE}:LayerNorm", "--input-shape", "8,5")
    assert status == 0 and err == ""
    assert out.startswith("check_layer: LayerNorm passed on an input of shape (8, 5)")
    for name in ("input", "weight", "bias", "checks passed"):
        assert name in out


def test_the_broken_layernorm_fails_with_a_readable_message(capsys):
    status, out, _ = check(capsys, f"{EXAMPLE}:BrokenLayerNorm", "--input-shape", "8,5")
    assert status == 1
    assert out.startswith("FAILED check_layer: BrokenLayerNorm: the gradient of the input "
                          "(shape (8, 5)) is wrong")
    assert "analytic" in out and "numerical" in out


@pytest.mark.parametrize("name, shape", [("Double", "3,2"), ("Scale", "4,5"),
                                         ("make_scale", "2,5"), ("square", "2,3"),
                                         ("scaled", "2,5")])
def test_every_kind_of_name_is_built(capsys, layers, name, shape):
    status, out, err = check(capsys, f"{layers}:{name}", "--input-shape", shape)
    assert (status, err) == (0, "")
    assert f"on an input of shape ({shape.replace(',', ', ')})" in out


def test_a_wrong_gradient_exits_1(capsys, layers):
    status, out, _ = check(capsys, f"{layers}:Halving", "--input-shape", "3,2")
    assert status == 1
    assert "FAILED check_layer: Halving:" in out and "factor" in out


def test_module_path_and_options(capsys):
    status, out, _ = check(capsys, "minigrad.functional.elementwise:Tanh", "--input-shape",
                           "2,3", "--seed", "3", "--atol", "1e-6")
    assert status == 0 and "Tanh passed" in out
    status, out, _ = check(capsys, "minigrad.nn:BatchNorm1d", "--input-shape", "4,3")
    assert status == 2                                      # needs num_features


def test_no_params_and_eval(capsys, layers):
    status, out, _ = check(capsys, f"{layers}:Scale", "--input-shape", "2,5", "--no-params",
                           "--eval")
    assert status == 0
    rows = out.split("checks passed")[0].splitlines()
    assert any(row.startswith("  input ") for row in rows)
    assert not any(row.startswith("  weight ") for row in rows)   # varied, but not checked
    assert "drawn at random" in out


@pytest.mark.parametrize("argv, message", [
    (["{layers}:Nope", "--input-shape", "2,5"], "has no 'Nope'; it defines: Double, Halving"),
    (["{layers}", "--input-shape", "2,5"], "expected FILE_OR_MODULE:NAME"),
    (["missing/nowhere.py:Double", "--input-shape", "2,5"], "no such file"),
    (["no_such_module_xyz:Double", "--input-shape", "2,5"], "cannot import"),
    (["{layers}:NeedsSize", "--input-shape", "2,5"], "cannot build NeedsSize with no arg"),
    (["{layers}:Double", "--input-shape", "2,0"], "expected comma-separated positive sizes"),
    (["{layers}:Double"], "--input-shape"),
    (["{layers}:Halving", "--input-shape", "3,2", "--atol", "nan"], "--atol must be a finite"),
    (["{layers}:Halving", "--input-shape", "3,2", "--rtol=nan"], "--rtol must be a finite"),
    (["{layers}:Halving", "--input-shape", "3,2", "--atol", "inf"], "--atol must be a finite"),
    (["{layers}:Halving", "--input-shape", "3,2", "--eps", "0"], "--eps must be a finite pos"),
    (["{layers}:Halving", "--input-shape", "3,2", "--seed", "-1"], "--seed must be a non-neg"),
])
def test_bad_usage_exits_2(capsys, layers, argv, message):
    status, out, err = check(capsys, *[a.format(layers=layers) for a in argv])
    assert status == 2 and out == ""
    assert message in err and err.startswith("minigrad check: error:")


def test_the_layer_raising_exits_1(capsys, layers, tmp_path):
    status, _, err = check(capsys, f"{layers}:Scale", "--input-shape", "2,4")
    assert status == 1 and "Scale raised ValueError on an input of shape (2, 4)" in err
    broken = tmp_path / "broken_import.py"
    broken.write_text("raise RuntimeError('boom')\n")
    status, _, err = check(capsys, f"{broken}:Anything", "--input-shape", "2")
    assert status == 1 and "RuntimeError: boom" in err


def test_exit_status_from_the_shell(layers):
    good = subprocess.run([sys.executable, "-m", "minigrad", "check", f"{layers}:Double",
                           "--input-shape", "3,2"], capture_output=True, text=True, cwd=ROOT)
    bad = subprocess.run([sys.executable, "-m", "minigrad", "check", f"{layers}:Halving",
                          "--input-shape", "3,2"], capture_output=True, text=True, cwd=ROOT)
    assert good.returncode == 0 and "Double passed" in good.stdout
    assert bad.returncode == 1 and "FAILED" in bad.stdout
    usage = subprocess.run([sys.executable, "-m", "minigrad", "check", "x"],
                           capture_output=True, text=True, cwd=ROOT)
    assert usage.returncode == 2


# -- parameters: varied by default, or given with --param ------------------------------------
def test_parameters_are_varied_and_the_report_says_so(capsys, layers):
    status, out, _ = check(capsys, f"{layers}:Scale", "--input-shape", "2,5")
    assert status == 0
    assert "parameters: initial, then drawn at random (seed 0; drawn positive: weight)" in out
    assert "at the random parameters:" in out


@pytest.mark.parametrize("values", [["--param", "weight=2"],
                                    ["--param", "weight=0.5,1,1.5,2,2.5"]])
def test_param_gives_the_values_and_nothing_is_varied(capsys, layers, values):
    status, out, err = check(capsys, f"{layers}:Scale", "--input-shape", "2,5", *values)
    assert (status, err) == (0, "")
    assert "parameters: given by params= (weight); not varied" in out
    assert "the parameters were not varied" in out
    assert "at the random parameters" not in out


def test_param_values_reach_the_check(capsys, tmp_path):
    """A layer right only at scale = 1 passes at --param scale=1 and fails at scale=2."""
    path = tmp_path / "forgets_scale.py"
    path.write_text(FORGETS_SCALE)
    status, out, _ = check(capsys, f"{path}:ForgetsScale", "--input-shape", "3,2", "--param",
                           "scale=1")
    assert status == 0 and "not varied" in out
    status, out, _ = check(capsys, f"{path}:ForgetsScale", "--input-shape", "3,2", "--param",
                           "scale=2")
    assert status == 1 and "found at the given parameters (scale = 2)" in out
    status, out, _ = check(capsys, f"{path}:ForgetsScale", "--input-shape", "3,2")
    assert status == 1
    assert "passes at the initial parameters (scale = 1) but not at random ones" in out


FORGETS_SCALE = '''
import numpy as np
import minigrad as mg
from minigrad import nn


class Times(mg.Function):
    def forward(self, x, scale):
        return x * scale

    def backward(self, gy):
        x, scale = self.inputs
        return gy, (gy * x).sum()              # bug: dx = dy * scale


class ForgetsScale(nn.Module):
    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(np.array(1.0))

    def forward(self, x):
        return Times.apply(x, self.scale)
'''


@pytest.mark.parametrize("argv, message", [
    (["--param", "weight"], "expected NAME=VALUE"),
    (["--param", "weight=a,b"], "expected NAME=VALUE"),
    (["--param", "weight=nan"], "expected NAME=VALUE"),
    (["--param", "=1"], "expected NAME=VALUE"),
    (["--param", "nope=1"], "--param: params names ['nope'] that the layer does not have; "
                            "its parameters are ['weight']"),
    (["--param", "weight=1,2"], "--param: params['weight'] has 2 values for a parameter of "
                                "shape (5,)"),
    (["--param", "weight=1", "--no-params"], "use one of them"),
])
def test_bad_param_values_exit_2(capsys, layers, argv, message):
    status, out, err = check(capsys, f"{layers}:Scale", "--input-shape", "2,5", *argv)
    assert status == 2 and out == ""
    assert message in err


# -- where layers are imported from ----------------------------------------------------------
def test_a_module_in_the_current_folder_is_imported_as_python_m_does(tmp_path):
    (tmp_path / "my_local_layers.py").write_text(LAYERS)
    # as the installed `minigrad` script runs: the current folder is not on sys.path
    command = ("import sys; from minigrad.__main__ import main; "
               "sys.path[:] = [p for p in sys.path if p not in ('', '.')]; "
               "sys.exit(main(['check', 'my_local_layers:Double', '--input-shape', '3,2']))")
    result = subprocess.run([sys.executable, "-c", command], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Double passed" in result.stdout


def test_a_layer_file_may_import_the_modules_beside_it(tmp_path, capsys):
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "helpers.py").write_text("import numpy as np\n\nSLOPE = 3.0\n")
    (folder / "layer_file.py").write_text(
        "import helpers\n\n\ndef triple(x):\n    return x * helpers.SLOPE\n")
    before = list(sys.path)
    status, out, err = check(capsys, f"{folder / 'layer_file.py'}:triple", "--input-shape", "2,2")
    assert (status, err) == (0, "")
    assert "triple passed" in out
    assert sys.path == before                           # put back after the command


def test_output_cut_by_a_closed_pipe_ends_quietly(layers):
    process = subprocess.Popen([sys.executable, "-m", "minigrad", "check", f"{layers}:Scale",
                                "--input-shape", "2,5"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, cwd=ROOT)
    process.stdout.close()                              # as `| head -0` does, before any output
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0
    assert err == b""
