"""Convolution and pooling exported to ONNX: ONNX Runtime gives what minigrad gives (float32:
ONNX Runtime's CPU Conv, MaxPool and AveragePool have no float64 kernels, so a float64 file is
only checked by ONNX's own checker)."""
import os
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad import nn
from minigrad.__main__ import main
from minigrad.onnx import export

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def onnx_runtime_matches(model, path, shape, batch_sizes=(1, 3, 5)):
    """ONNX's full check passes and ONNX Runtime's outputs equal minigrad's (float32)."""
    onnx.checker.check_model(onnx.load(os.fspath(path)), full_check=True)
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    for n in batch_sizes:
        x = np.random.default_rng(n).standard_normal((n, *shape)).astype(np.float32)
        with mg.no_grad():
            expected = model(mg.tensor(x)).data
        got, = session.run(None, {"input": x})
        assert got.shape == expected.shape and got.dtype == np.float32
        assert np.abs(got - expected).max() <= 1e-5 * max(1.0, np.abs(expected).max())


@pytest.mark.parametrize("conv, pools, shape", [
    (nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=(1, 0)),
     [nn.MaxPool2d(3, 2, 1), nn.AvgPool2d(2, 1, 1)], (2, 9, 7)),
    (nn.Conv2d(1, 4, 3, padding=2, bias=False), [nn.AvgPool2d((2, 3))], (1, 5, 6)),
    (nn.Conv2d(3, 2, 1, stride=3), [nn.MaxPool2d(2)], (3, 8, 8)),
])
def test_conv_and_pooling_round_trip(tmp_path, conv, pools, shape):
    mg.manual_seed(0)
    model = nn.Sequential(conv, nn.ReLU(), *pools).eval()
    path = tmp_path / "conv.onnx"
    export(model, np.zeros((2, *shape), np.float32), path)
    onnx_runtime_matches(model, path, shape)


def test_simple_conv_net_round_trips_and_float64_passes_the_checker(tmp_path):
    mg.manual_seed(0)
    model = nn.SimpleConvNet((1, 12, 12), filter_num=4, filter_size=3, hidden_size=8).eval()
    export(model, np.zeros((2, 1, 12, 12), np.float32), tmp_path / "net.onnx")
    onnx_runtime_matches(model, tmp_path / "net.onnx", (1, 12, 12))
    export(model.double(), np.zeros((2, 1, 12, 12)), tmp_path / "net64.onnx")
    onnx.checker.check_model(onnx.load(os.fspath(tmp_path / "net64.onnx")), full_check=True)


def test_the_cnn_of_minigrad_train_exports_with_its_test_accuracy(capsys, tmp_path):
    from minigrad.data import load_digits
    path = tmp_path / "cnn.onnx"
    assert main(["train", "--model", "cnn", "--hidden", "32", "--epochs", "2", "--no-progress",
                 "--export", str(path)]) == 0
    out = capsys.readouterr().out
    assert "input 'input' of shape (batch, 1, 8, 8)" in out
    printed = float(re.search(r"^test accuracy: (\d\.\d{4})$", out, re.M).group(1))
    _, (x_test, y_test) = load_digits()
    session = ort.InferenceSession(os.fspath(path), providers=["CPUExecutionProvider"])
    logits, = session.run(None, {"input": x_test.reshape(-1, 1, 8, 8)})
    assert round(printed * len(y_test)) == int((logits.argmax(axis=1) == y_test).sum())
