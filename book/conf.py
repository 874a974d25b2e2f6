"""Sphinx configuration for the EL-ViT book.

Build with ``nox -s build`` (or ``sphinx-build -W --keep-going -n -b html book book/_build/html``).
The model the figures and numbers come from is the extension's ``elvit_model`` setting, left at
its default ("embedded") here; set the ``ELVIT_MODEL`` environment variable to use another
checkpoint without editing this file.
"""

import os
from pathlib import Path

import yaml

# The book's title, version, authors and address live in one place, the repository's
# CITATION.cff, so that the "Cite this chapter" boxes cannot disagree with it.
CITATION_FILE = Path(__file__).resolve().parent.parent / "CITATION.cff"
CITATION = yaml.safe_load(CITATION_FILE.read_text(encoding="utf-8"))

project = "EL-ViT book"
author = ", ".join(a.get("name", "") for a in CITATION["authors"])
copyright = "the EL-ViT book authors"
version = release = CITATION["version"]

extensions = [
    "myst_nb",
    "sphinx_design",
    "elvit_sphinx",
    # Math is typeset in the browser by MathJax 3, served from this book's own _static folder
    # (see _static/README.md): Sphinx's default would fetch it from a CDN at read time.
    "sphinx.ext.mathjax",
    "sphinx_sitemap",  # sitemap.xml under html_baseurl, for search engines and link checkers
]
sitemap_url_scheme = "{link}"
sitemap_show_lastmod = False  # no dates from git: the same sources give the same site

# --- Citation and stable addresses ----------------------------------------------------------
# Every chapter ends with a "Cite this chapter" box; every page with a line naming this version
# and the checkpoint. ELVIT_BASEURL lets a deployment publish under its own address (the
# workflow sets it from GitHub Pages); canonical links and the sitemap use it too.
elvit_citation_file = "../CITATION.cff"
# One trailing slash: sphinx-sitemap appends page names to it as they are, and GitHub Pages'
# base_url comes without one.
html_baseurl = (os.environ.get("ELVIT_BASEURL") or CITATION["url"]).rstrip("/") + "/"

# --- MyST -------------------------------------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist"]

# --- MyST-NB: chapters are notebooks executed at every build -----------------------------------
# "force", not "cache": the glued numbers depend on the configured model (ELVIT_MODEL), which a
# jupyter-cache keyed on the notebook's text alone cannot see, so a cache would show stale numbers.
nb_execution_mode = "force"
# Generous: a chapter's first cell may trace images with a ViT-B/16 on a slow machine.
nb_execution_timeout = 600
nb_execution_raise_on_error = True

# --- Translations ---------------------------------------------------------------------------
# Catalogs of a language live in locale/<lang>/LC_MESSAGES/ (the chapters' .po files and elvit.po,
# the figures' own words); build one with -D language=<lang>. See CONTRIBUTING.md.
locale_dirs = ["locale"]

# --- Sources ------------------------------------------------------------------------------------
# README files (images/, _static/) document provenance; they are not pages of the book.
exclude_patterns = ["_build", "**/README.md", "**/.ipynb_checkpoints"]

# --- Offline math -----------------------------------------------------------------------------
# MathJax 3.2.2 (Apache-2.0), vendored from the npm package: the SVG output component needs no
# web fonts, so formulas render from file:// in every browser. Relative paths are taken from
# the built site's _static/ folder.
mathjax_path = "mathjax/tex-svg.js"
mathjax3_config = {
    # One shared set of glyph paths per page instead of a copy in every formula.
    "svg": {"fontCache": "global"},
    # No context menu: its accessibility explorer and renderer switch need components that
    # cannot load from file://, and a failed load leaves the page without any formula. Hidden
    # MathML for screen readers ("assistive MathML") is built in and stays on.
    "options": {"enableMenu": False},
}
# Inlined before MathJax on pages with maths: drops saved menu settings (shared by all file://
# pages) that would make MathJax load components the book does not ship.
mathjax_config_path = "_static/mathjax/offline-settings.js"

# --- HTML -------------------------------------------------------------------------------------
# The executable-book look: sidebar, in-page table of contents, light/dark switch, phone layout.
# Everything it loads (CSS, JS, its icon font) is shipped inside the theme and copied into
# _static: nothing comes from a CDN.
html_theme = "sphinx_book_theme"
html_title = "EL-ViT book: the Vision Transformer, step by step"
html_static_path = ["_static"]  # the vendored MathJax, book.css; README.md is excluded above
html_css_files = ["book.css"]
html_theme_options = {
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "use_download_button": False,  # its menu offers .ipynb/.md files the build does not keep
    "use_fullscreen_button": True,
    "navigation_with_keys": False,
    # No "edit on GitHub" or repository buttons: the book must read the same offline.
    "use_repository_button": False,
    "use_source_button": False,
}
html_show_sourcelink = False
html_last_updated_fmt = None
# Light or dark follows the reader's system until they press the theme switch.
html_context = {"default_mode": "auto"}

# --- PDF (nox -s pdf: the LaTeX builder, then latexmk) ------------------------------------------
# XeLaTeX with FreeFont (Debian: fonts-freefont-otf) typesets the book's Unicode (×, −, γ, ‖…)
# directly; figures appear as their static pictures, with caption and provenance.
latex_engine = "xelatex"
latex_documents = [("index", "elvit-book.tex", html_title, author, "manual")]
latex_elements = {"papersize": "a4paper", "figure_align": "htbp"}
latex_use_xindy = False  # makeindex ships with TeX Live; xindy is a separate Debian package
