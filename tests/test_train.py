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
from minigrad.train import (CHECKPOINT_FILES, History, checkpoint_path, evaluate, fit,
                            load_checkpoint, save_checkpoint)


def ckpt(folder, name):
    """The path of a file of the checkpoint in ``folder``."""
    import pathlib
    return pathlib.Path(checkpoint_path(folder, name))


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
    assert json.loads(ckpt(tmp_path, "config.json").read_text()) == {"note": "test"}


def test_checkpoint_files_are_plain_and_complete(tmp_path):
    X, y = spiral()
    model, opt = make_run()
    history = fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), 1, 8, progress=False)
    save_checkpoint(tmp_path, model, opt, history)
    generation = ckpt(tmp_path, "model.npz").parent.name
    assert sorted(os.listdir(tmp_path)) == sorted([".lock", "checkpoint.json", generation])
    assert re.fullmatch(r"epoch-000001-[0-9a-f]{8}", generation)
    assert sorted(os.listdir(tmp_path / generation)) == sorted(CHECKPOINT_FILES)
    with np.load(ckpt(tmp_path, "optimizer.npz"), allow_pickle=False) as f:
        keys = set(f.files)
    n_params = len(list(model.parameters()))
    assert keys == {f"{i}.{name}" for i in range(n_params) for name in ("exp_avg", "exp_avg_sq")}
    meta = json.loads(ckpt(tmp_path, "optimizer.json").read_text())
    assert meta["scalars"] == {str(i): {"step": 12} for i in range(n_params)}   # 90 rows / 8
    assert json.loads(ckpt(tmp_path, "rng.json").read_text()) == \
        mg.random.default_rng().bit_generator.state
    umask = os.umask(0o022)
    os.umask(umask)
    assert ckpt(tmp_path, "history.json").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("victim", ["model.npz", "optimizer.npz", "history.json", "rng.json"])
def test_a_tampered_or_mixed_checkpoint_is_refused(tmp_path, victim):
    X, y = spiral()
    model, opt = make_run()
    history = fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), 1, 8, progress=False)
    save_checkpoint(tmp_path, model, opt, history)
    path = ckpt(tmp_path, victim)
    path.write_bytes(path.read_bytes()[:-1] + b" ")
    other, opt2 = make_run(5)
    before = [p.data.copy() for p in other.parameters()]
    with pytest.raises(ValueError, match=f"load_checkpoint: .*{victim}"):
        load_checkpoint(tmp_path, other, opt2)
    assert all(np.array_equal(a, p.data) for a, p in zip(before, other.parameters()))


def test_a_missing_checkpoint_file_is_named(tmp_path):
    model, opt = make_run()
    save_checkpoint(tmp_path, model, opt, History())
    ckpt(tmp_path, "rng.json").unlink()
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


# -- bad values: evaluate, fit, History --------------------------------------------------------
@pytest.mark.parametrize("batch_size, error", [(-1, ValueError), (0, ValueError),
                                               (2.5, TypeError), (True, TypeError),
                                               ("8", TypeError), (None, TypeError)])
def test_evaluate_refuses_a_bad_batch_size(batch_size, error):
    x, y = spiral()
    got = re.escape(repr(batch_size))
    with pytest.raises(error, match=f"evaluate: batch_size must be a positive .*got {got}"):
        evaluate(small_model(), x, y, batch_size=batch_size)


def test_evaluate_refuses_one_hot_targets_of_another_width():
    x, y = spiral()                                   # 3 classes, the model gives 3 logits
    model = small_model()
    assert 0 <= evaluate(model, x, np.eye(3)[y]) <= 1
    with pytest.raises(ValueError, match=r"evaluate: y has .* 7 columns .*\(90, 7\).*\(3,\)"):
        evaluate(model, x, np.eye(7)[y])


def test_history_from_dict_refuses_lists_of_different_lengths():
    good = {"train_loss": [0.5, 0.4], "train_acc": [0.7, 0.8], "val_acc": [], "epoch_time": [1, 2]}
    assert len(History.from_dict(good)) == 2          # val_acc may be empty (no val_data)
    for name in ("train_loss", "train_acc", "epoch_time"):
        with pytest.raises(ValueError, match="History.from_dict: .*lengths"):
            History.from_dict({**good, name: good[name][:1]})
    with pytest.raises(ValueError, match="History.from_dict: .*lengths"):
        History.from_dict({**good, "val_acc": [0.1, 0.2, 0.3]})
    for bad in ("ab", [0.5, "a"], 5, [0.5, None], [True, 0.5]):
        with pytest.raises(ValueError, match="History.from_dict: train_loss must be a list"):
            History.from_dict({**good, "train_loss": bad})


def test_a_history_continued_with_validation_data_round_trips():
    X, y = spiral()
    model = small_model()
    history = fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), (X, y), 1, 16,
                  progress=False)
    fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), (X, y), 1, 16,
        val_data=(X, y), progress=False, history=history)
    assert len(history.val_acc) == 1 and len(history) == 2
    assert History.from_dict(json.loads(json.dumps(history.as_dict()))) == history


@pytest.mark.parametrize("lr", [1e30, float("inf")])
def test_a_loss_that_overflows_stops_fit_with_a_clear_error(lr):
    X, y = spiral()
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=1.0)
    opt.param_groups[0]["lr"] = lr                    # past the optimizer's own check
    steps = []
    model[0].register_forward_hook(lambda m, i, o: steps.append(
        [p.data.copy() for p in model.parameters()]) if m.training else None)
    message = r"fit: the training loss became (nan|inf) at epoch 1, batch \d+; .*lower learning"
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=message):
        fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), 3, 16, progress=False)
    # the optimizer did not step on the non-finite loss: the weights are those it was made from
    assert all(np.array_equal(a, p.data) for a, p in zip(steps[-1], model.parameters()))


def test_check_finite_false_trains_through_a_diverging_loss():
    X, y = spiral()
    model = small_model()
    opt = optim.SGD(model.parameters(), lr=1.0)
    opt.param_groups[0]["lr"] = 1e30
    with np.errstate(all="ignore"):
        history = fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), 2, 16, progress=False,
                      check_finite=False)
    assert len(history) == 2 and not np.isfinite(history.train_loss[-1])


def test_a_loader_without_batches_is_an_error():
    X, y = spiral()                                    # 90 rows
    model = small_model()
    loader = DataLoader(X, y, 128, drop_last=True)
    with pytest.raises(ValueError, match="fit: train_data yields no batches .*128"):
        fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), loader, 1, 128,
            progress=False)
    history = fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters()), loader, 0, 128,
                  progress=False)                      # nothing to do is not an error
    assert len(history) == 0


@pytest.mark.parametrize("kwargs, error, match", [
    ({"callbacks": 5}, TypeError, "fit: callbacks must be an iterable of callables, got int"),
    ({"callbacks": [5]}, TypeError, "fit: every callback must be callable, got int"),
    ({"history": {}}, TypeError, "fit: history must be a History or None, got dict"),
    ({"loss_fn": nn.SoftmaxCrossEntropy(reduction="none")}, ValueError,
     r"fit: loss_fn must return a scalar Tensor .*shape \(16,\)"),
    ({"loss_fn": lambda z, t: 0.5}, ValueError, "fit: loss_fn must return a scalar Tensor.*float"),
])
def test_fit_names_more_bad_arguments(kwargs, error, match):
    model = small_model()
    args = {"loss_fn": nn.SoftmaxCrossEntropy(), "optimizer": optim.SGD(model.parameters()),
            "train_data": spiral(), "epochs": 1, "batch_size": 16, **kwargs}
    with pytest.raises(error, match=match):
        fit(model, progress=False, **args)


# -- checkpoints: empty optimizer state, malformed files, nothing changed on failure ----------
@pytest.mark.parametrize("step", [True, False])
def test_a_checkpoint_without_optimizer_arrays_resumes(tmp_path, step):
    """Plain SGD keeps no state arrays, and no optimizer has any before its first step: the
    optimizer.npz of such a run is an empty archive and must load."""
    X, y = spiral()
    model = small_model()
    opt = optim.Adam(model.parameters(), lr=0.01) if not step else \
        optim.SGD(model.parameters(), lr=0.1)
    history = fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), int(step), 16, progress=False)
    save_checkpoint(tmp_path, model, opt, history)
    assert mg.load(ckpt(tmp_path, "optimizer.npz")) == {}
    other = small_model(seed=3)
    opt2 = type(opt)(other.parameters(), lr=0.5)
    assert load_checkpoint(tmp_path, other, opt2) == history
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    for a, b in zip(model.parameters(), other.parameters()):
        assert np.array_equal(a.data, b.data)


def rewrite(folder, name, text):
    """Replace a checkpoint file and update checkpoint.json to match, as a careful forger would:
    what is then refused is refused for its content, not for its hash."""
    import hashlib
    ckpt(folder, name).write_text(text)
    manifest = json.loads((folder / "checkpoint.json").read_text())
    manifest["sha256"][name] = hashlib.sha256(ckpt(folder, name).read_bytes()).hexdigest()
    (folder / "checkpoint.json").write_text(json.dumps(manifest))


def snapshot(model, opt, rng):
    return ([p.data.copy() for p in model.parameters()], repr(opt.state_dict()),
            json.dumps(rng.bit_generator.state))


@pytest.mark.parametrize("name, text, word", [
    ("optimizer.json", '{"a": 1}', "optimizer.json"),
    ("optimizer.json", "[1, 2]", "optimizer.json"),
    ("optimizer.json", '{"param_groups": [], "scalars": {}}', "optimizer.json"),
    ("optimizer.json", '{"param_groups": [{"params": [0], "lr": "x"}], "scalars": {}}',
     "optimizer.json"),
    ("optimizer.json", '{"param_groups": [5], "scalars": {}}', "optimizer.json"),
    ("rng.json", '{"bit_generator": "MT19937", "state": {}}', "rng.json"),
    ("rng.json", '{"a": 1}', "rng.json"),
    ("rng.json", '[]', "rng.json"),
    ("history.json", '{"train_loss": ["a"], "train_acc": [1], "val_acc": [], '
                     '"epoch_time": [1]}', "history.json"),
    ("history.json", '{"train_loss": [1, 2], "train_acc": [1], "val_acc": [], '
                     '"epoch_time": [1]}', "history.json"),
    ("history.json", '[]', "history.json"),
    ("history.json", '{"train_loss": [], "train_acc": [], "val_acc": [], "epoch_time": []}',
     "checkpoint.json"),                                 # another epoch than the manifest's
])
def test_malformed_checkpoint_content_is_refused_by_name_and_changes_nothing(
        tmp_path, name, text, word):
    X, y = spiral()
    model, opt = make_run()
    history = fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), 1, 8, progress=False)
    save_checkpoint(tmp_path, model, opt, history)
    rewrite(tmp_path, name, text)
    other, opt2 = make_run(5)
    rng = np.random.default_rng(7)
    before = snapshot(other, opt2, rng)
    with pytest.raises(ValueError, match=f"load_checkpoint: .*{word}"):
        load_checkpoint(tmp_path, other, opt2, rng=rng)
    after = snapshot(other, opt2, rng)
    assert all(np.array_equal(a, b) for a, b in zip(before[0], after[0])) and \
        before[1:] == after[1:]


@pytest.mark.parametrize("manifest", ['[1]', '{"epoch": 1}', '{"epoch": 1, "sha256": 5}',
                                      '{"epoch": "1", "sha256": {}}'])
def test_a_malformed_manifest_is_refused_by_name(tmp_path, manifest):
    model, opt = make_run()
    save_checkpoint(tmp_path, model, opt, History())
    (tmp_path / "checkpoint.json").write_text(manifest)
    with pytest.raises(ValueError, match="load_checkpoint: .*checkpoint.json is not a checkpoint"):
        load_checkpoint(tmp_path, model, opt)


@pytest.mark.parametrize("mismatch", ["optimizer", "model"])
def test_a_checkpoint_for_another_run_changes_nothing(tmp_path, mismatch):
    """The optimizer and the model are both checked before either is changed (the report's
    case: an Adam checkpoint loaded into a Momentum run overwrote the weights anyway)."""
    X, y = spiral()
    model, opt = make_run()
    history = fit(model, nn.SoftmaxCrossEntropy(), opt, (X, y), 1, 8, progress=False)
    save_checkpoint(tmp_path, model, opt, history)
    if mismatch == "optimizer":                   # same model, another optimizer
        other = small_model(5, use_batchnorm=True, dropout=0.3)
        opt2 = optim.Momentum(other.parameters(), lr=0.01)
        word = "optimizer.json and .*optimizer.npz do not fit this optimizer"
    else:              # the same parameter shapes, so the optimizer state fits, but no
        other = small_model(5, use_batchnorm=True)    # Dropout: the last Linear is "3.", not "4."
        opt2 = optim.Adam(other.parameters(), lr=0.5)
        fit(other, nn.SoftmaxCrossEntropy(), opt2, (X, y), 1, 8, progress=False)
        word = "model.npz does not fit this model"
    rng = np.random.default_rng(7)
    before = snapshot(other, opt2, rng)
    with pytest.raises(ValueError, match=f"load_checkpoint: .*{word}"):
        load_checkpoint(tmp_path, other, opt2, rng=rng)
    after = snapshot(other, opt2, rng)
    assert all(np.array_equal(a, b) for a, b in zip(before[0], after[0]))
    assert before[1:] == after[1:]


def test_save_checkpoint_into_a_file_is_refused_by_name(tmp_path):
    model, opt = make_run()
    (tmp_path / "afile").write_text("x")
    with pytest.raises(NotADirectoryError, match="save_checkpoint: .*afile' is a file"):
        save_checkpoint(tmp_path / "afile", model, opt, History())


# -- Ctrl-C: fit keeps the history of the epochs done ----------------------------------------
class _InterruptedAt(nn.Module):
    """A model that raises KeyboardInterrupt (as Ctrl-C does) at its ``at``-th call in the
    given mode: training mode is a step, eval mode an accuracy measurement."""

    def __init__(self, inner, at, training):
        super().__init__()
        self.inner = inner
        self.at, self.when_training, self.calls = at, training, 0

    def forward(self, x):
        if self.training == self.when_training:
            self.calls += 1
            if self.calls == self.at:
                raise KeyboardInterrupt
        return self.inner(x)


@pytest.mark.parametrize("at, training", [
    (2 * 12 + 5, True),          # in a step of epoch 3 (12 batches of 8 per epoch)
    (2 * 2 + 1, False),          # measuring epoch 3's training accuracy
    (2 * 2 + 2, False),          # measuring epoch 3's validation accuracy
])
def test_an_interrupted_fit_keeps_exactly_the_epochs_done(at, training):
    X, y = spiral()
    model = _InterruptedAt(small_model(), at, training)
    history = History()
    with pytest.raises(KeyboardInterrupt) as info:
        fit(model, nn.SoftmaxCrossEntropy(), optim.SGD(model.parameters(), lr=0.1), (X, y), 5,
            8, val_data=(X, y), progress=False, history=history)
    assert info.value.history is history
    assert {name: len(values) for name, values in history.as_dict().items()} == \
        {"train_loss": 2, "train_acc": 2, "val_acc": 2, "epoch_time": 2}
    assert History.from_dict(history.as_dict()) == history       # and it can be saved
