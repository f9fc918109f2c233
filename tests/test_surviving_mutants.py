"""Tests for the mutants a mutation study found alive (issue 15).

A sample of 120 mutants of the math in ops, layers, engine, gradcheck, optim and check_layer
left these alive: each test here is the missing test that kills one (the check_layer ones are in
``tests/testing/test_check_layer_parameters.py``). ``tests/test_mutation_smoke.py`` (marked
slow) shows the suite killing classic mutants of an op; docs/checking.md, "Mutation testing",
says how to run a full study.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minigrad as mg
from minigrad import functional as F
from minigrad import optim
from minigrad.testing import strategies as mst


# -- mg.grad with two scalar outputs and no grad_outputs (a mutant dropped y2) ---------------
@given(x=mst.arrays(shape=mst.shapes(min_dims=1, max_dims=2)), a=st.floats(-2, 2))
def test_grad_of_two_scalar_outputs_sums_both(x, a):
    t = mg.tensor(x, requires_grad=True)
    y1 = (t * t).sum()                                  # dy1/dx = 2x
    y2 = (t * a).sum()                                  # dy2/dx = a
    (g,) = mg.grad([y1, y2], [t], retain_graph=True)
    np.testing.assert_allclose(g.data, 2 * x + a, rtol=1e-12, atol=1e-12)
    (g1,) = mg.grad([y1], [t])
    np.testing.assert_allclose(g1.data, 2 * x, rtol=1e-12, atol=1e-12)


def test_grad_of_two_scalar_outputs_of_different_inputs():
    x, w = mg.tensor([1.0, -2.0], requires_grad=True), mg.tensor([3.0, 0.5], requires_grad=True)
    gx, gw = mg.grad([(x * w).sum(), (w * w).sum()], [x, w])
    np.testing.assert_array_equal(gx.data, [3.0, 0.5])             # w
    np.testing.assert_array_equal(gw.data, [1.0 + 6.0, -2.0 + 1.0])  # x + 2w


# -- a second derivative through a once-differentiable op with two differentiable inputs -----
def test_second_derivative_through_soft_target_cross_entropy_says_once_differentiable():
    rng = np.random.default_rng(0)
    z = mg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    t = mg.tensor(rng.dirichlet(np.ones(4), size=3), requires_grad=True)   # soft targets
    loss = F.softmax_cross_entropy(z, t)
    gz, gt = mg.grad(loss, [z, t], create_graph=True)
    # the first derivatives are right (dz = (p − t)/N for rows of t summing to 1, dt = −log p/N)
    p = np.exp(z.data - z.data.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(gz.data, (p - t.data) / 3, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(gt.data, -np.log(p) / 3, rtol=1e-12)
    for first in (gz, gt):
        assert first.requires_grad                      # connected, to raise when used
        for wrt in ([z], [t], [z, t]):
            with pytest.raises(RuntimeError, match="SoftmaxCrossEntropy is once_differentiable"):
                mg.grad((first * first).sum(), wrt, allow_unused=True)


# -- AdamW with weight_decay = 1.0 against a NumPy transcription -----------------------------
def _adamw_numpy(w, grads, lr, betas, eps, weight_decay):
    """torch.optim.AdamW's algorithm, written out in NumPy."""
    beta1, beta2 = betas
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, start=1):
        w = w * (1 - lr * weight_decay)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
    return w


@pytest.mark.parametrize("weight_decay", [1.0, 0.5, 0.0])
def test_adamw_matches_numpy_with_strong_decay(weight_decay):
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((3, 4))
    grads = [rng.standard_normal((3, 4)) for _ in range(6)]
    p = mg.tensor(w0.copy(), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, betas=(0.8, 0.95), eps=1e-8, weight_decay=weight_decay)
    for g in grads:
        p.grad = mg.tensor(g)
        opt.step()
    expected = _adamw_numpy(w0, grads, 0.1, (0.8, 0.95), 1e-8, weight_decay)
    np.testing.assert_allclose(p.data, expected, rtol=1e-12, atol=1e-14)
    assert opt.state[p]["step"] == len(grads)


def test_adamw_decay_is_not_added_to_the_gradient():
    """With a zero gradient Adam's m stays 0, so only the decay moves W: W·(1 − ηλ)ᵏ."""
    p = mg.tensor(np.array([2.0, -4.0]), requires_grad=True)
    opt = optim.AdamW([p], lr=0.1, weight_decay=1.0)
    for _ in range(3):
        p.grad = mg.tensor(np.zeros(2))
        opt.step()
    np.testing.assert_allclose(p.data, np.array([2.0, -4.0]) * 0.9 ** 3, rtol=1e-14)


# -- AdaGrad's state["step"] ------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 5])
def test_adagrad_counts_its_steps(k):
    rng = np.random.default_rng(2)
    p = mg.tensor(rng.standard_normal(3), requires_grad=True)
    q = mg.tensor(rng.standard_normal(2), requires_grad=True)
    opt = optim.AdaGrad([p, q], lr=0.1)
    grads = [rng.standard_normal(3) for _ in range(k)]
    for g in grads:
        p.grad, q.grad = mg.tensor(g), None             # q has no gradient: no step for it
        opt.step()
    assert opt.state[p]["step"] == k
    assert q not in opt.state or opt.state[q]["step"] == 0
    np.testing.assert_allclose(opt.state[p]["sum"], sum(g * g for g in grads), rtol=1e-12)
    assert opt.state_dict()["state"][0]["step"] == k


# -- found by `mutmut run "minigrad.optim.adagrad*"` (95 of 98 killed before these) ----------
def test_adagrad_defaults_are_pytorchs():
    p = mg.tensor(np.ones(2), requires_grad=True)
    group = optim.AdaGrad([p]).param_groups[0]
    assert (group["lr"], group["eps"], group["weight_decay"],
            group["initial_accumulator_value"]) == (0.01, 1e-10, 0.0, 0.0)


def test_adagrad_refuses_a_negative_initial_accumulator_by_name():
    p = mg.tensor(np.ones(2), requires_grad=True)
    with pytest.raises(ValueError, match=r"^AdaGrad: Invalid initial_accumulator_value value: "
                                         r"-1.0"):
        optim.AdaGrad([p], initial_accumulator_value=-1.0)
