"""Every chapter-6 example runs in --quick mode into a temporary folder and prints its numbers."""
import os
import re
import subprocess
import sys

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
                              rf"weight decay \d\.\d{{3}}e-0[4-8]$" for rank in range(1, 5)],
}


def run_example(name, out, *extra):
    if name == "optimizer_compare" and "--data-root" not in extra:
        extra = (*extra, "--data-root", str(out) + "-no-mnist")   # not the user's MNIST cache
    env = {**os.environ, "PYTHONWARNINGS": "error::RuntimeWarning"}
    result = subprocess.run([sys.executable, os.path.join(EXAMPLES, f"{name}.py"), str(out),
                             "--quick", *extra], capture_output=True, text=True, timeout=300,
                            env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""                 # no warnings leak out
    return result.stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_quick_run(name, tmp_path):
    out = run_example(name, tmp_path / "figures")
    for pattern in EXPECTED[name]:
        assert re.search(pattern, out, re.M), f"{pattern!r} not in:\n{out}"
    png = tmp_path / "figures" / f"{name}.png"
    if HAVE_MATPLOTLIB:
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"wrote {png}" in out
    else:
        assert not png.exists() and f"{name}.png skipped: matplotlib is not installed" in out


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


def test_the_readmes_brokenlayernorm_message_is_what_the_example_prints():
    readme = open(os.path.join(os.path.dirname(EXAMPLES), "README.md"), encoding="utf-8").read()
    block = re.search(r"```\n(check_layer: BrokenLayerNorm: .*?)```", readme, re.S).group(1)
    printed = subprocess.run([sys.executable, os.path.join(EXAMPLES, "custom_layer.py")],
                             capture_output=True, text=True, timeout=120, check=True).stdout
    assert block.strip() in printed
