"""Every chapter-6 example runs in --quick mode into a temporary folder and prints its numbers."""
import os
import re
import struct
import subprocess
import sys
import zlib

import pytest

EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples")

try:
    import matplotlib  # noqa: F401
    HAVE_MATPLOTLIB = True
except ImportError:
    HAVE_MATPLOTLIB = False

ACC = r"(0\.\d{4}|1\.0000)"
EXPECTED = {    # example -> lines its output must contain (regular expressions)
    "optimizer_compare": [rf"^  {name} +final loss \d+\.\d{{4}}  test accuracy {ACC}$"
                          for name in ("SGD", "Momentum", "AdaGrad", "RMSprop", "Adam")],
    "weight_init_compare": [rf"^  {name} +first loss \d\.\d{{4}}  final loss \d+\.\d{{4}}  "
                            rf"test accuracy {ACC}$" for name in ("std=0.01", "Xavier", "He")],
    "activation_histograms": [rf"^  {act} +{init} +(\d+\.\d{{3}}/\d\.\d\d/\d\.\d\d  ){{4}}"
                              for act in ("sigmoid", "tanh", "relu")
                              for init in ("std=1", "std=0.01", "Xavier", "He")],
    "batchnorm_compare": [rf"^  w = {w}: with BatchNorm {ACC}.*  without {ACC}"
                          for w in ("1.00e\\+00", "4.64e-02", "2.15e-03", "1.00e-04")],
    "overfitting": [rf"^  {label} +8 epochs: train accuracy {ACC}  test accuracy {ACC}  gap "
                    for label in ("no regularisation", "weight decay λ=0.1", "dropout p=0.2")],
    "hyperparameter_search": [rf"^  best-{rank} +val acc {ACC}  lr \d\.\d{{3}}e-0[2-6]  "
                              rf"weight decay \d\.\d{{3}}e-0[4-8]$" for rank in range(1, 5)]
    + [rf"^trial {i}/4: lr \d\.\d{{3}}e-0[2-6]  weight decay \d\.\d{{3}}e-0[4-8]  val acc {ACC}$"
       for i in range(1, 5)],                 # progress without a terminal: a line per trial
    "optimizer_paths": [rf"^{name} +final \([+-]\d\.\d{{6}}, [+-]\d\.\d{{6}}\)  f = \d\.\d{{6}}$"
                        for name in ("SGD", "Momentum", "AdaGrad", "RMSprop", "Adam")],
}
NOT_QUICK = {"backprop_by_hand", "custom_layer", "graph"}   # already take a second or less


def png_size_and_dpi(path):
    """(width, height) in pixels and the dots per inch of the pHYs chunk (None without one)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    at, dpi = 8, None
    while at < len(data):
        length, kind = struct.unpack(">I4s", data[at:at + 8])
        body = data[at + 8:at + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[at + 8 + length:
                                                                   at + 12 + length])[0]
        if kind == b"pHYs":
            x_per_metre, y_per_metre, unit = struct.unpack(">IIB", body)
            assert unit == 1 and x_per_metre == y_per_metre
            dpi = x_per_metre * 0.0254
        at += 12 + length
    return (width, height), dpi


def run_example(name, out, *extra, cwd=None):
    if name == "optimizer_compare" and "--data-root" not in extra:
        extra = (*extra, "--data-root", str(out) + "-no-mnist")   # not the user's MNIST cache
    env = {**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"}
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, f"{name}.py"), str(out),
                             "--quick", *extra], capture_output=True, text=True, timeout=300,
                            env=env, cwd=cwd)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""                 # no warnings leak out
    return result.stdout


def test_every_example_but_three_takes_quick():
    names = sorted(f[:-3] for f in os.listdir(EXAMPLES)
                   if f.endswith(".py") and not f.startswith("_"))
    assert set(EXPECTED) == set(names) - NOT_QUICK          # and the quick run test runs them
    for name in NOT_QUICK:
        assert name in names


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_quick_run(name, tmp_path):
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    out = run_example(name, tmp_path / "figures", cwd=cwd)
    for pattern in EXPECTED[name]:
        assert re.search(pattern, out, re.M), f"{pattern!r} not in:\n{out}"
    png = tmp_path / "figures" / f"{name}.png"
    # it writes into the folder it is given and nowhere else
    assert list(cwd.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cwd", "figures"]
    if HAVE_MATPLOTLIB:
        assert [p.name for p in png.parent.iterdir()] == [png.name]
        (width, height), dpi = png_size_and_dpi(png)
        assert dpi is not None and dpi >= 99.99               # 100 dpi is 3937 dots per metre
        assert width >= 500 and height >= 300
        assert f"wrote {png}" in out
    else:
        assert not png.exists() and list(png.parent.iterdir()) == []
        assert f'{name}.png skipped: matplotlib is not installed (pip install "minigrad[plot]")' \
            in out


def test_a_figure_without_titles_labels_or_legend_is_refused(tmp_path):
    pytest.importorskip("matplotlib")
    sys.path.insert(0, EXAMPLES)
    try:
        import _book
    finally:
        sys.path.remove(EXAMPLES)

    def bare(plt):
        fig, axes = plt.subplots(1, 2, sharey=True)
        axes[0].plot([1, 2], [3, 4], label="a")
        axes[0].plot([1, 2], [4, 3], label="b")
        axes[1].plot([1, 2], [1, 2])
        axes[1].set(title="right", xlabel="step")
        return fig
    with pytest.raises(ValueError, match=r"^bare\.png: panel 1 has no title; panel 1 has no x "
                                         r"label; panel 1 has no y label; 'right' has no y "
                                         r"label; 2 named curves but no legend$"):
        _book.figure(str(tmp_path), "bare", bare)
    assert list(tmp_path.iterdir()) == []

    def labelled(plt):
        fig = bare(plt)
        fig.axes[0].set(title="left", xlabel="step", ylabel="loss")   # shared y: one label
        fig.axes[0].legend()
        return fig
    _book.figure(str(tmp_path), "labelled", labelled)
    assert png_size_and_dpi(tmp_path / "labelled.png")[1] >= 99.99


def test_examples_repeat_with_the_same_seed(tmp_path):
    first = run_example("overfitting", tmp_path / "a", "--seed", "3")
    second = run_example("overfitting", tmp_path / "b", "--seed", "3")
    strip = lambda text: re.sub(r"wrote .*", "", text)  # noqa: E731
    assert strip(first) == strip(second)


def test_optimizer_compare_also_runs_on_mnist_when_it_is_cached(tmp_path):
    import numpy as np
    rng = np.random.default_rng(0)
    root = tmp_path / "cache"
    root.mkdir()
    np.savez(root / "mnist.npz", x_train=rng.integers(0, 256, (300, 28, 28), dtype=np.uint8),
             y_train=np.arange(300, dtype=np.uint8) % 10,
             x_test=rng.integers(0, 256, (50, 28, 28), dtype=np.uint8),
             y_test=np.arange(50, dtype=np.uint8) % 10)
    out = run_example("optimizer_compare", tmp_path / "figures", "--data-root", str(root))
    assert "MNIST: 300 training images, batch 128, 20 steps" in out
    assert len(re.findall(rf"^  Adam +final loss \d+\.\d{{4}}  test accuracy {ACC}$", out,
                          re.M)) == 2


def test_the_docs_brokenlayernorm_message_is_what_the_example_prints():
    doc = open(os.path.join(os.path.dirname(EXAMPLES), "docs", "checking.md"),
               encoding="utf-8").read()
    block = re.search(r"```\n(check_layer: BrokenLayerNorm: .*?)```", doc, re.S).group(1)
    printed = subprocess.run([sys.executable, os.path.join(EXAMPLES, "custom_layer.py")],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    assert block.strip() in printed
