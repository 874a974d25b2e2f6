"""The real book, built as a reader gets it, opened page by page in Chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BOOK = Path(__file__).parent.parent / "book"


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    """book/ built with the README's command (warnings are errors), in a scratch folder."""
    root = tmp_path_factory.mktemp("book")
    shutil.copytree(BOOK, root / "book", ignore=shutil.ignore_patterns("_build"))
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "-j", "2",
         str(root / "book"), str(root / "book" / "_build" / "html")],
        capture_output=True, text=True, timeout=900, env={**os.environ, "ELVIT_MODEL": ""},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root / "book" / "_build" / "html"


# Bokeh draws inside nested shadow roots: walk them all.
COUNT_CANVASES = """() => {
  const count = (root) => [...root.querySelectorAll('*')].reduce(
      (n, el) => n + (el.tagName === 'CANVAS') + (el.shadowRoot ? count(el.shadowRoot) : 0), 0);
  return [...document.querySelectorAll('[data-elvit-view]')].map(count);
}"""
READOUT = ("() => Bokeh.documents.map(d => d.get_model_by_name('elvit-patches-readout'))"
           ".find(Boolean).text")


def content_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.glob("*.html") if p.name not in ("genindex.html", "search.html"))


def test_chapter_states_which_model_and_image_made_its_figures(built_book):
    html = (built_book / "01-image-to-patches.html").read_text()
    assert html.count('class="elvit-figure"') >= 2
    assert "Computed during this build by" in html
    assert "cifar10-test-cat-0001.jpg" in html and "chelsea.png" in html
    from elvit_sphinx.model_source import resolve

    if not resolve(None).trained:
        assert "This model is untrained" in html


def test_glossary_links_carry_their_definition_as_a_tooltip(built_book):
    html = (built_book / "01-image-to-patches.html").read_text()
    assert 'href="glossary.html#term-token" title="A token is one vector' in html


@pytest.mark.browser
def test_every_page_renders_offline_without_errors(built_book, open_page):
    pages = content_pages(built_book)
    assert len(pages) >= 3
    figures_seen = 0
    for page_path in pages:
        page, log = open_page(page_path)
        figures = page.locator("[data-elvit-view]")
        count = figures.count()
        if count:
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-elvit-view]')]"
                ".every(f => f.dataset.elvitReady === 'true')", timeout=30000)
            # Rendered: every figure holds at least one drawn Bokeh canvas.
            canvases = page.evaluate(COUNT_CANVASES)
            assert all(n > 0 for n in canvases), (page_path.name, canvases)
        figures_seen += count
        page.wait_for_timeout(300)
        assert log.console_errors == [] and log.page_errors == [], page_path.name
        assert log.outside(built_book) == [], (page_path.name, log.outside(built_book))
    assert figures_seen >= 2


@pytest.mark.browser
def test_reader_hovers_a_patch_in_the_chapter(built_book, open_page):
    page, log = open_page(built_book / "01-image-to-patches.html")
    figure = page.locator('[data-elvit-view="patches"]').first
    figure.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('[data-elvit-view=patches]')"
                           ".dataset.elvitReady === 'true'", timeout=30000)
    before = page.evaluate(READOUT)
    box = figure.bounding_box()
    # The image plot is the left part of the figure; move across it as a reader would.
    for fraction in (0.1, 0.2, 0.3):
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.35)
        page.wait_for_timeout(200)
    after = page.evaluate(READOUT)
    assert after != before and "patch" in after
    assert log.console_errors == [] and log.page_errors == []
