"""fit / evaluate / History and the checkpoint files of minigrad.train."""
import json
import os
import re
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minigrad as mg
from minigrad import nn, optim
from minigrad.data import DataLoader, make_spiral
from minigrad.train import History, evaluate, fit, load_checkpoint, save_checkpoint


def spiral(seed=0, n=30):
    return make_spiral(n, 3, 0.1, rng=np.random.default_rng(seed))


def small_model(seed=0, **kwargs):
    mg.manual_seed(seed)
    return nn.MLP(2, [8], 3, **kwargs)


def softmax_ce_numpy(logits, labels):
    z = logits - logits.max(axis=1, keepdims=True)
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(len(labels)), labels]).mean()
    return loss, p


# -- History ---------------------------------------------------------------------------------
def test_history_round_trips_through_json():
    h = History([0.5, 0.25], [0.7, 0.8], [0.6, 0.9], [0.1, 0.2])
    assert len(h) == 2
    again = History.from_dict(json.loads(json.dumps(h.as_dict())))
    assert again == h


@pytest.mark.parametrize("records", [{}, {"train_loss": []}, [1, 2],
                                     {"train_loss": [], "train_acc": [], "val_acc": [],
                                      "epoch_time": [], "extra": []}])
def test_history_from_bad_dict(records):
    with pytest.raises(ValueError, match="History.from_dict"):
        History.from_dict(records)


# -- evaluate --------------------------------------------------------------------------------
@given(n=st.integers(1, 12), batch_size=st.integers(1, 5), seed=st.integers(0, 100),
       one_hot=st.booleans())
def test_evaluate_matches_numpy_accuracy(n, batch_size, seed, one_hot):
    rng = np.random.default_rng(seed)
    model = nn.Linear(4, 3, dtype=np.float64)
    X = rng.standard_normal((n, 4))
    y = rng.integers(0, 3, n)
    expected = np.mean((X @ model.weight.data + model.bias.data).argmax(1) == y)
    target = np.eye(3)[y] if one_hot else y
    assert evaluate(model, X, target, batch_size=batch_size) == pytest.approx(expected)


def test_evaluate_runs_in_eval_mode_without_grad_and_restores_modes():
    model = small_model(use_batchnorm=True, dropout=0.5)
    seen = []
    model[0].register_forward_hook(
        lambda m, inputs, out: seen.append((model.training, m.training, mg.is_grad_enabled(),
                                            out.requires_grad)))
    model.train()
    model[2].eval()                                   # a mixed state to restore
    before = [m.training for m in model.modules()]
    x, y = spiral()
    evaluate(model, x, y)
    assert seen and all(s == (False, False, False, False) for s in seen)
    assert [m.training for m in model.modules()] == before
    assert all(p.grad is None for p in model.parameters())


def test_evaluate_is_deterministic_with_dropout():
    model = small_model(dropout=0.5)
    x, y = spiral()
    assert evaluate(model, x, y) == evaluate(model, x, y)


def test_evaluate_restores_modes_after_an_error():
    model = small_model()
    model.train()
    with pytest.raises(ValueError):
        evaluate(model, np.zeros((3, 5), dtype=np.float32), np.zeros(3, dtype=np.int64))
    assert all(m.training for m in model.modules())


@pytest.mark.parametrize("X, y", [(np.zeros((3, 2)), np.zeros(4, dtype=int)),
                                  (np.zeros((0, 2)), np.zeros(0, dtype=int)),
                                  (np.zeros((3, 2)), np.zeros((3, 1, 1))),
                                  (np.float32(1.0), np.zeros(1, dtype=int))])
def test_evaluate_bad_shapes(X, y):
    with pytest.raises(ValueError, match="evaluate:"):
        evaluate(small_model(), np.asarray(X, dtype=np.float32), y)


@pytest.mark.parametrize("model, X, y, word", [
    ("model", np.zeros((3, 2)), np.zeros(3, dtype=int), "model"),
    (None, None, np.zeros(3, dtype=int), "X"),
    (None, np.zeros((3, 2)), ["a", "b", "c"], "y"),
])
def test_evaluate_bad_types(model, X, y, word):
    with pytest.raises(TypeError, match=f"evaluate: {word}"):
        evaluate(small_model() if model is None else model, X, y)


# -- fit -------------------------------------------------------------------------------------
def test_one_epoch_of_full_batch_sgd_matches_numpy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((6, 4))
    y = rng.integers(0, 3, 6)
    model = nn.Linear(4, 3, dtype=np.float64)
    W, b = model.weight.data.copy(), model.bias.data.copy()
    loss0, p = softmax_ce_numpy(X @ W + b, y)
    g = (p - np.eye(3)[y]) / 6                          # d loss / d logits
    history = fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.5),
                  (X, y), epochs=1, batch_size=6, progress=False)
    np.testing.assert_allclose(model.weight.data, W - 0.5 * X.T @ g, rtol=1e-12)
    np.testing.assert_allclose(model.bias.data, b - 0.5 * g.sum(0), rtol=1e-12)
    assert history.train_loss == [pytest.approx(loss0, rel=1e-12)]


def test_train_loss_is_the_batch_size_weighted_mean():
    X, y = spiral()
    model = small_model()
    model.double()
    # lr = 0: the model does not change, so the epoch's loss is the loss of the whole set
    history = fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.0),
                  (X.astype(np.float64), y), epochs=2, batch_size=7, progress=False)
    with mg.no_grad():
        full = nn.SoftmaxCrossEntropy()(model(mg.tensor(X.astype(np.float64))), y).item()
    assert history.train_loss == [pytest.approx(full, rel=1e-12)] * 2


def test_fit_learns_the_spiral_and_records_every_epoch():
    (X, y), (Xv, yv) = spiral(0, 60), spiral(1, 60)
    mg.manual_seed(0)
    model = nn.MLP(2, [32, 32], 3)
    history = fit(model, nn.SoftmaxCrossEntropy(), optim.Adam(model.parameters(), lr=0.01),
                  (X, y), epochs=15, batch_size=30, val_data=(Xv, yv), progress=False)
    assert len(history) == 15
    assert len(history.train_acc) == len(history.val_acc) == len(history.epoch_time) == 15
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.train_acc[-1] > 0.85 and history.val_acc[-1] > 0.8
    assert history.train_acc[-1] == evaluate(model, X, y)
    assert all(t > 0 for t in history.epoch_time)


def test_same_seed_same_history():
    X, y = spiral()

    def run():
        model = small_model(3, dropout=0.2)
        return fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1),
                   (X, y), epochs=3, batch_size=8, progress=False), model

    (h1, m1), (h2, m2) = run(), run()
    assert h1.train_loss == h2.train_loss and h1.train_acc == h2.train_acc
    assert all(np.array_equal(a, b) for a, b in zip(m1.state_dict().values(),
                                                    m2.state_dict().values()))


def test_callbacks_get_the_epoch_and_can_stop_training():
    X, y = spiral()
    model = small_model()
    calls = []

    def stop_at_two(epoch, history):
        calls.append((epoch, len(history)))
        return epoch == 2

    history = fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), (X, y), 5, 16,
                  progress=False, callbacks=[stop_at_two])
    assert calls == [(1, 1), (2, 2)] and len(history) == 2
    more = fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), (X, y), 2, 16,
               progress=False, callbacks=[lambda e, h: calls.append((e, len(h)))],
               history=history)
    assert more is history and len(history) == 4 and calls[-2:] == [(3, 3), (4, 4)]


def test_fit_with_a_dataloader_and_drop_last():
    X, y = spiral()
    model = small_model()
    loader = DataLoader(X, y, 16, drop_last=True, rng=np.random.default_rng(0))
    seen = []
    model[0].register_forward_hook(lambda m, i, o: seen.append(len(i[0])) if m.training else None)
    fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), loader, 1, 999,
        progress=False)
    assert seen == [16] * (90 // 16)


def test_progress_lines_without_a_terminal(capsys):
    X, y = spiral()
    model = small_model()
    fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), (X, y), 2, 16,
        val_data=(X, y), progress=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2") and "loss" in lines[0] and "val acc" in lines[0]
    fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), (X, y), 1, 16,
        progress=False)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("kwargs, error, word", [
    ({"epochs": -1}, ValueError, "epochs"), ({"epochs": 1.5}, ValueError, "epochs"),
    ({"train_data": np.zeros((3, 2))}, TypeError, "train_data"),
    ({"val_data": np.zeros((3, 2))}, TypeError, "val_data"),
    ({"loss_fn": "cross-entropy"}, TypeError, "loss_fn"),
    ({"optimizer": 0.1}, TypeError, "optimizer"),
    ({"model": [1, 2]}, TypeError, "model"),
])
def test_fit_bad_arguments(kwargs, error, word):
    model = small_model()
    args = {"model": model, "loss_fn": nn.SoftmaxCrossEntropy(),
            "optimizer": optim.SGD(model.parameters()), "train_data": spiral(), "epochs": 1,
            "batch_size": 4, **kwargs}
    with pytest.raises(error, match=f"fit: {word}"):
        fit(progress=False, **args)


# -- checkpoints -----------------------------------------------------------------------------
def make_run(seed=0):
    model = small_model(seed, use_batchnorm=True, dropout=0.3)
    return model, optim.Adam(model.parameters(), lr=0.01)


def test_resume_from_a_checkpoint_is_bit_identical(tmp_path):
    X, y = spiral()
    loss = nn.SoftmaxCrossEntropy()
    model, opt = make_run()
    straight = fit(model, loss, opt, (X, y), 4, 8, progress=False)

    first, opt1 = make_run()
    history = fit(first, loss, opt1, (X, y), 2, 8, progress=False)
    save_checkpoint(tmp_path, first, opt1, history, {"note": "test"})
    mg.manual_seed(12345)                         # anything in between must not matter
    second, opt2 = make_run(seed=99)              # other initial weights, overwritten by load
    resumed = load_checkpoint(tmp_path, second, opt2)
    assert resumed == history
    fit(second, loss, opt2, (X, y), 2, 8, progress=False, history=resumed)
    assert resumed.train_loss == straight.train_loss
    for (name, a), b in zip(model.state_dict().items(), second.state_dict().values()):
        assert np.array_equal(a, b), name
    assert json.loads((tmp_path / "config.json").read_text()) == {"note": "test"}


def test_checkpoint_files_are_plain_and_complete(tmp_path):
    X, y = spiral()
    model, opt = make_run()
    history = fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), 1, 8, progress=False)
    save_checkpoint(tmp_path, model, opt, history)
    names = sorted(os.listdir(tmp_path))
    assert names == sorted(["model.npz", "optimizer.npz", "optimizer.json", "rng.json",
                            "history.json", "config.json", "checkpoint.json"])
    with np.load(tmp_path / "optimizer.npz", allow_pickle=False) as f:
        keys = set(f.files)
    n_params = len(list(model.parameters()))
    assert keys == {f"{i}.{name}" for i in range(n_params) for name in ("exp_avg", "exp_avg_sq")}
    meta = json.loads((tmp_path / "optimizer.json").read_text())
    assert meta["scalars"] == {str(i): {"step": 12} for i in range(n_params)}   # 90 rows / 8
    assert json.loads((tmp_path / "rng.json").read_text()) == \
        mg.random.default_rng().bit_generator.state
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "history.json").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("victim", ["model.npz", "optimizer.npz", "history.json", "rng.json"])
def test_a_tampered_or_mixed_checkpoint_is_refused(tmp_path, victim):
    X, y = spiral()
    model, opt = make_run()
    history = fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), 1, 8, progress=False)
    save_checkpoint(tmp_path, model, opt, history)
    path = tmp_path / victim
    path.write_bytes(path.read_bytes()[:-1] + b" ")
    other, opt2 = make_run(5)
    before = [p.data.copy() for p in other.parameters()]
    with pytest.raises(ValueError, match=f"load_checkpoint: .*{victim}"):
        load_checkpoint(tmp_path, other, opt2)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, other.parameters()))


def test_a_missing_checkpoint_file_is_named(tmp_path):
    model, opt = make_run()
    save_checkpoint(tmp_path, model, opt, History())
    (tmp_path / "rng.json").unlink()
    with pytest.raises(ValueError, match="rng.json is missing"):
        load_checkpoint(tmp_path, model, opt)
    with pytest.raises(ValueError, match="checkpoint.json is missing"):
        load_checkpoint(tmp_path / "nowhere", model, opt)


class _Terminal:
    """A stand-in for a terminal's stderr: records what is written, says it is a tty."""

    def __init__(self):
        self.parts = []

    def write(self, text):
        self.parts.append(text)

    def flush(self):
        pass

    def isatty(self):
        return True


def test_progress_bar_on_a_terminal_with_tqdm(monkeypatch, capsys):
    pytest.importorskip("tqdm")                       # in the test extra
    terminal = _Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    X, y = spiral()
    model = small_model()
    fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), (X, y), 2, 16,
        val_data=(X, y), progress=True)
    shown = "".join(terminal.parts)
    assert "epoch 1/2" in shown and "epoch 2/2" in shown and "6/6" in shown
    assert re.search(r"loss \d\.\d{4}  train acc \d\.\d{4}  val acc", shown)
    assert capsys.readouterr().out == ""              # the bar replaces the plain lines


def test_plain_lines_on_a_terminal_without_tqdm(monkeypatch, capsys):
    monkeypatch.setattr("sys.stderr", _Terminal())
    monkeypatch.setitem(sys.modules, "tqdm", None)       # import tqdm now fails
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    X, y = spiral()
    model = small_model()
    fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), (X, y), 1, 16,
        progress=True)
    assert capsys.readouterr().out.startswith("epoch 1/1  loss ")
