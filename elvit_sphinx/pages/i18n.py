"""Translating the text inside the figures (labels, buttons, readouts, messages).

The prose and the figures' captions are translated by Sphinx itself (captions are text nodes
of the doctree). The figures' own words live in their scripts, written as
``elvit.t("Patch {0} of {1}", i, n)`` (a string) or ``elvit.tParts("{0}: logit {1}", boldLabel,
x)`` (a list of strings and elements, for a sentence with styled parts). The message is a plain
string literal, or several joined with ``+`` (no variables, no ``${}``): ``js_source.py`` reads
the calls from the source, and ``tests/test_i18n.py`` fails on visible text outside them. This
module:

* when the ``gettext`` builder runs (``nox -s gettext``), collects every such message from the
  scripts into ``elvit.pot`` beside Sphinx's catalogs, with the file and line of each use;
* in a translated HTML build (``language`` and ``locale_dirs`` set), reads the compiled catalog
  ``<locale_dir>/<language>/LC_MESSAGES/elvit.mo`` (Sphinx compiles ``elvit.po`` with the book's
  own catalogs) and gives pages with figures the translations of those messages, which
  ``elvit.t`` uses; a message without a translation stays in English.
"""

from __future__ import annotations

import gettext
import json
import os
from datetime import UTC, datetime
from pathlib import Path

from sphinx.util import logging

from elvit_sphinx.pages import js_source
from elvit_sphinx.pages.assets import STATIC_DIR
from elvit_sphinx.pages.collector import views_of

logger = logging.getLogger(__name__)

DOMAIN = "elvit"


def script_messages() -> dict[str, list[str]]:
    """{message: ["views/patches.js:12", ...]} for every ``elvit.t``/``elvit.tParts`` message in our
    scripts (not ``vendor/``)."""
    found: dict[str, list[str]] = {}
    for path in sorted(STATIC_DIR.rglob("*.js")):
        if "vendor" in path.relative_to(STATIC_DIR).parts:
            continue
        place = path.relative_to(STATIC_DIR).as_posix()
        for line, message in js_source.messages(path.read_text(encoding="utf-8")):
            found.setdefault(message, []).append(f"{place}:{line}")
    return found


def _po_string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def pot_text(messages: dict[str, list[str]], project: str, version: str) -> str:
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M%z")
    header = (f'msgid ""\nmsgstr ""\n"Project-Id-Version: {project} {version}\\n"\n'
              f'"POT-Creation-Date: {created}\\n"\n"MIME-Version: 1.0\\n"\n'
              '"Content-Type: text/plain; charset=UTF-8\\n"\n"Content-Transfer-Encoding: 8bit\\n"\n')
    entries = [f"#: {' '.join(places)}\nmsgid {_po_string(message)}\nmsgstr \"\"\n"
               for message, places in sorted(messages.items())]
    return "\n".join([header, *entries])


def write_pot(app, exception) -> None:
    if exception is not None or app.builder.name != "gettext":
        return
    path = Path(app.outdir) / f"{DOMAIN}.pot"
    path.write_text(pot_text(script_messages(), app.config.project, app.config.version),
                    encoding="utf-8")
    logger.info(f"elvit: figure messages written to {path}")


def translations(app) -> dict[str, str]:
    """The figures' messages translated into the build's language ({} when there are none)."""
    language = app.config.language
    if not language or language == "en":
        return {}
    if not hasattr(app.env, "elvit_translations"):
        table: dict[str, str] = {}
        for folder in app.config.locale_dirs:
            localedir = os.path.join(app.srcdir, folder)
            try:
                catalog = gettext.translation(DOMAIN, localedir=localedir, languages=[language])
            except OSError:
                continue
            table.update({k: v for k, v in catalog._catalog.items() if isinstance(k, str) and k})
        app.env.elvit_translations = table
    return app.env.elvit_translations


def add_page_translations(app, pagename, templatename, context, doctree) -> None:
    table = translations(app)
    if table and views_of(app.env, pagename):
        body = "window.ELVIT_MESSAGES = " + json.dumps(table, ensure_ascii=False, sort_keys=True) + ";"
        app.add_js_file(None, body=body.replace("</", "<\\/"), priority=390)


def _forget(app) -> None:
    if hasattr(app.env, "elvit_translations"):
        del app.env.elvit_translations  # read again at every build: the .mo may have changed


def setup_i18n(app) -> None:
    app.connect("builder-inited", _forget)
    app.connect("build-finished", write_pot)
    app.connect("html-page-context", add_page_translations)
