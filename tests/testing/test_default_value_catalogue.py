"""Layers right only at the values a check starts from are caught by all three checkers.

``default_value_layers.py`` holds the catalogue (a LayerNorm whose dx forgets γ, a Swish whose
dx forgets β, an affine map whose dx forgets its scale, an unsummed bias, a bias summed over the
wrong axis, a keepdims slip right only for a batch of one). Each must be caught by
``check_layer``, by ``minigrad check`` (a subprocess, as a user runs it) and, since each bug
sits in a ``Function``, by ``mg.gradcheck``, with a message that names the likely cause.
"""
import pathlib
import re
import subprocess
import sys
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.gradcheck import GradcheckError
from minigrad.testing import check_layer

from . import default_value_layers as layers

ROOT = pathlib.Path(__file__).resolve().parents[2]
LAYERS_FILE = pathlib.Path(layers.__file__)

NEUTRAL = r"passes at the initial parameters \({}\) but not at random ones \(seed 0\): "
# name: (Module class, input shape for the checks, what check_layer / minigrad check say,
#        what gradcheck says)
CATALOGUE = {
    "gamma-ignoring LayerNorm": (
        "GammaIgnoringLayerNorm", (8, 5),
        NEUTRAL.format("weight = 1, bias = 0") + r"does dx use weight\?",
        r"right one for input 1 = 1: does the backward of input 0 use input 1\?"),
    "beta-ignoring Swish": (
        "BetaIgnoringSwish", (8, 5),
        NEUTRAL.format("beta = 1") + r"does dx use beta\?",
        r"right one for input 1 = 1: does the backward of input 0 use input 1\?"),
    "scale-ignoring affine": (
        "ScaleIgnoringAffine", (8, 5),
        NEUTRAL.format("scale = 1, shift = 0") + r"does dx use scale\?",
        r"right one for input 1 = 1: does the backward of input 0 use input 1\?"),
    "unsummed bias": (
        "UnsummedBias", (8, 5),
        r"AddBiasUnsummed.backward returned a gradient of shape \(8, 5\) for its input 1 of "
        r"shape \(5,\) \(parameter 'bias'\): a forgotten broadcast reduction; sum it over axis 0",
        r"AddBiasUnsummed.backward returned a gradient of shape \(6, 5\) for its input 1 of "
        r"shape \(5,\) \(input 1 of f\): a forgotten broadcast reduction; sum it over axis 0"),
    "bias summed over the wrong axis": (
        "WrongAxisBias", (8, 5),
        r"AddBiasWrongAxis.backward returned a gradient of shape \(8,\) for its input 1 of "
        r"shape \(5,\) \(parameter 'bias'\): summed over the wrong axis; it is the upstream "
        r"gradient \(8, 5\) summed over axis 1, but this input was broadcast over axis 0",
        r"AddBiasWrongAxis.backward returned a gradient of shape \(6,\) .*summed over the wrong "
        r"axis"),
    "keepdims slip": (
        "KeepdimsSlip", (1, 5),
        r"the gradient is right on a batch of 1 \(input \(1, 5\)\) but backward fails on a "
        r"batch of 3 \(input \(3, 5\)\)(.|\n)*likely cause: a reduction in backward .* dropped "
        r"its axis \(keepdims=False\)",
        r"backward raised ValueError(.|\n)*likely cause: a reduction in backward .* dropped its "
        r"axis \(keepdims=False\)"),
}


@pytest.mark.parametrize("bug", sorted(CATALOGUE))
def test_check_layer_catches_it_and_names_the_cause(bug):
    name, shape, pattern, _ = CATALOGUE[bug]
    with pytest.raises(GradcheckError, match=pattern) as caught:
        check_layer(getattr(layers, name)(), shape)
    assert str(caught.value).startswith(f"check_layer: {name}: ")


@pytest.mark.parametrize("bug", sorted(CATALOGUE))
def test_minigrad_check_catches_it_from_the_shell(bug):
    name, shape, pattern, _ = CATALOGUE[bug]
    result = subprocess.run(
        [sys.executable, "-m", "minigrad", "check", f"{LAYERS_FILE}:{name}", "--input-shape",
         ",".join(map(str, shape))], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith(f"FAILED check_layer: {name}: ")
    assert re.search(pattern, result.stdout), result.stdout


@pytest.mark.parametrize("bug", sorted(CATALOGUE))
def test_gradcheck_catches_the_function_and_names_the_cause(bug):
    _, _, _, pattern = CATALOGUE[bug]
    function, arrays = layers.function_inputs(bug, np.random.default_rng(0))
    inputs = [mg.tensor(a, dtype=np.float64, requires_grad=True) for a in arrays]
    with pytest.raises(GradcheckError, match=pattern):
        mg.gradcheck(function.apply, inputs, seed=0)


@pytest.mark.parametrize("bug", ["gamma-ignoring LayerNorm", "beta-ignoring Swish",
                                 "scale-ignoring affine"])
def test_they_pass_where_the_forgotten_parameter_is_neutral(bug):
    """Why the catalogue exists: at γ = 1 (β = 1, a = 1) these backwards give the right
    numbers, so only a check that moves the parameters can see the bug."""
    name, shape, _, _ = CATALOGUE[bug]
    layer = getattr(layers, name)()
    neutral = {p: value.data for p, value in layer.named_parameters()}
    report = check_layer(layer, shape, params=neutral)
    assert report.parameters.endswith("not varied")
    assert any("not varied" in note for note in report.notes)
    function, arrays = layers.function_inputs(bug, np.random.default_rng(0))
    arrays[1] = np.ones_like(arrays[1])
    assert mg.gradcheck(function.apply, [mg.tensor(a, requires_grad=True) for a in arrays])


def test_the_keepdims_slip_is_caught_at_a_batch_of_several_too():
    with pytest.raises(GradcheckError, match=r"backward raised ValueError(.|\n)*keepdims=True"):
        check_layer(layers.KeepdimsSlip(), (8, 5))


def test_every_catalogue_layer_is_correct_in_its_forward():
    """The bugs are in the backwards only: each forward against NumPy."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 5))
    t = mg.tensor(x)
    norm = layers.GammaIgnoringLayerNorm()
    expected = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(norm(t).data, expected, rtol=1e-12)
    np.testing.assert_allclose(layers.BetaIgnoringSwish(0.5)(t).data,
                               x / (1 + np.exp(-0.5 * x)), rtol=1e-12)
    bias = np.linspace(-0.5, 0.5, 5)
    for layer in (layers.UnsummedBias(), layers.WrongAxisBias()):
        np.testing.assert_allclose(layer(t).data, x + bias, rtol=1e-12)
    np.testing.assert_allclose(layers.ScaleIgnoringAffine()(t).data, x)
    np.testing.assert_allclose(layers.KeepdimsSlip()(t).data, x - x.mean(-1, keepdims=True))


def test_the_correct_twins_pass_every_checker():
    """Fixed versions of the same layers pass: the checks accuse only the bug."""
    class AddBias(mg.Function):
        def forward(self, x, bias):
            return x + bias

        def backward(self, gy):
            return gy, gy.sum(axis=0)

    class Bias(layers.UnsummedBias):
        def forward(self, x):
            return AddBias.apply(x, self.bias)

    class CentreRows(mg.Function):
        def forward(self, x):
            return x - x.mean(axis=-1, keepdims=True)

        def backward(self, gy):
            return gy - gy.mean(axis=-1, keepdims=True)

    class TensorOpsAffine(layers.ScaleIgnoringAffine):
        """x·a + b in minigrad's own broadcasting ops: their unreduced gradients are summed by
        the engine, which is not a mistake (the raw-shape rule is for the user's Functions)."""

        def forward(self, x):
            return x * self.scale + self.shift

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for shape in ((1, 5), (8, 5)):
            report = check_layer(Bias(), shape)
            assert [g.name for g in report.random_gradients] == ["input", "bias"]
            check_layer(CentreRows, shape)
            report = check_layer(TensorOpsAffine(), shape)
            assert [g.name for g in report.random_gradients] == ["input", "scale", "shift"]
    rng = np.random.default_rng(2)
    x, b = (mg.tensor(rng.standard_normal(s), requires_grad=True) for s in ((6, 5), (5,)))
    assert mg.gradcheck(AddBias.apply, [x, b]) and mg.gradcheck(CentreRows.apply, [x])
