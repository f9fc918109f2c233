"""Each optimizer follows, step by step, a NumPy transcription of its formula written here.

The references are written from the update rules (torch.optim's documented pseudo-code and the
book's forms), in their plain mathematical form, not from minigrad's in-place code.
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import optim

STEPS = 50
shapes = st.sampled_from([(), (3,), (2, 3)])
seeds = st.integers(0, 2**32 - 1)


def unit(low=0.0, high=1.0):
    return st.floats(low, high, allow_nan=False, allow_infinity=False)


def run(make_optimizer, x0, grads):
    """The minigrad trajectory: the parameter after each step, given the gradients."""
    p = mg.tensor(x0.copy(), requires_grad=True)
    opt = make_optimizer([p])
    path = []
    for g in grads:
        p.grad = mg.tensor(g)
        opt.step()
        path.append(p.data.copy())
    return np.array(path)


def problem(seed, shape):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape), rng.standard_normal((STEPS,) + shape)


def check(make_optimizer, reference, seed, shape, rtol=1e-9):
    x0, grads = problem(seed, shape)
    got = run(make_optimizer, x0, grads)
    want = np.array(list(reference(x0, grads)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-12)


# -- references -----------------------------------------------------------------------------
def ref_sgd(x, grads, lr, momentum, dampening, weight_decay, nesterov):
    b = None
    for g in grads:
        g = g + weight_decay * x
        if momentum != 0:
            b = g if b is None else momentum * b + (1 - dampening) * g
            g = g + momentum * b if nesterov else b
        x = x - lr * g
        yield x


def ref_momentum(x, grads, lr, momentum, weight_decay):
    v = np.zeros_like(x)
    for g in grads:
        v = momentum * v - lr * (g + weight_decay * x)
        x = x + v
        yield x


def ref_adagrad(x, grads, lr, eps, weight_decay, initial_accumulator_value):
    h = np.full_like(x, initial_accumulator_value)
    for g in grads:
        g = g + weight_decay * x
        h = h + g ** 2
        x = x - lr * g / (np.sqrt(h) + eps)
        yield x


def ref_rmsprop(x, grads, lr, alpha, eps, weight_decay, momentum, centered):
    h = np.zeros_like(x)
    g_avg = np.zeros_like(x)
    b = np.zeros_like(x)
    for g in grads:
        g = g + weight_decay * x
        h = alpha * h + (1 - alpha) * g ** 2
        if centered:
            g_avg = alpha * g_avg + (1 - alpha) * g
            s = np.sqrt(h - g_avg ** 2) + eps
        else:
            s = np.sqrt(h) + eps
        if momentum > 0:
            b = momentum * b + g / s
            x = x - lr * b
        else:
            x = x - lr * g / s
        yield x


def ref_adam(x, grads, lr, betas, eps, weight_decay, amsgrad, decoupled=False):
    beta1, beta2 = betas
    m = np.zeros_like(x)
    v = np.zeros_like(x)
    v_max = np.zeros_like(x)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            x = x * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * x
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g ** 2
        v_max = np.maximum(v_max, v)
        m_hat = m / (1 - beta1 ** t)
        v_hat = (v_max if amsgrad else v) / (1 - beta2 ** t)
        x = x - lr * m_hat / (np.sqrt(v_hat) + eps)
        yield x


# -- the properties -------------------------------------------------------------------------
@given(seed=seeds, shape=shapes, lr=unit(), momentum=unit(), dampening=unit(),
       weight_decay=unit(0, 0.5), nesterov=st.booleans())
def test_sgd_follows_its_formula(seed, shape, lr, momentum, dampening, weight_decay, nesterov):
    if nesterov:
        momentum, dampening = max(momentum, 0.1), 0.0
    hyper = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                 nesterov=nesterov)
    check(lambda ps: optim.SGD(ps, **hyper), lambda x, gs: ref_sgd(x, gs, **hyper), seed, shape)


@given(seed=seeds, shape=shapes, lr=unit(), momentum=unit(), weight_decay=unit(0, 0.5))
def test_momentum_follows_the_books_formula(seed, shape, lr, momentum, weight_decay):
    hyper = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
    check(lambda ps: optim.Momentum(ps, **hyper), lambda x, gs: ref_momentum(x, gs, **hyper),
          seed, shape)


@given(seed=seeds, shape=shapes, lr=unit(), momentum=unit(), weight_decay=unit(0, 0.5))
def test_momentum_matches_sgd_with_momentum_at_constant_lr(seed, shape, lr, momentum,
                                                          weight_decay):
    x0, grads = problem(seed, shape)
    hyper = dict(lr=lr, momentum=momentum, weight_decay=weight_decay)
    book = run(lambda ps: optim.Momentum(ps, **hyper), x0, grads)
    torch_form = run(lambda ps: optim.SGD(ps, **hyper), x0, grads)
    np.testing.assert_allclose(book, torch_form, rtol=1e-9, atol=1e-12)


@given(seed=seeds, shape=shapes, lr=unit(), eps=unit(0, 1e-3), weight_decay=unit(0, 0.5),
       initial_accumulator_value=unit())
def test_adagrad_follows_its_formula(seed, shape, lr, eps, weight_decay,
                                     initial_accumulator_value):
    hyper = dict(lr=lr, eps=eps, weight_decay=weight_decay,
                 initial_accumulator_value=initial_accumulator_value)
    check(lambda ps: optim.AdaGrad(ps, **hyper), lambda x, gs: ref_adagrad(x, gs, **hyper),
          seed, shape)


@given(seed=seeds, shape=shapes, lr=unit(0, 0.1), alpha=unit(0, 0.999), eps=unit(1e-8, 1e-3),
       weight_decay=unit(0, 0.5), momentum=unit(), centered=st.booleans())
def test_rmsprop_follows_its_formula(seed, shape, lr, alpha, eps, weight_decay, momentum,
                                     centered):
    if centered:
        # h − ḡ² cancels catastrophically for small α (at α = 0 it is g² − g² = 0), so two
        # correct roundings of the same formula disagree there; keep to the useful range.
        alpha = 0.5 + alpha / 2
    hyper = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                 centered=centered)
    check(lambda ps: optim.RMSprop(ps, **hyper), lambda x, gs: ref_rmsprop(x, gs, **hyper),
          seed, shape, rtol=1e-7)


betas = st.tuples(unit(0, 0.999), unit(0, 0.9999))


@given(seed=seeds, shape=shapes, lr=unit(0, 0.1), betas=betas, eps=unit(1e-10, 1e-3),
       weight_decay=unit(0, 0.5), amsgrad=st.booleans())
def test_adam_follows_its_formula(seed, shape, lr, betas, eps, weight_decay, amsgrad):
    hyper = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    check(lambda ps: optim.Adam(ps, **hyper), lambda x, gs: ref_adam(x, gs, **hyper),
          seed, shape)


@given(seed=seeds, shape=shapes, lr=unit(0, 0.1), betas=betas, eps=unit(1e-10, 1e-3),
       weight_decay=unit(0, 0.5), amsgrad=st.booleans())
def test_adamw_follows_its_formula(seed, shape, lr, betas, eps, weight_decay, amsgrad):
    hyper = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)
    check(lambda ps: optim.AdamW(ps, **hyper),
          lambda x, gs: ref_adam(x, gs, decoupled=True, **hyper), seed, shape)
