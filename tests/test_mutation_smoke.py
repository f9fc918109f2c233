"""Mutation smoke test (slow, not in the default run): the suite kills classic mutants of an op.

Each mutant is one small change a person could make to an op's backward (a flipped sign, a
dropped factor, an ignored upstream gradient, a swapped operator, a wrong constant, a moved
boundary). The test copies the package and the op's tests to a temporary folder, applies the
mutant to the copy (the real files are never touched), runs the op's tests there and asserts
that they fail; the unmutated copy must pass first, so a failure is the mutant's doing.

Run it with ``pytest -m slow tests/test_mutation_smoke.py`` (``setup.cfg`` deselects the
``slow`` marker by default). For a full mutation study, see docs/checking.md,
"Mutation testing".
"""
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

ROOT = pathlib.Path(__file__).resolve().parents[1]
OP_FILE = "minigrad/functional/elementwise.py"
OP_TESTS = "tests/functional/test_elementwise.py"

# (name, text in OP_FILE, its mutant)
MUTANTS = [
    ("tanh: sign flipped", "return gy * (1 - y * y)", "return gy * (1 + y * y)"),
    ("sigmoid: factor dropped", "return gy * y * (1 - y)", "return gy * y"),
    ("exp: upstream gradient ignored", "return gy * self.output", "return self.output"),
    ("log: operator swapped", "return gy / self.inputs[0]", "return gy * self.inputs[0]"),
    ("sqrt: wrong constant", "return gy / (2 * self.output)", "return gy / (3 * self.output)"),
    ("relu: boundary moved", "self.inputs[0].data > 0)", "self.inputs[0].data >= 0)"),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    """A copy of the package, the op's tests and the pytest settings."""
    root = tmp_path_factory.mktemp("mutation")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "minigrad", root / "minigrad", ignore=ignore)
    (root / "tests").mkdir()
    shutil.copy(ROOT / "tests" / "conftest.py", root / "tests" / "conftest.py")
    shutil.copytree(ROOT / "tests" / "functional", root / "tests" / "functional", ignore=ignore)
    shutil.copy(ROOT / "setup.cfg", root / "setup.cfg")
    return root


def _run_tests(root: pathlib.Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(root), HYPOTHESIS_PROFILE="ci")
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
                           OP_TESTS], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)


def test_the_unmutated_copy_passes(workspace):
    result = _run_tests(workspace)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.mark.parametrize("name, original, mutant", MUTANTS, ids=[m[0] for m in MUTANTS])
def test_the_suite_kills_the_mutant(workspace, name, original, mutant):
    path = workspace / OP_FILE
    source = path.read_text()
    assert source.count(original) == 1, f"the mutant's site moved: update MUTANTS ({name})"
    path.write_text(source.replace(original, mutant))
    try:
        result = _run_tests(workspace)
    finally:
        path.write_text(source)
    assert result.returncode == 1, f"mutant '{name}' survived:\n{result.stdout[-3000:]}"
    assert "failed" in result.stdout
