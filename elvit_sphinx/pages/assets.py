"""Offline assets: the figure runtime, each view's script, and vendored libraries.

Everything under ``elvit_sphinx/static/`` is copied to ``_static/elvit/`` (a file is re-copied
only when its content changes). A page with views loads the runtime, the libraries its views
need (e.g. d3 for charts) and the scripts of exactly those views; other pages load none of it.
The scripts are deferred; on those pages MathJax is loaded by the runtime once the figures are
on screen (see :func:`load_mathjax_after_views`).
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from elvit_sphinx.pages.collector import views_of

STATIC_DIR = Path(__file__).parent.parent / "static"
TARGET = "elvit"
#: Before sphinx.ext.mathjax's script (priority 500).
SCRIPT_PRIORITY = 400
#: Scripts of this type are neither fetched nor run by the browser; elvit.js starts them once
#: every figure has been painted.
AFTER_VIEWS_TYPE = "text/x-elvit-after-views"


def page_scripts(view_names: list[str]) -> list[str]:
    """Scripts (relative to ``_static/``) for a page holding these views, in load order."""
    from elvit_sphinx.views import VIEWS

    libraries: list[str] = []
    for name in view_names:
        for library in VIEWS[name].libraries:
            if library not in libraries:
                libraries.append(library)
    return ([f"{TARGET}/{library}" for library in libraries] + [f"{TARGET}/elvit.js"]
            + [f"{TARGET}/{VIEWS[name].script}" for name in view_names])


def add_page_assets(app, pagename, templatename, context, doctree) -> None:
    names = views_of(app.env, pagename)
    if names:
        for script in page_scripts(names):
            app.add_js_file(script, priority=SCRIPT_PRIORITY, loading_method="defer")


def load_mathjax_after_views(app, pagename, templatename, context, doctree) -> None:
    """On pages with figures, let elvit.js start MathJax after the figures are painted.

    Measured on a 2-core machine: MathJax (2 MB) takes ~0.3 s to evaluate and more to typeset,
    and as a deferred script it ran before the first frame, so figures drawn at 0.5 s reached
    the screen at 1.4 s. Formulas now appear a moment after the figures instead of before.
    Sphinx documents that ``script_files`` may be edited in ``html-page-context``.
    """
    mathjax_path = getattr(app.config, "mathjax_path", "")
    scripts = context.get("script_files")
    if not mathjax_path or not views_of(app.env, pagename) or not isinstance(scripts, list):
        return
    for index, script in enumerate(scripts):
        if str(getattr(script, "filename", "")).endswith(mathjax_path):
            attributes = {k: v for k, v in script.attributes.items() if k not in ("async", "defer")}
            attributes["type"] = AFTER_VIEWS_TYPE
            scripts[index] = type(script)(script.filename, priority=script.priority, **attributes)


def static_files() -> list[Path]:
    return sorted(p for p in STATIC_DIR.rglob("*") if p.is_file())


def copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / TARGET
    for source in static_files():
        destination = target / source.relative_to(STATIC_DIR)
        destination.parent.mkdir(parents=True, exist_ok=True)
        if not destination.exists() or not filecmp.cmp(source, destination, shallow=False):
            shutil.copyfile(source, destination)


def setup_assets(app) -> None:
    app.add_css_file(f"{TARGET}/elvit.css")
    app.connect("html-page-context", add_page_assets)
    # After sphinx.ext.mathjax has added its script (default priority 500).
    app.connect("html-page-context", load_mathjax_after_views, priority=900)
    app.connect("build-finished", copy_assets)
