"""Inputs that NumPy or PyTorch accept and that minigrad's argument checks must keep accepting
(found by a review of the bad-input fixes: each of these was refused for a while)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn
from minigrad.train import History


def _leaf(*shape):
    return mg.tensor(np.random.default_rng(0).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("norm_type, expected", [("2", 5.0), ("INF", 4.0), ("inf", 4.0),
                                                 (np.array(2.0), 5.0), (1, 7.0)])
def test_clip_grad_norm_takes_what_float_takes(norm_type, expected):
    p = nn.Parameter(np.zeros(2))
    p.grad = mg.tensor(np.array([3.0, 4.0]))
    assert nn.utils.clip_grad_norm_([p], np.array(100.0), norm_type) == pytest.approx(expected)


def test_gradcheck_takes_a_generator_seed_and_a_0d_eps():
    x = _leaf(3)
    assert mg.gradcheck(lambda t: t * t, [x], seed=np.random.default_rng(1), eps=np.array(1e-6))
    assert mg.gradcheck(lambda t: t * t, [x], seed=np.random.SeedSequence(2))
    with pytest.raises(TypeError, match="gradcheck: seed must be an integer, got 'x'"):
        mg.gradcheck(lambda t: t * t, [x], seed="x")


def test_layer_settings_take_0d_arrays_and_numpy_numbers():
    x = _leaf(4, 3)
    y = F.batch_norm(x, None, None, eps=np.array(1e-5), momentum=np.float32(0.1), training=True)
    np.testing.assert_allclose(y.data.mean(axis=0), 0.0, atol=1e-12)
    with pytest.raises(TypeError, match="batch_norm: eps must be a number, got None"):
        F.batch_norm(x, None, None, eps=None)
    t = mg.zeros(3)
    nn.init.constant_(t, mg.tensor(2.0))
    nn.init.constant_(t, np.array(3.0))
    assert t.data.tolist() == [3.0, 3.0, 3.0]


def test_containers_and_builders_take_numpy_indices_and_any_iterable():
    model = nn.MLP(4, (n for n in [3, 5]), 2)
    assert [m.out_features for m in model if isinstance(m, nn.Linear)] == [3, 5, 2]
    assert model[np.array(2)] is model[2] and model[np.int64(-1)] is model[-1]
    with pytest.raises(TypeError, match="indices must be integers or slices, got str"):
        model["0"]


def test_history_from_numpy_arrays():
    records = {"train_loss": np.array([1.0, 0.5]), "train_acc": np.array([0.5, 0.7]),
               "val_acc": np.array([0.6]), "epoch_time": np.array([0.1, 0.1])}
    history = History.from_dict(records)
    assert history.train_loss == [1.0, 0.5] and history.val_acc == [0.6]
