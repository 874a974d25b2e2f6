"""The book's glossary as data: its entries' terms and definitions, read from the source file.

The code graph's concept nodes are glossary terms, and the graph is built while Sphinx reads
the chapter that shows it, when the glossary page may not have been read yet (or is read by
another ``-j`` worker). So the terms come from the file itself: the content of a MyST
```` ```{glossary} ```` fence or an RST ``.. glossary::`` directive, where terms sit at the
content's indentation (several consecutive term lines share one definition) and definitions
are indented further.
"""

from __future__ import annotations

import re
from pathlib import Path

from code_graph.concepts import Term

_MYST_FENCE = re.compile(r"^(\s*)(`{3,}|:{3,})\s*\{glossary\}")
_RST_DIRECTIVE = re.compile(r"^(\s*)\.\.\s+glossary::")
_OPTION = re.compile(r"^\s*:[\w-]+:")  # :sorted: and friends


def _content_lines(text: str) -> list[str]:
    """The lines inside every glossary block of the file."""
    lines = text.splitlines()
    content: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        fence, rst = _MYST_FENCE.match(line), _RST_DIRECTIVE.match(line)
        index += 1
        if fence:
            closing = fence.group(2)
            while index < len(lines) and lines[index].strip() != closing:
                content.append(lines[index])
                index += 1
            index += 1
        elif rst:
            indent = len(rst.group(1))
            while index < len(lines) and (not lines[index].strip() or
                                          len(lines[index]) - len(lines[index].lstrip()) > indent):
                content.append(lines[index])
                index += 1
    return [line for line in content if not _OPTION.match(line)]


def parse_glossary(text: str) -> list[Term]:
    """The entries of a glossary, in file order."""
    lines = [line.rstrip() for line in _content_lines(text)]
    filled = [line for line in lines if line.strip()]
    if not filled:
        return []
    base = min(len(line) - len(line.lstrip()) for line in filled)
    terms: list[Term] = []
    names: list[str] = []
    definition: list[str] = []
    for line in lines:
        if not line.strip():
            continue
        if len(line) - len(line.lstrip()) == base:
            if definition:  # a term after a definition starts the next entry
                terms.append(Term(tuple(names), " ".join(definition)))
                names, definition = [], []
            names.append(line.strip())
        else:
            definition.append(line.strip())
    if names:
        terms.append(Term(tuple(names), " ".join(definition)))
    return terms


def read_glossary(path: str | Path) -> list[Term]:
    return parse_glossary(Path(path).read_text(encoding="utf-8"))


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z`\"(\[])")


def first_sentence(text: str) -> str:
    """Up to the first full stop that ends a sentence (``e.g. for`` does not)."""
    flat = " ".join(text.split())
    return _SENTENCE_END.split(flat, maxsplit=1)[0]
