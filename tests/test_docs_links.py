"""The README holds the essentials and links to docs/*.md for the rest: every relative link and
image in them must point to a file that exists (and, with `#anchor`, to a heading of that
file), every docs page must be reachable from the README, and the README stays short."""
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
README_MAX_LINES = 400

FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"`+[^`\n]*`+")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$", re.M)


def _prose(text):
    """The text without fenced code blocks (their `#` lines and brackets are not markdown)."""
    return FENCE.sub("", text)


def links(path):
    """The targets of the links and images of one page, outside code."""
    prose = CODE_SPAN.sub(lambda m: m.group(0).strip("`"), _prose(path.read_text("utf-8")))
    return LINK.findall(prose)


def slug(heading):
    """GitHub's anchor of a heading: markup dropped, lower case, punctuation but `-` and `_`
    dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)     # a link keeps its text
    text = re.sub(r"[`*]", "", text).strip().lower()
    text = "".join(c for c in text if c.isalnum() or c in "-_ ")
    return text.replace(" ", "-")


def anchors(path):
    """Every anchor of a page's headings, numbered as GitHub numbers repeated ones."""
    seen, result = {}, set()
    for _, heading in HEADING.findall(_prose(path.read_text("utf-8"))):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        result.add(base if count == 0 else f"{base}-{count}")
    return result


def relative_links():
    return [(page, target) for page in PAGES for target in links(page)
            if not re.match(r"[a-z]+:", target)]          # http:, https:, mailto:


def test_the_pages_have_links_to_check():
    targets = [target for _, target in relative_links()]
    assert len(targets) >= 40
    assert any(t.endswith(".png") for t in targets) and any("#" in t for t in targets)


@pytest.mark.parametrize("page, target", relative_links(),
                         ids=[f"{p.relative_to(ROOT)}->{t}" for p, t in relative_links()])
def test_each_relative_link_points_to_an_existing_file_and_heading(page, target):
    file_part, _, anchor = target.partition("#")
    linked = (page.parent / file_part).resolve() if file_part else page
    assert linked.exists(), f"{page.relative_to(ROOT)} links to {target}: no such file"
    if anchor and linked.suffix == ".md":
        assert anchor in anchors(linked), (
            f"{page.relative_to(ROOT)} links to {target}: {linked.name} has no heading with "
            f"that anchor; it has {sorted(anchors(linked))}")


def test_every_docs_page_is_linked_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(ROOT / "README.md")}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"docs pages the README does not link to: {missing}"


def test_the_readme_holds_the_essentials_in_at_most_400_lines():
    text = (ROOT / "README.md").read_text("utf-8")
    assert len(text.splitlines()) <= README_MAX_LINES
    # it opens with the two commands for a fresh machine, which .ci/run mirrors
    first_block = re.search(r"```bash\n(.*?)```", text, re.S).group(1)
    assert "pip install -e . && minigrad train" in first_block
    assert 'pip install -e ".[test]" && pytest' in first_block
    assert 'pip install -e ".[test]" && pytest' in (ROOT / ".ci" / "run").read_text("utf-8")
    assert text.index("```bash") < text.index("\n## ")


def test_the_slugs_follow_githubs_rule():
    assert slug("The book's experiments (chapter 6)") == "the-books-experiments-chapter-6"
    assert slug('"... was modified by an in-place operation"') == \
        "-was-modified-by-an-in-place-operation"
    assert slug("Seeing backprop: `minigrad.viz`") == "seeing-backprop-minigradviz"
    assert slug("`mg.save` of nested checkpoints") == "mgsave-of-nested-checkpoints"
