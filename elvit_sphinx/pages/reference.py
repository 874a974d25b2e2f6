"""``elvit-reference``: this extension's reference, generated from its code at every build.

It lists every directive the extension registers (one ``elvit-<view>`` per view, and this one)
with its user documentation, a table of its options with their defaults, and every ``elvit_*``
configuration value with its type, default and help text. None of it is written by hand: the
text of a view directive is its view module's docstring, the options are what the directive
really accepts, the configuration values are those ``setup()`` registered. So the page describes
exactly the installed version, and a view added to ``elvit_sphinx/views/`` appears on the next
build.

Place it at the end of a page: it adds two sections, *Directives* and *Configuration values*,
under the page's current heading. It takes no options and shows no figure (no model runs).
Every directive gets the anchor ``#elvit-<name>`` and the label ``reference-elvit-<name>``
(``{ref}`` links); every configuration value is a ``{confval}`` target.

Example:

.. code-block:: md

    ```{elvit-reference}
    ```
"""

from __future__ import annotations

import os

from docutils import nodes
from docutils.parsers.rst import Parser
from docutils.utils import new_document
from sphinx.util.docutils import LoggingReporter, SphinxDirective

from elvit_sphinx import config as config_module
from elvit_sphinx.pages.reference_docs import (
    COMMON_OPTION_HELP,
    CONFIG_PREFIX,
    ConfigDoc,
    DirectiveDoc,
    SourceText,
    config_docs,
    directive_docs,
    escape_rst,
    registered_directives,
)

DIRECTIVES_SECTION = "reference-directives"
CONFIG_SECTION = "reference-configuration"


def label_of(directive_name: str) -> str:
    return f"reference-{directive_name}"


def options_table(doc: DirectiveDoc) -> str:
    """reStructuredText: the table of a directive's options (nothing when it takes none)."""
    if not doc.options:
        return ""
    rows = [("Option", "Value", "Default")]
    rows += [(f"``:{option.name}:``", option.accepts, option.default) for option in doc.options]
    lines = [f".. list-table:: Options of ``{doc.name}``", "   :header-rows: 1",
             "   :class: elvit-reference-options", f"   :name: {doc.name}-options", ""]
    for row in rows:
        lines.append(f"   * - {row[0]}")
        lines.extend(f"     - {cell}" for cell in row[1:])
    return "\n".join(lines) + "\n"


def common_options_text() -> str:
    items = "\n".join(f"* ``:{name}:`` ({escape_rst(value)}): {escape_rst(meaning)}"
                      for name, (value, meaning) in COMMON_OPTION_HELP.items())
    return ("Each figure directive (one per view) draws one interactive figure from a forward pass "
            "of the configured model on one image. Besides its own options (in its table), "
            "every figure directive takes:\n\n" + items + "\n\n"
            "A wrong option (a value out of range for the model, a missing image) gives one "
            "warning naming the file and line, and the rest of the page is built.\n")


def config_text(docs: list[ConfigDoc]) -> str:
    blocks = ["Set these in ``conf.py``.\n"]
    for doc in docs:
        blocks.append(f".. confval:: {doc.name}\n"
                      f"   :type: ``{doc.type}``\n"
                      f"   :default: ``{doc.default}``\n\n"
                      f"   {escape_rst(doc.help) or 'Not documented at registration.'}\n")
    return "\n".join(blocks)


def _section(title: str, section_id: str, label: str, children: list[nodes.Node],
             document: nodes.document, literal_title: bool = False) -> nodes.section:
    title_node = nodes.title("", "", nodes.literal(title, title) if literal_title else nodes.Text(title))
    section = nodes.section("", title_node, *children, ids=[section_id], names=[label])
    document.note_explicit_target(section)  # makes ``label`` a {ref} target
    return section


class ElvitReferenceDirective(SphinxDirective):
    has_content = False
    required_arguments = 0
    optional_arguments = 0
    option_spec: dict = {}

    def parse_rst(self, source: SourceText) -> list[nodes.Node]:
        """Nodes from reStructuredText, whatever the page's own markup (MyST included).

        MyST pages parse nested content as Markdown, and docstrings are reStructuredText, so the
        text goes through docutils' own parser into a scratch document (as MyST's ``eval-rst``
        does). Its warnings go to Sphinx's log and name the docstring's file and line.
        """
        if not source.text.strip():
            return []
        page = self.state.document
        scratch = new_document(source.path, page.settings)
        scratch.reporter = LoggingReporter.from_reporter(page.reporter)
        scratch.reporter.source = source.path
        Parser().parse("\n" * (source.line - 1) + source.text, scratch)
        return list(scratch.children)

    def directive_section(self, doc: DirectiveDoc) -> nodes.section:
        if os.path.isfile(doc.doc.path):
            self.env.note_dependency(doc.doc.path)  # an edited docstring re-reads this page
        table = SourceText(options_table(doc), __file__, 1)
        return _section(doc.name, doc.name, label_of(doc.name),
                        self.parse_rst(doc.doc) + self.parse_rst(table), self.state.document,
                        literal_title=True)

    def run(self) -> list[nodes.Node]:
        docs = directive_docs()
        configs = config_docs(self.config)
        remember(self.env, self.env.docname, signature(self.config))
        self.env.note_dependency(config_module.__file__)
        document = self.state.document
        intro = self.parse_rst(SourceText(common_options_text(), __file__, 1))
        directives_part = _section("Directives", DIRECTIVES_SECTION, DIRECTIVES_SECTION,
                                   intro + [self.directive_section(doc) for doc in docs], document)
        config_part = _section("Configuration values", CONFIG_SECTION, CONFIG_SECTION,
                               self.parse_rst(SourceText(config_text(configs), __file__, 1)), document)
        return [directives_part, config_part]


# --- Rebuilds ---------------------------------------------------------------------------------
# Sphinx re-reads a page when its source or a noted dependency changes. A new view module is
# neither (and needs no conf.py change), so each reference page remembers which directives and
# values it listed, and is re-read when the registered set differs.

def signature(config) -> tuple[tuple[str, ...], ...]:
    """The names a reference page lists: registered directives and ``elvit_*`` values."""
    return (tuple(registered_directives()),
            tuple(name for name in sorted(config.values) if name.startswith(CONFIG_PREFIX)))


def _pages(env) -> dict[str, tuple]:
    if not isinstance(getattr(env, "elvit_reference_pages", None), dict):
        env.elvit_reference_pages = {}
    return env.elvit_reference_pages


def remember(env, docname: str, listed: tuple) -> None:
    _pages(env)[docname] = listed


def _purge(app, env, docname: str) -> None:
    _pages(env).pop(docname, None)


def _merge(app, env, docnames, other) -> None:
    for docname in docnames:
        if docname in _pages(other):
            _pages(env)[docname] = _pages(other)[docname]


def outdated_reference_pages(app, env, added, changed, removed) -> list[str]:
    current = signature(app.config)
    return sorted(docname for docname, listed in _pages(env).items()
                  if listed != current and docname not in removed)


def setup_reference(app) -> None:
    app.add_directive("elvit-reference", ElvitReferenceDirective)
    app.connect("env-purge-doc", _purge)
    app.connect("env-merge-info", _merge)
    app.connect("env-get-outdated", outdated_reference_pages)
