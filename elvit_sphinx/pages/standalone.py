"""A view as one self-contained HTML file: runtime, scripts, styles, data and chunks inlined.

Used by the tests (a view opened in Chromium without building a book) and for exporting a
figure to slides. The page is drawn by the same scripts as the book's pages.
"""

from __future__ import annotations

import html

from elvit_sphinx.pages.assets import STATIC_DIR
from elvit_sphinx.pages.figure_html import figure_html
from elvit_sphinx.views.base import ViewOutput, ViewSpec, chunk_script, script_safe, to_json

STANDALONE_KEY = "standalone"


def _static(relative: str) -> str:
    return (STATIC_DIR / relative).read_text(encoding="utf-8")


def standalone_html(view: ViewSpec, output: ViewOutput, title: str = "", caption: str = "",
                    provenance: str = "", alt: str = "", key: str = STANDALONE_KEY) -> str:
    """A view built in this process (tests): its data and chunks as Python objects."""
    chunks = [chunk_script(f"{key}/{name}", payload) for name, payload in sorted(output.chunks.items())]
    return standalone_page(view, to_json(output.data), chunks, title, caption, provenance, alt, key)


def standalone_page(view: ViewSpec, data_json: str, chunk_scripts: list[str], title: str = "",
                    caption: str = "", provenance: str = "", alt: str = "",
                    key: str = STANDALONE_KEY) -> str:
    """The page itself, from the cached forms: data JSON and chunk scripts (chunk_script())."""
    scripts = [*view.libraries, "elvit.js"]
    chunks = "".join(f"<script>{script_safe(text)}</script>" for text in chunk_scripts)
    body = figure_html(view.name, "elvit-standalone", key, data_json, alt, caption, provenance)
    return "".join([
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<title>{html.escape(title or 'elvit-' + view.name)}</title>",
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">",
        f"<style>{_static('elvit.css')}</style></head><body>",
        body,
        *(f"<script>{script_safe(_static(name))}</script>" for name in scripts),
        chunks,
        f"<script>{script_safe(_static(view.script))}</script>",
        "</body></html>",
    ])
