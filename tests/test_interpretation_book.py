"""The interpretation chapter inside the whole book, built as a reader gets it (warnings are
errors): its tables equal an independent computation from the same model, its figures work in
Chromium from file:// and stay in step, and the page is light. The ViT-B/16 and odd geometries
build the whole book too (slow)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html import unescape
from pathlib import Path

import numpy as np
import pytest
from conftest import READY
from test_book import copy_book
from test_interpretation import independent_cosines
from test_interpretation_browser import wait_state

BOOK = Path(__file__).parent.parent / "book"
CHAPTER = "09-what-did-the-model-look-at.html"
PAGE_LIMIT = 2_000_000


def build_book(root: Path, model: str = "") -> Path:
    """The book built with ``ELVIT_MODEL=model`` ("" = conf.py's model) into ``root``."""
    copy_book(root)
    site = root / "book" / "_build" / "html"
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-b", "html", "-j", "2",
         str(root / "book"), str(site)],
        capture_output=True, text=True, timeout=1800, env={**os.environ, "ELVIT_MODEL": model})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return site


def page_weight(site: Path, page: str) -> tuple[int, dict[str, int]]:
    """Bytes of the page plus the local files it loads outside ``_static`` (chunks excluded: they
    are fetched on demand), and the size of every chunk its figures can request."""
    html = (site / page).read_text(encoding="utf-8")
    total = len(html.encode())
    for link in set(re.findall(r'(?:src|href)="([^"#?]+)', html)):
        path = site / link
        local = not link.startswith(("_static/", "http", "data:"))
        if local and path.is_file() and path.suffix != ".html":
            total += path.stat().st_size
    chunks = {}
    for key in set(re.findall(r'data-elvit-key="(\w+)"', html)):
        folder = site / "_elvit" / key
        for chunk in sorted(folder.glob("*.js")) if folder.is_dir() else []:
            chunks[f"{key[:8]}/{chunk.name}"] = chunk.stat().st_size
    return total, chunks


def table_rows(html: str, header_word: str) -> list[list[str]]:
    """The body rows of the first table whose header mentions ``header_word``."""
    for table in re.findall(r"<table.*?</table>", html, flags=re.S):
        head = re.search(r"<thead>.*?</thead>", table, flags=re.S)
        if head and header_word in head.group(0):
            body = re.search(r"<tbody>(.*?)</tbody>", table, flags=re.S).group(1)
            return [[unescape(re.sub(r"<.*?>", "", cell)).strip()
                     for cell in re.findall(r"<td.*?</td>", row, flags=re.S)]
                    for row in re.findall(r"<tr.*?</tr>", body, flags=re.S)]
    raise AssertionError(f"no table about {header_word!r}")


def auc_by_ranks(values: np.ndarray, mask: np.ndarray) -> float:
    """Mann-Whitney AUC from rank sums (an independent route to interpretation.contrast)."""
    ranks = np.empty(len(values))
    ranks[np.argsort(values, kind="stable")] = np.arange(1, len(values) + 1)
    inside = int(mask.sum())
    return (ranks[mask].sum() - inside * (inside + 1) / 2) / (inside * (len(values) - inside))


@pytest.fixture(scope="module")
def default_book(tmp_path_factory) -> Path:
    return build_book(tmp_path_factory.mktemp("book"))


@pytest.fixture(scope="module")
def horse(tmp_path_factory):
    from elvit_sphinx.compute import load_model, trace_image

    return trace_image(load_model("embedded"), BOOK / "images" / "cifar10-test-horse-0006.jpg")


def test_chapter_tables_are_this_models_numbers(default_book, horse):
    from elvit_sphinx.analysis.image_regions import load_regions

    html = (default_book / CHAPTER).read_text(encoding="utf-8")
    assert 'id="chapter-interpretation"' in html
    views = re.findall(r'data-elvit-view="([\w-]+)"', html)
    assert sorted(views) == ["attention-compare", "patch-predictions", "similarity", "similarity"]
    if not horse.config.trained:
        assert "This model is untrained" in html and "show no learned structure" in html
    regions = load_regions(BOOK / "images" / "cifar10-test-horse-0006.jpg")
    mask = regions.patch_masks(horse.config.grid)["horse"]
    rows = table_rows(html, "CLS · horse patches")
    assert len(rows) == horse.config.num_layers
    for layer, row in enumerate(rows):
        cls_row = independent_cosines(horse[f"encoder.layer.{layer}.output"])[0, 1:]
        expected = [str(layer + 1), f"{cls_row[mask].mean():.3f}", f"{cls_row[~mask].mean():.3f}",
                    f"{auc_by_ranks(cls_row, mask):.2f}"]
        assert [cell.replace("\u2212", "-") for cell in row] == expected
    assert f"(AUC {rows[-1][3]})" in html  # the sentence under the table quotes the last block
    # The NumPy cells ran and printed their checks.
    check = re.search(r"CLS row vs the model\S+s own output: largest difference (\d\.\de[-+]\d+)", html)
    assert check and float(check.group(1)) < 1e-5


def test_chapter_page_is_light(default_book, capsys):
    total, chunks = page_weight(default_book, CHAPTER)
    with capsys.disabled():
        print(f"\nchapter page {total / 1e6:.2f} MB; {len(chunks)} chunks, largest "
              f"{max(chunks.values()) / 1e3:.0f} kB")
    assert total <= PAGE_LIMIT


@pytest.mark.browser
def test_reader_links_the_two_figures_of_the_composite(default_book, open_page):
    page, log = open_page(default_book / CHAPTER, wait_for=READY)
    explorers = page.locator('[data-elvit-view="similarity"]')
    def horse_choice():
        state = json.loads(explorers.nth(0).get_attribute("data-elvit-state"))
        return state["image"], state["block"], state["token"]
    before = horse_choice()
    composite = explorers.nth(1)
    composite.scroll_into_view_if_needed()
    composite.locator("input.elvit-number").fill("30")
    wait_state(page, "patch-predictions", "s.patch === 30")
    # Another image's explorer is not moved by this one.
    assert horse_choice() == before
    composite.locator("input.elvit-slider").focus()
    page.keyboard.press("Home")
    page.wait_for_function("JSON.parse(document.querySelectorAll('[data-elvit-view=similarity]')[1]"
                           ".dataset.elvitState).block === 1")
    predictions = page.locator('[data-elvit-view="patch-predictions"]')
    predictions.locator("input.elvit-number").fill("12")
    page.wait_for_function("(s => s.token === 13 && s.block === 1)(JSON.parse(document.querySelectorAll("
                           "'[data-elvit-view=similarity]')[1].dataset.elvitState))", timeout=5000)
    page.wait_for_timeout(300)
    assert log.console_errors == [] and log.page_errors == []
    assert log.outside(default_book) == []


@pytest.mark.slow
@pytest.mark.parametrize("geometry", ["vit-b16", "odd"])
def test_whole_book_builds_with_other_geometries(geometry, tmp_path, capsys):
    from elvit_sphinx.compute.checkpoints import save_random_checkpoint

    folder = save_random_checkpoint(geometry, tmp_path / geometry)
    site = build_book(tmp_path, str(folder))
    html = (site / CHAPTER).read_text(encoding="utf-8")
    total, chunks = page_weight(site, CHAPTER)
    with capsys.disabled():
        print(f"\n{geometry}: chapter page {total / 1e6:.2f} MB; {len(chunks)} chunks, largest "
              f"{max(chunks.values()) / 1e3:.0f} kB, all {sum(chunks.values()) / 1e6:.1f} MB")
    assert total <= PAGE_LIMIT
    if geometry == "odd":
        assert "This model has no classes called <em>cat</em> and <em>dog</em>" in html
