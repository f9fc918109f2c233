"""Where PyTorch happens to be installed: the same trajectories as torch.optim, to rounding.

Not a dependency and not the main check (see test_optim_trajectories.py); skipped otherwise.
"""
import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

torch = pytest.importorskip("torch")

CASES = [
    ("SGD", "SGD", dict(lr=0.1, momentum=0.9, dampening=0.2, weight_decay=0.1)),
    ("SGD", "SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1)),
    ("AdaGrad", "Adagrad", dict(lr=0.1, eps=1e-7, weight_decay=0.1,
                                initial_accumulator_value=0.2)),
    ("RMSprop", "RMSprop", dict(lr=0.01, alpha=0.9, weight_decay=0.1)),
    ("RMSprop", "RMSprop", dict(lr=0.01, momentum=0.5, centered=True, weight_decay=0.1)),
    ("Adam", "Adam", dict(lr=0.01, betas=(0.8, 0.99), weight_decay=0.1)),
    ("Adam", "Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", "AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("ours, theirs, hyper", CASES, ids=[c[0] for c in CASES])
def test_same_trajectory_as_torch_optim(ours, theirs, hyper, dtype):
    rng = np.random.default_rng(0)
    x0 = rng.standard_normal((3, 2)).astype(dtype)
    p = mg.tensor(x0.copy(), requires_grad=True)
    q = torch.tensor(x0.copy(), requires_grad=True)
    opt = getattr(optim, ours)([p], **hyper)
    ref = getattr(torch.optim, theirs)([q], foreach=False, **hyper)
    for _ in range(50):
        g = rng.standard_normal((3, 2)).astype(dtype)
        p.grad = mg.tensor(g)
        q.grad = torch.tensor(g)
        opt.step()
        ref.step()
    tol = 1e-12 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=tol, atol=tol)


def test_momentum_equals_torch_sgd_with_momentum():
    rng = np.random.default_rng(1)
    p = mg.tensor(np.zeros(4), requires_grad=True)
    q = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = optim.Momentum([p], lr=0.05, momentum=0.9)
    ref = torch.optim.SGD([q], lr=0.05, momentum=0.9)
    for _ in range(50):
        g = rng.standard_normal(4)
        p.grad, q.grad = mg.tensor(g), torch.tensor(g)
        opt.step()
        ref.step()
    np.testing.assert_allclose(p.data, q.detach().numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name, kwargs", [("StepLR", dict(step_size=3, gamma=0.5)),
                                          ("CosineAnnealingLR", dict(T_max=4, eta_min=0.01))])
def test_same_schedule_as_torch(name, kwargs):
    p = mg.tensor(np.zeros(1), requires_grad=True)
    q = torch.zeros(1, requires_grad=True)
    opt = optim.SGD([p], lr=0.1)
    ref = torch.optim.SGD([q], lr=0.1)
    ours = getattr(optim.lr_scheduler, name)(opt, **kwargs)
    theirs = getattr(torch.optim.lr_scheduler, name)(ref, **kwargs)
    for _ in range(15):
        assert ours.get_last_lr() == pytest.approx(theirs.get_last_lr(), rel=1e-12)
        opt.step()
        ref.step()
        ours.step()
        theirs.step()
