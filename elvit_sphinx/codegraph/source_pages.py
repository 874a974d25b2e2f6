"""Source pages in the built book, and the ``{elvit-class}`` role that links to them.

Like ``sphinx.ext.viewcode``, the book carries the full, highlighted source of the model's
code: one page per analysed file, ``_elvit_source/<module>.html``, with an anchor per class
(``#ViTLayer``, the whole class marked when it is the target) and per line (``#L257``).
Pages are written for every file that a code-graph figure draws or an ``{elvit-class}`` role
names; the documents that need a file record it on the environment at read time (merged under
``-j``), and the pages are generated at ``html-collect-pages``.

The role, for chapters that explain a class's maths::

    The MLP of every block is {elvit-class}`ViTMLP`.

renders ``ViTMLP`` as code linked to its place on the source page; a class the model's source
does not define gives a warning with file:line. The source file becomes a dependency of the
page.
"""

from __future__ import annotations

import html
from pathlib import Path

from docutils import nodes
from sphinx.transforms import SphinxTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxRole

from elvit_sphinx.pages.view_node import elvit_view

from .highlight import numbered
from .source_code import SourceCode, model_source_file, read_source

logger = logging.getLogger(__name__)


def _needed(env) -> dict[str, set[str]]:
    if not isinstance(getattr(env, "elvit_source_files", None), dict):
        env.elvit_source_files = {}
    return env.elvit_source_files


def note_source_file(env, docname: str, path: str | Path) -> None:
    _needed(env).setdefault(docname, set()).add(str(Path(path).resolve()))


class NoteDrawnSources(SphinxTransform):
    """A code-graph figure's analysed file (its first file) gets a source page."""

    default_priority = 880

    def apply(self, **kwargs) -> None:
        for node in self.document.findall(elvit_view):
            if node["view"] == "codegraph" and node.get("files"):
                note_source_file(self.env, self.env.docname, node["files"][0])


class elvit_class_ref(nodes.Inline, nodes.TextElement):  # noqa: N801 - docutils convention
    """A class name linking to ``page#anchor`` (resolved when the page is written)."""


class ClassRole(SphinxRole):
    def run(self):
        name = self.text.strip()
        literal = nodes.literal(name, name, classes=["elvit-class"])
        try:
            path = model_source_file()
        except ValueError as exc:
            logger.warning(f"elvit-class: {exc}", location=self.get_location(), type="elvit",
                           subtype="class")
            return [literal], []
        code = read_source(path)
        node = code.find_class(name)
        if node is None:
            known = ", ".join(n.name for n in code.analysed_classes())
            logger.warning(f"elvit-class: {code.file_name} defines no class {name!r} (it defines {known})",
                           location=self.get_location(), type="elvit", subtype="class")
            return [literal], []
        self.env.note_dependency(str(path))
        note_source_file(self.env, self.env.docname, path)
        return [elvit_class_ref("", "", literal, page=code.page, anchor=code.anchor(node.id))], []


def resolve_class_links(app, doctree, docname) -> None:
    """HTML: the link to the source page, relative to the page being written; else the name."""
    html_builder = app.builder.format == "html"
    for node in list(doctree.findall(elvit_class_ref)):
        if html_builder:
            uri = app.builder.get_relative_uri(docname, node["page"])
            link = nodes.reference("", "", *node.children, internal=True,
                                   refuri=f"{uri}#{node['anchor']}", classes=["elvit-class-link"])
            node.replace_self(link)
        else:
            node.replace_self(node.children)


def source_page_body(code: SourceCode) -> str:
    """The page: a heading, where the file comes from, its classes, and the numbered source."""
    classes = code.analysed_classes()
    starts, ends = {}, {}
    for node in classes:
        starts.setdefault(node.line, []).append(node)
        ends.setdefault(node.end_line, []).append(node)
    rows = numbered(code.html_lines, 1, ids=True).split("\n")
    out = []
    for number, row in enumerate(rows, start=1):
        opening = "".join(f'<span class="elvit-class-block" id="{html.escape(code.anchor(n.id))}">'
                          for n in starts.get(number, []))
        closing = "</span>" * len(ends.get(number, []))
        out.append(opening + row + closing)
    listing = ", ".join(f'<a href="#{html.escape(code.anchor(n.id))}"><code>{html.escape(n.name)}</code></a> '
                        f"(line {n.line})" for n in classes)
    origin = f"{code.version}, " if code.version else ""
    source = "\n".join(out)
    return (f'<section id="elvit-source"><h1>Source code of <code>{html.escape(code.module)}</code></h1>'
            f"<p>The file <code>{html.escape(code.file_name)}</code> ({origin}{len(rows)} lines, "
            f"sha256 <code>{code.sha256[:12]}</code>) as this build analysed it. Classes: {listing}.</p>"
            f'<div class="highlight elvit-source"><pre>{source}</pre></div></section>')


def collect_source_pages(app):
    if app.builder.format != "html":
        return
    files = sorted({path for paths in _needed(app.env).values() for path in paths})
    for path in files:
        if not Path(path).is_file():
            continue
        code = read_source(path)
        context = {"title": f"Source code of {code.module}", "body": source_page_body(code),
                   "parents": [], "display_toc": False}
        yield code.page, context, "page.html"


def _purge(app, env, docname) -> None:
    _needed(env).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    for docname in docnames:
        if docname in _needed(other):
            _needed(env)[docname] = set(_needed(other)[docname])


def setup_source_pages(app) -> None:
    app.add_role("elvit-class", ClassRole())
    app.add_node(elvit_class_ref)
    app.add_transform(NoteDrawnSources)
    app.connect("doctree-resolved", resolve_class_links)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("html-collect-pages", collect_source_pages)
