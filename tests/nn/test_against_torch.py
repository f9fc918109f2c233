"""BatchNorm, the loss and Linear against PyTorch itself (skipped when torch is not installed):
the semantics are meant to be PyTorch's exactly."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 2, 2)])
@pytest.mark.parametrize("momentum", [0.1, 0.3, None])
def test_batch_norm_matches_torch(shape, momentum):
    rng = np.random.default_rng(0)
    ours = (nn.BatchNorm1d if len(shape) == 2 else nn.BatchNorm2d)(3, momentum=momentum,
                                                                  dtype=np.float64)
    theirs = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(
        3, momentum=momentum, dtype=torch.float64)
    gamma, beta = rng.normal(size=3), rng.normal(size=3)
    ours.weight.data[...] = gamma
    ours.bias.data[...] = beta
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(gamma))
        theirs.bias.copy_(torch.from_numpy(beta))
    for step in range(4):
        if step == 3:
            ours.eval()
            theirs.eval()
        x = rng.normal(1.0, 2.0, size=shape)
        g = rng.normal(size=shape)
        xm = mg.tensor(x, requires_grad=True)
        xt = torch.tensor(x, requires_grad=True)
        ours.zero_grad()
        theirs.zero_grad()
        ym, yt = ours(xm), theirs(xt)
        ym.backward(g)
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(ym.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-8)
        np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-8)
        np.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=1e-12)
        assert ours.num_batches_tracked == theirs.num_batches_tracked.item()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("soft", [False, True])
def test_cross_entropy_matches_torch(reduction, soft):
    rng = np.random.default_rng(1)
    z = rng.normal(scale=3.0, size=(5, 4))
    target = rng.dirichlet(np.ones(4), size=5) if soft else rng.integers(0, 4, 5)
    zm = mg.tensor(z, requires_grad=True)
    zt = torch.tensor(z, requires_grad=True)
    lm = nn.CrossEntropyLoss(reduction)(zm, target)
    lt = torch.nn.CrossEntropyLoss(reduction=reduction)(zt, torch.from_numpy(target))
    g = rng.normal(size=lm.shape)
    lm.backward(g)
    lt.backward(torch.from_numpy(np.asarray(g)))
    np.testing.assert_allclose(lm.data, lt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(zm.grad.data, zt.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_linear_matches_torch_with_transposed_weight():
    rng = np.random.default_rng(2)
    layer = nn.Linear(4, 3, dtype=np.float64)
    theirs = torch.nn.Linear(4, 3, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(layer.weight.data.T))   # torch stores (out, in)
        theirs.bias.copy_(torch.from_numpy(rng.normal(size=3)))
    layer.bias.data[...] = theirs.bias.detach().numpy()
    x = rng.normal(size=(5, 4))
    np.testing.assert_allclose(layer(mg.tensor(x)).data,
                               theirs(torch.from_numpy(x)).detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(F.leaky_relu(mg.tensor(x), 0.2).data,
                               torch.nn.functional.leaky_relu(torch.from_numpy(x), 0.2).numpy())
