"""The code graph in a real Chromium, on a built Sphinx page, used the way a reader uses it."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import READY, assert_clean, view_state

from code_graph import locate
from elvit_sphinx.codegraph.source_code import read_source

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parent / "roots" / "test-codegraph"
FIGURE = '[data-elvit-view="codegraph"]'
PAGE = "_elvit_source/transformers.models.vit.modeling_vit.html"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("codegraph") / "src"
    shutil.copytree(ROOT, source)
    out = source / "_build" / "html"
    result = subprocess.run([sys.executable, "-m", "sphinx", "-W", "-q", "-b", "html", str(source), str(out)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def node(page, node_id: str):
    """A node's label box: the part of a node a reader points at."""
    return page.locator(f'{FIGURE} [data-elvit-node="{node_id}"] .elvit-cg-label-box')


def readout(page) -> str:
    return page.locator(f"{FIGURE} .elvit-readout").inner_text()


def test_hover_shows_the_docstring_and_click_opens_the_source(site, open_page):
    code = read_source(locate("transformers.models.vit.modeling_vit"))
    page, log = open_page(site / "index.html", wait_for=READY)
    assert view_state(page, "codegraph") == {"hovered": None, "open": None}

    node(page, "modeling_vit.ViTEmbeddings").hover()
    assert view_state(page, "codegraph")["hovered"] == "modeling_vit.ViTEmbeddings"
    assert "Construct the CLS token, position and patch embeddings." in readout(page)
    node(page, "concept:MLP").hover()
    assert "The MLP in each block is two linear layers" in readout(page)

    node(page, "modeling_vit.ViTLayer").click()
    assert view_state(page, "codegraph")["open"] == "modeling_vit.ViTLayer"
    panel = page.locator(f"{FIGURE} .elvit-codegraph-open")
    assert panel.is_visible()
    layer = code.find_class("ViTLayer")
    shown = panel.locator(".highlight pre").inner_text()
    # The panel's code is the class's source, line for line, with its line numbers.
    expected = code.text_lines(layer.line, layer.end_line)
    rows = shown.split("\n")
    assert len(rows) == len(expected)
    for number, (row, line) in enumerate(zip(rows, expected, strict=True), start=layer.line):
        assert row.split()[0] == str(number) and row.rstrip().endswith(line.rstrip())
    assert panel.locator(".highlight .k").first.inner_text() == "class"  # Pygments token classes

    link = panel.locator("a.elvit-codegraph-source-link")
    assert link.get_attribute("href") == f"./{PAGE}#ViTLayer"  # from the page's content root
    link.click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"{PAGE}#ViTLayer")
    # The source page opened at the class: its first line is on screen.
    top = page.evaluate("document.getElementById('ViTLayer').getBoundingClientRect().top")
    assert -1 <= top < page.evaluate("innerHeight") / 2
    first_line = page.locator("#ViTLayer .elvit-line").first.inner_text()
    assert first_line.split() == [str(layer.line), "class", "ViTLayer(GradientCheckpointingLayer):"]
    assert_clean(log, site)


def test_labels_are_drawn_exactly_as_wide_as_the_layout_planned(site, open_page):
    page, log = open_page(site / "index.html", wait_for=READY)
    measured = page.evaluate("""() => [...document.querySelectorAll('.elvit-cg-label')].map(t => {
        const b = t.getBBox();
        return {text: t.textContent, length: t.getComputedTextLength(),
                box: [b.x, b.y, b.x + b.width, b.y + b.height]};
    })""")
    data = json.loads(page.locator(f"{FIGURE} script.elvit-data").text_content())
    char = data["char_width"]
    assert len(measured) == len(data["nodes"])
    for label in measured:
        # Within 0.02 px a character (the browser rounds glyph advances); labels have
        # data["padding"] px to spare, so no text crosses its box.
        n = len(label["text"])
        assert label["length"] == pytest.approx(n * char, abs=0.02 * n + 0.1)
    for a, b in itertools.combinations(measured, 2):
        x_gap = min(a["box"][2], b["box"][2]) - max(a["box"][0], b["box"][0])
        y_gap = min(a["box"][3], b["box"][3]) - max(a["box"][1], b["box"][1])
        assert not (x_gap > 0.5 and y_gap > 0.5), (a["text"], b["text"])
    assert_clean(log, site)


def test_keyboard_moves_opens_and_closes(site, open_page):
    page, log = open_page(site / "index.html", wait_for=READY)
    first = page.locator(f'{FIGURE} [data-elvit-node][tabindex="0"]')
    assert first.count() == 1
    first.focus()
    start = view_state(page, "codegraph")["hovered"]
    assert start == first.get_attribute("data-elvit-node")
    start_x = page.evaluate("document.activeElement.getBBox().x")
    page.keyboard.press("ArrowRight")
    moved = page.evaluate("document.activeElement.dataset.elvitNode")
    assert moved != start and view_state(page, "codegraph")["hovered"] == moved
    assert page.evaluate("document.activeElement.getBBox().x") != start_x
    assert page.locator(f'{FIGURE} [data-elvit-node][tabindex="0"]').get_attribute("data-elvit-node") == moved

    page.keyboard.press("Enter")
    assert view_state(page, "codegraph")["open"] == moved
    assert page.locator(f"{FIGURE} .elvit-codegraph-open").is_visible()
    page.keyboard.press("Escape")
    assert view_state(page, "codegraph")["open"] is None
    assert not page.locator(f"{FIGURE} .elvit-codegraph-open").is_visible()

    # From inside the panel, Escape closes it and gives the focus back to the node.
    page.keyboard.press("Enter")
    page.locator(f"{FIGURE} .elvit-codegraph-close").focus()
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.dataset.elvitNode") == moved
    assert_clean(log, site)


def test_a_term_lists_its_classes_and_the_role_links_to_the_source(site, open_page):
    page, log = open_page(site / "index.html", wait_for=READY)
    node(page, "concept:patch embedding").click()
    panel = page.locator(f"{FIGURE} .elvit-codegraph-open")
    assert "term: patch embedding" in panel.inner_text()
    assert "ViTPatchEmbeddings, line" in panel.inner_text()
    assert panel.get_by_role("link", name="Glossary entry").get_attribute("href") == \
        "glossary.html#term-patch-embedding"
    panel.get_by_role("button", name="ViTPatchEmbeddings").click()
    assert view_state(page, "codegraph")["open"] == "modeling_vit.ViTPatchEmbeddings"

    page.locator("a.elvit-class-link").click()  # {elvit-class}`ViTMLP` in the text
    page.wait_for_load_state("load")
    assert page.url.endswith(f"{PAGE}#ViTMLP")
    text = page.locator("#ViTMLP").inner_text()
    assert re.search(r"class ViTMLP\(nn\.Module\):", text)
    assert_clean(log, site)
