"""docs/engine.md cites code as `file:line`: `snippet`; each snippet must be on its line, so the
walk-through cannot drift from the code it explains."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "engine.md"
REFERENCE = re.compile(r"`(minigrad/[\w/]+\.py):(\d+)`: `([^`]+)`")


def references():
    return REFERENCE.findall(DOC.read_text(encoding="utf-8"))


def test_the_walk_through_cites_the_engine_files():
    cited = {path for path, _, _ in references()}
    assert len(references()) >= 30
    assert {"minigrad/autograd.py", "minigrad/tensor.py", "minigrad/watch.py",
            "minigrad/gradients.py", "minigrad/inplace.py"} <= cited
    every_citation = re.findall(r"minigrad/[\w/]+\.py:\d+", DOC.read_text(encoding="utf-8"))
    assert len(every_citation) == len(references()), "a file:line without its quoted code"


@pytest.mark.parametrize("path, line, snippet", references(),
                         ids=[f"{p}:{n}" for p, n, _ in references()])
def test_each_cited_line_holds_the_quoted_code(path, line, snippet):
    lines = (ROOT / path).read_text(encoding="utf-8").split("\n")
    assert int(line) <= len(lines), f"{path} has only {len(lines)} lines"
    assert snippet in lines[int(line) - 1], (
        f"{path}:{line} is now {lines[int(line) - 1].strip()!r}, not {snippet!r}; update "
        f"docs/engine.md")
