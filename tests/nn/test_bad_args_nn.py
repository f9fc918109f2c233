"""Bad arguments to layers, ``nn.init``, ``clip_grad_norm_`` and ``Module.load_state_dict``: a
TypeError or ValueError naming the layer or function and the value, checked where the argument is
given, never garbage weights or a raw Python/NumPy error."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

pytestmark = pytest.mark.filterwarnings("error")

NAN, INF = float("nan"), float("inf")


# -- nn.init ---------------------------------------------------------------------------------
@pytest.mark.parametrize("std", [NAN, INF], ids=repr)
def test_linear_refuses_a_non_finite_init_std(std):
    with pytest.raises(ValueError, match=rf"Linear: init must be .*finite.*got {std}"):
        nn.Linear(2, 2, init=std)


def test_linear_refuses_an_init_std_whose_samples_overflow_the_dtype():
    with pytest.raises(ValueError, match=r"Linear: init=1e\+300: normal_: .*overflow.*float32"):
        nn.Linear(2, 2, init=1e300)
    assert np.isfinite(nn.Linear(2, 2, init=1e300, dtype=np.float64).weight.data).all()
    assert nn.Linear(2, 2, init=np.float32(0.1)).weight.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda t: nn.init.normal_(t, std=NAN), "normal_: std must be finite, got nan"),
    (lambda t: nn.init.normal_(t, std=INF), "normal_: std must be finite, got inf"),
    (lambda t: nn.init.normal_(t, mean=INF), "normal_: mean must be finite, got inf"),
    (lambda t: nn.init.normal_(t, mean="0"), "normal_: mean must be a number, got '0'"),
    (lambda t: nn.init.uniform_(t, NAN, 1.0), "uniform_: a must be finite, got nan"),
    (lambda t: nn.init.uniform_(t, 0.0, INF), "uniform_: b must be finite, got inf"),
    (lambda t: nn.init.uniform_(t, -1e308, 1e308), "uniform_: the range .* is too wide"),
    (lambda t: nn.init.normal_(t, std=1e300), r"normal_: samples of N\(0, 1e\+300²\) overflow"),
], ids=["std nan", "std inf", "mean inf", "mean str", "a nan", "b inf", "too wide", "overflow"])
def test_random_init_refuses_non_finite_parameters_and_leaves_the_tensor_alone(call, message):
    t = mg.zeros(3, 2)
    with pytest.raises((ValueError, TypeError), match=message):
        call(t)
    assert not t.data.any() and t._version == 0


@pytest.mark.parametrize("name", ["normal_", "uniform_", "he_normal_", "xavier_normal_",
                                  "lecun_normal_", "kaiming_normal_", "kaiming_uniform_",
                                  "xavier_uniform_"])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool])
def test_random_init_refuses_a_non_floating_tensor(name, dtype):
    t = mg.zeros(3, 2, dtype=dtype)
    with pytest.raises(TypeError, match=rf"{name}: expected a floating tensor, got dtype "
                                        rf"{np.dtype(dtype)}"):
        getattr(nn.init, name)(t)
    assert not t.data.any()


@pytest.mark.parametrize("name, gain", [("he_normal_", 2), ("lecun_normal_", 1)])
def test_fan_in_initialisations_refuse_a_weight_without_inputs(name, gain):
    with pytest.raises(ValueError, match=rf"{name}: the weight of shape \(0, 3\) has fan_in 0"):
        getattr(nn.init, name)(mg.zeros(0, 3))
    assert getattr(nn.init, name)(mg.zeros(3, 0)).shape == (3, 0)   # no output: nothing to do


@pytest.mark.parametrize("name", ["normal_", "uniform_", "he_normal_", "xavier_normal_",
                                  "lecun_normal_", "kaiming_normal_", "kaiming_uniform_",
                                  "xavier_uniform_"])
def test_init_refuses_an_rng_that_is_not_a_generator(name):
    t = mg.zeros(3, 2)
    with pytest.raises(TypeError, match=rf"{name}: rng must be a numpy.random.Generator or "
                                        "None, got int"):
        getattr(nn.init, name)(t, rng=5)
    assert not t.data.any()


def test_constant_takes_a_number_the_dtype_can_hold():
    t = mg.zeros(3)
    for value in ("a", [1.0, 2.0], None, 1j):
        with pytest.raises(TypeError, match="constant_: value must be a real number"):
            nn.init.constant_(t, value)
    with pytest.raises(ValueError, match="constant_: nan cannot be stored in a tensor of dtype "
                                         "int64"):
        nn.init.constant_(mg.zeros(3, dtype=np.int64), NAN)
    with pytest.raises(ValueError, match=r"constant_: 1e\+300 overflows dtype float32"):
        nn.init.constant_(t, 1e300)
    assert not t.data.any()
    assert nn.init.constant_(t, np.float32(2.5)).data.tolist() == [2.5] * 3
    assert nn.init.constant_(mg.zeros(2, dtype=np.int64), 7).data.tolist() == [7, 7]


# -- layers ----------------------------------------------------------------------------------
@pytest.mark.parametrize("hidden", [10, None, "10", 2.5], ids=repr)
def test_mlp_wants_a_sequence_of_hidden_sizes(hidden):
    with pytest.raises(TypeError, match=r"MLP: hidden_sizes must be a sequence of positive "
                                        r"integers"):
        nn.MLP(4, hidden, 3)


@pytest.mark.parametrize("hidden, bad", [([0], "hidden_sizes\\[0\\]"),
                                         ([10, -1], "hidden_sizes\\[1\\]"),
                                         ([10, "5"], "hidden_sizes\\[1\\]"),
                                         ([2.5], "hidden_sizes\\[0\\]")])
def test_mlp_names_the_bad_hidden_size(hidden, bad):
    with pytest.raises(ValueError, match=rf"MLP: {bad} must be a positive integer"):
        nn.MLP(4, hidden, 3)


def test_mlp_checks_its_other_arguments_by_name():
    with pytest.raises(ValueError, match="MLP: input_size must be a positive integer"):
        nn.MLP(0, [4], 3)
    with pytest.raises(ValueError, match="MLP: output_size must be a positive integer"):
        nn.MLP(4, [4], "3")
    for dropout in (None, "a", True):
        with pytest.raises(TypeError, match=f"MLP: dropout must be a number, got {dropout!r}"):
            nn.MLP(4, [4], 3, dropout=dropout)
    with pytest.raises(ValueError, match="MLP: dropout must be a probability"):
        nn.MLP(4, [4], 3, dropout=NAN)
    for activation in (["relu"], None, nn.ReLU):
        with pytest.raises(ValueError, match="MLP: activation must be one of"):
            nn.MLP(4, [4], 3, activation=activation)
    model = nn.MLP(4, np.array([5, 6]), 3, dropout=np.float32(0.25))
    assert [m.out_features for m in model.linears] == [5, 6, 3]
    assert len(nn.MLP(4, (5,), 3)) == 3 and len(nn.MLP(4, range(0), 3)) == 1


def test_dropout_refuses_an_rng_that_is_not_a_generator_at_construction():
    with pytest.raises(TypeError, match="Dropout: rng must be a numpy.random.Generator or None, "
                                        "got int"):
        nn.Dropout(0.5, rng=5)
    layer = nn.Dropout(0.5, rng=np.random.default_rng(0))
    assert layer(mg.ones(4, 4)).shape == (4, 4)


@pytest.mark.parametrize("layer", [nn.BatchNorm1d, nn.BatchNorm2d], ids=lambda c: c.__name__)
@pytest.mark.parametrize("arg", ["eps", "momentum"])
def test_batchnorm_refuses_non_numbers(layer, arg):
    for value in ("a", [0.1], True):
        with pytest.raises(TypeError, match=rf"{layer.__name__}: {arg} must be a number, got "):
            layer(3, **{arg: value})
    assert layer(3, eps=np.float32(1e-3), momentum=None).momentum is None


@pytest.mark.parametrize("index", ["0", 0.0, None, True, [0]], ids=repr)
@pytest.mark.parametrize("container", [nn.Sequential, lambda *m: nn.ModuleList(m)],
                         ids=["Sequential", "ModuleList"])
def test_containers_take_integer_or_slice_indices(container, index):
    items = container(nn.ReLU(), nn.Tanh())
    name = type(items).__name__
    with pytest.raises(TypeError, match=rf"{name}: indices must be integers or slices, got "):
        items[index]
    assert isinstance(items[np.int64(1)], nn.Tanh) and isinstance(items[-2], nn.ReLU)
    assert len(items[0:1]) == 1


def test_linear_and_batchnorm_name_themselves_for_an_unknown_dtype():
    with pytest.raises(TypeError, match="Linear: dtype must be a floating NumPy dtype .*'nope'"):
        nn.Linear(4, 3, dtype="nope")
    with pytest.raises(TypeError, match="BatchNorm1d: dtype must be a floating NumPy dtype"):
        nn.BatchNorm1d(3, dtype="nope")
    with pytest.raises(TypeError, match="Linear.to: dtype must be a floating NumPy dtype"):
        nn.Linear(2, 2).to("nope")


def test_leaky_relu_takes_numpy_numbers_like_functional_leaky_relu():
    for slope in (np.float32(0.1), np.float64(0.2), np.int64(0)):
        layer = nn.LeakyReLU(slope)
        assert type(layer.negative_slope) is float and layer.negative_slope == float(slope)
    y = nn.LeakyReLU(np.float32(0.5))(mg.tensor([-2.0, 2.0], dtype=np.float32))
    assert y.data.tolist() == [-1.0, 2.0] and y.dtype == np.float32
    with pytest.raises(TypeError, match="LeakyReLU: negative_slope must be a number"):
        nn.LeakyReLU(np.bool_(True))


# -- clip_grad_norm_ -------------------------------------------------------------------------
def _with_grads():
    params = [mg.tensor(np.ones(4), requires_grad=True)]
    params[0].grad = mg.tensor(np.full(4, 2.0))
    return params


def test_clip_grad_norm_refuses_non_numbers_by_name():
    for max_norm in ("a", None, [1.0]):
        with pytest.raises(TypeError, match="clip_grad_norm_: max_norm must be a number"):
            nn.utils.clip_grad_norm_(_with_grads(), max_norm)
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be a positive number "
                                         "or 'inf', got 'fro'"):
        nn.utils.clip_grad_norm_(_with_grads(), 1.0, norm_type="fro")
    with pytest.raises(TypeError, match="clip_grad_norm_: norm_type must be a number"):
        nn.utils.clip_grad_norm_(_with_grads(), 1.0, norm_type=None)


def test_clip_grad_norm_takes_inf_as_a_string_as_pytorch_does():
    assert nn.utils.clip_grad_norm_(_with_grads(), 1.0, norm_type="inf") == 2.0
    assert nn.utils.clip_grad_norm_(_with_grads(), np.float32(10.0)) == pytest.approx(4.0)


# -- Module.load_state_dict ------------------------------------------------------------------
def test_load_state_dict_refuses_values_that_overflow_the_parameter_dtype():
    model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    before = model.state_dict()
    state = dict(before, **{"0.weight": np.full((2, 2), 1e300)})
    with pytest.raises(ValueError, match=r"nothing was changed\):\n  value out of range for "
                                         r"0\.weight: float64 values beyond the range of "
                                         r"float32"):
        model.load_state_dict(state)
    state = dict(before, **{"1.num_batches_tracked": np.array(2 ** 64 - 1, np.uint64)})
    with pytest.raises(ValueError, match="value out of range for 1.num_batches_tracked"):
        model.load_state_dict(state)
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[key])
    half = nn.Linear(2, 2, dtype=np.float16)
    with pytest.raises(ValueError, match="int32 values beyond the range of float16"):
        half.load_state_dict({"weight": np.full((2, 2), 70000, np.int32), "bias": np.zeros(2)})


def test_load_state_dict_still_takes_values_that_fit_and_says_when_a_value_is_not_numeric():
    model = nn.Linear(2, 2)
    model.load_state_dict({"weight": np.full((2, 2), 3e38), "bias": np.array([INF, NAN])})
    assert model.weight.data.max() == np.float32(3e38)
    assert np.isinf(model.bias.data[0]) and np.isnan(model.bias.data[1])   # as they were
    with pytest.raises(ValueError, match="bad value for bias: expected a numeric array, got "
                                         "NoneType"):
        model.load_state_dict({"weight": np.zeros((2, 2)), "bias": None})
