"""Shared fixtures: a real traced forward pass, and a real Chromium driven by Playwright."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

pytest_plugins = ["sphinx.testing.fixtures"]

CHROMIUM = os.environ.get("ELVIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="session")
def rootdir() -> Path:
    """Where sphinx.testing finds tests/roots/test-<name>/."""
    return Path(__file__).parent / "roots"


@pytest.fixture(scope="session")
def sample_image(tmp_path_factory) -> Path:
    """A small RGB image with structure (a bright disc on a gradient), deterministic."""
    from PIL import Image

    yy, xx = np.mgrid[0:48, 0:64]
    rgb = np.stack([xx * 4, yy * 5, 255 - xx * 3], axis=-1).astype(np.float64)
    disc = (xx - 40) ** 2 + (yy - 20) ** 2 < 120
    rgb[disc] = [250, 220, 40]
    path = tmp_path_factory.mktemp("images") / "disc.png"
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(path)
    return path


@pytest.fixture(scope="session")
def small_trace(sample_image):
    """The embedded-geometry model traced on ``sample_image`` (in this process; tests may)."""
    from elvit_sphinx.compute import load_model, trace_image

    return trace_image(load_model("embedded"), sample_image)


def _geometry_trace(name: str, tmp_path_factory, image):
    from elvit_sphinx.compute import load_model, trace_image
    from elvit_sphinx.compute.checkpoints import save_random_checkpoint

    folder = save_random_checkpoint(name, tmp_path_factory.mktemp(name))
    return trace_image(load_model(str(folder)), image)


@pytest.fixture(scope="session")
def vitb_trace(sample_image, tmp_path_factory):
    """ViT-B/16 geometry (D = 768, 12 heads), random weights (seed 0), traced once."""
    return _geometry_trace("vit-b16", tmp_path_factory, sample_image)


@pytest.fixture(scope="session")
def odd_trace(sample_image, tmp_path_factory):
    """A geometry that differs from the embedded one in every dimension (see checkpoints.py)."""
    return _geometry_trace("odd", tmp_path_factory, sample_image)


#: Every view is checked at the default, ViT-B/16 and the odd geometry.
GEOMETRY_TRACES = ["small_trace", pytest.param("vitb_trace", marks=pytest.mark.slow), "odd_trace"]


@pytest.fixture(params=GEOMETRY_TRACES)
def trace(request):
    return request.getfixturevalue(request.param)


@dataclass
class PageLog:
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def outside(self, root: Path) -> list[str]:
        """Requests that left the built site (anything but file:// URLs under ``root``)."""
        prefix = root.resolve().as_uri()
        return [url for url in self.requests
                if not (url.startswith(prefix) or url.startswith("data:") or url == "about:blank")]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM) and not os.path.exists(CHROMIUM):
        pytest.skip(f"Chromium not installed at {CHROMIUM} (apt-get install chromium)")
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """open_page(path) → (page, log): loads a local HTML file, recording errors and requests."""
    contexts = []

    def _open(path: Path, wait_for: str | None = None):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        contexts.append(context)
        page = context.new_page()
        log = PageLog()
        page.on("console", lambda m: log.console_errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: log.page_errors.append(str(e)))
        page.on("request", lambda r: log.requests.append(r.url))
        page.goto(Path(path).resolve().as_uri())
        page.wait_for_load_state("load")
        if wait_for:
            page.wait_for_function(wait_for, timeout=20000)
        return page, log

    yield _open
    for context in contexts:
        context.close()


READY = ("() => [...document.querySelectorAll('[data-elvit-view]')]"
         ".every(f => f.dataset.elvitReady === 'true')")


@pytest.fixture
def open_view(open_page, tmp_path):
    """open_view(view, trace, options) → (page, log, figure locator) for a standalone page."""
    from elvit_sphinx.pages.standalone import standalone_html

    def _open(view, trace, options: dict | None = None):
        options = {**view.defaults, **(options or {})}
        path = tmp_path / f"{view.name}.html"
        path.write_text(standalone_html(view, view.build(trace, options)), encoding="utf-8")
        page, log = open_page(path, wait_for=READY)
        return page, log, page.locator(f'[data-elvit-view="{view.name}"]')

    return _open


def view_state(page, name: str) -> dict:
    """What the reader has selected in the first view called ``name`` (data-elvit-state)."""
    return page.evaluate(f"JSON.parse(document.querySelector('[data-elvit-view=\"{name}\"]')"
                         ".dataset.elvitState || '{{}}')")


def assert_clean(log, root: Path) -> None:
    """No console errors, no page errors, no request outside ``root``."""
    assert log.console_errors == [] and log.page_errors == []
    assert log.outside(root) == []


def canvas_pixels(page, figure_selector: str, index: int) -> list[int]:
    """RGBA bytes of the ``index``-th canvas in a figure, read back from the page."""
    return page.evaluate(
        """([selector, index]) => {
             const canvas = document.querySelector(selector).querySelectorAll('canvas')[index];
             return Array.from(canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data);
           }""", [figure_selector, index])


@pytest.fixture(scope="session")
def horse_trace():
    """The default model on a second image (the book's horse), for views with an image menu."""
    from elvit_sphinx.compute import load_model, trace_image

    return trace_image(load_model("embedded"), Path(__file__).parent.parent / "book" / "images"
                       / "cifar10-test-horse-0006.jpg")
