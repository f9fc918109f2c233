"""The Optimizer machinery: groups, skipped parameters, in-place updates, dtype, state dicts."""
import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import optim

from .configs import CONFIGS


def params(rng, dtype=np.float64, shapes=((3, 2), (2,))):
    return [mg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in shapes]


def set_grads(ps, rng):
    for p in ps:
        p.grad = mg.tensor(rng.standard_normal(p.shape).astype(p.dtype))


# -- minimising a convex quadratic through the autograd engine ------------------------------
@pytest.mark.parametrize("make", CONFIGS)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_optimizer_reduces_a_convex_quadratic(make, seed):
    # f(x) = ½ xᵀAx − bᵀx with A symmetric positive definite (eigenvalues in [0.5, 2])
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a = q @ np.diag(rng.uniform(0.5, 2.0, 4)) @ q.T
    b = rng.standard_normal(4)
    x_min = np.linalg.solve(a, b)
    f_min = -0.5 * b @ x_min
    direction = rng.standard_normal(4)
    x = mg.tensor(x_min + 3 * direction / np.linalg.norm(direction), requires_grad=True)
    A, B = mg.tensor(a), mg.tensor(b)

    def loss():
        return 0.5 * (x @ (A @ x)) - B @ x

    opt = make([x])
    gap0 = loss().item() - f_min
    for _ in range(100):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() - f_min < 0.1 * gap0


def test_step_with_closure_returns_the_loss_and_updates():
    x = mg.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.SGD([x], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (x * x).sum()
        loss.backward()
        return loss

    with mg.no_grad():          # the closure still records: step turns grad mode on for it
        loss = opt.step(closure)
    assert loss.item() == 5.0
    np.testing.assert_array_equal(x.data, [0.5, -1.0])     # x − 0.25 · 2x


# -- what step() may and may not touch ------------------------------------------------------
@pytest.mark.parametrize("make", CONFIGS)
def test_step_updates_in_place_and_leaves_the_gradient_alone(make):
    rng = np.random.default_rng(0)
    ps = params(rng)
    arrays = [p.data for p in ps]
    set_grads(ps, rng)
    grads = [p.grad.data.copy() for p in ps]
    grad_arrays = [p.grad.data for p in ps]
    before = [a.copy() for a in arrays]
    opt = make(ps)
    opt.step()
    for p, a, old, g, g_array in zip(ps, arrays, before, grads, grad_arrays):
        assert p.data is a                       # updated in place, not rebound
        assert not np.array_equal(a, old)
        assert p._version == 1
        assert p.grad.data is g_array
        np.testing.assert_array_equal(p.grad.data, g)


@pytest.mark.parametrize("make", CONFIGS)
def test_a_parameter_without_gradient_is_skipped(make):
    rng = np.random.default_rng(1)
    ps = params(rng)
    frozen = ps[1].data.copy()
    ps[0].grad = mg.tensor(rng.standard_normal(ps[0].shape))
    opt = make(ps)
    opt.step()
    np.testing.assert_array_equal(ps[1].data, frozen)
    assert ps[1]._version == 0
    assert ps[1] not in opt.state and ps[0] in opt.state


def test_zero_grad_sets_none_or_fresh_zeros():
    rng = np.random.default_rng(2)
    ps = params(rng)
    set_grads(ps, rng)
    shared = ps[0].grad.data
    kept = shared.copy()
    opt = optim.SGD(ps)
    opt.zero_grad(set_to_none=False)
    for p in ps:
        np.testing.assert_array_equal(p.grad.data, np.zeros(p.shape))
        assert p.grad.dtype == p.dtype
    np.testing.assert_array_equal(shared, kept)     # a shared gradient array is not zeroed
    opt.zero_grad()
    assert all(p.grad is None for p in ps)


# -- groups ----------------------------------------------------------------------------------
def test_param_groups_fill_defaults_and_use_their_own_hyperparameters():
    rng = np.random.default_rng(3)
    w, b = params(rng)
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.5, "weight_decay": 0.0}],
                    lr=0.1, weight_decay=0.2)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert [g["weight_decay"] for g in opt.param_groups] == [0.2, 0.0]
    assert opt.param_groups[0]["momentum"] == 0.0 and opt.param_groups[1]["params"] == [b]
    w0, b0 = w.data.copy(), b.data.copy()
    set_grads([w, b], rng)
    opt.step()
    np.testing.assert_allclose(w.data, w0 - 0.1 * (w.grad.data + 0.2 * w0), rtol=1e-15)
    np.testing.assert_allclose(b.data, b0 - 0.5 * b.grad.data, rtol=1e-15)


def test_add_param_group_and_changing_lr_between_steps():
    rng = np.random.default_rng(4)
    w, b = params(rng)
    opt = optim.Adam([w], lr=0.01)
    opt.add_param_group({"params": [b], "betas": (0.5, 0.9)})
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["betas"] == (0.5, 0.9)
    b0 = b.data.copy()
    b.grad = mg.tensor(np.ones(2))
    opt.param_groups[1]["lr"] = 0.25
    opt.step()
    # first Adam step with a gradient of ones: m̂ = 1, v̂ = 1, so W ← W − lr/(1 + ε)
    np.testing.assert_allclose(b.data, b0 - 0.25 / (1 + 1e-8), rtol=1e-15)


def test_nn_parameters_work_like_plain_leaves():
    nn = pytest.importorskip("minigrad.nn")
    p = nn.Parameter(np.array([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.5)
    p.grad = mg.tensor([2.0, 2.0])
    opt.step()
    np.testing.assert_array_equal(p.data, [0.0, 1.0])


# -- dtype ------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", CONFIGS)
def test_float32_stays_float32_and_agrees_with_float64(make):
    rng = np.random.default_rng(5)
    ps64 = params(rng)
    ps32 = [mg.tensor(p.data.astype(np.float32), requires_grad=True) for p in ps64]
    opt64, opt32 = make(ps64), make(ps32)
    for group in opt32.param_groups:        # NumPy scalars must not upcast either
        group["lr"] = np.float64(group["lr"])
    for _ in range(10):
        grads = [rng.standard_normal(p.shape) for p in ps64]
        for p64, p32, g in zip(ps64, ps32, grads):
            p64.grad = mg.tensor(g)
            p32.grad = mg.tensor(g.astype(np.float32))
        opt64.step()
        opt32.step()
    for p64, p32 in zip(ps64, ps32):
        assert p32.dtype == np.float32
        np.testing.assert_allclose(p32.data, p64.data, rtol=1e-4, atol=1e-5)
        for value in opt32.state[p32].values():
            assert not isinstance(value, np.ndarray) or value.dtype == np.float32


# -- saving and resuming -------------------------------------------------------------------
def through_json_and_npz(state_dict):
    """What a checkpoint does: arrays to an .npz-like dict, everything else through JSON."""
    arrays = {}
    meta = {"state": {}, "param_groups": state_dict["param_groups"]}
    for pid, s in state_dict["state"].items():
        meta["state"][pid] = {}
        for name, value in s.items():
            if isinstance(value, np.ndarray):
                arrays[f"{pid}/{name}"] = value.copy()
                meta["state"][pid][name] = None
            else:
                meta["state"][pid][name] = value
    meta = json.loads(json.dumps(meta))
    state = {int(pid): {name: arrays[f"{pid}/{name}"] if value is None else value
                        for name, value in s.items()}
             for pid, s in meta["state"].items()}
    return {"state": state, "param_groups": meta["param_groups"]}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("make", CONFIGS)
def test_resuming_from_a_state_dict_is_bit_identical(make, dtype):
    rng = np.random.default_rng(6)
    grads = [[rng.standard_normal(s).astype(dtype) for s in ((3, 2), (2,))] for _ in range(12)]
    start = params(rng, dtype)

    def run(ps, opt, scheduler, steps):
        for gs in steps:
            for p, g in zip(ps, gs):
                p.grad = mg.tensor(g)
            opt.step()
            scheduler.step()

    whole = [mg.tensor(p.data.copy(), requires_grad=True) for p in start]
    opt = make(whole)
    run(whole, opt, optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5), grads)

    first = [mg.tensor(p.data.copy(), requires_grad=True) for p in start]
    opt = make(first)
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5)
    run(first, opt, scheduler, grads[:5])
    saved = through_json_and_npz(opt.state_dict())
    saved_scheduler = json.loads(json.dumps(scheduler.state_dict()))

    resumed = [mg.tensor(p.data.copy(), requires_grad=True) for p in first]
    opt = make(resumed)
    opt.load_state_dict(saved)
    scheduler = optim.lr_scheduler.StepLR(opt, step_size=4, gamma=0.5, last_epoch=4)
    scheduler.load_state_dict(saved_scheduler)
    run(resumed, opt, scheduler, grads[5:])
    for a, b in zip(whole, resumed):
        assert b.dtype == dtype
        np.testing.assert_array_equal(a.data, b.data)


@pytest.mark.parametrize("make", CONFIGS)
def test_parameters_at_different_steps_update_as_if_each_were_alone(make):
    # b misses every third step, so a and b reach each step count t at different steps
    rng = np.random.default_rng(11)
    together = params(rng)
    alone = [mg.tensor(p.data.copy(), requires_grad=True) for p in together]
    opt = make(together)
    opts = [make([p]) for p in alone]
    for step in range(10):
        for i, (p, q) in enumerate(zip(together, alone)):
            g = None if i == 1 and step % 3 == 0 else rng.standard_normal(p.shape)
            p.grad = q.grad = None if g is None else mg.tensor(g)
        opt.step()
        for o in opts:
            o.step()
    for p, q in zip(together, alone):
        np.testing.assert_array_equal(p.data, q.data)


ADAMS = [c for c in CONFIGS if c.id.startswith("Adam")]


@pytest.mark.parametrize("reset", ["load_state_dict", "state.clear"])
@pytest.mark.parametrize("make", ADAMS)
def test_kept_work_arrays_follow_the_state_when_module_double_changes_dtype(make, reset):
    # Adam keeps a work array per parameter across steps, outside the state; a state made anew
    # in float64 must not be updated through a float32 work array left from before.
    rng = np.random.default_rng(12)
    model = mg.nn.Linear(3, 2)
    model.float()
    opt = make(list(model.parameters()))
    for _ in range(3):
        set_grads(model.parameters(), rng)
        opt.step()
    saved = opt.state_dict()
    model.double()
    twin = [mg.tensor(p.data.copy(), requires_grad=True) for p in model.parameters()]
    fresh = make(twin)
    if reset == "load_state_dict":
        opt.load_state_dict(saved)
        fresh.load_state_dict(saved)
    else:
        opt.state.clear()
    for _ in range(3):
        set_grads(model.parameters(), rng)
        for p, q in zip(model.parameters(), twin):
            q.grad = p.grad
        opt.step()
        fresh.step()
    for p, q in zip(model.parameters(), twin):
        assert p.dtype == np.float64
        np.testing.assert_array_equal(p.data, q.data)
        assert all(v.dtype == np.float64 for v in opt.state[p].values()
                   if isinstance(v, np.ndarray))


@pytest.mark.parametrize("make", CONFIGS)
def test_a_step_failing_part_way_marks_what_it_may_have_changed(make):
    # b's array is read-only, so the step fails at b, after a was updated in place: a graph
    # built before the step must refuse backward (not use the new a), and only the parameters
    # the step reached get a state, as when each state is made at its first update
    a = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    b = mg.tensor(np.array([3.0, 4.0]), requires_grad=True)
    c = mg.tensor(np.array([5.0, 6.0]), requires_grad=True)
    opt = make([a, b, c])
    y = (a * a).sum()
    for p in (a, b, c):
        p.grad = mg.tensor(np.ones(2))
    read_only = b.data.copy()
    read_only.flags.writeable = False
    b.data = read_only
    with pytest.raises(ValueError, match="read-only"):
        opt.step()
    assert c not in opt.state
    a.grad = None
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


@pytest.mark.parametrize("make", ADAMS)
def test_kept_work_arrays_follow_state_arrays_replaced_by_hand(make):
    # the user casts the state to float64 after the parameter (as after module.double()):
    # the update must run in float64, as a fresh optimizer given that state does
    rng = np.random.default_rng(14)
    p = mg.tensor(rng.standard_normal(5).astype(np.float32), requires_grad=True)
    opt = make([p])
    p.grad = mg.tensor(rng.standard_normal(5).astype(np.float32))
    opt.step()
    p.data = p.data.astype(np.float64)
    for state in opt.state.values():
        for key, value in state.items():
            if isinstance(value, np.ndarray):
                state[key] = value.astype(np.float64)
    twin = mg.tensor(p.data.copy(), requires_grad=True)
    fresh = make([twin])
    fresh.load_state_dict(opt.state_dict())
    for _ in range(3):
        p.grad = twin.grad = mg.tensor(rng.standard_normal(5))
        opt.step()
        fresh.step()
    np.testing.assert_array_equal(p.data, twin.data)


def test_state_dict_is_a_snapshot_with_integer_ids():
    rng = np.random.default_rng(7)
    w, b = params(rng)
    opt = optim.Adam([{"params": [w]}, {"params": [b], "lr": 0.1}])
    set_grads([w, b], rng)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0], [1]]
    assert sd["param_groups"][1]["lr"] == 0.1
    assert set(sd["state"]) == {0, 1} and sd["state"][1]["step"] == 1
    m = sd["state"][0]["exp_avg"].copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"], m)
    assert sd["state"][0]["step"] == 1


def adam_state_dict():
    rng = np.random.default_rng(8)
    ps = params(rng)
    opt = optim.Adam([{"params": [ps[0]]}, {"params": [ps[1]]}])
    set_grads(ps, rng)
    opt.step()
    return opt.state_dict(), params(rng)


@pytest.mark.parametrize("corrupt, message", [
    (lambda sd: sd["param_groups"].pop(), "1 parameter groups, this optimizer has 2"),
    (lambda sd: sd["param_groups"][1]["params"].append(2), "group 1 has 2 parameters"),
    (lambda sd: sd["state"][0].pop("exp_avg_sq"), "has entries"),
    (lambda sd: sd["state"][0].__setitem__("exp_avg", np.zeros((2, 3))), r"shape \(2, 3\)"),
    (lambda sd: sd["state"][0].__setitem__("step", 1.5), "'step' must be"),
    (lambda sd: sd["state"].__setitem__(7, {}), "parameter id 7"),
    (lambda sd: sd["param_groups"][1].__setitem__("params", [0]), "id 0 is listed twice"),
    (lambda sd: sd["param_groups"][0].__setitem__("lr", -1.0), "Invalid learning rate: -1.0"),
    (lambda sd: sd.pop("state"), "expected a dict with keys"),
])
def test_load_state_dict_rejects_a_mismatch(corrupt, message):
    sd, ps = adam_state_dict()
    opt = optim.Adam([{"params": [ps[0]]}, {"params": [ps[1]]}], lr=0.01)
    before = opt.state_dict()
    corrupt(sd)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(sd)
    assert opt.state_dict()["param_groups"] == before["param_groups"]   # nothing half-loaded
    assert opt.state == {}


# -- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize("make, error, message", [
    (lambda ps: optim.SGD(ps, lr=-0.1), ValueError, "SGD: Invalid learning rate: -0.1"),
    (lambda ps: optim.Adam(ps, lr=float("nan")), ValueError, "Invalid learning rate: nan"),
    (lambda ps: optim.SGD(ps, lr="0.1"), TypeError, "learning rate must be a real number"),
    (lambda ps: optim.SGD(ps, momentum=1.5), ValueError, "Invalid momentum value: 1.5"),
    (lambda ps: optim.Momentum(ps, momentum=-0.1), ValueError, "Invalid momentum value: -0.1"),
    (lambda ps: optim.SGD(ps, dampening=2.0), ValueError, "Invalid dampening value: 2.0"),
    (lambda ps: optim.SGD(ps, nesterov=True), ValueError, "Nesterov momentum requires"),
    (lambda ps: optim.SGD(ps, momentum=0.9, dampening=0.1, nesterov=True), ValueError,
     "Nesterov momentum requires"),
    (lambda ps: optim.RMSprop(ps, alpha=1.5), ValueError, "RMSprop: Invalid alpha value: 1.5"),
    (lambda ps: optim.RMSprop(ps, momentum=-1), ValueError, "Invalid momentum value: -1.0"),
    (lambda ps: optim.Adam(ps, betas=(1.0, 0.999)), ValueError,
     "Invalid beta parameter at index 0: 1.0"),
    (lambda ps: optim.AdamW(ps, betas=(0.9, -0.1)), ValueError,
     "AdamW: Invalid beta parameter at index 1: -0.1"),
    (lambda ps: optim.Adam(ps, betas=0.9), ValueError, "Invalid betas: 0.9"),
    (lambda ps: optim.Adam(ps, eps=-1e-8), ValueError, "Invalid epsilon value: -1e-08"),
    (lambda ps: optim.AdamW(ps, weight_decay=-0.01), ValueError,
     "Invalid weight_decay value: -0.01"),
    (lambda ps: optim.AdaGrad(ps, initial_accumulator_value=-1.0), ValueError,
     "Invalid initial_accumulator_value value: -1.0"),
    (lambda ps: optim.SGD([{"params": ps, "lr": -2.0}]), ValueError,
     "Invalid learning rate: -2.0"),
])
def test_invalid_hyperparameters_are_named_with_their_value(make, error, message):
    ps = [mg.tensor(np.zeros(2), requires_grad=True)]
    with pytest.raises(error, match=message.replace("(", r"\(")):
        make(ps)


def test_invalid_parameter_lists():
    p = mg.tensor(np.zeros(2), requires_grad=True)
    q = mg.tensor(np.zeros(3), requires_grad=True)
    with pytest.raises(ValueError, match="SGD: optimizer got an empty parameter list"):
        optim.SGD([])
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([{"params": []}])
    with pytest.raises(ValueError, match=r"parameter 1 \(shape \(2,\)\) is given twice"):
        optim.SGD([p, p])
    with pytest.raises(ValueError, match="given twice"):
        optim.SGD([{"params": [p]}, {"params": [q, p]}])
    opt = optim.SGD([p])
    with pytest.raises(ValueError, match="given twice"):
        opt.add_param_group({"params": [p]})
    assert len(opt.param_groups) == 1
    with pytest.raises(ValueError, match="dtype int64; only floating"):
        optim.SGD([mg.tensor(np.arange(3, dtype=np.int64))])
    with pytest.raises(ValueError, match="not a leaf"):
        optim.SGD([p * 2])
    frozen = np.zeros(2)
    frozen.flags.writeable = False
    with pytest.raises(ValueError, match="read-only array"):
        optim.SGD([mg.Tensor(frozen, requires_grad=True)])   # Tensor() does not copy
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="parameter 0 must be a Tensor, got ndarray"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(TypeError, match="not a set"):
        optim.SGD({p})
    with pytest.raises(TypeError, match="do not mix"):
        optim.SGD([{"params": [p]}, q])
    with pytest.raises(ValueError, match="needs a 'params' entry"):
        optim.SGD([{"lr": 0.1}])
