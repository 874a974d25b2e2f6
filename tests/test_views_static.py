"""Every view's static picture (the PNG for readers without JavaScript, the "Download PNG" link,
the PDF and the LaTeX build): drawn at build time from the view's own output, a real drawing of
the selection the page opens with, the same bytes every time, at every geometry."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from code_graph.sources import locate
from elvit_sphinx.views import VIEWS, posembed
from elvit_sphinx.views.palettes import palette_rgb

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


def drawn(name: str, trace, **options) -> np.ndarray:
    """The view's static picture for these options (over its defaults), as an RGB array."""
    view = VIEWS[name]
    output = view.build(trace, dict(view.defaults) | OPTIONS.get(name, {}) | options)
    return np.asarray(view.static(output).convert("RGB"))


def colour_count(pixels: np.ndarray, colour) -> int:
    """How many pixels have exactly this colour."""
    return int(np.all(pixels == np.asarray(colour, dtype=pixels.dtype), axis=-1).sum())


def test_posembed_picture_shows_the_chosen_position_as_most_similar(small_trace):
    """The chosen token's own cell of the similarity map (cos = 1) is the darkest blue of the
    −1…1 scale, a whole cell of it; the untrained model's other positions stay far lighter."""
    pixels = drawn("posembed", small_trace, token=30)
    darkest = palette_rgb("blues")[255]
    assert colour_count(pixels, darkest) > 150  # one cell of the map, not just the colour bar's end
    similarity = posembed.similarities(small_trace["param.position_embeddings"], 30)
    assert np.nanmax(np.delete(similarity, 30)) < 0.9
