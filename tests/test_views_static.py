"""Every view's static picture (the PNG for readers without JavaScript, the "Download PNG" link,
the PDF and the LaTeX build): drawn at build time from the view's own output, a real drawing of
the selection the page opens with, the same bytes every time, at every geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from code_graph.sources import locate
from elvit_sphinx.views import VIEWS
from elvit_sphinx.views.encoding import decode

BOOK_GLOSSARY = Path(__file__).parent.parent / "book" / "glossary.md"

#: Options a view needs beyond its defaults to draw something (the annotations' regions).
OPTIONS = {
    "annotations": {"tensor": "encoder.layer.0.attention.scores", "head": 1,
                    "content": "rows 0..0, cols 1..last: the CLS token's scores over the patches"},
}


def view_output(view, trace):
    options = dict(view.defaults) | OPTIONS.get(view.name, {})
    if not view.needs_trace:  # the code graph reads source files, not a forward pass
        files = [locate("transformers.models.vit.modeling_vit"), BOOK_GLOSSARY]
        return view.build(files, options)
    if view.content:
        options.setdefault("content", "")
    return view.build(trace, options)


def test_every_view_has_a_static_picture():
    assert [name for name, view in sorted(VIEWS.items()) if view.static is None] == []


@pytest.mark.parametrize("name", sorted(VIEWS))
def test_static_picture_is_a_drawing_from_the_view_output(small_trace, name):
    view = VIEWS[name]
    if view.static is None:
        pytest.fail(f"elvit-{name} has no static picture")
    picture = view.static(view_output(view, small_trace))
    pixels = np.asarray(picture.convert("RGB"), dtype=np.float64)
    assert picture.width >= 400 and picture.height >= 200, picture.size
    assert pixels.std() > 20  # a drawing, not an empty canvas
    assert view.static(view_output(view, small_trace)).tobytes() == picture.tobytes()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(name for name, view in VIEWS.items() if view.needs_trace))
@pytest.mark.parametrize("geometry", ["vitb_trace", "odd_trace"])
def test_static_picture_at_other_geometries(request, name, geometry):
    view = VIEWS[name]
    if view.static is None:
        pytest.fail(f"elvit-{name} has no static picture")
    picture = view.static(view_output(view, request.getfixturevalue(geometry)))
    assert picture.width * picture.height <= 4_000_000  # a figure for a page, not a poster
    assert np.asarray(picture.convert("RGB"), dtype=np.float64).std() > 20


# --- one specific check per view ------------------------------------------------------------------

def find_block(picture, block: np.ndarray, margin: int = 2) -> tuple[int, int] | None:
    """Where ``block`` (H×W×3) sits in the picture, pixel for pixel (its outer ``margin``
    pixels may be covered by a frame), or None."""
    pixels = np.asarray(picture.convert("RGB"))
    inner = block[margin:block.shape[0] - margin, margin:block.shape[1] - margin]
    h, w = inner.shape[:2]
    first = inner[0]
    for y in range(pixels.shape[0] - h + 1):
        row = pixels[y]
        for x in np.flatnonzero((row[:pixels.shape[1] - w + 1] == first[0]).all(-1)):
            if (row[x:x + w] == first).all() and (pixels[y:y + h, x:x + w] == inner).all():
                return int(x) - margin, y - margin
    return None


def test_detail_picture_paints_the_opened_levels_mosaics_from_the_trace(small_trace):
    from elvit_sphinx.views import detail, heatmap
    from elvit_sphinx.views.mosaic import layout_from_json, mosaic_codes, sheet_codes

    view = VIEWS["detail"]
    output = view.build(small_trace, {"open": "block 0"})
    item = output.data["levels"]["block-0"]["items"][0]  # the LayerNorm before the attention
    layout = layout_from_json(item["layout"])
    codes = mosaic_codes(sheet_codes(output.data["inline"]["payload"]["pictures"][item["tensor"]]), layout)
    expected = heatmap.codes(small_trace[item["tensor"]].T, axis=1)  # one row per channel
    for channel in (0, layout.count // 2, layout.count - 1):
        ox, oy = layout.origin(channel)
        for token in (0, 1, layout.tokens - 1):
            cx, cy = layout.cell(token)
            assert codes[oy + cy, ox + cx] == expected[channel, token]
    assert (codes >= 0).sum() == layout.count * layout.tokens  # every value once, gaps −1
    palette = decode(output.data["palette"]).reshape(256, 3)
    mosaic = detail._mosaic_rgb(output.data["inline"]["payload"], item, palette,
                                (layout.width, layout.height))
    assert find_block(view.static(output), mosaic) is not None  # drawn cell for cell
    assert view.static(view.build(small_trace, {"open": "model"})).size != view.static(output).size
