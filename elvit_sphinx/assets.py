"""Offline assets: BokehJS copied from the installed bokeh package, plus elvit.js/elvit.css.

BokehJS (~1.7 MB) is added only to pages that contain a view (``html-page-context``); files
are copied once and re-copied only when their size or content changes.
"""

from __future__ import annotations

import filecmp
import shutil
from pathlib import Path

from elvit_sphinx.collector import has_views

STATIC_DIR = Path(__file__).parent / "static"
OWN_FILES = ("elvit.js", "elvit.css")


def _bokeh_files() -> list[Path]:
    import bokeh
    from bokeh.util.paths import bokehjs_path

    js_dir = Path(bokehjs_path()) / "js"
    version = bokeh.__version__
    names = ["bokeh.min.js", "bokeh-widgets.min.js"]
    files = [js_dir / name for name in names]
    missing = [str(f) for f in files if not f.exists()]
    if missing:
        raise FileNotFoundError(f"BokehJS {version} files missing from the bokeh package: {missing}")
    return files


def _versioned(path: Path) -> str:
    import bokeh

    return path.name.replace(".min.js", f"-{bokeh.__version__}.min.js")


def page_scripts() -> list[str]:
    return [f"elvit/{_versioned(p)}" for p in _bokeh_files()] + ["elvit/elvit.js"]


def add_page_assets(app, pagename, templatename, context, doctree) -> None:
    if has_views(app.env, pagename):
        for script in page_scripts():
            app.add_js_file(script)


def copy_assets(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / "elvit"
    target.mkdir(parents=True, exist_ok=True)
    copies = [(p, target / _versioned(p)) for p in _bokeh_files()]
    copies += [(STATIC_DIR / name, target / name) for name in OWN_FILES]
    for source, destination in copies:
        if not destination.exists() or not filecmp.cmp(source, destination, shallow=False):
            shutil.copyfile(source, destination)


def setup_assets(app) -> None:
    app.add_css_file("elvit/elvit.css")
    app.connect("html-page-context", add_page_assets)
    app.connect("build-finished", copy_assets)
