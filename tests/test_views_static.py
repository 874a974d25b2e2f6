"""Every view's static picture (the PNG for readers without JavaScript, the "Download PNG" link,
the PDF and the LaTeX build): drawn at build time from the view's own output, a real drawing of
the selection the page opens with, the same bytes every time, at every geometry."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

from code_graph.sources import locate
from elvit_sphinx.views import VIEWS, gelu, heatmap, overview
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput
from elvit_sphinx.views.encoding import decode
from elvit_sphinx.views.model_map import shape_text, tensor_shapes
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


# --- one specific check per view ------------------------------------------------------------------

def find_block(picture, block: np.ndarray, margin: int = 2, share: float = 1.0) -> tuple[int, int] | None:
    """Where ``block`` (H×W×3) sits in the picture, pixel for pixel (its outer ``margin`` pixels
    may be covered by a frame; ``share`` of the others must match, where a box marks a cell), or
    None."""
    pixels = np.asarray(picture.convert("RGB"))
    inner = block[margin:block.shape[0] - margin, margin:block.shape[1] - margin]
    h, w = inner.shape[:2]
    first = inner[0]
    for y in range(pixels.shape[0] - h + 1):
        row = pixels[y]
        for x in np.flatnonzero((row[:pixels.shape[1] - w + 1] == first[0]).all(-1)):
            if (row[x:x + w] == first).mean() < share:
                continue
            if (pixels[y:y + h, x:x + w] == inner).all(-1).mean() >= share:
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


def assert_image_drawn(picture, image: np.ndarray, grid: int) -> tuple[int, int, int]:
    """Every patch of ``image`` is in the picture, pixel for pixel, at one place (the grid lines
    drawn over the patches' edges aside), at a whole scale; returns where its top-left corner is
    (x, y) and a patch's side there."""
    size, patch = image.shape[0], image.shape[0] // grid
    pixels = np.asarray(picture.convert("RGB"))
    for scale in range(1, 5):
        big = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)
        step = patch * scale
        first = big[2:step - 2, 2:step - 2]
        found = find_block(picture, first, margin=0)
        if found is None:
            continue
        x, y = found[0] - 2, found[1] - 2
        for row in range(grid):
            for col in range(grid):
                inner = big[row * step + 2:(row + 1) * step - 2, col * step + 2:(col + 1) * step - 2]
                top, left = y + row * step + 2, x + col * step + 2
                drawn = pixels[top:top + inner.shape[0], left:left + inner.shape[1]]
                assert (drawn == inner).all(), (row, col)
        return x, y, step
    raise AssertionError(f"the {size}×{size} image is not in the picture at a whole scale")


def assert_map_drawn(picture, values: np.ndarray, grid: int, palette: np.ndarray,
                     boxed: bool = False, cells=range(32, 0, -1)) -> None:
    """The min-max heatmap of ``values`` (one per patch) is in the picture, whole pixels a patch,
    one of ``cells`` pixels (``boxed``: but for the frame of a chosen patch)."""
    from elvit_sphinx.views.heatmap import codes

    colours = palette[codes(np.asarray(values, dtype=np.float64).reshape(grid, grid))]
    for cell in cells:
        block = np.repeat(np.repeat(colours, cell, axis=0), cell, axis=1)
        share = 1 - 4 / grid ** 2 if boxed else 1.0
        if find_block(picture, block, margin=3 if cell > 4 else 0, share=share) is not None:
            return
    raise AssertionError("the map is not in the picture")


def test_similarity_picture_shows_the_image_and_the_first_tokens_maps_from_the_trace(small_trace):
    from elvit_sphinx.analysis.interpretation import block_similarities
    from elvit_sphinx.views.palettes import palette_rgb

    view, grid = VIEWS["similarity"], small_trace.config.grid
    # the numbers the page gets (float32), after every block
    similarities = block_similarities(small_trace).astype(np.float32)
    for token, option in ((0, "cls"), (grid + 2, grid + 1)):
        picture = view.static(view.build(small_trace, {"token": option, "layer": 2}))
        patch = assert_image_drawn(picture, small_trace["input.image"], grid)[2]
        # block 2 (counted from 1) large, a patch as large as on the image; every block in the strip
        assert_map_drawn(picture, similarities[1][token, 1:], grid, palette_rgb("blues"),
                         boxed=token > 0, cells=[patch])
        for layer in range(small_trace.config.num_layers):
            assert_map_drawn(picture, similarities[layer][token, 1:], grid, palette_rgb("blues"),
                             cells=range(patch - 1, 0, -1))


def test_attention_compare_picture_shows_the_first_blocks_three_maps_from_the_trace(small_trace):
    from elvit_sphinx.analysis.interpretation import (
        attention_rollout,
        block_similarities,
        mean_head_attention,
    )
    from elvit_sphinx.views.palettes import palette_rgb

    view, grid, blues = VIEWS["attention-compare"], small_trace.config.grid, palette_rgb("blues")
    for head in ("mean", 1):
        picture = view.static(view.build(small_trace, {"layer": 2, "head": head}))
        patch = assert_image_drawn(picture, small_trace["input.image"], grid)[2]
        mean = mean_head_attention(small_trace)
        attention = (mean[1, 0, 1:] if head == "mean"
                     else small_trace.block(1, "attention.probs")[head, 0, 1:])
        for values in (block_similarities(small_trace)[1, 0, 1:], attention,
                       attention_rollout(mean)[1, 0, 1:]):  # block 2, counted from 1
            assert_map_drawn(picture, values.astype(np.float32), grid, blues, cells=[patch])


def test_patch_predictions_picture_frames_the_first_patch_on_the_image(small_trace):
    from elvit_sphinx.views.static_render import ACCENT, BAR_TOP

    view, grid = VIEWS["patch-predictions"], small_trace.config.grid
    red, orange = (np.array(list(bytes.fromhex(c[1:]))) for c in (ACCENT, BAR_TOP))
    for patch in (0, grid * grid - 2):
        picture = view.static(view.build(small_trace, {"patch": patch}))
        image = small_trace["input.image"]
        x, y, side = assert_image_drawn(picture, image, grid)
        scale = side * grid // image.shape[0]
        big = np.repeat(np.repeat(image, scale, axis=0), scale, axis=1).astype(int)
        pixels = np.asarray(picture.convert("RGB")).astype(int)
        drawn = pixels[y:y + big.shape[0], x:x + big.shape[1]]
        # red where the image is not: the frame
        ys, xs = np.nonzero((np.abs(drawn - red).sum(-1) < 40) & (np.abs(big - red).sum(-1) > 120))
        row, col = divmod(patch, grid)
        assert abs(xs.min() - col * side) <= 3 and abs(xs.max() - (col + 1) * side) <= 3
        assert abs(ys.min() - row * side) <= 3 and abs(ys.max() - (row + 1) * side) <= 3
        assert (np.abs(pixels - orange).sum(-1) < 40).any()  # the charts highlight the top class


def test_codegraph_picture_draws_every_node_at_its_place_in_the_layout():
    from elvit_sphinx.views.codegraph import NODE_STYLE, static_placement

    view = VIEWS["codegraph"]
    source = locate("transformers.models.vit.modeling_vit")
    for files in ([source], [source, BOOK_GLOSSARY]):
        data = view.build(files, {}).data
        picture = view.static(ViewOutput(data))
        pixels = np.asarray(picture.convert("RGB")).astype(int)
        scale, (left, top) = static_placement(data)
        assert picture.width <= 1400 and picture.width == round(data["width"] * scale) + 2 * left
        kinds = {node["kind"] for node in data["nodes"]}
        assert kinds == ({"class", "external", "concept"} if len(files) > 1 else {"class", "external"})
        for node in data["nodes"]:  # the marker's fill at the node's place: blue, grey or orange
            fill = np.array(list(bytes.fromhex(NODE_STYLE[node["kind"]][1][1:])))
            if not node["used"]:  # faded over the white page
                fill = np.rint(0.45 * fill + 0.55 * 255)
            centre = pixels[round(top + node["y"] * scale), round(left + node["x"] * scale)]
            assert np.abs(centre - fill).max() <= 3, (node["label"], centre, fill)

def drawn(name: str, trace, **options):
    """The view's drawing (a matplotlib figure) for these options over its defaults, and its
    picture as an RGB array."""
    view = VIEWS[name]
    output = view.build(trace, dict(view.defaults) | OPTIONS.get(name, {}) | options)
    figure = importlib.import_module(f"elvit_sphinx.views.{name}").drawing(output)
    return figure, np.asarray(draw.to_image(figure))


def titled(figure, start: str):
    """The one panel of the figure whose title starts with ``start``."""
    found = [ax for ax in figure.axes if ax.get_title(loc="left").startswith(start)]
    assert len(found) == 1, [ax.get_title(loc="left") for ax in figure.axes]
    return found[0]


def colours_at(ax, pixels: np.ndarray, points) -> np.ndarray:
    """The picture's colours at these (x, y) points in the panel's data units."""
    x, y = np.floor(ax.transData.transform(np.asarray(points, dtype=np.float64))).astype(int).T
    return pixels[pixels.shape[0] - 1 - y, x].astype(np.int64)  # display y counts from the bottom


def cell_centres(rows: int, cols: int, left: float = 0.0) -> np.ndarray:
    """(x, y) of the centres of a rows × cols raster's cells, row by row."""
    yy, xx = np.mgrid[0:rows, 0:cols]
    return np.stack([left + xx.ravel() + 0.5, yy.ravel() + 0.5], axis=1)


def test_posembed_picture_shows_the_similarities_of_the_chosen_position(small_trace):
    """Every patch cell of the map has the colour of its cosine similarity on the −1…1 blue scale;
    the chosen position's own cell (cos = 1) is the darkest blue."""
    token, grid = 30, small_trace.config.grid
    figure, pixels = drawn("posembed", small_trace, token=token)
    position = small_trace["param.position_embeddings"].astype(np.float64)
    unit = position / np.linalg.norm(position, axis=1, keepdims=True)
    cosine = unit @ unit[token]
    expected = palette_rgb("blues")[np.rint((cosine[1:] + 1) / 2 * 255).astype(int)]
    ax = titled(figure, "Cosine similarity")
    found = colours_at(ax, pixels, cell_centres(grid, grid, left=draw.PATCHES_LEFT))
    assert np.abs(found - expected).max() <= 3  # one palette step at most (rounding)
    assert (found[token - 1] == palette_rgb("blues")[255]).all()


def test_layernorm_picture_shows_the_chosen_layernorm(small_trace):
    """The output grid shows y of the chosen token at the chosen LayerNorm, cell by cell, and the
    input grid its x."""
    options = {"block": 1, "norm": "after", "token": 5, "feature": 7}
    figure, pixels = drawn("layernorm", small_trace, **options)
    rows, cols = heatmap.grid_shape(small_trace.config.hidden_size)
    for title, name in (("x:", "encoder.layer.1.residual_1"), ("y =", "encoder.layer.1.layernorm_after")):
        expected = palette_rgb("viridis")[heatmap.codes(small_trace[name][5])]
        found = colours_at(titled(figure, title), pixels, cell_centres(rows, cols))
        same = (found == expected).all(axis=1)
        assert same.sum() >= len(same) - 1, title  # the framed feature's centre may be the frame


def test_attention_picture_shows_the_chosen_head_from_the_trace(small_trace):
    """The weights matrix and the CLS row's map have the colours of the trace's own softmax
    weights (the page recomputes them from Q and K: one palette step of rounding at most), for
    the chosen block and head; the chosen row is framed in red."""
    figure, pixels = drawn("attention", small_trace, layer=1, head=2, token=40)
    probs = small_trace["encoder.layer.1.attention.probs"][2].astype(np.float64)
    viridis = palette_rgb("viridis").astype(np.int64)
    step = np.abs(np.diff(viridis, axis=0)).max()  # the largest change between neighbouring colours
    grid, tokens = small_trace.config.grid, small_trace.config.num_tokens

    found = colours_at(titled(figure, "CLS row"), pixels, cell_centres(grid, grid))
    assert np.abs(found - viridis[heatmap.codes(probs[0, 1:])]).max() <= step

    matrix = titled(figure, "Weights")
    found = colours_at(matrix, pixels, cell_centres(tokens, tokens)).reshape(tokens, tokens, 3)
    expected = viridis[heatmap.codes(probs)]
    inner = [r for r in range(1, tokens - 1) if abs(r - 40) > 1]  # not under the border or the frame
    assert np.abs(found[inner, 1:-1] - expected[inner, 1:-1]).max() <= step
    assert (found[40, 1:-1] == [255, 59, 48]).all()  # the chosen row, framed


def test_gelu_picture_draws_the_curve_and_the_tokens_points(small_trace):
    """The exact GELU curve (blue, with the dashed red tanh approximation over it) passes through
    the pixels of (x, GELU(x)); points off the curve are background; the red marker sits on the
    chosen token's most negative fc1 input."""
    figure, pixels = drawn("gelu", small_trace, block=1, token=9)
    plot = titled(figure, "GELU, and")
    fc1 = small_trace["encoder.layer.1.mlp.fc1"][9].astype(np.float64)
    x0, x1 = plot.get_xlim()
    xs = np.linspace(x0, x1, 481)[10:-10]
    xs = xs[np.abs(xs[:, None] - fc1[None, :]).min(axis=1) > 0.25]  # away from the token's dots
    assert len(xs) > 50
    on = colours_at(plot, pixels, np.stack([xs, gelu.gelu_exact(xs)], axis=1))
    blue, red = np.array([10, 132, 255]), np.array([255, 59, 48])
    share = np.clip((on - red) @ (blue - red) / ((blue - red) @ (blue - red)), 0, 1)
    mixes = red + share[:, None] * (blue - red)  # a dash's edge blends the two lines' colours
    assert np.abs(on - mixes).max() <= 30, on
    off = colours_at(plot, pixels, np.stack([xs, gelu.gelu_exact(xs) + 0.5], axis=1))
    assert (off >= 235).all()
    lowest = int(np.argmin(fc1))
    gelu_out = float(small_trace["encoder.layer.1.mlp.gelu"][9][lowest])
    marker = colours_at(plot, pixels, [(fc1[lowest], gelu_out)])[0]
    assert np.abs(marker - red).max() <= 10


def figure_texts(figure) -> list[str]:
    return [text.get_text() for ax in figure.axes for text in ax.texts]


@pytest.mark.parametrize("level", ["model", "encoder", "block 2"])
def test_overview_picture_draws_the_level_the_page_opens_with(small_trace, level):
    """One box per step at the opened level (the model's 7, then its blocks, then a block's 6
    parts), each with its tensor and that tensor's shape for this model; a note per marked arrow."""
    from matplotlib.patches import FancyBboxPatch

    config = small_trace.config
    figure, _pixels = drawn("overview", small_trace, open=level)
    boxes = sum(isinstance(patch, FancyBboxPatch) for ax in figure.axes for patch in ax.patches)
    layers = config.num_layers if level != "model" else 0
    assert boxes == 7 + layers + (6 if level == "block 2" else 0)
    texts = figure_texts(figure)
    shapes = tensor_shapes(config)
    for tensor in ("embeddings.patches", "embeddings.output", "layernorm"):
        assert tensor in texts and shape_text(shapes[tensor]) in texts
    assert f"{config.num_layers} blocks" in texts
    if level == "block 2":
        assert texts[0] == "Model  ›  Transformer encoder  ›  Block 2"
        assert "attention.output" in texts and "mlp.fc2" in texts
    notes = overview.notes(config)
    assert notes["cls"] in texts and (notes["skip_1"] in texts) == (level == "block 2")


def test_annotations_picture_frames_each_region_on_the_tensor(small_trace):
    """The heatmap has the tensor's colours cell by cell; each annotated region is framed in red,
    and its text is listed, numbered, under the picture."""
    content = "rows 50..80, cols 60..100: a block of scores\nrow 120: one query's row"
    figure, pixels = drawn("annotations", small_trace, tensor="encoder.layer.0.attention.scores",
                           head=2, content=content)
    ax = figure.axes[0]
    tokens = small_trace.config.num_tokens
    expected = palette_rgb("viridis")[heatmap.codes(small_trace["encoder.layer.0.attention.scores"][2])]
    found = colours_at(ax, pixels, cell_centres(tokens, tokens)).reshape(tokens, tokens, 3)
    inside = (slice(53, 78), slice(63, 98))  # well inside the first region, away from its frame
    assert (found[inside] == expected[inside]).all()
    red = np.array([255, 59, 48])
    left_edge = colours_at(ax, pixels, [(60, r + 0.5) for r in range(58, 79)])  # below its number
    assert np.abs(left_edge - red).max() <= 40  # a line's pixels, partly covered at its border
    assert (colours_at(ax, pixels, [(c + 0.5, 120.5) for c in range(8, tokens - 2)]) == red).all()
    texts = figure_texts(figure)
    assert "1. rows 50–80, columns 60–100 — a block of scores" in texts
    assert "2. rows 120, columns 0–196 — one query's row" in texts


@pytest.mark.parametrize("tensor", ["input.image", "logits", "param.patch_kernel", "embeddings.with_cls"])
def test_annotations_picture_of_every_kind_of_tensor(small_trace, tensor):
    """Images, vectors, 4-D kernels and matrices each give a readable picture of page size."""
    _figure, pixels = drawn("annotations", small_trace, tensor=tensor, content="col 0: the first column")
    assert 400 <= pixels.shape[1] <= 1400 and 120 <= pixels.shape[0] <= 1400
    assert (pixels == [255, 59, 48]).all(axis=-1).sum() > 50  # the region's frame
