"""The whole-model views in a Sphinx project (tests/roots/test-whole: stand-in chapters carrying
the book's labels and a small glossary read after the page with the views): links and glossary
definitions resolved when the page is written, the same under -j 2, bad input as warnings, and
the drill-down working from file://."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import READY, view_state
from test_build import copy_root, sphinx_build, warnings_of


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """test-whole built serially and with -j 2 (one shared cache); returns the -j 2 site."""
    tmp = tmp_path_factory.mktemp("whole")
    srcdir = copy_root("whole", tmp)
    cache = ["-D", f"elvit_cache_dir={tmp / 'cache'}"]
    serial = sphinx_build(srcdir, tmp / "serial", *cache)
    assert serial.returncode == 0, serial.stderr[-3000:]
    parallel = sphinx_build(srcdir, tmp / "parallel", "-j", "2", *cache)
    assert parallel.returncode == 0, parallel.stderr[-3000:]
    assert (tmp / "serial" / "index.html").read_text() == (tmp / "parallel" / "index.html").read_text()
    return tmp / "parallel"


def json_scripts(html: str, selector: str) -> list:
    return [json.loads(text.replace("<\\/", "</"))
            for text in re.findall(rf'<script type="application/json" {selector}>(.*?)</script>', html)]


def test_links_and_glossary_definitions_are_resolved_when_the_page_is_written(built):
    html = (built / "index.html").read_text()
    [definitions] = json_scripts(html, 'id="elvit-glossary"')
    assert definitions["transformer encoder"] == {
        "text": "The Transformer encoder is the stack of blocks.",
        "href": "glossary.html#term-Transformer-encoder"}
    assert set(definitions) == {"patch embedding", "transformer encoder", "block"}
    overview_links, detail_links = json_scripts(html, 'class="elvit-links"')
    assert overview_links["attention"] == "attention.html#chapter-attention"
    assert overview_links["encoder"] == "residuals.html#chapter-residuals"
    assert detail_links["fc1"] == "mlp-gelu.html#chapter-mlp-gelu"
    # Pages without such a figure carry no definitions.
    assert 'id="elvit-glossary"' not in (built / "attention.html").read_text()
    # The detail view's levels are chunk files beside the site, not in the page.
    key = re.search(r'data-elvit-view="detail" data-elvit-key="(\w+)"', html).group(1)
    chunks = sorted(p.name for p in (built / "_elvit" / key).iterdir())
    assert "level-encoder.js" in chunks and "level-attention-11.js" in chunks
    assert "level-model.js" not in chunks  # the first level is in the page
    assert len(html.encode()) < 800_000


@pytest.mark.browser
def test_reader_drills_down_from_file_url_and_reads_the_glossary(built, open_page):
    page, log = open_page(built / "index.html", wait_for=READY)
    overview = page.locator('[data-elvit-view="overview"]')
    overview.locator("[data-box=encoder]").hover()
    readout = overview.locator(".elvit-readout")
    assert "The Transformer encoder is the stack of blocks." in readout.inner_text()
    glossary_link = readout.locator("a.elvit-glossary-link").get_attribute("href")
    assert glossary_link == "glossary.html#term-Transformer-encoder"
    chapter_link = overview.locator("[data-box=patch_embedding] a").get_attribute("href")
    assert chapter_link == "patches.html#chapter-patches"
    overview.locator("[data-box=encoder]").click()
    assert view_state(page, "overview")["level"] == "encoder"

    detail = page.locator('[data-elvit-view="detail"]')
    for item, level in (("4", "encoder"), ("0", "block-0"), ("4", "mlp-0")):
        detail.locator(f'.elvit-dt-card[data-item="{item}"]').click()
        page.wait_for_function("(level) => JSON.parse(document.querySelector('[data-elvit-view=detail]')"
                               ".dataset.elvitState).drawn === level", arg=level, timeout=15000)
    box = detail.locator('.elvit-dt-card[data-item="1"] canvas').bounding_box()  # GELU
    page.mouse.move(box["x"] + box["width"] / 3, box["y"] + box["height"] / 3)
    page.mouse.move(box["x"] + box["width"] / 3 + 2, box["y"] + box["height"] / 3 + 1)
    assert "encoder.layer.0.mlp.gelu" in detail.locator(".elvit-dt-readout").inner_text()
    assert "GELU of fc1" in (view_state(page, "detail")["note"] or "")
    page.wait_for_timeout(200)
    assert log.console_errors == [] and log.page_errors == []
    assert log.outside(built) == []
    assert any("/_elvit/" in url and url.endswith("level-mlp-0.js") for url in log.requests)


BAD_PAGE = """Bad
===

.. elvit-annotations::
   :image: images/noise.png
   :tensor: encoder.layer.0.probs

   rows 0..0: unknown tensor

.. elvit-annotations::
   :image: images/noise.png
   :tensor: embeddings.with_cls

   rows 0..0: fine
   rows 190..200: out of range

.. elvit-annotations::
   :image: images/noise.png
   :tensor: embeddings.with_cls

   rows 0..0 no colon

.. elvit-overview::
   :image: images/noise.png
   :open: block 12

.. elvit-detail::
   :image: images/noise.png
   :open: mlp 40

.. elvit-annotations::
   :image: images/noise.png
   :tensor: embeddings.with_cls
   :caption: The good one.

   rows 0..0: the CLS token
"""


def test_bad_annotations_and_levels_give_one_warning_each_with_file_and_line(make_app, tmp_path):
    srcdir = copy_root("whole", tmp_path)
    (srcdir / "index.rst").write_text((srcdir / "index.rst").read_text().split(".. elvit-overview::")[0]
                                      + "\n.. toctree::\n\n   bad\n")
    (srcdir / "bad.rst").write_text(BAD_PAGE)
    shutil.rmtree(srcdir / "_build", ignore_errors=True)
    app = make_app("html", srcdir=srcdir)
    app.build()
    warnings = warnings_of(app)
    bad = str(srcdir / "bad.rst")
    directives = [n for n, line in enumerate(BAD_PAGE.splitlines(), start=1) if line.startswith(".. elvit-")]
    texts = ["unknown tensor 'encoder.layer.0.probs'",
             "annotation line 2 ('rows 190..200'): rows 190..200 are out of range: "
             "embeddings.with_cls has rows 0–196",
             "annotation line 1", "block 12 is out of range (0–11)", "block 40 is out of range (0–11)"]
    for line, text in zip(directives, texts, strict=False):
        matching = [w for w in warnings.splitlines() if w.startswith(f"{bad}:{line}:")]
        assert len(matching) == 1 and text in matching[0], (line, warnings)
    assert "Traceback" not in warnings
    html = (Path(app.outdir) / "bad.html").read_text()
    assert html.count('class="elvit-figure"') == 1 and "The good one." in html
