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
