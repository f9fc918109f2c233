"""nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d and the SimpleConvNet builder: settings, initial
weights, check_layer, errors naming the layer, saving and PyTorch."""
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad import nn, optim
from minigrad.testing import check_layer


# -- Conv2d ----------------------------------------------------------------------------------
def test_conv2d_parameters_and_he_initialisation():
    mg.manual_seed(0)
    conv = nn.Conv2d(8, 64, 3)
    assert conv.weight.shape == (64, 8, 3, 3) and conv.weight.dtype == np.float32
    assert conv.kernel_size == (3, 3) and conv.stride == (1, 1) and conv.padding == (0, 0)
    np.testing.assert_array_equal(conv.bias.data, np.zeros(64, np.float32))
    fan_in = 8 * 3 * 3                                   # inputs of each output value
    assert abs(conv.weight.data.std() / np.sqrt(2 / fan_in) - 1) < 0.05
    assert abs(nn.Conv2d(8, 64, 3, init="xavier").weight.data.std() /
               np.sqrt(1 / fan_in) - 1) < 0.05
    assert abs(nn.Conv2d(8, 64, 3, init=0.01).weight.data.std() / 0.01 - 1) < 0.05
    assert nn.Conv2d(1, 2, (2, 3), bias=False).bias is None
    assert [name for name, _ in nn.Conv2d(1, 2, 3).named_parameters()] == ["weight", "bias"]
    assert repr(nn.Conv2d(1, 2, 3, stride=2, padding=1)) == \
        "Conv2d(1, 2, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), bias=True)"


def test_conv2d_forward_is_f_conv2d_with_its_settings():
    conv = nn.Conv2d(2, 3, (3, 2), stride=(2, 1), padding=1, dtype=np.float64)
    x = mg.tensor(np.random.default_rng(0).standard_normal((2, 2, 6, 5)))
    np.testing.assert_array_equal(conv(x).data, F.conv2d(x, conv.weight, conv.bias, (2, 1),
                                                         1).data)


@pytest.mark.parametrize("layer, shape", [
    (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
    (lambda: nn.Conv2d(2, 2, (2, 3), stride=(2, 1), bias=False), (2, 2, 5, 6)),
    (lambda: nn.Conv2d(1, 2, 4, stride=3, padding=3), (1, 1, 4, 4)),
    (lambda: nn.MaxPool2d(2), (2, 3, 4, 5)),
    (lambda: nn.MaxPool2d(3, stride=1, padding=1), (1, 2, 4, 4)),
    (lambda: nn.AvgPool2d(2), (2, 3, 4, 5)),
    (lambda: nn.AvgPool2d((3, 2), stride=(1, 3), padding=(1, 1)), (1, 2, 4, 5)),
])
def test_check_layer_passes_the_new_layers(layer, shape):
    mg.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")              # no kinks hit, no vacuous pass
        report = check_layer(layer(), shape)
    assert "float32 in gives float32 out and float32 gradients" in report.checks
    names = [g.name for g in report.gradients]
    layer_params = [n for n, _ in layer().named_parameters()]
    assert names == ["input", *layer_params] and report.gradients[0].max_gradient > 0.1


def test_check_layer_catches_a_wrong_conv_backward():
    class Sloppy(F.conv.Conv2d):                   # forgets the bias gradient's sum over N
        def backward(self, gy):
            gx, gw, gb = super().backward(gy)
            return gx, gw, gy[0].sum(axis=(1, 2))

    class SloppyConv(nn.Conv2d):
        def forward(self, x):
            return Sloppy.apply(x, self.weight, self.bias, stride=(1, 1), padding=(0, 0))

    with pytest.raises(mg.GradcheckError, match="bias"):
        check_layer(SloppyConv(1, 2, 2), (3, 1, 4, 4))


@pytest.mark.parametrize("build, message", [
    (lambda: nn.Conv2d(0, 2, 3), "Conv2d: in_channels must be a positive integer, got 0"),
    (lambda: nn.Conv2d(1, 2.5, 3), "Conv2d: out_channels must be a positive integer"),
    (lambda: nn.Conv2d(1, 2, 0), r"Conv2d: kernel_size must be a positive integer or a pair "
                                 r"of them, got 0"),
    (lambda: nn.Conv2d(1, 2, 3, stride=0), "Conv2d: stride must be a positive integer"),
    (lambda: nn.Conv2d(1, 2, 3, padding=-1), "Conv2d: padding must be a non-negative"),
    (lambda: nn.Conv2d(1, 2, 3, init="lecun"), "Conv2d: init must be 'he', 'xavier'"),
    (lambda: nn.MaxPool2d(2, padding=2), r"MaxPool2d: padding \(2, 2\) must be at most half "
                                         r"the kernel size \(2, 2\)"),
    (lambda: nn.AvgPool2d((2, 2, 2)), "AvgPool2d: kernel_size must be a positive integer or a "
                                      "pair of them, got \\(2, 2, 2\\)"),
    (lambda: nn.AvgPool2d(2, stride=-1), "AvgPool2d: stride must be a positive integer"),
])
def test_bad_settings_name_the_layer(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize("layer, x, message", [
    (nn.Conv2d(3, 4, 3), np.zeros((2, 2, 5, 5), np.float32),
     r"Conv2d: the input of shape \(2, 2, 5, 5\) has 2 channels, but the weight of shape "
     r"\(4, 3, 3, 3\) expects 3"),
    (nn.Conv2d(3, 4, 3), np.zeros((3, 5, 5), np.float32),
     r"Conv2d: expected an input of shape \(N, C, H, W\), got shape \(3, 5, 5\)"),
    (nn.Conv2d(3, 4, 7, padding=1), np.zeros((2, 3, 4, 5), np.float32),
     r"Conv2d: the kernel \(7, 7\) is larger than the padded input \(6, 7\)"),
    (nn.MaxPool2d(5), np.zeros((1, 1, 4, 8), np.float32),
     r"MaxPool2d: the kernel \(5, 5\) is larger than the padded input \(4, 8\)"),
    (nn.AvgPool2d(2), np.zeros((4, 8), np.float32),
     r"AvgPool2d: expected an input of shape \(N, C, H, W\)"),
])
def test_bad_inputs_name_the_layer_and_the_shapes(layer, x, message):
    with pytest.raises(ValueError, match=message):
        layer(mg.tensor(x))


def test_a_float64_input_to_a_float32_conv_is_a_type_error():
    with pytest.raises(TypeError, match="Conv2d: the input has dtype float64 but the weight "
                                        "has dtype float32"):
        nn.Conv2d(1, 1, 2)(mg.tensor(np.zeros((1, 1, 3, 3))))


# -- SimpleConvNet ---------------------------------------------------------------------------
def test_simple_conv_net_is_the_books_network():
    net = nn.SimpleConvNet()
    kinds = [type(m).__name__ for m in net]
    assert kinds == ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"]
    assert net[0].weight.shape == (30, 1, 5, 5)
    assert net[4].weight.shape == (30 * 12 * 12, 100) and net[6].weight.shape == (100, 10)
    assert net.weighted == [net[0], net[4], net[6]]
    small = nn.SimpleConvNet((1, 8, 8), filter_num=4, filter_size=3, pad=1, hidden_size=6,
                             output_size=3, dtype=np.float64)
    assert small[4].weight.shape == (4 * 4 * 4, 6)
    x = mg.tensor(np.random.default_rng(0).standard_normal((5, 1, 8, 8)))
    assert small(x).shape == (5, 3) and small(x).dtype == np.float64


def test_simple_conv_net_learns_a_batch_and_saves(tmp_path):
    mg.manual_seed(0)
    net = nn.SimpleConvNet((1, 6, 6), filter_num=3, filter_size=3, hidden_size=8,
                           output_size=2)
    rng = np.random.default_rng(0)
    x = mg.tensor(rng.standard_normal((8, 1, 6, 6)), dtype=np.float32)
    t = rng.integers(0, 2, 8)
    optimizer = optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        optimizer.zero_grad()
        loss = nn.SoftmaxCrossEntropy()(net(x), t)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    mg.save(net.state_dict(), tmp_path / "net.npz")
    again = nn.SimpleConvNet((1, 6, 6), filter_num=3, filter_size=3, hidden_size=8,
                             output_size=2)
    again.load_state_dict(mg.load(tmp_path / "net.npz"))
    np.testing.assert_array_equal(again(x).data, net(x).data)


@pytest.mark.parametrize("build, message", [
    (lambda: nn.SimpleConvNet((28, 28)), r"SimpleConvNet: input_dim must be \(channels, "
                                         r"height, width\), got \(28, 28\)"),
    (lambda: nn.SimpleConvNet((1, 0, 28)), "SimpleConvNet: input_dim height must be a "
                                           "positive integer, got 0"),
    (lambda: nn.SimpleConvNet((1, 4, 4)), r"SimpleConvNet: the window \(5, 5\) of the "
                                          r"convolution does not fit its input of size "
                                          r"\(4, 4\)"),
    (lambda: nn.SimpleConvNet((1, 5, 5)), r"SimpleConvNet: the window \(2, 2\) of the pooling "
                                          r"does not fit its input of size \(1, 1\)"),
    (lambda: nn.SimpleConvNet(filter_num=0), "Conv2d: out_channels must be a positive"),
])
def test_simple_conv_net_refuses_bad_settings(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_conv_layers_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    ours = nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(1, 0), dtype=np.float64)
    theirs = torch.nn.Conv2d(2, 3, (3, 2), stride=(1, 2), padding=(1, 0), dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.from_numpy(ours.weight.data))
        theirs.bias.copy_(torch.from_numpy(rng.standard_normal(3)))
    ours.bias.data[...] = theirs.bias.detach().numpy()
    x = rng.standard_normal((2, 2, 5, 6))
    for mine, their in [(ours, theirs), (nn.MaxPool2d(3, 2, 1), torch.nn.MaxPool2d(3, 2, 1)),
                        (nn.AvgPool2d(2), torch.nn.AvgPool2d(2))]:
        xm, xt = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ym, yt = mine(xm), their(xt)
        g = rng.standard_normal(ym.shape)
        ym.backward(mg.tensor(g))
        yt.backward(torch.from_numpy(g))
        np.testing.assert_allclose(ym.data, yt.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(xm.grad.data, xt.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-10)
