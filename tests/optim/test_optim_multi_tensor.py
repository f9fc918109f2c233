"""The multi-tensor step: one update over a group's small parameters gives the same bits as one
update per parameter, keeps ``p.data`` and the per-parameter state usable, and falls back to
the per-parameter update whenever the vector form could differ."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import optim
from minigrad.optim import multi_tensor

from .configs import CONFIGS

shapes = st.lists(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5),
                  min_size=2, max_size=6)


def twins(rng, shape_list, dtype):
    """Parameters for one optimizer over all of them and copies for one optimizer each."""
    together = [mg.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
                for s in shape_list]
    alone = [mg.tensor(p.data.copy(), requires_grad=True) for p in together]
    return together, alone


def give_grads(rng, together, alone, skip=()):
    for i, (p, q) in enumerate(zip(together, alone)):
        g = None if i in skip else rng.standard_normal(p.shape).astype(p.dtype)
        p.grad = q.grad = None if g is None else mg.tensor(g)


def step_all(opt, opts):
    """One step of the optimizer over the group and of each one-parameter optimizer."""
    for o in (opt, *opts):
        o.step()


def adam_pair(rng, together, alone, steps):
    """Adam over the group and one Adam per twin, after ``steps`` steps of fresh gradients."""
    opt, opts = optim.Adam(together, lr=0.1), [optim.Adam([q], lr=0.1) for q in alone]
    for _ in range(steps):
        give_grads(rng, together, alone)
        step_all(opt, opts)
    return opt, opts


def assert_same(together, alone, opt, opts):
    for p, q, o in zip(together, alone, opts):
        np.testing.assert_array_equal(p.data, q.data)
        assert p.dtype == q.dtype
        for name, value in o.state[q].items():
            np.testing.assert_array_equal(opt.state[p][name], value)


# the size limit: the default, and a tiny one so that a group mixes both paths
@pytest.mark.parametrize("small", [4, multi_tensor.SMALL], ids=["split", "all-small"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make", CONFIGS)
@given(shape_list=shapes, seed=st.integers(0, 2**32 - 1))
def test_one_update_for_the_group_gives_the_bits_of_one_per_parameter(make, dtype, small,
                                                                      shape_list, seed):
    rng = np.random.default_rng(seed)
    together, alone = twins(rng, shape_list, dtype)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("minigrad.optim.optimizer.SMALL", small)
        opt, opts = make(together), [make([q]) for q in alone]
        for _ in range(4):
            give_grads(rng, together, alone)
            step_all(opt, opts)
    assert_same(together, alone, opt, opts)


@pytest.mark.parametrize("make", CONFIGS)
def test_p_data_is_updated_in_place_and_state_is_a_view_that_edits_reach(make):
    rng = np.random.default_rng(1)
    together, alone = twins(rng, [(3, 2), (2,), (4,)], np.float64)
    arrays = [p.data for p in together]
    opt, opts = make(together), [make([q]) for q in alone]
    for step in range(5):
        give_grads(rng, together, alone)
        step_all(opt, opts)
        if step == 1:     # an edit of the state in place, as a user may make it
            for o, pair in ((opt, together), *((o, [q]) for o, q in zip(opts, alone))):
                for p in pair:
                    for value in o.state[p].values():
                        if isinstance(value, np.ndarray):
                            value *= 0.5
    assert all(p.data is a for p, a in zip(together, arrays))
    assert_same(together, alone, opt, opts)


def buffer_of(p):
    """The array ``p.data`` views (None when it owns its memory)."""
    return p.data.base


@pytest.mark.parametrize("make", CONFIGS)
def test_arrays_nobody_else_holds_move_into_one_buffer_and_follow_every_step(make):
    rng = np.random.default_rng(4)
    together, alone = twins(rng, [(3, 2), (2,), (4,), (1,)], np.float32)
    opt, opts = make(together), [make([q]) for q in alone]
    for step in range(4):
        give_grads(rng, together, alone)
        step_all(opt, opts)
        if step == 0:
            buffer = buffer_of(together[0])
            assert buffer is not None and all(buffer_of(p) is buffer for p in together)
            taken = together[1].data          # an array taken after the move follows the steps
    assert taken is together[1].data
    assert all(buffer_of(p) is buffer for p in together)
    assert_same(together, alone, opt, opts)


@pytest.mark.parametrize("hold", ["variable", "view", "user-array"])
def test_an_array_someone_else_holds_stays_put_and_is_updated_in_place(hold):
    rng = np.random.default_rng(5)
    together, alone = twins(rng, [(3, 2), (2,), (4,)], np.float64)
    if hold == "variable":
        held = together[0].data
    elif hold == "view":
        held = together[0].data[1:]
    else:                                    # a tensor over a slice of the user's array
        held = rng.standard_normal(10)
        together[0].data, alone[0].data = held[:6].reshape(3, 2), held[:6].reshape(3, 2).copy()
    opt, opts = adam_pair(rng, together, alone, steps=3)
    assert np.shares_memory(held, together[0].data)
    expected = {"variable": alone[0].data, "view": alone[0].data[1:],
                "user-array": alone[0].data.reshape(-1)}[hold]
    np.testing.assert_array_equal(held[:expected.size].reshape(expected.shape), expected)
    assert_same(together, alone, opt, opts)


@pytest.mark.parametrize("write", ["in-place", "replaced", "reshaped"])
def test_writes_to_a_moved_parameter_are_seen_by_the_next_step(write):
    rng = np.random.default_rng(6)
    together, alone = twins(rng, [(3, 2), (2,), (4,)], np.float64)
    opt, opts = optim.Adam(together, lr=0.1), [optim.Adam([q], lr=0.1) for q in alone]
    for step in range(5):
        give_grads(rng, together, alone)
        step_all(opt, opts)
        if step == 1:
            new = rng.standard_normal(6)
            if write == "in-place":
                together[0].data[...] = alone[0].data[...] = new.reshape(3, 2)
            elif write == "replaced":
                together[0].data, alone[0].data = new.reshape(3, 2), new.reshape(3, 2).copy()
            else:     # a new shape: the state no longer fits, so both paths must refuse
                together[0].data, alone[0].data = new.reshape(2, 3), new.reshape(2, 3).copy()
                give_grads(rng, together, alone)
                for o in (opts[0], opt):
                    with pytest.raises(ValueError):
                        o.step()
                return
    assert_same(together, alone, opt, opts)


@pytest.mark.parametrize("make", CONFIGS)
@pytest.mark.parametrize("case", ["skipped", "mixed-dtype", "recast", "loaded", "cleared",
                                  "state-replaced"])
def test_the_group_falls_back_or_rejoins_without_changing_a_bit(make, case):
    rng = np.random.default_rng(2)
    together, alone = twins(rng, [(3, 2), (2,), (4,), (1,)], np.float64)
    if case == "mixed-dtype":
        for p, q in zip(together[:2], alone[:2]):
            p.data, q.data = p.data.astype(np.float32), q.data.astype(np.float32)
    opt, opts = make(together), [make([q]) for q in alone]
    for step in range(6):
        give_grads(rng, together, alone, skip=(1,) if case == "skipped" and step == 2 else ())
        if case == "recast" and step == 3:    # as after module.float(): grads stay float64
            together[0].data = together[0].data.astype(np.float32)
            alone[0].data = alone[0].data.astype(np.float32)
        if case == "loaded" and step == 3:
            opt.load_state_dict(opt.state_dict())
        if case == "state-replaced" and step == 3:   # a new array in one state, by a user
            for o, p in ((opt, together[2]), (opts[2], alone[2])):
                for name, value in o.state[p].items():
                    if isinstance(value, np.ndarray):
                        o.state[p][name] = value * 0.5
        if case == "cleared" and step == 3:
            opt.state.clear()
            for o in opts:
                o.state.clear()
        step_all(opt, opts)
    assert_same(together, alone, opt, opts)


def test_a_group_takes_few_numpy_calls_however_many_parameters(monkeypatch):
    # the multi-tensor Adam step calls _update once for the whole group
    calls = []
    update = optim.Adam._update

    def counted(self, param, grad, state, group):
        calls.append(param.size)
        return update(self, param, grad, state, group)

    monkeypatch.setattr(optim.Adam, "_update", counted)
    rng = np.random.default_rng(3)
    ps = [mg.tensor(rng.standard_normal((5, 3)), requires_grad=True) for _ in range(8)]
    opt = optim.Adam(ps)
    for p in ps:
        p.grad = mg.tensor(rng.standard_normal(p.shape))
    opt.step()
    assert calls == [8 * 15]


def test_without_reference_counts_no_array_moves_and_the_bits_are_the_same(monkeypatch):
    monkeypatch.setattr(multi_tensor, "ALONE", None)    # as where sys.getrefcount is missing
    monkeypatch.setattr(multi_tensor.sys, "getrefcount", None, raising=False)
    rng = np.random.default_rng(7)
    together, alone = twins(rng, [(3, 2), (2,), (4,)], np.float32)
    opt, opts = adam_pair(rng, together, alone, steps=3)
    assert all(buffer_of(p) is None for p in together)
    assert_same(together, alone, opt, opts)
