"""StepLR and CosineAnnealingLR against their closed forms, written here."""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import optim
from minigrad.optim.lr_scheduler import CosineAnnealingLR, StepLR

lrs = st.floats(1e-4, 1.0)


def two_groups(lr0, lr1):
    p = mg.tensor(np.zeros(2), requires_grad=True)
    q = mg.tensor(np.zeros(3), requires_grad=True)
    return optim.SGD([{"params": [p]}, {"params": [q], "lr": lr1}], lr=lr0)


def schedule(scheduler, epochs):
    """The learning rates of epochs 0, 1, ..., epochs - 1 (one list per group)."""
    rates = [scheduler.get_last_lr()]
    for _ in range(epochs - 1):
        scheduler.optimizer.step()
        scheduler.step()
        rates.append(scheduler.get_last_lr())
    assert rates[-1] == [g["lr"] for g in scheduler.optimizer.param_groups]
    return np.array(rates)


@given(lr0=lrs, lr1=lrs, step_size=st.integers(1, 5), gamma=st.floats(0.05, 1.0))
def test_step_lr_follows_its_closed_form(lr0, lr1, step_size, gamma):
    opt = two_groups(lr0, lr1)
    scheduler = StepLR(opt, step_size=step_size, gamma=gamma)
    assert scheduler.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == [lr0, lr1]
    epochs = np.arange(25)
    want = np.array([[lr0, lr1]]) * gamma ** (epochs // step_size)[:, None]
    np.testing.assert_allclose(schedule(scheduler, 25), want, rtol=1e-12)


@given(lr0=lrs, lr1=lrs, t_max=st.integers(1, 6), eta_min=st.floats(0.0, 1e-4))
def test_cosine_annealing_follows_its_closed_form(lr0, lr1, t_max, eta_min):
    opt = two_groups(lr0, lr1)
    scheduler = CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
    epochs = np.arange(3 * t_max + 2)      # down, back up and down again (period 2·T_max)
    base = np.array([[lr0, lr1]])
    want = eta_min + (base - eta_min) * (1 + np.cos(np.pi * epochs / t_max))[:, None] / 2
    np.testing.assert_allclose(schedule(scheduler, len(epochs)), want, rtol=1e-9, atol=1e-15)


def test_cosine_reaches_eta_min_at_t_max():
    opt = two_groups(0.1, 0.2)
    rates = schedule(CosineAnnealingLR(opt, T_max=4, eta_min=0.01), 5)
    np.testing.assert_allclose(rates[-1], [0.01, 0.01], rtol=1e-12)
    np.testing.assert_allclose(rates[2], [0.055, 0.105], rtol=1e-12)   # half-way: the mean


def test_step_lr_scales_a_manually_changed_rate():
    opt = two_groups(0.1, 0.1)
    scheduler = StepLR(opt, step_size=2, gamma=0.5)
    scheduler.step()
    opt.param_groups[0]["lr"] = 0.04           # e.g. a manual warm-down
    scheduler.step()                           # epoch 2: × γ from the current value
    assert scheduler.get_last_lr() == [0.02, 0.05]


def test_scheduler_state_dict_round_trip():
    opt = two_groups(0.1, 0.3)
    scheduler = CosineAnnealingLR(opt, T_max=10)
    for _ in range(3):
        scheduler.step()
    saved = scheduler.state_dict()
    assert saved["last_epoch"] == 3 and saved["base_lrs"] == [0.1, 0.3]
    opt2 = two_groups(0.1, 0.3)
    opt2.load_state_dict(opt.state_dict())
    resumed = CosineAnnealingLR(opt2, T_max=10)
    resumed.load_state_dict(saved)
    scheduler.step()
    resumed.step()
    assert resumed.get_last_lr() == scheduler.get_last_lr()
    with pytest.raises(ValueError, match="expected keys"):
        resumed.load_state_dict({"last_epoch": 3})


@pytest.mark.parametrize("make, error, message", [
    (lambda opt: StepLR(opt, step_size=0), ValueError, "StepLR: Invalid step_size: 0"),
    (lambda opt: StepLR(opt, step_size=2.5), ValueError, "Invalid step_size: 2.5"),
    (lambda opt: StepLR(opt, step_size=2, gamma=-0.1), ValueError, "Invalid gamma: -0.1"),
    (lambda opt: CosineAnnealingLR(opt, T_max=0), ValueError,
     "CosineAnnealingLR: Invalid T_max: 0"),
    (lambda opt: CosineAnnealingLR(opt, T_max=5, eta_min=-1.0), ValueError,
     "Invalid eta_min: -1.0"),
    (lambda opt: StepLR(opt, step_size=2, last_epoch=-2), ValueError, "Invalid last_epoch: -2"),
    (lambda opt: StepLR(opt, step_size=2, last_epoch=3), ValueError, "has no 'initial_lr'"),
    (lambda opt: StepLR("sgd", step_size=2), TypeError, "str is not an Optimizer"),
])
def test_invalid_scheduler_arguments(make, error, message):
    opt = two_groups(0.1, 0.1)
    with pytest.raises(error, match=message):
        make(opt)
    assert all(g["lr"] == 0.1 for g in opt.param_groups)


def test_scheduler_refuses_a_group_added_later():
    opt = two_groups(0.1, 0.1)
    scheduler = StepLR(opt, step_size=2)
    opt.add_param_group({"params": [mg.tensor(np.zeros(1), requires_grad=True)]})
    with pytest.raises(ValueError, match="3 parameter groups but the scheduler was made for 2"):
        scheduler.step()


def test_resuming_with_last_epoch_keeps_the_loaded_rate():
    opt = two_groups(0.1, 0.2)
    scheduler = StepLR(opt, step_size=2, gamma=0.5)
    for _ in range(3):
        scheduler.step()
    opt2 = two_groups(1.0, 1.0)
    opt2.load_state_dict(opt.state_dict())
    resumed = StepLR(opt2, step_size=2, gamma=0.5, last_epoch=2)
    assert resumed.get_last_lr() == scheduler.get_last_lr() == [0.05, 0.1]
    assert resumed.base_lrs == [0.1, 0.2] and math.isclose(resumed.gamma, 0.5)
