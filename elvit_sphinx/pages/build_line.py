"""One line at the end of every HTML page: which version of the book and which checkpoint made it.

Figures carry their own provenance sentence; this line covers the prose and the glued numbers
too, so a reader (or a course pack citing a page) can tell two builds apart.
"""

from __future__ import annotations

import html

from elvit_sphinx import __version__
from elvit_sphinx.pages.build_state import state


def build_line_text(app) -> str:
    source = state(app.env).source
    version = app.config.release or app.config.version
    book = f"{app.config.project} version {version}" if version else app.config.project
    return (f"Built from {book} (elvit-sphinx {__version__}) with checkpoint {source.label} "
            f"(model fingerprint {source.fingerprint[:12]}).")


def add_build_line(app, pagename, templatename, context, doctree) -> None:
    if app.config.elvit_build_line and "body" in context:
        context["body"] += f'<p class="elvit-build-line">{html.escape(build_line_text(app))}</p>'


def setup_build_line(app) -> None:
    app.connect("html-page-context", add_build_line)
