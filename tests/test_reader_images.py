"""The reader's own images (``elvit_images``, ``:images:``) and the interpretation directives in a
real Sphinx build: bad entries give one warning each at their line, the figures keep the good
images in their menu, and each image's data is published as chunks beside the page."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from sphinx.util.console import strip_colors

from elvit_sphinx.pages.reader_images import conf_location


@pytest.mark.sphinx("html", testroot="interp")
def test_reader_images_and_menus_in_a_build(app):
    app.build()
    warnings = strip_colors(app.warning.getvalue())
    assert "Traceback" not in warnings
    srcdir = Path(app.srcdir)
    conf, index = srcdir / "conf.py", srcdir / "index.rst"

    def one(location: str, text: str) -> None:
        lines = [line for line in warnings.splitlines() if line.startswith(f"{location}:")]
        assert len(lines) == 1 and text in lines[0], (location, warnings)

    one(f"{conf}:8", "elvit_images: 'images/missing.png': image file not found")
    one(f"{conf}:9", "elvit_images: 'images/broken.png': not an image file")
    one(f"{conf}:6", "elvit_images: 3 is not a path (a string); it is left out")
    one(f"{index}:4", "elvit-similarity: :images: image file not found")
    one(f"{index}:17", "elvit-similarity: layer 99 is out of range: this model has 12 blocks (1–12)")
    assert len([line for line in warnings.splitlines() if "WARNING" in line]) == 5, warnings

    html = (Path(app.outdir) / "index.html").read_text()
    figures = re.findall(r'data-elvit-view="([\w-]+)" data-elvit-key="(\w+)"', html)
    assert [view for view, _key in figures] == ["similarity", "patch-predictions", "attention-compare"]
    data = [json.loads(block) for block in
            re.findall(r'<script type="application/json" class="elvit-data">(.*?)</script>', html)]
    # The menus: the figure's image, its good :images:, then the reader's good images.
    assert [image["name"] for image in data[0]["images"]] == ["main.png", "also.png", "extra.png"]
    assert [image["name"] for image in data[1]["images"]] == ["main.png", "extra.png"]
    assert "images" not in data[2]
    for script in ("interpretation.js", "views/similarity.js", "views/patch-predictions.js",
                   "views/attention-compare.js", "charts.js"):
        assert f"_static/elvit/{script}" in html, script
    similarity_key = figures[0][1]
    chunks = sorted(p.name for p in (Path(app.outdir) / "_elvit" / similarity_key).iterdir())
    assert chunks == sorted([f"sim-{i}-{layer}.js" for i in range(3) for layer in range(12)]
                            + ["img-1.js", "img-2.js", "static.png"])  # static: no-JS picture
    assert (Path(app.outdir) / "_elvit" / figures[2][1] / "heads.js").is_file()


def test_conf_location_finds_the_entry_then_the_setting(tmp_path):
    (tmp_path / "conf.py").write_text('project = "x"\nelvit_images = [\n    "a.png",\n]\n')
    assert conf_location(str(tmp_path), "a.png") == f"{tmp_path / 'conf.py'}:3"
    assert conf_location(str(tmp_path), "b.png") == f"{tmp_path / 'conf.py'}:2"
    assert conf_location(str(tmp_path / "nowhere"), "a.png").endswith("conf.py:1")
