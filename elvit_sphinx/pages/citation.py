""""Cite this chapter" boxes, made from the project's ``CITATION.cff``.

With ``elvit_citation_file`` set (a path relative to ``conf.py``), every document whose name
matches ``elvit_cite_docs`` (a regular expression; default: names starting with a digit, i.e.
the chapters) ends with a box holding a plain reference and a BibTeX entry: the book's authors,
title and version from the CFF file, the chapter's title, and a stable URL made of
``html_baseurl`` (or the CFF ``url``), the page and the chapter's label (``(chapter-xxx)=``
above its title), which does not change when chapters are added or reordered.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BookCitation:
    title: str
    authors: list[str]
    version: str
    year: str
    url: str


def _author_name(author: dict) -> str:
    if "name" in author:
        return str(author["name"])
    return " ".join(str(author[k]) for k in ("given-names", "family-names") if k in author)


def read_cff(path: str) -> BookCitation:
    """The fields the boxes need, from a CITATION.cff file (raises ValueError if unusable)."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    missing = [key for key in ("title", "authors", "version") if not data.get(key)]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}")
    return BookCitation(title=str(data["title"]), authors=[_author_name(a) for a in data["authors"]],
                        version=str(data["version"]), year=str(data.get("date-released", ""))[:4],
                        url=str(data.get("url", "")))


def chapter_url(base: str, docname: str, anchor: str) -> str:
    base = base if base.endswith("/") else base + "/"
    return f"{base}{docname}.html" + (f"#{anchor}" if anchor else "")


def plain_reference(book: BookCitation, chapter: str, url: str) -> str:
    return (f"{', '.join(book.authors)} ({book.year}). {chapter}. In {book.title}, version "
            f"{book.version}. {url}")


def bibtex(book: BookCitation, chapter: str, url: str, key: str) -> str:
    def escape(text: str) -> str:
        return re.sub(r"([&%$#_{}])", r"\\\1", text)

    fields = [("title", chapter), ("booktitle", book.title), ("author", " and ".join(book.authors)),
              ("year", book.year), ("edition", f"version {book.version}"), ("url", url)]
    body = ",\n".join(f"  {name:<9} = {{{value if name == 'url' else escape(value)}}}"
                      for name, value in fields if value)
    return f"@incollection{{{key},\n{body}\n}}"


class AddCitationBox(SphinxTransform):
    default_priority = 880  # after MyST has made its sections and targets

    def apply(self, **kwargs) -> None:
        config = self.config
        if not config.elvit_citation_file or not re.search(config.elvit_cite_docs, self.env.docname):
            return
        section = next(iter(self.document.findall(nodes.section)), None)
        if section is None:
            return
        path = os.path.join(self.env.srcdir, config.elvit_citation_file)
        self.env.note_dependency(path)
        try:
            book = read_cff(path)
        except ValueError as exc:
            logger.warning(f"elvit: no citation box: {exc}", location=self.env.docname,
                           type="elvit", subtype="citation")
            return
        ids = section.get("ids", [])
        anchor = next((i for i in ids if i.startswith("chapter-")), ids[0] if ids else "")
        chapter = section.next_node(nodes.title).astext()
        url = chapter_url(config.html_baseurl or book.url, self.env.docname, anchor)
        key = "elvit-book-" + (anchor.removeprefix("chapter-") or re.sub(r"\W+", "-", self.env.docname))
        box = nodes.container(classes=["elvit-cite"])
        box += nodes.rubric("", "Cite this chapter")
        box += nodes.paragraph("", plain_reference(book, chapter, url))
        entry = bibtex(book, chapter, url, key)
        box += nodes.literal_block(entry, entry, language="bibtex")
        section += box


def setup_citation(app) -> None:
    app.add_transform(AddCitationBox)
