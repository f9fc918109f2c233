"""check_layer: a catalogue of broken layers it must catch, and no false alarm on good ones."""
import copy
import importlib.util
import pathlib
import subprocess
import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.gradcheck import GradcheckError, GradcheckWarning
from minigrad.testing import LayerCheckReport, check_layer
from minigrad.testing import strategies as mst

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "custom_layer.py"


def _load_example():
    spec = importlib.util.spec_from_file_location("custom_layer_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


example = _load_example()


# -- the catalogue of broken layers ----------------------------------------------------------
class WrongSignSigmoid(mg.Function):
    def forward(self, x):
        return 1 / (1 + np.exp(-x))

    def backward(self, gy):
        y = self.output
        return -gy * y * (1 - y)                       # bug: the sign


class MeanMissingN(mg.Function):
    """y = mean of each row."""

    def forward(self, x):
        return x.mean(axis=1)

    def backward(self, gy):
        n = self.inputs[0].shape[1]
        return F.broadcast_to(F.unsqueeze(gy, 1), (gy.shape[0], n))   # bug: no 1/N


class AddChannelBias(mg.Function):
    """y[n, c, l] = x[n, c, l] + b[c]."""

    def forward(self, x, b):
        return x + b[:, None]

    def backward(self, gy):
        return gy, gy                                  # bug: db not summed over N and L


class ChannelBias(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.bias = nn.Parameter(np.linspace(-1, 1, channels))

    def forward(self, x):
        return AddChannelBias.apply(x, self.bias)


class TanhIgnoresUpstream(mg.Function):
    def forward(self, x):
        return np.tanh(x)

    def backward(self, gy):
        y = self.output.data
        return mg.Tensor(1 - y * y)                    # bug: the book's dout=1 shortcut


class LinearFunction(mg.Function):
    """y = x W + b with W of shape (in, out)."""

    transposed = False

    def forward(self, x, W, b):
        return x @ W + b

    def backward(self, gy):
        x, W, _ = self.inputs
        gW = gy.T @ x if self.transposed else x.T @ gy
        return gy @ W.T, gW, gy.sum(axis=0)


class TransposedLinearFunction(LinearFunction):
    transposed = True                                  # bug: dyᵀ·x instead of xᵀ·dy


class MyLinear(nn.Module):
    function = LinearFunction

    def __init__(self, n_in, n_out):
        super().__init__()
        rng = np.random.default_rng(1)
        self.weight = nn.Parameter(rng.standard_normal((n_in, n_out)))
        self.bias = nn.Parameter(rng.standard_normal(n_out))

    def forward(self, x):
        return self.function.apply(x, self.weight, self.bias)


class TransposedLinear(MyLinear):
    function = TransposedLinearFunction


class ReLUInPlace(mg.Function):
    def forward(self, x):
        return np.maximum(x, 0)

    def backward(self, gy):
        gy.data *= self.inputs[0].data > 0             # bug: writes into the upstream gradient
        return gy


class BatchNormNoMean(mg.Function):
    """Batch normalisation (no affine) whose backward forgets the −mean(dy) term."""

    def forward(self, x):
        self.inv_std = 1 / np.sqrt(x.var(axis=0) + 1e-5)
        self.x_hat = (x - x.mean(axis=0)) * self.inv_std
        return self.x_hat

    def backward(self, gy):
        g, x_hat = gy.data, self.x_hat
        return mg.Tensor((g - x_hat * (g * x_hat).mean(axis=0)) * self.inv_std)   # bug


class DropoutFunction(mg.Function):
    def forward(self, x, mask=None, scale=1.0):
        self.mask = mask
        return x * mask * scale

    def backward(self, gy):
        return gy * 2.0                                # bug: the mask is not applied


class BrokenDropout(nn.Module):
    def forward(self, x):
        keep = mg.random.default_rng().random(x.shape) >= 0.5
        return DropoutFunction.apply(x, mask=keep.astype(x.dtype), scale=2.0)


class Gelu(mg.Function):
    """The tanh approximation of GELU, with a float64 constant (upcasts float32)."""

    def forward(self, x):
        self.c = np.sqrt(2 / np.pi)                    # bug: an np.float64 scalar
        self.t = np.tanh(self.c * (x + 0.044715 * x ** 3))
        return 0.5 * x * (1 + self.t)

    def backward(self, gy):
        x, t, c = self.inputs[0].data, self.t, self.c
        dt = (1 - t * t) * c * (1 + 3 * 0.044715 * x * x)
        return gy * (0.5 * (1 + t) + 0.5 * x * dt)


class DoubleBackwardUpcasts(mg.Function):
    def forward(self, x):
        return x * 2

    def backward(self, gy):
        return gy * np.full(gy.shape, 2.0)             # bug: a float64 constant upcasts it


class StaleSwish(mg.Function):
    """Swish that caches its input on the class, keyed by shape: right once, then stale."""

    _cache = {}

    def forward(self, x):
        StaleSwish._cache.setdefault(x.shape, x.copy())   # bug: never refreshed
        return x / (1 + np.exp(-x))

    def backward(self, gy):
        x = StaleSwish._cache[gy.shape]
        s = 1 / (1 + np.exp(-x))
        return gy * (s + x * s * (1 - s))


class StaleWeight(nn.Module):
    """Caches a copy of its weight on the first call: later changes to the weight are ignored."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(np.random.default_rng(2).standard_normal((4, 3)))
        self._cached = None

    def forward(self, x):
        if self._cached is None:
            self._cached = self.weight.data.copy()     # bug: stale after any update
        return LinearWithCachedWeight.apply(x, self.weight, cached=self._cached)


class LinearWithCachedWeight(mg.Function):
    def forward(self, x, W, cached=None):
        return x @ cached

    def backward(self, gy):
        x, W = self.inputs
        return gy @ W.T, x.T @ gy


class UnseededDropout(nn.Module):
    def forward(self, x):
        keep = np.random.default_rng().random(x.shape) >= 0.5   # bug: not minigrad's rng
        return x * mg.tensor(keep.astype(x.dtype) * 2)


def _fresh_stale_swish():
    StaleSwish._cache.clear()
    return StaleSwish


CATALOGUE = {
    "wrong sign": (lambda: WrongSignSigmoid, (4, 3), r"sign flipped"),
    "missing 1/N": (lambda: MeanMissingN, (4, 5),
                    r"missing factor 1/N with N = 5 \(axis 1"),
    "forgotten broadcast reduction": (lambda: ChannelBias(3), (2, 3, 4),
                                      r"shape \(2, 3, 4\) for its input 1 of shape \(3,\) "
                                      r"\(parameter 'bias'\): a forgotten broadcast reduction; "
                                      r"sum it over axes \(0, 2\)"),
    "backward ignores the upstream gradient": (lambda: TanhIgnoresUpstream, (4, 3),
                                               r"not linear in the upstream gradient"),
    "transposed weight gradient": (lambda: TransposedLinear(5, 3), (4, 5),
                                   r"shape \(3, 5\) for its input 1 of shape \(5, 3\) "
                                   r"\(parameter 'weight'\).*transposed gradient"),
    "transposed square weight gradient": (lambda: TransposedLinear(4, 4), (3, 4),
                                          r"parameter 'weight'.*is wrong(.|\n)*transpose"),
    "upstream gradient modified in place": (lambda: ReLUInPlace, (4, 3),
                                            r"modified the upstream gradient in place"),
    "BatchNorm without the mean term": (lambda: BatchNormNoMean, (6, 3),
                                        r"gradient of the input \(shape \(6, 3\)\) is wrong"),
    "dropout mask not applied in backward": (lambda: BrokenDropout(), (6, 4),
                                             r"gradient of the input \(shape \(6, 4\)\) is "
                                             r"wrong"),
    "wrong dtype (forward)": (lambda: Gelu, (4, 3),
                              r"wrong dtype: a float32 input gives a float64 output"),
    "wrong dtype (backward)": (lambda: DoubleBackwardUpcasts, (4, 3),
                               r"DoubleBackwardUpcasts.backward returns a float64 gradient "
                               r"for its float32 input"),
    "stale cache between calls": (_fresh_stale_swish, (4, 3),
                                  r"wrong on a second, different input(.|\n)*stale cache"),
    "stale copy of a weight": (lambda: StaleWeight(), (5, 4),
                               r"parameter 'weight'.*is wrong(.|\n)*stale copy"),
    "randomness not held fixed": (lambda: UnseededDropout(), (4, 3),
                                  r"differs between two calls"),
    "LayerNorm with sigma as a constant": (lambda: example.BrokenLayerNorm(5), (8, 5),
                                           r"gradient of the input \(shape \(8, 5\)\) is "
                                           r"wrong"),
}


@pytest.mark.parametrize("bug", sorted(CATALOGUE))
def test_catalogue_of_broken_layers_is_caught(bug):
    make, shape, pattern = CATALOGUE[bug]
    layer = make()
    with pytest.raises(GradcheckError, match=pattern) as caught:
        check_layer(layer, shape)
    message = str(caught.value)
    name = layer.__name__ if isinstance(layer, type) else type(layer).__name__
    assert message.startswith(f"check_layer: {name}: ")


def test_catalogue_has_at_least_ten_kinds_of_bug():
    assert len(CATALOGUE) >= 10


def test_mistakes_are_caught_at_a_kink_too():
    """Elements at ReLU's kink are set aside, the others still compared."""
    x = np.array([[0.0, 1.0, -2.0], [0.5, 0.0, -0.3]])
    with pytest.raises(GradcheckError, match=r"is wrong(.|\n)*2 more elements sit at a kink"):
        check_layer(lambda t: WrongSignSigmoid.apply(F.relu(t)), x)


# -- the check passes correct layers without false alarms ------------------------------------
@given(x=mst.batches(4, min_batch=2, max_batch=5))
def test_builtin_affine_batchnorm_dropout_stack_passes(x):
    mg.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Tanh(), nn.Dropout(0.3),
                          nn.Linear(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        report = check_layer(model, x)
    assert set(report.errors) == {"input", "0.weight", "0.bias", "1.weight", "1.bias",
                                  "4.weight", "4.bias"}
    assert all(g.max_abs_error <= 1e-5 + 1e-3 * g.max_gradient for g in report.gradients)


LAYERS = {
    "Linear": lambda f: nn.Linear(f, 3),
    "Sigmoid": lambda f: nn.Sigmoid(),
    "ReLU": lambda f: nn.ReLU(),
    "Tanh": lambda f: nn.Tanh(),
    "LeakyReLU": lambda f: nn.LeakyReLU(0.1),
    "Identity": lambda f: nn.Identity(),
    "BatchNorm1d (train)": lambda f: nn.BatchNorm1d(f),
    "BatchNorm1d (eval)": lambda f: nn.BatchNorm1d(f).eval(),
    "Dropout": lambda f: nn.Dropout(0.5),
    "Dropout (eval)": lambda f: nn.Dropout(0.5).eval(),
    "MLP": lambda f: nn.MLP(f, [4], 2, use_batchnorm=True, dropout=0.2),
    "SoftmaxCrossEntropy": lambda f: (lambda z: F.softmax_cross_entropy(
        z, np.arange(z.shape[0]) % z.shape[1])),
    "Swish (example)": lambda f: example.Swish(beta=0.7),
    "LayerNorm (example)": lambda f: example.LayerNorm(f),
}


@given(name=st.sampled_from(sorted(LAYERS)), n=st.integers(2, 5), features=st.integers(1, 5),
       data=st.data())
def test_every_builtin_layer_passes_on_drawn_shapes(name, n, features, data):
    # kinks are handled, but keep values away from them so that every element is compared
    x = data.draw(mst.arrays(shape=(n, features), away_from=(0.0,), margin=1e-3))
    mg.manual_seed(1)
    layer = LAYERS[name](features)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        report = check_layer(layer, x)
    assert isinstance(report, LayerCheckReport)
    for gradient in report.gradients:
        assert gradient.max_abs_error <= 1e-5 + 1e-3 * gradient.max_gradient
    # x is away from 0, so the only kinks possible are ReLUs inside the MLP (after batch norm
    # of identical rows, for instance). Vacuous passes: ReLU of negative values, a loss over
    # one class (always 0), and dropout that happens to drop every unit
    kinks = sum(g.kinks for g in report.gradients)
    assert kinks == 0 or name == "MLP"
    if name == "ReLU":
        assert report.vacuous == bool(np.all(x < 0))
    elif name == "SoftmaxCrossEntropy":
        assert report.vacuous == (features == 1)
    elif name not in ("Dropout", "MLP"):
        assert not report.vacuous
    expected = ["kink"] * bool(kinks) + ["vacuous"] * report.vacuous
    assert [word for w in caught for word in ("kink", "vacuous") if word in str(w.message)] \
        == expected and len(caught) == len(expected)


def test_batchnorm2d_passes():
    mg.manual_seed(0)
    report = check_layer(nn.BatchNorm2d(3), (2, 3, 2, 2))
    assert set(report.errors) == {"input", "weight", "bias"}


@given(x=mst.arrays(shape=mst.shapes(min_dims=1, max_dims=3), away_from=(0.0,)))
def test_function_classes_pass(x):
    from minigrad.functional.elementwise import ReLU, Sigmoid, Tanh
    for function in (Tanh, Sigmoid, ReLU):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            report = check_layer(function, x)
        vacuous = function is ReLU and bool(np.all(x < 0))    # ReLU is flat there
        assert report.vacuous == vacuous and len(caught) == vacuous
        assert report.layer == function.__name__
        assert report.errors["input"][0] < 1e-5


def test_example_layers_forward_match_numpy():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    beta = 1.3
    y = example.Swish(beta, dtype=np.float64)(mg.tensor(x))
    np.testing.assert_allclose(y.data, x / (1 + np.exp(-beta * x)), rtol=1e-12)
    norm = example.LayerNorm(5, dtype=np.float64)
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    expected = (x - mean) / np.sqrt(var + 1e-5) * norm.weight.data + norm.bias.data
    np.testing.assert_allclose(norm(mg.tensor(x)).data, expected, rtol=1e-12)


def test_report_lists_every_gradient_and_check():
    mg.manual_seed(0)
    report = check_layer(nn.Linear(5, 3), (8, 5))
    assert [g.name for g in report.gradients] == ["input", "weight", "bias"]
    assert [g.shape for g in report.gradients] == [(8, 5), (5, 3), (3,)]
    assert report.output_shapes == [(8, 3)] and report.input_shape == (8, 5)
    assert not report.vacuous and report.notes == []
    text = str(report)
    assert text.startswith("check_layer: Linear passed on an input of shape (8, 5)")
    for word in ("weight", "bias", "max abs err", "backward linear in the upstream gradient",
                 "float32 in gives float32 out", "stale cache"):
        assert word in text
    assert "still right on a batch of 10 (axis 0 longer)" in report.checks
    assert report.checks[-1] == ("the gradients also match at parameters drawn at random "
                                 "(seed 0)")
    assert [g.name for g in report.random_gradients] == ["input", "weight", "bias"]
    assert report.parameters == "initial, then drawn at random (seed 0)"
    assert len(report.checks) == 8


def test_params_false_checks_only_the_input():
    report = check_layer(nn.Linear(5, 3), (4, 5), params=False)
    assert list(report.errors) == ["input"]


def test_multiple_outputs():
    report = check_layer(lambda t: (t.tanh(), (t * t).sum(axis=0)), (3, 2))
    assert report.output_shapes == [(3, 2), (2,)]


# -- the check holds randomness fixed and leaves the layer alone -----------------------------
def test_layer_state_and_random_stream_are_untouched():
    mg.manual_seed(7)
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3), nn.Dropout(0.5))
    before = copy.deepcopy(model.state_dict())
    mg.manual_seed(11)
    expected_draw = mg.random.default_rng().random(3)
    mg.manual_seed(11)
    check_layer(model, (5, 4))
    np.testing.assert_array_equal(mg.random.default_rng().random(3), expected_draw)
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key in before:
        np.testing.assert_array_equal(after[key], before[key])
        assert after[key].dtype == before[key].dtype
    assert model[0].weight.dtype == np.float32 and model[0].weight.grad is None


def test_layer_with_its_own_generator_is_held_fixed():
    class OwnRngDropout(nn.Module):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(5)

        def forward(self, x):
            return F.dropout(x, 0.5, rng=self.rng)

    layer = OwnRngDropout()
    state = copy.deepcopy(layer.rng.bit_generator.state)
    report = check_layer(layer, (4, 3))
    assert report.errors["input"][0] < 1e-6
    assert layer.rng.bit_generator.state == state     # the user's generator did not move


# -- kinks and vacuous passes ----------------------------------------------------------------
def test_relu_at_zero_is_reported_as_a_kink_not_a_mismatch():
    x = np.array([[0.0, 1.5, -0.7], [2.0, 0.0, -1.0]])
    with pytest.warns(GradcheckWarning, match="2 gradient element.* kink"):
        report = check_layer(nn.ReLU(), x)
    assert report.gradients[0].kinks == 2
    assert any("kink" in note for note in report.notes)
    assert "(2 at a kink)" in str(report)


def test_a_vacuous_pass_warns():
    def centre(x):                    # a normalisation without affine parameters
        return x - x.mean(axis=0)

    with pytest.warns(GradcheckWarning, match="vacuous"):
        report = check_layer(centre, (1, 4))            # a batch of one: all zeros
    assert report.vacuous
    assert all(g.max_gradient == 0 for g in report.gradients)


# -- bad input -------------------------------------------------------------------------------
def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="check_layer: layer must be"):
        check_layer(42, (2, 3))
    with pytest.raises(TypeError, match="check_layer: layer must be"):
        check_layer(nn.Linear, (2, 3))
    with pytest.raises(ValueError, match="check_layer: the example input .* finite"):
        check_layer(nn.Tanh(), np.array([1.0, np.nan]))
    with pytest.raises(ValueError, match="negative side"):
        check_layer(nn.Tanh(), (2, -1))
    with pytest.raises(GradcheckError, match="no output requires grad"):
        check_layer(lambda t: mg.tensor(t.data * 2), (2, 3))


def test_the_layers_own_error_reaches_the_user():
    with pytest.raises(ValueError, match="Linear"):
        check_layer(nn.Linear(5, 3), (4, 6))


def test_float32_not_accepted_is_a_note():
    def float64_only(x):
        if x.dtype != np.float64:
            raise TypeError("float64_only: needs float64")
        return x * x

    report = check_layer(float64_only, (2, 3))
    assert any("float32 not checked" in note for note in report.notes)


def test_check_layer_works_without_hypothesis():
    code = ("import sys; import minigrad.testing as t; import minigrad.testing.cli; "
            "assert 'hypothesis' not in sys.modules, 'hypothesis imported'; "
            "print(t.check_layer(lambda x: x * x, (2, 3)).layer)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "<lambda>"
