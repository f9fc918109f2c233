"""``minigrad check`` on a user's own convolution layers: a correct one passes, one with a
wrong backward fails with exit status 1."""
import pytest

from minigrad.__main__ import main

LAYERS = '''
import numpy as np
import minigrad as mg
from minigrad import functional as F
from minigrad import nn


class SeparableConv(nn.Module):
    """A depthwise 3x3 convolution per channel, then a 1x1 convolution mixing channels."""

    def __init__(self, channels=2, out_channels=3):
        super().__init__()
        self.depthwise = nn.ModuleList([nn.Conv2d(1, 1, 3, padding=1)
                                        for _ in range(channels)])
        self.pointwise = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x):
        parts = [conv(x[:, c:c + 1]) for c, conv in enumerate(self.depthwise)]
        return self.pointwise(F.relu(F.concatenate(parts, axis=1)) + x)


class FlippedConv(mg.Function):
    """y = conv2d(x, W) with a fixed 2x2 kernel; its backward forgets to flip the kernel."""

    kernel = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])

    def forward(self, x):
        return F.conv2d(mg.tensor(x), mg.tensor(self.kernel.astype(x.dtype))).data

    def backward(self, gy):
        padded = F.conv2d(gy, mg.tensor(self.kernel.astype(gy.dtype)), padding=1)
        return padded                   # bug: a transposed convolution flips the kernel
'''


@pytest.fixture
def layers(tmp_path):
    path = tmp_path / "my_conv.py"
    path.write_text(LAYERS)
    return str(path)


def test_a_users_conv_layer_passes(capsys, layers):
    status = main(["check", f"{layers}:SeparableConv", "--input-shape", "2,2,5,4"])
    out, err = capsys.readouterr()
    assert (status, err) == (0, ""), out
    assert out.startswith("check_layer: SeparableConv passed on an input of shape (2, 2, 5, 4)")
    for name in ("depthwise.0.weight", "depthwise.1.bias", "pointwise.weight"):
        assert name in out


def test_a_users_conv_with_a_wrong_backward_fails(capsys, layers):
    status = main(["check", f"{layers}:FlippedConv", "--input-shape", "2,1,4,4"])
    out, _ = capsys.readouterr()
    assert status == 1
    assert out.startswith("FAILED check_layer: FlippedConv: the gradient of the input")


def test_the_library_layers_are_checked_by_name(capsys):
    status = main(["check", "minigrad.nn:MaxPool2d", "--input-shape", "2,2,4,4"])
    assert status == 2                          # needs kernel_size: usage
    status = main(["check", "minigrad.functional.conv:MaxPool2d", "--input-shape", "2,2,4,4"])
    out, _ = capsys.readouterr()
    assert status == 0 and "MaxPool2d passed" in out
