"""A tensor and the tensors viewing its memory share one version counter (issue 20, left from 16).

reshape, indexing with slices, transpose, ``detach``... on a tensor return a tensor whose array
is a NumPy view of the same memory. An in-place write through any of them changes what the
others hold, so a node that recorded one of them must see a write through another, as in
PyTorch (one counter object shared by a base and its views). Without it the gradient is stale:
computed from the new values, silently.
"""
from __future__ import annotations

from typing import Any, Callable, List

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn
from minigrad.testing import strategies as mst

MODIFIED = "modified by an in-place operation"


def test_writing_the_base_is_seen_by_a_node_that_recorded_a_view():
    x = mg.tensor([1.0, 2.0])
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    y = (x.reshape(1, 2) * w).sum()            # Mul records a view of x's buffer
    with mg.no_grad():
        x.mul_(10.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_writing_a_view_is_seen_by_a_node_that_recorded_the_base():
    x = mg.tensor([[1.0, 2.0], [3.0, 4.0]])
    view = x[0]
    w = mg.tensor([[3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    y = (x * w).sum()
    view.add_(1.0)                              # grad mode on: x needs no grad, not recorded
    assert x.data[0, 0] == 2.0                  # the write went into x's memory
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_a_view_of_a_view_shares_the_counter_too():
    x = mg.tensor(np.arange(6.0))
    inner = x.reshape(2, 3).transpose()[1:]     # view of a view of a view
    w = mg.tensor(np.ones(6), requires_grad=True)
    y = (x * w).sum()
    with mg.no_grad():
        inner.zero_()
    assert x._version == inner._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_linear_on_a_reshaped_input_written_afterwards_raises():
    layer = nn.Linear(4, 3)
    x = mg.tensor(np.arange(8.0, dtype=np.float32))
    loss = layer(x.reshape(2, 4)).sum()
    x.data[:] = 0.0                             # code that writes .data itself bumps _version
    x._version += 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_linear_on_a_reshaped_input_updated_in_place_afterwards_raises():
    layer = nn.Linear(3, 2)
    x = mg.tensor(np.arange(6.0, dtype=np.float32))
    loss = layer(x.reshape(2, 3)).sum()
    with mg.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match=MODIFIED):
        loss.backward()


def test_an_optimizer_step_on_a_parameter_is_seen_through_its_view():
    w = mg.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    rows = w.reshape(2, 2)                      # a recorded view: rows.data views w.data
    y = (rows * rows).sum()
    with mg.no_grad():
        w.sub_(1.0)                             # what an optimizer does
    assert rows.data[0, 0] == 0.0
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_detach_shares_the_counter():
    x = mg.tensor([1.0, 2.0])
    d = x.detach()
    w = mg.tensor([1.0, 1.0], requires_grad=True)
    y = (d * w).sum()
    with mg.no_grad():
        x.mul_(2.0)
    assert d._version == x._version == 1
    with pytest.raises(RuntimeError, match=MODIFIED):
        y.backward()


def test_a_copy_does_not_share_the_counter():
    x = mg.tensor([1.0, 2.0])
    copied = x * 1.0                            # a new array: not a view
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    y = (copied.reshape(2) * w).sum()
    with mg.no_grad():
        x.mul_(10.0)
    y.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 2.0])
    assert copied._version == 0


def test_a_recorded_update_of_the_base_does_not_stale_the_old_value():
    # x.mul_(w) is recorded: x gets a fresh array, its old buffer (still seen by its views)
    # keeps its values, so backward through a node that saved the old buffer is right
    x = mg.tensor([1.0, 2.0])
    view = x.reshape(2)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    x.mul_(w)
    (x * view).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [1.0 * 1.0, 2.0 * 2.0])
    assert view._version == 0 and x._version == 1


def test_a_write_before_the_view_was_used_is_fine():
    x = mg.tensor([1.0, 2.0])
    view = x.reshape(1, 2)
    with mg.no_grad():
        x.mul_(10.0)
    w = mg.tensor([3.0, 4.0], requires_grad=True)
    (view * w).sum().backward()
    np.testing.assert_array_equal(w.grad.data, [10.0, 20.0])


# -- random chains of views ----------------------------------------------------------------
VIEWS = {
    "reshape(-1)": lambda t: t.reshape(-1),
    "reshape(1, ...)": lambda t: t.reshape((1,) + t.shape),
    "transpose": lambda t: t.transpose(),
    "[::2]": lambda t: t[::2] if t.ndim else t.reshape(1),
    "[1:]": lambda t: t[1:] if t.ndim and t.shape[0] > 1 else t.reshape(-1),
    "[0]": lambda t: t[0] if t.ndim else t.reshape(1),
    "detach": lambda t: t.detach(),
}

WRITES = {
    "add_": lambda t: t.add_(0.75), "mul_": lambda t: t.mul_(-2.0),
    "zero_": lambda t: t.zero_(), "fill_": lambda t: t.fill_(0.3),
    "clamp_": lambda t: t.clamp_(-0.25, 0.25), "+=": lambda t: t.__iadd__(1.5),
}

USES = {
    "mul": lambda v, w: v * w,
    "tanh(mul)": lambda v, w: (v * w).tanh(),
    "matmul": lambda v, w: v.reshape(1, -1) @ w.reshape(-1, 1),
}


@st.composite
def view_programs(draw: Any) -> dict:
    """A non-grad base, a chain of views of it, which member is used with a grad tensor, which
    is written in place afterwards (and how, in grad mode or not)."""
    base = draw(mst.arrays(mst.shapes(min_dims=1), bound=2.0))
    chain = draw(st.lists(st.sampled_from(sorted(VIEWS)), max_size=4))
    members = len(chain) + 1
    return {"base": base, "chain": chain, "used": draw(st.integers(0, members - 1)),
            "written": draw(st.integers(0, members - 1)),
            "write": draw(st.sampled_from(sorted(WRITES))),
            "use": draw(st.sampled_from(sorted(USES))), "no_grad": draw(st.booleans()),
            "seed": draw(st.integers(0, 2**32 - 1))}


def _family(program: dict) -> List[Any]:
    tensors = [mg.tensor(program["base"].copy())]
    for name in program["chain"]:
        tensors.append(VIEWS[name](tensors[-1]))
    return tensors


def _run(program: dict, write: bool) -> tuple:
    """(w's gradient, the used member's values at use) or (None, the error)."""
    family = _family(program)
    used = family[program["used"]]
    rng = np.random.default_rng(program["seed"])
    w = mg.tensor(rng.standard_normal(used.shape), requires_grad=True)
    out = USES[program["use"]](used, w)
    if write:
        written = family[program["written"]]
        if program["no_grad"]:
            with mg.no_grad():
                WRITES[program["write"]](written)
        else:
            WRITES[program["write"]](written)
    try:
        out.backward(mg.tensor(rng.standard_normal(out.shape)))
    except RuntimeError as error:
        assert MODIFIED in str(error)
        return None, error
    return w.grad.data, used


def _shares_memory(program: dict) -> bool:
    family = _family(program)
    return np.shares_memory(family[program["used"]].data, family[program["written"]].data)


@given(program=view_programs())
def test_a_write_through_any_view_raises_or_leaves_the_recorded_gradient(program):
    recorded, _ = _run(program, write=False)
    grad, _ = _run(program, write=True)
    if grad is None:
        return                                  # raised: always allowed
    np.testing.assert_array_equal(grad, recorded, err_msg="a stale gradient")


@given(program=view_programs())
def test_a_write_through_an_overlapping_member_always_raises(program):
    # the one counter: a write through any member that shares memory with the used one raises
    # (PyTorch raises too), even when the write leaves the values as they were. (Not for
    # "matmul": its reshape copies a non-contiguous view, and the copy is what it records.)
    if not _shares_memory(program) or program["use"] == "matmul":
        return
    assert _run(program, write=True)[0] is None


@given(program=view_programs())
def test_pytorch_raises_exactly_when_minigrad_does(program):
    torch = pytest.importorskip("torch")
    family = [torch.tensor(program["base"].copy())]
    for name in program["chain"]:
        family.append(_torch_view(torch, name, family[-1]))
    used = family[program["used"]]
    rng = np.random.default_rng(program["seed"])
    w = torch.tensor(rng.standard_normal(tuple(used.shape)), requires_grad=True)
    out = USES[program["use"]](used, w)
    with torch.no_grad():
        WRITES[program["write"]](family[program["written"]])
    try:
        out.backward(torch.tensor(rng.standard_normal(tuple(out.shape))))
        torch_raised = False
    except RuntimeError as error:
        assert "modified by an inplace operation" in str(error)
        torch_raised = True
    ours_raised = _run(program, write=True)[0] is None
    if ours_raised:
        assert torch_raised, "minigrad raises where PyTorch computes a gradient"
    elif torch_raised:          # minigrad made a copy where PyTorch made a view (x[0] of a
        assert not _shares_memory(program)      # 1-d x): no shared memory, nothing stale


def _torch_view(torch: Any, name: str, t: Any) -> Any:
    """The PyTorch spelling of each view in ``VIEWS``."""
    spelled: dict = {"transpose": lambda t: t.permute(tuple(reversed(range(t.ndim))))}
    return spelled.get(name, VIEWS[name])(t)
