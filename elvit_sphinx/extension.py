"""Wiring only: each part of the extension registers itself here."""

from __future__ import annotations

from elvit_sphinx import __version__
from elvit_sphinx.codegraph.source_pages import setup_source_pages
from elvit_sphinx.config import setup_config
from elvit_sphinx.pages.assets import setup_assets
from elvit_sphinx.pages.build_line import setup_build_line
from elvit_sphinx.pages.build_state import init_build_state
from elvit_sphinx.pages.citation import setup_citation
from elvit_sphinx.pages.collector import setup_collector
from elvit_sphinx.pages.directive import make_directive
from elvit_sphinx.pages.glossary_tooltips import setup_glossary_tooltips
from elvit_sphinx.pages.i18n import setup_i18n
from elvit_sphinx.pages.prefetch import setup_prefetch
from elvit_sphinx.pages.reader_images import setup_reader_images
from elvit_sphinx.pages.reference import setup_reference
from elvit_sphinx.pages.view_node import setup_view_node
from elvit_sphinx.views import VIEWS

#: Bump when the shape of what the extension stores on the environment changes.
ENV_VERSION = 4


def setup(app):
    setup_config(app)
    app.connect("builder-inited", init_build_state)
    setup_collector(app)
    setup_view_node(app)
    for view in VIEWS.values():
        app.add_directive(f"elvit-{view.name}", make_directive(view))
    setup_reader_images(app)  # after the loop: views with an image menu get their own directive
    setup_assets(app)
    setup_glossary_tooltips(app)
    setup_citation(app)
    setup_build_line(app)
    setup_prefetch(app)
    setup_i18n(app)
    setup_reference(app)
    setup_source_pages(app)
    return {
        "version": __version__,
        "env_version": ENV_VERSION,
        "parallel_read_safe": True,
        "parallel_write_safe": True,
    }
