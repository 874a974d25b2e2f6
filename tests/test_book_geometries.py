"""The whole book builds, with warnings as errors, for checkpoints of other geometries, and its
pages state that geometry's sizes and draw every figure (ViT-B/16, and one that differs from the
embedded model in every dimension)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_book import COUNT_DRAWN, content_pages, copy_book

pytestmark = pytest.mark.slow

READY = ("() => [...document.querySelectorAll('[data-elvit-view]')]"
         ".every(f => f.dataset.elvitReady === 'true')")


def build_book_with(geometry: str, tmp_path_factory) -> tuple[Path, dict]:
    from elvit_sphinx.compute.checkpoints import GEOMETRIES, save_random_checkpoint

    root = tmp_path_factory.mktemp(f"book-{geometry}")
    folder = save_random_checkpoint(geometry, root / "checkpoint")
    src = copy_book(root)
    out = root / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "-j", "2",
         str(src), str(out)],
        capture_output=True, text=True, timeout=1500, env={**os.environ, "ELVIT_MODEL": str(folder)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out, GEOMETRIES[geometry]


def text_of(page: Path) -> str:
    """A page's text, tags dropped and whitespace collapsed, as a reader reads it."""
    text = " ".join(re.sub(r"<[^>]+>", " ", page.read_text()).split())
    return text.replace(" ,", ",").replace(" )", ")").replace("( ", "(")


@pytest.fixture(scope="module", params=["odd", "vit-b16"])
def geometry_book(request, tmp_path_factory):
    return build_book_with(request.param, tmp_path_factory)


def test_chapters_state_this_geometry(geometry_book):
    site, spec = geometry_book
    grid = spec["image_size"] // spec["patch_size"]
    chapter1 = text_of(site / "01-image-to-patches.html")
    assert f"patches: {grid * grid} of them" in chapter1  # N = HW/P²
    assert f"the grid has {grid} rows and {grid} columns" in chapter1
    head = text_of(site / "07-the-head.html")
    assert f"model’s {len(spec['labels'])} classes ({', '.join(spec['labels'])})" in head


@pytest.mark.browser
def test_every_figure_draws_without_errors(geometry_book, open_page):
    site, _spec = geometry_book
    for page_path in content_pages(site):
        page, log = open_page(page_path)
        if page.locator("[data-elvit-view]").count():
            page.wait_for_function(READY, timeout=30000)
            assert all(n > 0 for n in page.evaluate(COUNT_DRAWN)), page_path.name
        assert log.console_errors == [] and log.page_errors == [], (page_path.name, log.console_errors)
