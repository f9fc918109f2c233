"""One training step of minigrad and of a hand-written floor, checked to agree (float64)."""
import numpy as np

import minigrad as mg
from minigrad import nn


def assert_steps_agree(model, optimizer, floor, adam, x, t, floor_loss, atol, steps=2):
    """Run ``steps`` training steps of both; after each, the losses, every gradient and every
    updated parameter must agree. ``floor_loss()`` runs the floor's forward and returns it."""
    for _ in range(steps):   # the second step starts from updated weights and Adam state
        optimizer.zero_grad()
        loss = nn.SoftmaxCrossEntropy()(model(mg.tensor(x)), t)
        loss.backward()
        np.testing.assert_allclose(floor_loss(), loss.item(), rtol=1e-10)
        floor.backward()
        for p, g in zip(model.parameters(), floor.grads()):
            assert g.dtype == np.float64
            np.testing.assert_allclose(g, p.grad.data, rtol=1e-7, atol=atol)
        optimizer.step()
        adam.step(floor.grads())
        for p, q in zip(model.parameters(), floor.params()):
            np.testing.assert_allclose(q, p.data, rtol=1e-7, atol=atol)
