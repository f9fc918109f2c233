"""Small HTML tables for Jupyter's rich display (``_repr_html_``) of minigrad's reports.

Jupyter calls an object's ``_repr_html_()`` to show it; these helpers build that text with
every value escaped, so a layer or tensor name can never break the page.
"""
from __future__ import annotations

import html
from typing import Any, Iterable, List, Optional, Sequence

_STYLE = "border-collapse: collapse; font-family: monospace; text-align: right"


def html_table(header: Sequence[str], rows: Iterable[Sequence[Any]],
               caption: Optional[str] = None) -> str:
    """An HTML ``<table>`` with one header row and ``rows`` (each cell shown with ``str``)."""
    parts = [f'<table style="{_STYLE}">']
    if caption:
        parts.append(f'<caption style="text-align: left">{html.escape(caption)}</caption>')
    parts.append("<thead><tr>" + "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
                 + "</tr></thead><tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row)
                     + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def text_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """The same table as plain text: columns right-aligned under their header."""
    cells = [[str(h) for h in header]] + [[str(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(row, widths)).rstrip()
                     for row in cells)


def elide(rows: Sequence[Sequence[Any]], keep: int = 5) -> List[Sequence[Any]]:
    """The first and last ``keep`` rows with one row of '...' between, for long tables."""
    if len(rows) <= 2 * keep + 1:
        return list(rows)
    return [*rows[:keep], ["..."] * len(rows[0]), *rows[-keep:]]


def html_list(title: str, items: Iterable[str]) -> str:
    """A bold title followed by a bulleted list (nothing when ``items`` is empty)."""
    items = list(items)
    if not items:
        return ""
    bullets = "".join(f"<li>{html.escape(item)}</li>" for item in items)
    return f"<p><b>{html.escape(title)}</b></p><ul>{bullets}</ul>"


def html_pre(title: str, text: str) -> str:
    """A bold title over ``text`` kept as written (line breaks and columns)."""
    body = f"<pre>{html.escape(text)}</pre>" if text else ""
    return f"<p><b>{html.escape(title)}</b></p>{body}"
