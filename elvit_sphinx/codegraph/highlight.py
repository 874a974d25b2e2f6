"""Python source as HTML, highlighted by Pygments with the class names Sphinx's pygments.css styles.

One formatter run over the whole file gives one HTML string per source line (Pygments closes
and reopens its spans at every line end), so a class's excerpt in the figure and the full
source page are cut from the same lexing of the same file and look the same.
"""

from __future__ import annotations

import html

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import PythonLexer


def highlighted_lines(text: str) -> list[str]:
    """One HTML string per line of ``text`` (no trailing newline), tags balanced per line."""
    rendered = highlight(text, PythonLexer(stripnl=False, ensurenl=True), HtmlFormatter(nowrap=True))
    lines = rendered.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    expected = len(text.splitlines())
    if len(lines) != expected:  # never seen; fall back to plain, escaped text rather than misalign
        return [html.escape(line) for line in text.splitlines()]
    return lines


def numbered(lines: list[str], first: int, ids: bool = False) -> str:
    """Lines with their numbers (Sphinx's ``linenos`` class), one per row; ``ids`` gives each
    row an ``id="L<n>"`` to link to."""
    width = len(str(first + len(lines) - 1))
    rows = []
    for number, line in enumerate(lines, start=first):
        anchor = f' id="L{number}"' if ids else ""
        rows.append(f'<span class="elvit-line"{anchor}><span class="linenos">{number:>{width}}</span> '
                    f"{line}</span>")
    return "\n".join(rows)


def code_block(lines: list[str], first: int) -> str:
    """A highlighted excerpt as Sphinx writes one: ``<div class="highlight"><pre>…``."""
    return f'<div class="highlight"><pre>{numbered(lines, first)}</pre></div>'
