"""A PyTorch user's everyday idioms, written as they write them, run on minigrad and (when it is
installed) on PyTorch: each test takes the library as ``torch`` and checks the numbers against
NumPy or a closed form, so both libraries must give the same answers.

The imports a user makes map as ``import minigrad as torch``, ``minigrad.nn``,
``minigrad.functional`` for ``torch.nn.functional`` and ``minigrad.data`` for
``torch.utils.data``.
"""
import math
from types import SimpleNamespace

import numpy as np
import pytest

import minigrad
import minigrad.data

try:
    import torch as _torch  # noqa: F401
    HAVE_TORCH = True
except ImportError:
    HAVE_TORCH = False


def _library(name):
    """The modules a user imports, as ``torch``, ``nn``, ``F``, ``optim`` and ``data``."""
    if name == "minigrad":
        return SimpleNamespace(torch=minigrad, nn=minigrad.nn, F=minigrad.functional,
                               optim=minigrad.optim, data=minigrad.data)
    torch = pytest.importorskip("torch")
    import torch.nn.functional as F
    import torch.utils.data
    return SimpleNamespace(torch=torch, nn=torch.nn, F=F, optim=torch.optim,
                           data=torch.utils.data)


LIBRARIES = ["minigrad", pytest.param("torch", marks=pytest.mark.skipif(
    not HAVE_TORCH, reason="PyTorch is not installed: the idioms run on minigrad only"))]


@pytest.fixture(params=LIBRARIES)
def lib(request):
    return _library(request.param)


def numpy(t):
    """A tensor's values as an ndarray, in either library."""
    return np.asarray(t.detach().numpy())


LOGITS = [[0.1, 2.0, 0.3], [1.5, 0.2, 0.1], [0.0, 0.1, 3.0], [0.9, 0.4, 0.2]]
LABELS = [1, 0, 2, 1]


# -- 1. argmax, max(dim) and friends ---------------------------------------------------------
def test_accuracy_with_max_dim_indices(lib):
    torch = lib.torch
    out, y = torch.tensor(LOGITS), torch.tensor(LABELS)
    assert (out.max(1)[1] == y).sum().item() == 3              # the silent 0
    _, predicted = torch.max(out, 1)
    assert (predicted == y).sum().item() == 3
    assert (out.argmax(dim=1) == y).float().mean().item() == pytest.approx(0.75)


def test_max_dim_is_a_named_pair(lib):
    torch = lib.torch
    x = torch.tensor(LOGITS)
    values, indices = x.max(dim=1)
    np.testing.assert_allclose(numpy(values), np.max(LOGITS, axis=1), rtol=1e-6)
    np.testing.assert_array_equal(numpy(indices), np.argmax(LOGITS, axis=1))
    result = torch.max(x, dim=0, keepdim=True)
    assert tuple(result.values.shape) == (1, 3) and tuple(result.indices.shape) == (1, 3)
    np.testing.assert_array_equal(numpy(x.min(1).indices), np.argmin(LOGITS, axis=1))
    assert x.max().item() == pytest.approx(3.0)


def test_argmax_argmin_amax_amin(lib):
    torch = lib.torch
    x = torch.tensor(LOGITS)
    a = np.array(LOGITS)
    np.testing.assert_array_equal(numpy(x.argmax(1)), a.argmax(1))
    np.testing.assert_array_equal(numpy(x.argmin(dim=0)), a.argmin(0))
    assert x.argmax().item() == a.argmax()
    assert tuple(x.argmax(dim=1, keepdim=True).shape) == (4, 1)
    np.testing.assert_allclose(numpy(x.amax(dim=1)), a.max(1), rtol=1e-6)
    np.testing.assert_allclose(numpy(x.amin(dim=(0, 1))), a.min(), rtol=1e-6)


def test_max_dim_values_take_the_gradient_at_the_index(lib):
    torch = lib.torch
    x = torch.tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max(dim=1).values.sum().backward()
    np.testing.assert_array_equal(numpy(x.grad), [[0, 1, 0], [1, 0, 0]])   # first of ties
    x.grad = None
    x.amax(dim=1).sum().backward()
    np.testing.assert_array_equal(numpy(x.grad), [[0, 0.5, 0.5], [0.5, 0, 0.5]])


# -- 2. dim= and keepdim= --------------------------------------------------------------------
def test_reductions_take_dim_and_keepdim(lib):
    torch, F = lib.torch, lib.F
    x = torch.tensor(LOGITS)
    a = np.array(LOGITS)
    np.testing.assert_allclose(numpy(x.sum(dim=1, keepdim=True)), a.sum(1, keepdims=True),
                               rtol=1e-6)
    np.testing.assert_allclose(numpy(x.mean(dim=0)), a.mean(0), rtol=1e-6)
    np.testing.assert_allclose(numpy(x.var(dim=1)), a.var(1, ddof=1), rtol=1e-5)
    np.testing.assert_allclose(numpy(x.logsumexp(dim=1)), np.log(np.exp(a).sum(1)), rtol=1e-6)
    p = np.exp(a) / np.exp(a).sum(1, keepdims=True)
    np.testing.assert_allclose(numpy(F.softmax(x, dim=1)), p, rtol=1e-5)
    np.testing.assert_allclose(numpy(x.softmax(dim=1)), p, rtol=1e-5)
    np.testing.assert_allclose(numpy(F.log_softmax(x, dim=1)), np.log(p), rtol=1e-5)
    np.testing.assert_allclose(numpy(torch.sum(x, dim=0)), a.sum(0), rtol=1e-6)
    np.testing.assert_allclose(numpy(torch.mean(x, 1, True)), a.mean(1, keepdims=True),
                               rtol=1e-6)


# -- 3. casts and dtype names ----------------------------------------------------------------
def test_casts_and_dtype_names(lib):
    torch = lib.torch
    x = torch.tensor([[1.7, -2.2], [0.0, 3.5]])
    assert x.float().dtype == torch.float32 and x.double().dtype == torch.float64
    assert x.long().dtype == torch.int64 and x.to(torch.int64).dtype == torch.long
    assert x.type(torch.float64).dtype == torch.double
    np.testing.assert_array_equal(numpy(x.long()), [[1, -2], [0, 3]])    # toward zero
    assert (x > 0).float().sum().item() == 2
    assert x.to("cpu").dtype == x.dtype


def test_float32_gradients_stay_float32(lib):
    torch = lib.torch
    w = torch.randn(3, 2, requires_grad=True)
    (w.double() ** 2).sum().backward()
    assert w.grad.dtype == torch.float32


# -- 4. sizes, views and copies --------------------------------------------------------------
def test_numel_size_dim(lib):
    torch = lib.torch
    x = torch.zeros(2, 3, 4)
    assert x.numel() == 24 and x.dim() == 3
    assert tuple(x.size()) == (2, 3, 4) and x.size(1) == 3 and x.size(-1) == 4
    assert x.size() == x.shape


def test_view_clone_tolist_t(lib):
    torch = lib.torch
    x = torch.arange(6).float()
    assert tuple(x.view(2, 3).shape) == (2, 3) and tuple(x.view(-1, 2).shape) == (3, 2)
    assert x.view(2, 3).t().tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    assert x.view(2, 3).transpose(0, 1).tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]
    w = torch.ones(3, requires_grad=True)
    c = w.clone()
    (c * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert w.grad.tolist() == [1.0, 2.0, 3.0]
    assert x.tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]


def test_any_all(lib):
    torch = lib.torch
    x = torch.tensor([[0.0, 1.0], [0.0, 0.0]])
    assert bool((x > 0).any()) and not bool((x > 0).all())
    assert (x > 0).any(dim=1).tolist() == [True, False]
    assert (x >= 0).all().item() is True


# -- 5. method forms, top-level functions and factories --------------------------------------
def test_pow_clamp_std_var(lib):
    torch = lib.torch
    a = np.array(LOGITS)
    x = torch.tensor(LOGITS)
    np.testing.assert_allclose(numpy(x.pow(2)), a ** 2, rtol=1e-6)
    np.testing.assert_allclose(numpy(x.clamp(min=0.2, max=1.0)), np.clip(a, 0.2, 1.0))
    np.testing.assert_allclose(numpy(x.clamp(max=0.5)), np.minimum(a, 0.5))
    assert x.std().item() == pytest.approx(a.std(ddof=1), rel=1e-5)       # unbiased default
    assert x.var().item() == pytest.approx(a.var(ddof=1), rel=1e-5)
    np.testing.assert_allclose(numpy(x.std(dim=0, correction=0)), a.std(0), rtol=1e-5)
    np.testing.assert_allclose(numpy(x.var(1, unbiased=False)), a.var(1), rtol=1e-5)
    np.testing.assert_allclose(numpy(x.var(dim=1, keepdim=True)), a.var(1, ddof=1,
                                                                         keepdims=True),
                               rtol=1e-5)


def test_top_level_functions(lib):
    torch = lib.torch
    a = np.array([[0.5, 1.5], [2.0, 0.25]])
    x = torch.tensor(a)
    assert tuple(torch.cat([x, x], dim=1).shape) == (2, 4)
    assert tuple(torch.cat([x, x]).shape) == (4, 2)
    assert tuple(torch.stack([x, x], dim=0).shape) == (2, 2, 2)
    np.testing.assert_allclose(numpy(torch.where(x > 1, x, torch.zeros_like(x))),
                               np.where(a > 1, a, 0))
    for name, reference in [("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt),
                            ("tanh", np.tanh), ("sigmoid", lambda v: 1 / (1 + np.exp(-v))),
                            ("relu", lambda v: np.maximum(v - 1, 0) + 1)]:
        arg = x - 1 if name == "relu" else x
        expected = reference(a) if name != "relu" else np.maximum(a - 1, 0)
        np.testing.assert_allclose(numpy(getattr(torch, name)(arg)), expected, rtol=1e-6)
    assert torch.sum(x).item() == pytest.approx(a.sum())
    assert torch.mean(x).item() == pytest.approx(a.mean())
    assert torch.max(x).item() == 2.0
    np.testing.assert_allclose(numpy(torch.matmul(x, x)), a @ a)


def test_factories(lib):
    torch = lib.torch
    np.testing.assert_array_equal(numpy(torch.eye(3)), np.eye(3))
    assert torch.eye(2, 3).dtype == torch.float32 and tuple(torch.eye(2, 3).shape) == (2, 3)
    assert torch.full((2, 3), 7).tolist() == [[7, 7, 7], [7, 7, 7]]
    assert torch.arange(5).tolist() == [0, 1, 2, 3, 4]
    assert torch.arange(1, 10, 3).tolist() == [1, 4, 7]
    for factory in (torch.rand, torch.randn, torch.empty, torch.zeros, torch.ones):
        t = factory(4, 5)
        assert tuple(t.shape) == (4, 5) and t.dtype == torch.float32
    r = torch.rand(1000)
    assert 0 <= r.min().item() and r.max().item() < 1


def test_from_numpy_shares_memory_and_as_tensor(lib):
    torch = lib.torch
    a = np.zeros(3)
    t = torch.from_numpy(a)
    a[0] = 5.0
    assert t[0].item() == 5.0 and t.dtype == torch.float64
    assert torch.as_tensor([1, 2]).tolist() == [1, 2]
    assert torch.as_tensor(t) is t


# -- 6. losses, modules and init -------------------------------------------------------------
def test_cross_entropy_and_mse(lib):
    torch, F, nn = lib.torch, lib.F, lib.nn
    z = np.array(LOGITS)
    log_p = z - np.log(np.exp(z).sum(1, keepdims=True))
    per_sample = -log_p[np.arange(4), LABELS]
    out, y = torch.tensor(LOGITS), torch.tensor(LABELS)
    assert F.cross_entropy(out, y).item() == pytest.approx(per_sample.mean(), rel=1e-5)
    np.testing.assert_allclose(numpy(F.cross_entropy(out, y, reduction="none")), per_sample,
                               rtol=1e-5)
    assert nn.CrossEntropyLoss(reduction="sum")(out, y).item() == pytest.approx(
        per_sample.sum(), rel=1e-5)
    target = torch.zeros_like(out)
    assert F.mse_loss(out, target).item() == pytest.approx((z ** 2).mean(), rel=1e-5)
    assert nn.MSELoss(reduction="sum")(out, target).item() == pytest.approx((z ** 2).sum(),
                                                                            rel=1e-5)


def test_softmax_modules(lib):
    torch, nn = lib.torch, lib.nn
    x = torch.tensor(LOGITS, dtype=torch.float32)     # minigrad's default here is float64
    np.testing.assert_allclose(numpy(nn.Softmax(dim=1)(x).sum(dim=1)), np.ones(4), rtol=1e-6)
    np.testing.assert_allclose(numpy(nn.LogSoftmax(dim=1)(x).exp()),
                               numpy(nn.Softmax(dim=1)(x)), rtol=1e-6)
    model = nn.Sequential(nn.Linear(3, 2), nn.LogSoftmax(dim=1))
    assert tuple(model(x).shape) == (4, 2)


@pytest.mark.parametrize("name, mode, bound", [
    ("kaiming_normal_", "fan_in", lambda fan_in, fan_out: math.sqrt(2 / fan_in)),
    ("kaiming_normal_", "fan_out", lambda fan_in, fan_out: math.sqrt(2 / fan_out)),
    ("kaiming_uniform_", "fan_in", lambda fan_in, fan_out: math.sqrt(6 / fan_in)),
    ("xavier_uniform_", None, lambda fan_in, fan_out: math.sqrt(6 / (fan_in + fan_out))),
    ("xavier_normal_", None, lambda fan_in, fan_out: math.sqrt(2 / (fan_in + fan_out))),
])
def test_init_of_a_linear_weight_uses_its_in_and_out_features(lib, name, mode, bound):
    torch, nn = lib.torch, lib.nn
    torch.manual_seed(0)
    layer = nn.Linear(400, 100)                  # weight (400, 100) here, (100, 400) in torch
    kwargs = {"mode": mode} if mode else {}
    getattr(nn.init, name)(layer.weight, **kwargs)
    w = numpy(layer.weight)
    law = bound(400, 100)
    if "uniform" in name:
        assert np.abs(w).max() <= law and np.abs(w).max() > 0.99 * law
        assert w.std() == pytest.approx(law / math.sqrt(3), rel=0.02)
    else:
        assert w.std() == pytest.approx(law, rel=0.02)


# -- 7. data sets and loaders ----------------------------------------------------------------
def test_tensor_dataset_and_loader(lib):
    torch, data = lib.torch, lib.data
    X = torch.arange(20).float().view(10, 2)
    y = torch.arange(10)
    dataset = data.TensorDataset(X, y)
    assert len(dataset) == 10 and dataset[3][1].item() == 3
    loader = data.DataLoader(dataset, batch_size=4, shuffle=True)
    seen = []
    for xb, yb in loader:
        assert (xb[:, 0] == 2 * yb.float()).all()                # rows keep their labels
        seen += yb.tolist()
    assert sorted(seen) == list(range(10)) and len(loader) == 3
    ordered = [yb.tolist() for _, yb in data.DataLoader(dataset, 4)]
    assert ordered == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


def test_loader_over_a_users_own_dataset(lib):
    torch, data = lib.torch, lib.data

    class Squares:
        def __len__(self):
            return 5

        def __getitem__(self, i):
            return torch.tensor([float(i)]), i * i

    batches = list(data.DataLoader(Squares(), batch_size=2))
    assert [tuple(xb.shape) for xb, _ in batches] == [(2, 1), (2, 1), (1, 1)]
    assert [yb.tolist() for _, yb in batches] == [[0, 1], [4, 9], [16]]


# -- 8. schedulers ---------------------------------------------------------------------------
def _rates(lib, make, epochs, metrics=None):
    torch, optim = lib.torch, lib.optim
    optimizer = optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
    scheduler = make(optim.lr_scheduler, optimizer)
    rates = []
    for epoch in range(epochs):
        optimizer.step()
        scheduler.step(*([metrics[epoch]] if metrics else []))
        rates.append(optimizer.param_groups[0]["lr"])
    return np.array(rates)


def test_exponential_and_multistep(lib):
    epochs = np.arange(1, 9)
    np.testing.assert_allclose(_rates(lib, lambda s, o: s.ExponentialLR(o, gamma=0.5), 8),
                               0.1 * 0.5 ** epochs, rtol=1e-12)
    multistep = _rates(lib, lambda s, o: s.MultiStepLR(o, milestones=[2, 5, 5], gamma=0.1), 8)
    want = 0.1 * 0.1 ** ((epochs >= 2) + 2 * (epochs >= 5))
    np.testing.assert_allclose(multistep, want, rtol=1e-12)


def test_reduce_lr_on_plateau(lib):
    losses = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8]
    rates = _rates(lib, lambda s, o: s.ReduceLROnPlateau(o, factor=0.5, patience=2), 10,
                   losses)
    # 0.8 at epoch 3 is the last improvement: bad epochs 4, 5, 6 exceed patience 2 and halve
    # the rate at epoch 6; the counter restarts, and 7, 8, 9 halve it again
    np.testing.assert_allclose(rates, [0.1] * 5 + [0.05] * 3 + [0.025] * 2, rtol=1e-12)


# -- a first training loop, unchanged --------------------------------------------------------
def test_first_training_loop(lib):
    torch, nn, optim, data = lib.torch, lib.nn, lib.optim, lib.data
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((120, 4)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64) + (X[:, 2] > 1).astype(np.int64)
    loader = data.DataLoader(data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y)),
                             batch_size=16, shuffle=True)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    loss_fn = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.9)
    for epoch in range(15):
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            optimizer.step()
        scheduler.step()
    with torch.no_grad():
        out = model(torch.from_numpy(X))
        correct = (out.max(1)[1] == torch.from_numpy(y)).sum().item()
    assert correct / len(y) > 0.8
    assert correct == (out.argmax(dim=1) == torch.from_numpy(y)).sum().item()


# -- 9. a whole training checkpoint in one file -----------------------------------------------
def test_a_whole_checkpoint_in_one_file(lib, tmp_path):
    torch, nn, optim = lib.torch, lib.nn, lib.optim
    torch.manual_seed(0)
    x, y = torch.from_numpy(np.array(LOGITS, np.float32)), torch.tensor(LABELS)

    def train_step(model, optimizer):
        optimizer.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        optimizer.step()

    model = nn.Linear(3, 3)
    optimizer = optim.Adam(model.parameters(), lr=0.1)
    train_step(model, optimizer)
    path = str(tmp_path / "checkpoint.pt")
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": 3,
                "note": "after one step", "best": None, "losses": [0.5, 0.25]}, path)
    checkpoint = torch.load(path)
    assert checkpoint["epoch"] == 3 and checkpoint["note"] == "after one step"
    assert checkpoint["best"] is None and checkpoint["losses"] == [0.5, 0.25]
    assert sorted(checkpoint["optimizer"]["state"]) == [0, 1]       # integer ids stay integers
    resumed = nn.Linear(3, 3)
    resumed.load_state_dict(checkpoint["model"])
    resumed_optimizer = optim.Adam(resumed.parameters(), lr=0.1)
    resumed_optimizer.load_state_dict(checkpoint["optimizer"])
    train_step(model, optimizer)                       # one more step on both: the same numbers
    train_step(resumed, resumed_optimizer)
    for a, b in zip(model.parameters(), resumed.parameters()):
        np.testing.assert_array_equal(numpy(a), numpy(b))
