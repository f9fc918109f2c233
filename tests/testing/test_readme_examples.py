"""The hypothesis examples of docs/checking.md (moved there from the README) run as written,
without a flood of GradcheckWarnings."""
import importlib.util
import pathlib
import re
import warnings

import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad.gradcheck import GradcheckWarning

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _example_module():
    spec = importlib.util.spec_from_file_location("readme_custom_layer",
                                                  ROOT / "examples" / "custom_layer.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _hypothesis_blocks():
    """The ```python blocks of docs/checking.md that define a hypothesis test."""
    text = (ROOT / "docs" / "checking.md").read_text(encoding="utf-8")
    return [block for block in re.findall(r"```python\n(.*?)```", text, re.S)
            if "@given" in block]


@pytest.mark.parametrize("index", range(2))
def test_the_readme_hypothesis_example_runs_without_warnings(index):
    blocks = _hypothesis_blocks()
    assert len(blocks) == 2
    namespace = {"mg": mg, "my_relu": F.relu, "Swish": _example_module().Swish}
    exec(compile(blocks[index], f"docs/checking.md block {index}", "exec"), namespace)
    (test,) = [value for name, value in namespace.items() if name.startswith("test_")]
    with warnings.catch_warnings():
        warnings.simplefilter("error", GradcheckWarning)     # one vacuous pass or kink fails
        test()
