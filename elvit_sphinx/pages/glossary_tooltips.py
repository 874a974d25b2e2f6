"""Glossary tooltips: every ``{term}`` link shows its definition's first sentence on hover, on
keyboard focus and on tap, following the ARIA tooltip pattern.

* Read phase: a transform records, for each glossary term id, the first sentence of its
  definition (kept per document on the environment, merged under ``-j``).
* Write phase: a post-transform gives each term link a ``title`` (the fallback without
  JavaScript) and appends to the page one hidden ``<span role="tooltip" id="elvit-term-...">`` per
  term the page links to.
* In the browser, ``static/tooltips.js`` points each link's ``aria-describedby`` at its tooltip,
  removes the native ``title`` (one tooltip, not two) and shows the tooltip next to the link,
  positioned on screen by Floating UI (vendored; nothing loads from outside).

Figures whose script reads definitions (views listing the ``glossary.js`` library, e.g. the
overview's hover text) get them the same way: when a page with such a figure is written, the
definitions of every glossary term are embedded once in the page as JSON
(``<script type="application/json" id="elvit-glossary">``, term → first sentence and link).
Doing it when the page is *written* is what makes it robust: a view's data is built while its own
page is read, possibly before (or, under ``-j``, in another process than) the glossary page, but
by the write phase every document has been read and the per-document definitions merged.
"""

from __future__ import annotations

import html
import json
import re

from docutils import nodes
from sphinx import addnodes
from sphinx.transforms import SphinxTransform
from sphinx.transforms.post_transforms import SphinxPostTransform

_SENTENCE_END = re.compile(r"(?<=[.!?])\s")
TOOLTIP_PREFIX = "elvit-term-"
SCRIPTS = ("vendor/floating-ui.core-1.8.0.umd.min.js", "vendor/floating-ui.dom-1.8.0.umd.min.js",
           "tooltips.js")


def first_sentence(text: str) -> str:
    flat = " ".join(text.split())
    return _SENTENCE_END.split(flat, maxsplit=1)[0]


def _definitions(env) -> dict[str, dict[str, str]]:
    if not hasattr(env, "elvit_glossary"):
        env.elvit_glossary = {}
    return env.elvit_glossary


def all_definitions(env) -> dict[str, str]:
    """{term id: first sentence} over every glossary of the book (read phase data)."""
    return {term_id: sentence for per_doc in _definitions(env).values()
            for term_id, sentence in per_doc.items()}


class CollectTermDefinitions(SphinxTransform):
    default_priority = 900

    def apply(self, **kwargs) -> None:
        found: dict[str, str] = {}
        for glossary in self.document.findall(addnodes.glossary):
            for item in glossary.findall(nodes.definition_list_item):
                definition = next(iter(item.findall(nodes.definition)), None)
                if definition is None:
                    continue
                sentence = first_sentence(definition.astext())
                for term in item.findall(nodes.term):
                    for term_id in term["ids"]:
                        found[term_id] = sentence
        if found:
            _definitions(self.env)[self.env.docname] = found


def _term_anchor(reference: nodes.reference) -> str | None:
    if not any("std-term" in child.get("classes", []) for child in reference.children
               if isinstance(child, nodes.Element)):
        return None
    return reference.get("refid") or reference.get("refuri", "").rpartition("#")[2]


class AddTermTooltips(SphinxPostTransform):
    default_priority = 20  # after sphinx's ReferencesResolver (10)

    def run(self, **kwargs) -> None:
        lookup = all_definitions(self.env)
        if not lookup:
            return
        used: dict[str, str] = {}
        for reference in self.document.findall(nodes.reference):
            anchor = _term_anchor(reference)
            if anchor in lookup:
                reference["reftitle"] = lookup[anchor]
                used[anchor] = lookup[anchor]
        # The builder's format, read the way Sphinx's own is_supported() does (``self.app`` is
        # deprecated in Sphinx 9).
        if used and self.env._builder_cls.format == "html":
            spans = "".join(f'<span role="tooltip" id="{TOOLTIP_PREFIX}{html.escape(anchor)}" '
                            f'class="elvit-tooltip" hidden>{html.escape(sentence)}</span>'
                            for anchor, sentence in sorted(used.items()))
            self.document.append(nodes.raw("", f'<div class="elvit-tooltips">{spans}</div>',
                                           format="html"))


def _purge(app, env, docname) -> None:
    _definitions(env).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    for docname in docnames:
        if docname in _definitions(other):
            _definitions(env)[docname] = _definitions(other)[docname]


#: The runtime script that reads the embedded definitions; views that need them list it.
GLOSSARY_LIBRARY = "glossary.js"


def definitions_for_page(env, builder, docname: str) -> dict[str, dict[str, str]]:
    """``{term in lower case: {"text": first sentence, "href": URL relative to docname}}``."""
    sentences = _definitions(env)
    found = {}
    for (kind, term), (term_doc, term_id) in env.domaindata.get("std", {}).get("objects", {}).items():
        sentence = sentences.get(term_doc, {}).get(term_id)
        if kind == "term" and sentence:
            uri = builder.get_relative_uri(docname, term_doc)
            found[term.lower()] = {"text": sentence, "href": f"{uri}#{term_id}"}
    return found


def embed_definitions_for_figures(app, doctree, docname) -> None:
    from elvit_sphinx.pages.view_node import elvit_view
    from elvit_sphinx.views import VIEWS
    from elvit_sphinx.views.base import script_safe

    if app.builder.format != "html":
        return
    if not any(GLOSSARY_LIBRARY in VIEWS[node["view"]].libraries
               for node in doctree.findall(elvit_view) if node["view"] in VIEWS):
        return
    found = definitions_for_page(app.env, app.builder, docname)
    text = json.dumps(found, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    doctree.append(nodes.raw("", '<script type="application/json" id="elvit-glossary">'
                                 f"{script_safe(text)}</script>", format="html"))


def setup_glossary_tooltips(app) -> None:
    app.add_transform(CollectTermDefinitions)
    app.add_post_transform(AddTermTooltips)
    app.connect("doctree-resolved", embed_definitions_for_figures)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    for script in SCRIPTS:
        app.add_js_file(f"elvit/{script}", loading_method="defer")
