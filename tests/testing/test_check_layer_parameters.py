"""check_layer at random parameters, at given ones, and the numbers it reports."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.gradcheck import GradcheckError
from minigrad.testing import check_layer
from minigrad.testing.parameters import draw_parameters, given_parameters, neutral_values


class Times(mg.Function):
    """y = x·a (a a scalar); backward is right only while a = 1."""

    def forward(self, x, a):
        return x * a

    def backward(self, gy):
        x, a = self.inputs
        return gy, (gy * x).sum()                  # bug: dx = dy·a


class LogScale(mg.Function):
    """y = x·log(s): needs s > 0, which the layer's name for it does not show."""

    def forward(self, x, s):
        return x * np.log(s)

    def backward(self, gy):
        x, s = self.inputs
        return gy * s.log(), (gy * x / s).sum(axis=0)


class Module(nn.Module):
    def __init__(self, function, **params):
        super().__init__()
        self.function = function
        for name, value in params.items():
            setattr(self, name, nn.Parameter(np.asarray(value, dtype=np.float64)))

    def forward(self, x):
        return self.function.apply(x, *self.parameters())


# -- how parameters are drawn ----------------------------------------------------------------
def test_the_draw_keeps_shape_dtype_scale_and_sign_constraints():
    named = [("weight", mg.tensor(np.full((4, 3), 0.2, dtype=np.float32))),
             ("bias", mg.tensor(np.zeros(3, dtype=np.float32))),
             ("layer.log_var", mg.tensor(np.array([-1.0, 0.0, 1.0]))),
             ("mixed", mg.tensor(np.array([-2.0, 2.0])))]
    values, positive = draw_parameters(named, seed=3)
    assert positive == ["weight", "layer.log_var"]        # all > 0, or named like a variance
    for name, tensor in named:
        assert values[name].shape == tensor.shape
    assert np.all((values["weight"] >= 0.1) & (values["weight"] <= 0.3))   # RMS 0.2 × [½, 3/2]
    assert np.all(values["layer.log_var"] > 0)
    assert np.all((np.abs(values["bias"]) >= 0.5) & (np.abs(values["bias"]) <= 1.5))
    assert np.all((np.abs(values["mixed"]) >= 1.0) & (np.abs(values["mixed"]) <= 3.0))
    again, _ = draw_parameters(named, seed=3)
    other, _ = draw_parameters(named, seed=4)
    assert all(np.array_equal(values[n], again[n]) for n in values)          # seeded
    assert not np.array_equal(values["weight"], other["weight"])


def test_a_drawn_bias_has_both_signs_over_many_elements():
    values, _ = draw_parameters([("bias", mg.tensor(np.zeros(200)))], seed=0)
    assert (values["bias"] > 0).sum() > 50 and (values["bias"] < 0).sum() > 50


def test_neutral_values_are_named():
    named = [("gamma", mg.tensor(np.ones(3))), ("beta", mg.tensor(np.zeros(3))),
             ("w", mg.tensor(np.array([1.0, 2.0])))]
    assert neutral_values(named) == ["gamma = 1", "beta = 0"]


def test_given_values_fill_or_reshape_and_bad_ones_are_refused():
    named = [("w", mg.tensor(np.zeros((2, 2))))]
    np.testing.assert_array_equal(given_parameters(named, {"w": 3})["w"], np.full((2, 2), 3.0))
    np.testing.assert_array_equal(given_parameters(named, {"w": [1, 2, 3, 4]})["w"],
                                  [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"params names \['v'\] .* parameters are \['w'\]"):
        given_parameters(named, {"v": 1})
    with pytest.raises(ValueError, match=r"params\['w'\] has 3 values for a parameter of "
                                         r"shape \(2, 2\)"):
        given_parameters(named, {"w": [1, 2, 3]})
    with pytest.raises(ValueError, match="finite"):
        given_parameters(named, {"w": np.nan})
    with pytest.raises(TypeError, match="params must be True, False or a dict"):
        check_layer(nn.Linear(2, 2), (3, 2), params="all")
    with pytest.raises(ValueError, match="has no parameters to set"):
        check_layer(lambda t: t * 2, (3, 2), params={"w": 1})


# -- what the check does with them -----------------------------------------------------------
def test_a_dx_that_forgets_a_parameter_fails_only_at_the_random_draw():
    layer = Module(Times, a=1.0)
    with pytest.raises(GradcheckError, match=r"^check_layer: Module: passes at the initial "
                       r"parameters \(a = 1\) but not at random ones \(seed 5\): does dx use "
                       r"a\?\n  the gradient of the input"):
        check_layer(layer, (4, 3), seed=5)
    report = check_layer(layer, (4, 3), params={"a": 1.0})
    assert report.random_gradients == [] and "not varied" in report.parameters
    assert report.notes == ["the parameters were not varied: checked only at the values given "
                            "by params= (a)"]
    with pytest.raises(GradcheckError, match=r"found at the given parameters \(a = 2\)"):
        check_layer(layer, (4, 3), params={"a": 2.0})
    assert layer.a.data == 1.0                          # the user's layer is left alone


def test_params_false_still_varies_the_parameters_for_dx():
    with pytest.raises(GradcheckError, match="does dx use a"):
        check_layer(Module(Times, a=1.0), (4, 3), params=False)


class LogOneMinus(mg.Function):
    """y = x·log(1 − p) per feature: needs p < 1, which the draw cannot know."""

    def forward(self, x, p):
        return x * np.log(1 - p)

    def backward(self, gy):
        x, p = self.inputs
        return gy * (1 - p).log(), -(gy * x / (1 - p)).sum(axis=0)


def test_a_constraint_the_draw_cannot_know_is_explained_and_params_is_the_way_out():
    layer = Module(LogOneMinus, p=np.full(12, 0.99))    # drawn in 0.99·[½, 3/2]: some p > 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(GradcheckError, match=r"the layer fails at parameters drawn at "
                           r"random \(seed 0\)(.|\n)*not finite(.|\n)*params=\{name: "
                           r"value\} \(minigrad check: --param NAME=VALUE\)"):
            check_layer(layer, (4, 12))
    report = check_layer(layer, (4, 12), params={"p": np.linspace(0.1, 0.6, 12)})
    assert "not varied" in report.parameters
    assert check_layer(Module(LogScale, s=np.full(3, 2.0)), (4, 3)).random_gradients


@given(seed=st.integers(0, 2**31 - 1))
def test_every_builtin_layer_passes_at_random_parameters(seed):
    mg.manual_seed(seed % 1000)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Linear(3, 2))
    x = np.random.default_rng(seed).uniform(0.2, 1.0, (5, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = check_layer(model, x, seed=seed)
    assert [g.name for g in report.random_gradients] == [g.name for g in report.gradients]
    for g in report.random_gradients:
        assert g.max_abs_error <= 1e-5 + 1e-3 * g.max_gradient


# -- the numbers reported (mutants of the report survived the suite before) ------------------
class OffByFactor(mg.Function):
    """y = 2x with backward (2 + δ)·dy: wrong by a known, tolerated amount."""

    delta = 1e-4

    def forward(self, x):
        return 2 * x

    def backward(self, gy):
        return gy * (2 + self.delta)


def test_the_reported_errors_are_the_real_ones():
    report = check_layer(OffByFactor, (6, 4))
    (g,) = report.gradients
    # analytic − numerical = δ·v and numerical = 2v, so abs error = δ·max|v| = δ/2·max|grad|
    # and the relative error is δ/2 everywhere (within rtol = 1e-3: a pass)
    assert g.max_abs_error == pytest.approx(OffByFactor.delta / 2 * g.max_gradient, rel=1e-3)
    assert g.max_rel_error == pytest.approx(OffByFactor.delta / 2, rel=1e-2)
    assert 1.0 < g.max_gradient < 10.0
    assert report.errors["input"] == (g.max_abs_error, g.max_rel_error)
    assert f"{g.max_abs_error:.2e}" in str(report) and f"{g.max_rel_error:.2e}" in str(report)


def test_the_reported_error_of_a_failure_is_the_worst_element():
    class Off(OffByFactor):
        delta = 0.5

    with pytest.raises(GradcheckError) as caught:
        check_layer(Off, (3, 2))
    text = str(caught.value)
    analytic, numeric = (float(part.split()[-1]) for part in
                         text.split("analytic ")[1].split(" (")[0].split(" vs "))
    assert analytic == pytest.approx(1.25 * numeric, rel=1e-5)           # (2 + ½)/2
    assert f"abs error {abs(analytic - numeric):.3g}" in text
    assert "6 of 6 elements disagree" in text
    assert "analytic gradient is 1.25 × the numerical one" in text


# -- the kink escape on the second input -----------------------------------------------------
class StaleMaskReLU(mg.Function):
    """ReLU whose backward reuses the mask of the first input it saw (by shape)."""

    masks = {}

    def forward(self, x):
        self.mask = StaleMaskReLU.masks.setdefault(x.shape, x > 0)   # bug: never refreshed
        return np.maximum(x, 0)

    def backward(self, gy):
        return gy * self.mask


def test_a_kink_on_the_way_to_the_second_input_is_not_blamed_on_the_layer():
    x = np.array([[0.0, 1.5, -0.7, 0.3], [2.0, 0.0, -1.0, -0.4]])   # zeros stay zeros in x2
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        report = check_layer(nn.ReLU(), x)
    assert report.gradients[0].kinks == 2
    assert "still right on a second, different input (no stale cache)" in report.checks


def test_a_wrong_gradient_on_the_second_input_is_caught_even_across_a_kink():
    StaleMaskReLU.masks.clear()
    x = np.array([[0.0, 1.5, -0.7, 0.3], [2.0, 0.0, -1.0, -0.4]])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(GradcheckError, match="wrong on a second, different input"):
            check_layer(StaleMaskReLU, x)
    StaleMaskReLU.masks.clear()
