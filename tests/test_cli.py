"""The ``minigrad train`` command: output, checkpoints, resume, bad options."""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import minigrad as mg
from minigrad.__main__ import main
from minigrad.train import checkpoint_path

LAST_LINE = re.compile(r"^test accuracy: (\d\.\d{4})$")


def ckpt(folder, name):
    """The path of a file of the checkpoint in ``folder``."""
    import pathlib
    return pathlib.Path(checkpoint_path(folder, name))


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def accuracy(out):
    match = LAST_LINE.match(out.strip().splitlines()[-1])
    assert match, out
    return float(match.group(1))


def numbers(out):
    """The output without timings, which legitimately differ between runs."""
    return [re.sub(r"\(\d+\.\d+ s\)|in \d+\.\d+ s", "", line) for line in out.splitlines()]


def test_defaults_reach_the_promised_accuracy_within_ten_seconds():
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "minigrad", "train"], capture_output=True,
                            text=True, timeout=120)
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    assert accuracy(result.stdout) >= 0.975
    assert seconds < 10, f"took {seconds:.1f} s"
    assert len(re.findall(r"^epoch +\d+/40 ", result.stdout, re.M)) == 40


def test_console_script_is_installed():
    script = shutil.which("minigrad")
    assert script, "the minigrad console script is not on PATH (pip install -e .)"
    result = subprocess.run([script, "train", "--epochs", "1", "--no-progress"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert 0.5 < accuracy(result.stdout) <= 1


def test_small_budget_run_writes_its_outputs(capsys, tmp_path):
    status, out, _ = run(capsys, "train", "--epochs", "2", "--out", str(tmp_path))
    assert status == 0
    lines = out.strip().splitlines()
    assert lines[0].startswith("digits: 1438 training and 359 test samples")
    assert [line.split()[1] for line in lines if line.startswith("epoch ")] == ["1/2", "2/2"]
    acc = accuracy(out)
    model = mg.load(ckpt(tmp_path, "model.npz"))
    assert model["0.weight"].shape == (64, 256) and model["2.weight"].shape == (256, 10)
    history = json.loads(ckpt(tmp_path, "history.json").read_text())
    assert len(history["train_loss"]) == 2
    assert history["val_acc"][-1] == pytest.approx(acc, abs=5e-5)
    try:
        import matplotlib  # noqa: F401
        assert (tmp_path / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    except ImportError:
        assert "training.png skipped: matplotlib is not installed" in out
    config = json.loads(ckpt(tmp_path, "config.json").read_text())
    assert config["epochs"] == 2 and config["hidden"] == [256] and config["lr"] == 0.001


def test_same_seed_same_numbers_other_seed_other_numbers(capsys):
    args = ["train", "--epochs", "2", "--hidden", "16", "--dropout", "0.2"]
    _, first, _ = run(capsys, *args, "--seed", "3")
    _, second, _ = run(capsys, *args, "--seed", "3")
    _, third, _ = run(capsys, *args, "--seed", "4")
    assert numbers(first) == numbers(second)
    assert numbers(first) != numbers(third)


def test_resume_continues_bit_identically(capsys, tmp_path):
    args = ["train", "--hidden", "32,16", "--batchnorm", "--dropout", "0.1", "--optimizer",
            "momentum", "--weight-decay", "0.001", "--batch-size", "64", "--no-progress"]
    straight, half = tmp_path / "straight", tmp_path / "half"
    assert run(capsys, *args, "--epochs", "4", "--out", str(straight))[0] == 0
    assert run(capsys, *args, "--epochs", "2", "--out", str(half))[0] == 0
    status, out, _ = run(capsys, "train", "--resume", str(half), "--epochs", "4")
    assert status == 0 and "resumed after epoch 2" in out
    for name in ("model.npz", "optimizer.npz"):
        a, b = mg.load(ckpt(straight, name)), mg.load(ckpt(half, name))
        assert a.keys() == b.keys()
        for key in a:
            assert np.array_equal(a[key], b[key]), (name, key)
    h1, h2 = (json.loads(ckpt(d, "history.json").read_text()) for d in (straight, half))
    assert h1["train_loss"] == h2["train_loss"] and h1["val_acc"] == h2["val_acc"]
    assert ckpt(straight, "rng.json").read_text() == ckpt(half, "rng.json").read_text()


def test_resume_into_another_folder_and_with_nothing_left_to_do(capsys, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    run(capsys, "train", "--hidden", "8", "--epochs", "1", "--out", str(first))
    status, out, _ = run(capsys, "train", "--resume", str(first), "--epochs", "3", "--out",
                         str(second))
    assert status == 0 and f"--resume {second}" in out
    assert len(json.loads(ckpt(second, "history.json").read_text())["train_loss"]) == 3
    assert len(json.loads(ckpt(first, "history.json").read_text())["train_loss"]) == 1
    before = {path: (path.stat().st_mtime_ns, path.read_bytes())
              for path in sorted(second.rglob("*"), key=str) if path.is_file()}
    for epochs in ("2", "3"):                   # below and at the epochs already done
        status, out, err = run(capsys, "train", "--resume", str(second), "--epochs", epochs)
        assert status == 0 and err == ""
        assert out == (f"{second} already holds 3 epochs and --epochs {epochs} asks for no "
                       "more: nothing trained, nothing written (give --epochs above 3 to "
                       "continue)\n")
    after = {path: (path.stat().st_mtime_ns, path.read_bytes())
             for path in sorted(second.rglob("*"), key=str) if path.is_file()}
    assert after == before                      # config.json and the rest untouched


def test_a_damaged_checkpoint_gives_an_error(capsys, tmp_path):
    run(capsys, "train", "--hidden", "8", "--epochs", "1", "--out", str(tmp_path))
    ckpt(tmp_path, "optimizer.npz").write_bytes(b"not a checkpoint")
    status, _, err = run(capsys, "train", "--resume", str(tmp_path), "--epochs", "2")
    assert status == 1
    assert err.count("\n") == 1 and "optimizer.npz" in err and err.startswith("minigrad train:")


@pytest.mark.parametrize("argv, word", [
    (["--optimizer", "nesterov"], "--optimizer"),
    (["--lr", "-0.1"], "--lr"), (["--lr", "0"], "--lr"), (["--lr", "abc"], "--lr"),
    (["--hidden", "0"], "--hidden"), (["--hidden", "100,x"], "--hidden"),
    (["--hidden", ""], "--hidden"),
    (["--dropout", "1"], "--dropout"), (["--weight-decay", "-1"], "--weight-decay"),
    (["--epochs", "0"], "--epochs"), (["--batch-size", "-3"], "--batch-size"),
    (["--seed", "-1"], "--seed"), (["--init", "glorot"], "--init"),
    (["--dataset", "cifar"], "--dataset"), (["--activation", "softplus"], "--activation"),
    (["--unknown"], "unrecognized"), (["--resume", "somewhere", "--lr", "0.1"], "--resume"),
])
def test_bad_options_give_one_line_and_status_two(capsys, argv, word):
    status, out, err = run(capsys, "train", *argv)
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("minigrad train: error:") and word in err


def test_bad_options_through_python_m():
    result = subprocess.run([sys.executable, "-m", "minigrad", "train", "--lr", "-1"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1


def test_no_command_prints_help(capsys):
    status, out, _ = run(capsys)
    assert status == 2 and "train" in out


def test_spiral_dataset(capsys):
    status, out, _ = run(capsys, "train", "--dataset", "spiral", "--hidden", "32,32",
                         "--epochs", "30", "--lr", "0.01", "--no-progress")
    assert status == 0 and out.startswith("spiral: 300 training and 300 test samples of 2")
    assert accuracy(out) > 0.8


def test_mnist_from_a_prepared_cache_without_network(capsys, tmp_path):
    rng = np.random.default_rng(0)
    arrays = {"x_train": rng.integers(0, 256, (40, 28, 28), dtype=np.uint8),
              "y_train": np.arange(40, dtype=np.uint8) % 10,
              "x_test": rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
              "y_test": np.arange(10, dtype=np.uint8)}
    np.savez(tmp_path / "fashion.npz", **arrays)
    status, out, _ = run(capsys, "train", "--dataset", "fashion", "--data-root", str(tmp_path),
                         "--hidden", "8", "--epochs", "1", "--no-progress")
    assert status == 0 and out.startswith("fashion: 40 training and 10 test samples of 784")
    assert 0 <= accuracy(out) <= 1


def test_mnist_missing_offline_is_a_clear_error(capsys, tmp_path, monkeypatch):
    import minigrad.data.mnist as mnist
    monkeypatch.setitem(mnist.MIRRORS, "mnist", ("http://127.0.0.1:9/",))   # discard port
    status, _, err = run(capsys, "train", "--dataset", "mnist", "--data-root", str(tmp_path))
    assert status == 1 and "by hand" in err and str(tmp_path) in err
    assert err.count("\n") == 1 and err.startswith("minigrad train: error: load_mnist: could not")


def test_resume_from_a_missing_folder(capsys, tmp_path):
    status, _, err = run(capsys, "train", "--resume", str(tmp_path / "nowhere"))
    assert status == 1 and err.count("\n") == 1 and "checkpoint.json is missing" in err
    assert not (tmp_path / "nowhere").exists()


@pytest.mark.parametrize("every, saves", [(-1.0, 3), (3600.0, 1)])
def test_checkpoints_are_written_at_the_end_and_every_so_often(capsys, tmp_path, monkeypatch,
                                                                every, saves):
    import minigrad.__main__ as cli
    import minigrad.train as train
    calls = []
    real = train.save_checkpoint
    monkeypatch.setattr(cli, "CHECKPOINT_EVERY", every)
    monkeypatch.setattr(train, "save_checkpoint",
                        lambda folder, model, opt, history, *a: calls.append(len(history))
                        or real(folder, model, opt, history, *a))
    assert run(capsys, "train", "--hidden", "8", "--epochs", "3", "--out", str(tmp_path))[0] == 0
    assert calls == [1, 2, 3][-saves:]


def test_a_plain_sgd_run_resumes(capsys, tmp_path):
    """Plain SGD keeps no state arrays: its optimizer.npz is an empty archive, which must load."""
    args = ["train", "--hidden", "8", "--optimizer", "sgd", "--no-progress"]
    straight, half = tmp_path / "straight", tmp_path / "half"
    assert run(capsys, *args, "--epochs", "2", "--out", str(straight))[0] == 0
    assert run(capsys, *args, "--epochs", "1", "--out", str(half))[0] == 0
    status, out, err = run(capsys, "train", "--resume", str(half), "--epochs", "2")
    assert status == 0 and "resumed after epoch 1" in out, err
    a, b = mg.load(ckpt(straight, "model.npz")), mg.load(ckpt(half, "model.npz"))
    assert all(np.array_equal(a[key], b[key]) for key in a)


def rewrite(folder, name, text, rehash=True):
    """Replace a checkpoint file; with ``rehash``, update checkpoint.json to match, so that what
    is refused is refused for its content."""
    import hashlib
    (folder / name if name == "checkpoint.json" else ckpt(folder, name)).write_text(text)
    if rehash:
        manifest = json.loads((folder / "checkpoint.json").read_text())
        manifest["sha256"][name] = hashlib.sha256(ckpt(folder, name).read_bytes()).hexdigest()
        (folder / "checkpoint.json").write_text(json.dumps(manifest))


def config_with(folder, **changes):
    return json.dumps({**json.loads(ckpt(folder, "config.json").read_text()), **changes})


@pytest.mark.parametrize("rehash", [False, True])
@pytest.mark.parametrize("name, text, named", [
    ("config.json", lambda d: config_with(d, optimizer="nesterov"), "config.json"),
    ("config.json", lambda d: "[1]", "config.json"),
    ("config.json", lambda d: config_with(d, lr="x"), "config.json"),
    ("config.json", lambda d: config_with(d, hidden=[0]), "config.json"),
    ("config.json", lambda d: config_with(d, hidden=8), "config.json"),
    ("config.json", lambda d: config_with(d, init=1e300), "config.json"),
    ("config.json", lambda d: config_with(d, batchnorm="no"), "config.json"),
    ("config.json", lambda d: config_with(d, epochs=True), "config.json"),
    ("config.json", lambda d: config_with(d, colour="red"), "config.json"),
    # valid options, but not those the saved state was trained with
    ("config.json", lambda d: config_with(d, hidden=[9]), "optimizer.json and"),
    ("optimizer.json", lambda d: '{"a": 1}', "optimizer.json"),
    ("rng.json", lambda d: '{"bit_generator": "MT19937", "state": {}}', "rng.json"),
    ("history.json", lambda d: '{"train_loss": ["a"], "train_acc": [1], "val_acc": [1], '
                               '"epoch_time": [1]}', "history.json"),
    ("checkpoint.json", lambda d: "[]", "checkpoint.json is not a checkpoint manifest"),
])
def test_an_edited_or_malformed_checkpoint_gives_one_line_naming_the_file(
        capsys, tmp_path, rehash, name, text, named):
    run(capsys, "train", "--hidden", "8", "--epochs", "1", "--no-progress", "--out",
        str(tmp_path))
    rewrite(tmp_path, name, text(tmp_path), rehash and name != "checkpoint.json")
    status, out, err = run(capsys, "train", "--resume", str(tmp_path), "--epochs", "2")
    assert status == 1 and out == "", err
    assert err.count("\n") == 1 and err.startswith("minigrad train: error: load_checkpoint:")
    if rehash or name == "checkpoint.json":
        assert named in err
    else:
        assert f"{name} does not match checkpoint.json" in err


def test_an_edited_config_is_refused_before_any_download(capsys, tmp_path, monkeypatch):
    import minigrad.data as data

    def no_download(*args, **kwargs):
        raise AssertionError("the data set was loaded before the checkpoint was checked")

    run(capsys, "train", "--hidden", "8", "--epochs", "1", "--no-progress", "--out",
        str(tmp_path))
    rewrite(tmp_path, "config.json", config_with(tmp_path, dataset="mnist"), rehash=False)
    monkeypatch.setattr(data, "load_mnist", no_download)
    status, _, err = run(capsys, "train", "--resume", str(tmp_path), "--epochs", "2")
    assert status == 1 and "config.json does not match checkpoint.json" in err


def test_out_naming_a_file_fails_before_training(capsys, tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("keep me")
    status, out, err = run(capsys, "train", "--epochs", "3", "--out", str(afile))
    assert status == 1 and out == ""                  # no epoch was trained
    assert err == f"minigrad train: error: --out '{afile}' is a file, not a folder\n"
    assert afile.read_text() == "keep me"
    status, out, err = run(capsys, "train", "--epochs", "3", "--out", str(afile / "sub"))
    assert status == 1 and out == "" and err.count("\n") == 1
    assert err.startswith(f"minigrad train: error: --out '{afile / 'sub'}': cannot write there")


@pytest.mark.parametrize("std", ["inf", "1e300", "nan", "-inf", "1e-50", "3.5e38", "0"])
def test_an_init_std_that_float32_cannot_hold_is_a_bad_option(capsys, std):
    status, out, err = run(capsys, "train", f"--init={std}")
    assert status == 2 and out == ""
    assert err.count("\n") == 1 and "--init" in err and "float32" in err


def test_a_std_float32_can_hold_is_accepted(capsys):
    status, out, _ = run(capsys, "train", "--init", "0.05", "--hidden", "8", "--epochs", "1",
                         "--no-progress")
    assert status == 0 and "init 0.05" in out


@pytest.mark.parametrize("option", [["--lr", "1e300"], ["--weight-decay", "1e300"]])
def test_a_run_whose_loss_overflows_stops_with_one_line(capsys, option):
    status, out, err = run(capsys, "train", "--hidden", "8", "--epochs", "2", "--no-progress",
                           *option)
    assert status == 1 and "test accuracy" not in out
    assert err.count("\n") == 1, err                  # no NumPy warnings, no traceback
    assert re.match(r"minigrad train: error: fit: the training loss became (nan|inf) at epoch "
                    r"\d+, batch \d+; .*lower learning rate", err)


# -- Ctrl-C ----------------------------------------------------------------------------------
@pytest.mark.skipif(not hasattr(signal, "SIGINT") or sys.platform == "win32",
                    reason="needs POSIX signals")
def test_ctrl_c_checkpoints_the_last_whole_epoch_and_exits_130(capsys, tmp_path):
    out, straight = tmp_path / "run", tmp_path / "straight"
    args = ["--hidden", "8", "--dropout", "0.1", "--batch-size", "64"]
    child = subprocess.Popen([sys.executable, "-m", "minigrad", "train", *args, "--epochs",
                              "100000", "--out", str(out)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        for line in child.stdout:                    # the marker: epoch 3's line
            if line.startswith("epoch") and line.split()[1].startswith("3/"):
                break
        child.send_signal(signal.SIGINT)
        stdout, stderr = child.communicate(timeout=60)
    finally:
        child.kill()
        child.wait(timeout=30)
    assert child.returncode == 130, stderr
    match = re.fullmatch(rf"interrupted after epoch (\d+); continue with --resume "
                         rf"{re.escape(str(out))}\n", stderr)
    assert match, stderr
    done = int(match.group(1))
    # epoch 3's line is printed just before fit's callbacks keep its state, so a signal
    # landing in between goes back to epoch 2; either way a whole epoch
    assert done >= 2 and "Traceback" not in stdout + stderr
    history = json.loads(ckpt(out, "history.json").read_text())
    assert len(history["train_loss"]) == len(history["val_acc"]) == done
    # what was saved is the state after epoch `done`: resuming gives the uninterrupted run
    assert run(capsys, "train", "--resume", str(out), "--epochs", str(done + 1))[0] == 0
    assert run(capsys, "train", *args, "--epochs", str(done + 1), "--out", str(straight))[0] == 0
    a, b = mg.load(ckpt(straight, "model.npz")), mg.load(ckpt(out, "model.npz"))
    assert all(np.array_equal(a[key], b[key]) for key in a)
    assert [name for name in os.listdir(out) if name.startswith(".tmp-")] == []


@pytest.mark.parametrize("interrupt_at", ["a step", "the dataset"])
def test_ctrl_c_in_process_is_one_line_and_130(capsys, tmp_path, monkeypatch, interrupt_at):
    import minigrad.__main__ as cli
    import minigrad.optim as optim_module
    if interrupt_at == "a step":
        real_step, steps = optim_module.Adam.step, []

        def step(self):
            steps.append(1)
            if len(steps) == 100:                    # in epoch 3 (45 steps per epoch)
                raise KeyboardInterrupt
            real_step(self)

        monkeypatch.setattr(optim_module.Adam, "step", step)
        expected = f"interrupted after epoch 2; continue with --resume {tmp_path}\n"
    else:
        def load_dataset(*args):
            raise KeyboardInterrupt

        monkeypatch.setattr(cli, "load_dataset", load_dataset)
        expected = "minigrad train: interrupted\n"
    status, _, err = run(capsys, "train", "--epochs", "5", "--out", str(tmp_path))
    assert status == 130 and err == expected
    if interrupt_at == "a step":
        assert len(json.loads(ckpt(tmp_path, "history.json").read_text())["train_loss"]) == 2


def test_a_second_run_into_the_same_folder_is_refused_at_once(capsys, tmp_path):
    from minigrad._files import folder_lock
    with folder_lock(str(tmp_path), "test", ".run.lock"):       # as a run in progress holds it
        status, out, err = run(capsys, "train", "--epochs", "1", "--out", str(tmp_path))
    assert status == 1 and out == "" and err.count("\n") == 1
    assert f"another process is saving into {tmp_path}" in err
    assert not (tmp_path / "checkpoint.json").exists()
    assert run(capsys, "train", "--epochs", "1", "--out", str(tmp_path))[0] == 0
