"""Bad arguments to the optimizers and schedulers, and tampered state dicts: a TypeError or
ValueError naming the optimizer (or scheduler), the argument and the value, and a refused
``load_state_dict`` changes nothing."""
import copy
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn, optim
from minigrad.optim import lr_scheduler

pytestmark = pytest.mark.filterwarnings("error")

FLAGS = [(optim.Adam, "amsgrad"), (optim.AdamW, "amsgrad"), (optim.RMSprop, "centered"),
         (optim.SGD, "nesterov")]


def _params():
    return [nn.Parameter(np.ones(3, np.float32))]


def _stepped(cls, **kwargs):
    """An optimizer of ``cls`` after one step (so it has state)."""
    params = _params()
    opt = cls(params, **kwargs)
    params[0].grad = mg.tensor(np.array([1.0, -2.0, 3.0], np.float32))
    opt.step()
    return opt


@pytest.mark.parametrize("value", ["no", "False", "True", 2, -1, 0.0, None, [True]], ids=repr)
@pytest.mark.parametrize("cls, flag", FLAGS, ids=lambda v: getattr(v, "__name__", v))
def test_boolean_flags_refuse_what_is_not_a_bool(cls, flag, value):
    extra = {"momentum": 0.9} if cls is optim.SGD else {}      # Nesterov needs a momentum
    with pytest.raises(TypeError, match=rf"{cls.__name__}: {flag} must be True or False, got "
                                        rf"{re.escape(repr(value))}"):
        cls(_params(), **extra, **{flag: value})


@pytest.mark.parametrize("cls, flag", FLAGS, ids=lambda v: getattr(v, "__name__", v))
def test_boolean_flags_take_python_and_numpy_bools(cls, flag):
    extra = {"momentum": 0.9} if cls is optim.SGD else {}
    for value in (True, False, np.True_, np.False_, 1, 0):       # 0 / 1 as PyTorch takes them
        group = cls(_params(), **extra, **{flag: value}).param_groups[0]
        assert group[flag] is bool(value)


def test_a_flag_in_a_loaded_group_is_checked_too():
    opt = _stepped(optim.Adam)
    saved = opt.state_dict()
    saved["param_groups"][0]["amsgrad"] = "no"
    with pytest.raises(TypeError, match="Adam: amsgrad must be True or False, got 'no'"):
        opt.load_state_dict(saved)
    assert opt.param_groups[0]["amsgrad"] is False


@pytest.mark.parametrize("betas", [{0.9, 0.99}, {0: 0.9, 1: 0.99}, frozenset({0.9, 0.99}),
                                   "ab", 0.9], ids=repr)
def test_adam_betas_must_be_an_ordered_pair(betas):
    with pytest.raises(ValueError, match=r"Adam: Invalid betas: .*need a pair"):
        optim.Adam(_params(), betas=betas)
    assert optim.Adam(_params(), betas=[0.8, 0.9]).param_groups[0]["betas"] == (0.8, 0.9)
    pair = optim.Adam(_params(), betas=np.array([0.8, 0.9])).param_groups[0]["betas"]
    assert pair == (0.8, 0.9) and all(type(b) is float for b in pair)


def test_misspelt_group_keys_are_kept_as_pytorch_does():
    group = optim.SGD([{"params": _params(), "lrr": 0.5}], lr=0.1).param_groups[0]
    assert group["lrr"] == 0.5 and group["lr"] == 0.1


# -- Optimizer.load_state_dict ---------------------------------------------------------------
def _tampered(opt, change):
    """``opt.state_dict()`` after ``change(state_dict)``."""
    saved = copy.deepcopy(opt.state_dict())
    change(saved)
    return saved


def _refused(opt, change, error, message):
    """Loading the tampered state dict raises ``error`` matching ``message``; nothing changes."""
    before = copy.deepcopy(opt.state_dict())
    with pytest.raises(error, match=message):
        opt.load_state_dict(_tampered(opt, change))
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert after["state"].keys() == before["state"].keys()
    for key, state in after["state"].items():
        for name, value in state.items():
            np.testing.assert_array_equal(value, before["state"][key][name])


def _set_state(name, value, pid=0):
    return lambda saved: saved["state"][pid].__setitem__(name, value)


@pytest.mark.parametrize("step", [True, False, -1, 1.0, "3", None], ids=repr)
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW, optim.RMSprop, optim.AdaGrad],
                         ids=lambda c: c.__name__)
def test_loaded_step_must_be_a_non_negative_integer(cls, step):
    _refused(_stepped(cls), _set_state("step", step), ValueError,
             rf"{cls.__name__}.load_state_dict: state of parameter 0: 'step' must be a "
             rf"non-negative integer, got {step!r}")


@pytest.mark.parametrize("cls, name, kwargs", [
    (optim.Adam, "exp_avg_sq", {}), (optim.AdamW, "exp_avg_sq", {}),
    (optim.Adam, "max_exp_avg_sq", {"amsgrad": True}), (optim.RMSprop, "square_avg", {}),
    (optim.AdaGrad, "sum", {})])
def test_loaded_averages_of_squared_gradients_must_not_be_negative(cls, name, kwargs):
    _refused(_stepped(cls, **kwargs), _set_state(name, np.array([1.0, -0.5, 1.0])), ValueError,
             rf"{cls.__name__}.load_state_dict: state of parameter 0: '{name}' must be >= 0")


@pytest.mark.parametrize("bad", [np.nan, np.inf, 1e300], ids=repr)
@pytest.mark.parametrize("cls, name, kwargs", [
    (optim.Adam, "exp_avg", {}), (optim.Adam, "exp_avg_sq", {}),
    (optim.SGD, "momentum_buffer", {"momentum": 0.9}), (optim.Momentum, "velocity", {}),
    (optim.RMSprop, "grad_avg", {"centered": True})])
def test_loaded_state_arrays_must_be_finite_in_the_parameter_dtype(cls, name, kwargs, bad):
    _refused(_stepped(cls, **kwargs), _set_state(name, np.array([0.0, bad, 0.0])), ValueError,
             rf"{cls.__name__}.load_state_dict: state of parameter 0: '{name}' has values "
             r"that are NaN, infinite or beyond the range of float32")


def test_loaded_state_with_negative_momentum_is_fine():
    opt = _stepped(optim.SGD, momentum=0.9)
    opt.load_state_dict(_tampered(opt, _set_state("momentum_buffer", -np.ones(3))))
    assert opt.state_dict()["state"][0]["momentum_buffer"].tolist() == [-1.0] * 3


def _move_state(key):
    def change(saved):
        saved["state"] = {key: saved["state"].pop(0)}
    return change


@pytest.mark.parametrize("change, error, message", [
    (lambda s: s.__setitem__("param_groups", None), TypeError,
     "'param_groups' must be a list of dicts, got NoneType"),
    (lambda s: s.__setitem__("param_groups", {"params": [0]}), TypeError,
     "'param_groups' must be a list of dicts, got dict"),
    (lambda s: s["param_groups"].__setitem__(0, [0]), TypeError,
     r"param_groups\[0\] must be a dict, got list"),
    (lambda s: s["param_groups"][0].__setitem__("params", ["a"]), TypeError,
     r"param_groups\[0\]\['params'\] must be a list of integer parameter ids, got \['a'\]"),
    (lambda s: s["param_groups"][0].__setitem__("params", [True]), TypeError,
     r".*integer parameter ids, got \[True\]"),
    (lambda s: s["param_groups"][0].__setitem__("params", 0), TypeError,
     ".*integer parameter ids, got 0"),
    (lambda s: s.__setitem__("state", None), TypeError,
     "'state' must be a dict of parameter ids to dicts, got NoneType"),
    (_move_state("a"), TypeError, "the keys of 'state' must be integer parameter ids, got 'a'"),
    (_move_state("-1"), TypeError, "the keys of 'state' must be integer parameter ids, got '-1'"),
    (_move_state(0.0), TypeError, "the keys of 'state' must be integer parameter ids, got 0.0"),
    (lambda s: s["state"].__setitem__(0, 5), TypeError,
     "the state of parameter 0 must be a dict, got int"),
], ids=["groups None", "groups dict", "group list", "str id", "bool id", "ids not a list",
        "state None", "state key str", "state key negative", "state key float", "state not dict"])
def test_loaded_ids_and_containers_are_checked_by_name(change, error, message):
    _refused(_stepped(optim.Adam), change, error, rf"Adam.load_state_dict: {message}")


def test_numpy_integer_ids_and_steps_are_accepted():
    opt = _stepped(optim.Adam)
    saved = opt.state_dict()
    saved["state"] = {np.int64(0): dict(saved["state"][0], step=np.int32(7))}
    saved["param_groups"][0]["params"] = [np.int64(0)]
    opt.load_state_dict(saved)
    assert opt.state_dict()["state"][0]["step"] == 7


# -- lr_scheduler.load_state_dict ------------------------------------------------------------
def _scheduler(cls):
    opt = optim.SGD(_params(), lr=0.1)
    return cls(opt, 2) if cls is lr_scheduler.StepLR else cls(opt, T_max=3)


@pytest.mark.parametrize("cls, key, value", [
    (lr_scheduler.StepLR, "step_size", 0), (lr_scheduler.StepLR, "step_size", 2.5),
    (lr_scheduler.StepLR, "step_size", True), (lr_scheduler.StepLR, "gamma", float("nan")),
    (lr_scheduler.StepLR, "gamma", "0.1"), (lr_scheduler.CosineAnnealingLR, "T_max", 0),
    (lr_scheduler.CosineAnnealingLR, "eta_min", -1.0),
    (lr_scheduler.StepLR, "last_epoch", -2), (lr_scheduler.StepLR, "last_epoch", 1.5),
    (lr_scheduler.StepLR, "_step_count", -1), (lr_scheduler.CosineAnnealingLR, "base_lrs", [-1]),
    (lr_scheduler.StepLR, "base_lrs", [0.1, 0.1]), (lr_scheduler.StepLR, "_last_lr", None),
    (lr_scheduler.StepLR, "base_lrs", [float("nan")]),
], ids=lambda v: getattr(v, "__name__", repr(v)))
def test_scheduler_load_state_dict_validates_every_value(cls, key, value):
    scheduler = _scheduler(cls)
    before = scheduler.state_dict()
    saved = dict(before, **{key: value})
    with pytest.raises(ValueError, match=rf"{cls.__name__}.load_state_dict: .*{key}"):
        scheduler.load_state_dict(saved)
    assert scheduler.state_dict() == before
    scheduler.step()                         # still usable: no ZeroDivisionError


def test_scheduler_load_state_dict_round_trips():
    scheduler = _scheduler(lr_scheduler.StepLR)
    for _ in range(3):
        scheduler.step()
    fresh = _scheduler(lr_scheduler.StepLR)
    fresh.load_state_dict(scheduler.state_dict())
    assert fresh.state_dict() == scheduler.state_dict()


def test_a_state_dict_that_went_through_json_loads_with_its_string_ids():
    import json
    opt = _stepped(optim.Adam)
    saved = opt.state_dict()
    as_json = json.loads(json.dumps({"state": {k: {n: (v.tolist() if isinstance(v, np.ndarray)
                                                       else v) for n, v in s.items()}
                                               for k, s in saved["state"].items()},
                                     "param_groups": saved["param_groups"]}))
    assert list(as_json["state"]) == ["0"]                     # JSON made the ids strings
    fresh = _stepped(optim.Adam)
    fresh.load_state_dict(as_json)
    p = fresh.param_groups[0]["params"][0]
    np.testing.assert_array_equal(fresh.state[p]["exp_avg"], saved["state"][0]["exp_avg"])
