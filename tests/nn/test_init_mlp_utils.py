"""nn.init, nn.MLP and nn.utils.clip_grad_norm_."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn


def test_init_statistics_and_dtype():
    rng = np.random.default_rng(0)
    w = nn.Parameter(np.empty((500, 400), dtype=np.float32))
    nn.init.he_normal_(w, rng=rng)
    assert w.dtype == np.float32
    assert abs(w.data.std() - np.sqrt(2 / 500)) < 0.002 and abs(w.data.mean()) < 0.002
    nn.init.lecun_normal_(w, rng=rng)
    assert abs(w.data.std() - np.sqrt(1 / 500)) < 0.002
    assert nn.init.normal_(w, mean=1.0, std=0.5, rng=rng) is w
    assert abs(w.data.mean() - 1.0) < 0.01 and abs(w.data.std() - 0.5) < 0.01
    nn.init.uniform_(w, -2.0, -1.0, rng=rng)
    assert w.data.min() >= -2.0 and w.data.max() < -1.0 and abs(w.data.mean() + 1.5) < 0.01
    nn.init.zeros_(w)
    assert not w.data.any()
    nn.init.constant_(w, 3.0)
    assert np.all(w.data == 3.0)


def test_init_uses_manual_seed_and_rejects_vectors():
    w = nn.Parameter(np.empty((3, 2)))
    mg.manual_seed(4)
    first = nn.init.he_normal_(w).data.copy()
    mg.manual_seed(4)
    assert np.array_equal(nn.init.he_normal_(w).data, first)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.xavier_normal_(nn.Parameter(np.empty(3)))


def test_mlp_structure_follows_the_book():
    model = nn.MLP(784, [100, 50], 10, activation="sigmoid", weight_init="xavier",
                   use_batchnorm=True, dropout=0.2)
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "BatchNorm1d", "Sigmoid", "Dropout",
                     "Linear", "BatchNorm1d", "Sigmoid", "Dropout", "Linear"]
    assert [(m.in_features, m.out_features) for m in model.linears] == [
        (784, 100), (100, 50), (50, 10)]
    head = model[:4]                                          # a slice is a plain Sequential
    assert type(head) is nn.Sequential and head[0] is model[0] and len(head) == 4
    plain = nn.MLP(4, [3], 2)
    assert [type(m).__name__ for m in plain] == ["Linear", "ReLU", "Linear"]
    assert nn.MLP(2, [], 3)[0].out_features == 3              # no hidden layer: one Linear


def test_mlp_weight_init_std():
    mg.manual_seed(0)
    std = nn.MLP(1000, [800], 10, weight_init=0.01)
    assert abs(std[0].weight.data.std() - 0.01) < 0.0005
    he = nn.MLP(1000, [800], 10, weight_init="he")
    assert abs(he[0].weight.data.std() - np.sqrt(2 / 1000)) < 0.001
    with pytest.raises(ValueError, match="activation must be one of"):
        nn.MLP(2, [2], 2, activation="swish")
    with pytest.raises(ValueError, match="dropout must be a probability"):
        nn.MLP(2, [2], 2, dropout=1.0)


def test_mlp_trains():
    mg.manual_seed(1)
    rng = np.random.default_rng(1)
    x = mg.tensor(rng.normal(size=(64, 5)), dtype=np.float32)
    labels = (x.data[:, 0] + x.data[:, 1] > 0).astype(np.int64)
    model = nn.MLP(5, [16], 2, use_batchnorm=True)
    loss_fn = nn.SoftmaxCrossEntropy()
    losses = []
    for _ in range(30):
        model.zero_grad()
        loss = loss_fn(model(x), labels)
        loss.backward()
        for p in model.parameters():
            p.data = p.data - 0.5 * p.grad.data
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_clip_grad_norm():
    a = nn.Parameter(np.zeros(2, dtype=np.float32))
    b = nn.Parameter(np.zeros((2, 2)))
    c = nn.Parameter(np.zeros(1))                            # no gradient: ignored
    a.grad = np.array([3.0, 0.0], dtype=np.float32)
    b.grad = np.array([[0.0, 4.0], [0.0, 0.0]])
    held = b.grad
    total = nn.utils.clip_grad_norm_([a, b, c], max_norm=1.0)
    assert total == pytest.approx(5.0)
    np.testing.assert_allclose(a.grad.data, [0.6, 0.0], rtol=1e-5)
    np.testing.assert_allclose(b.grad.data, [[0.0, 0.8], [0.0, 0.0]], rtol=1e-5)
    assert a.grad.dtype == np.float32 and c.grad is None
    assert held.data[0, 1] == 4.0                             # replaced, not modified in place
    assert nn.utils.clip_grad_norm_([a, b], max_norm=10.0) == pytest.approx(1.0, rel=1e-5)
    np.testing.assert_allclose(a.grad.data, [0.6, 0.0], rtol=1e-5)   # small norms untouched
    assert nn.utils.clip_grad_norm_(b, 0.4, norm_type=float("inf")) == pytest.approx(0.8)
    np.testing.assert_allclose(b.grad.data.max(), 0.4, rtol=1e-5)
    with pytest.raises(ValueError, match="max_norm must be non-negative"):
        nn.utils.clip_grad_norm_([a], -1.0)
