"""``minigrad train --model cnn``: the book's SimpleConvNet on the digits as images."""
import re
import time

import pytest

from minigrad.__main__ import main
from minigrad.train import read_checkpoint


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def accuracy(out):
    match = re.match(r"^test accuracy: (\d\.\d{4})$", out.strip().splitlines()[-1])
    assert match, out
    return float(match.group(1))


def test_the_cnn_reaches_the_promised_accuracy_within_thirty_seconds(capsys):
    start = time.perf_counter()
    status, out, err = run(capsys, "train", "--model", "cnn", "--no-progress")
    seconds = time.perf_counter() - start
    assert status == 0, err
    assert "SimpleConvNet 1x8x8-conv30x3x3-pool2-256-10 (relu, init he)" in out
    assert accuracy(out) >= 0.985
    assert seconds < 30, f"took {seconds:.1f} s"


def test_the_mlp_stays_the_default(capsys):
    status, out, _ = run(capsys, "train", "--epochs", "1", "--no-progress")
    assert status == 0 and "\nMLP 64-256-10 (relu" in out


def test_a_cnn_run_resumes_as_a_cnn(capsys, tmp_path):
    status, out, _ = run(capsys, "train", "--model", "cnn", "--hidden", "32", "--epochs", "1",
                         "--no-progress", "--out", str(tmp_path))
    assert status == 0
    assert read_checkpoint(str(tmp_path))["config.json"]["model"] == "cnn"
    status, out, err = run(capsys, "train", "--resume", str(tmp_path), "--epochs", "2",
                           "--no-progress")
    assert status == 0, err
    assert "SimpleConvNet 1x8x8-conv30x3x3-pool2-32-10" in out and "resumed after epoch 1" in out
    assert 0.5 < accuracy(out) <= 1


@pytest.mark.parametrize("options, message", [
    (["--dataset", "spiral"], "--model cnn needs images (digits, mnist or fashion)"),
    (["--hidden", "64,32"], "--model cnn has one hidden layer: give --hidden one size, got "
                            "64,32"),
    (["--dropout", "0.2"], "--dropout is for --model mlp"),
    (["--batchnorm"], "--batchnorm is for --model mlp"),
    (["--activation", "tanh"], "--activation is for --model mlp"),
])
def test_options_the_cnn_cannot_honour_are_usage_errors(capsys, options, message):
    status, out, err = run(capsys, "train", "--model", "cnn", *options)
    assert status == 2 and out == ""
    assert err.startswith("minigrad train: error: ") and message in err


def test_an_unknown_model_is_refused(capsys):
    status, _, err = run(capsys, "train", "--model", "resnet")
    assert status == 2 and "invalid choice: 'resnet'" in err
