"""The real book, built as a reader gets it, opened page by page in Chromium."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BOOK = Path(__file__).parent.parent / "book"
CITATION = BOOK.parent / "CITATION.cff"


def copy_book(root: Path) -> Path:
    """book/ and the CITATION.cff its conf.py reads, as they sit in the repository."""
    shutil.copytree(BOOK, root / "book", ignore=shutil.ignore_patterns("_build"))
    shutil.copy(CITATION, root / "CITATION.cff")
    return root / "book"


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    """book/ built with the README's command (warnings are errors), in a scratch folder."""
    root = tmp_path_factory.mktemp("book")
    copy_book(root)
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "-j", "2",
         str(root / "book"), str(root / "book" / "_build" / "html")],
        capture_output=True, text=True, timeout=900, env={**os.environ, "ELVIT_MODEL": ""},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return root / "book" / "_build" / "html"


# Something drawn in every figure: a canvas or an SVG chart.
COUNT_DRAWN = """() => [...document.querySelectorAll('[data-elvit-view]')]
  .map(f => f.querySelectorAll('canvas, svg').length)"""
READOUT = "() => document.querySelector('[data-elvit-view=patches] .elvit-readout').textContent"


def content_pages(site: Path) -> list[Path]:
    return sorted(p for p in site.glob("*.html") if p.name not in ("genindex.html", "search.html"))


def test_chapter_states_which_model_and_image_made_its_figures(built_book):
    html = (built_book / "01-image-to-patches.html").read_text()
    assert html.count('class="elvit-figure"') >= 2
    assert "Computed during this build by" in html
    assert "cifar10-test-cat-0001.jpg" in html and "chelsea.png" in html
    from elvit_sphinx.tracing.model_source import resolve

    if not resolve(None).trained:
        assert "This model is untrained" in html


def test_notebooks_only_read_traces_the_build_computed(built_book):
    """Chapters' cells find their images traced already (prefetch.py): no kernel starts torch."""
    log = built_book.parent / ".elvit_cache" / "compute-log.jsonl"
    entries = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(entries) >= 6  # the book's images, each traced once
    assert [e["image"] for e in entries if e["origin"] != "sphinx"] == []
    assert len({e["key"] for e in entries}) == len(entries)


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
            drawn = page.evaluate(COUNT_DRAWN)
            assert all(n > 0 for n in drawn), (page_path.name, drawn)
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
    box = figure.locator("canvas").first.bounding_box()
    # Move across the image as a reader would.
    for fraction in (0.1, 0.5, 0.9):
        page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] * 0.35)
    after = page.evaluate(READOUT)
    assert after != before and "patch" in after
    assert log.console_errors == [] and log.page_errors == []


def test_unusable_model_ends_the_real_book_build_with_one_error(tmp_path):
    """The chapters execute notebooks that read the model: the build must stop before them."""
    root = copy_book(tmp_path)
    model_id = "no-such-org/no-such-model"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", str(root),
         str(root / "_build" / "html")],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "ELVIT_MODEL": model_id, "HF_HUB_OFFLINE": "1",
             "HF_HUB_CACHE": str(tmp_path / "empty-hf-cache")},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert output.count("ERROR") == 1 and model_id in output
    assert "Traceback" not in output and "Exception" not in output
    assert f"{root / 'conf.py'}:" in output


@pytest.mark.browser
def test_glossary_tooltip_shows_on_hover_focus_and_tap(built_book, browser):
    """The ARIA tooltip pattern, in a book built with -j 2 (definitions from the read phase)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, has_touch=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto((built_book / "01-image-to-patches.html").as_uri())
    link = page.locator("a.reference.internal[href='glossary.html#term-token']").first
    tip_id = link.get_attribute("aria-describedby")
    assert tip_id == "elvit-term-term-token" and link.get_attribute("title") is None
    tip = page.locator(f"#{tip_id}")
    assert tip.get_attribute("role") == "tooltip" and tip.is_hidden()
    link.hover()
    assert tip.is_visible() and tip.inner_text().startswith("A token is one vector")
    box, viewport = tip.bounding_box(), page.viewport_size
    assert 0 <= box["x"] and box["x"] + box["width"] <= viewport["width"]  # on screen
    page.mouse.move(5, 5)
    assert tip.is_hidden()
    link.focus()
    assert tip.is_visible()
    page.keyboard.press("Escape")
    assert tip.is_hidden()
    url = page.url
    link.tap()
    assert tip.is_visible() and page.url == url  # the first tap shows, it does not navigate
    assert errors == []
    context.close()


def test_chapters_end_with_a_citation_box_that_matches_citation_cff(built_book):
    import yaml

    cff = yaml.safe_load(CITATION.read_text())
    import html as html_module
    import re

    html = (built_book / "06-residual-stream.html").read_text()
    box = html_module.unescape(re.sub(r"<[^>]+>", "", html.split('class="elvit-cite', 1)[1]))
    url = cff["url"] + "06-residual-stream.html#chapter-residuals"
    assert "Cite this chapter" in box
    assert f"{cff['authors'][0]['name']} ({cff['date-released'][:4]}). Residual connections and depth." in box
    assert f"In {cff['title']}, version {cff['version']}. {url}" in box
    assert "@incollection{elvit-book-residuals," in box and f"{{{url}}}" in box
    assert "elvit-cite" not in (built_book / "glossary.html").read_text()


def test_every_page_names_the_version_and_checkpoint_and_has_a_stable_address(built_book):
    import yaml

    cff = yaml.safe_load(CITATION.read_text())
    for page in content_pages(built_book):
        html = page.read_text()
        assert f"Built from EL-ViT book version {cff['version']}" in html, page.name
        assert "with checkpoint untrained ViT" in html or "with checkpoint" in html
        assert f'<link rel="canonical" href="{cff["url"]}{page.name}" />' in html, page.name
    sitemap = (built_book / "sitemap.xml").read_text()
    assert f"<loc>{cff['url']}06-residual-stream.html</loc>" in sitemap
def test_code_chapter_shows_the_graph_and_links_every_class_to_its_source(built_book):
    """Chapter 10: the code graph, glued class names linked to anchors that exist."""
    import re

    html = (built_book / "10-how-the-code-is-organised.html").read_text()
    assert 'data-elvit-view="codegraph"' in html and "{glue" not in html
    links = set(re.findall(r'href="(_elvit_source/[^"#]+)#([^"]+)"', html))
    assert len(links) >= 5
    for page, anchor in links:
        assert f'id="{anchor}"' in (built_book / page).read_text(), (page, anchor)
    assert len(html.encode()) < 1_000_000


@pytest.mark.browser
def test_phone_width_and_dark_mode(built_book, browser):
    """At 390 px nothing but a view's own scroll area is wider than the screen, and in dark
    mode every figure still draws, without errors."""
    for page_path in content_pages(built_book):
        context = browser.new_context(viewport={"width": 390, "height": 844}, color_scheme="dark")
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_path.as_uri())
        if page.locator("[data-elvit-view]").count():
            page.wait_for_function(
                "() => [...document.querySelectorAll('[data-elvit-view]')]"
                ".every(f => f.dataset.elvitReady === 'true')", timeout=30000)
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, (page_path.name, width)
        assert errors == [], (page_path.name, errors)
        context.close()
