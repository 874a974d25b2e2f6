"""``elvit-patches``: the input image cut into patches, and what one patch becomes.

The image is shown exactly as the model sees it (resized to the model's input size), with the
patch grid drawn over it. Hover a patch to highlight it: beside the image appear its pixels,
enlarged, and its *patch embedding*, the vector of ``hidden_size`` numbers the model computes
from those pixels, drawn as a near-square heatmap (192 numbers as 12×16, 768 as 24×32), with
its index (counting from 0, row by row), its row and column, and the smallest, largest and
mean value. Click a patch to pin it, so that moving the mouse no longer changes the selection;
click it again (or another patch) to release (or move) the pin.

Heatmap colours are min-max normalised per patch: the darkest cell is that patch's smallest
value and the brightest its largest, so two patches' colours are not comparable; their numbers
are.

Options:

``patch`` (whole number, default 0)
    The patch shown before the reader touches the image.

Example:

.. code-block:: md

    ```{elvit-patches}
    :image: images/cat.png
    :patch: 37
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst.directives import nonnegative_int

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap
from elvit_sphinx.views.base import ViewSpec

IMAGE_PX = 448  # on-screen size of the image; 2× for the usual 224-pixel input
SIDE_PX = 320  # width of the heatmap panel


def validate(config: TraceConfig, options: dict) -> list[str]:
    patch = options.get("patch", 0)
    last = config.num_patches - 1
    if not 0 <= patch <= last:
        return [f"patch {patch} is out of range (0–{last}): this model cuts the image into a "
                f"{config.grid}×{config.grid} grid"]
    return []


def alt(config: TraceConfig, options: dict) -> str:
    rows, cols = heatmap.grid_shape(config.hidden_size)
    return (f"The input image ({config.image_size}×{config.image_size} pixels) divided into a "
            f"{config.grid}×{config.grid} grid of {config.patch_size}×{config.patch_size}-pixel "
            f"patches, with patch {options.get('patch', 0)} highlighted beside its enlarged pixels "
            f"and its {config.hidden_size}-number embedding drawn as a {rows}×{cols} heatmap.")


def readout_texts(trace: Trace) -> list[str]:
    """One line per patch for the readout; built here so the page only has to pick one."""
    grid = trace.config.grid
    vectors = trace["embeddings.patches"]
    texts = []
    for i, vector in enumerate(vectors):
        lo, hi, mean = (float(v) for v in (vector.min(), vector.max(), vector.mean(dtype=np.float64)))
        texts.append(f"<b>patch {i}</b> · row {i // grid}, col {i % grid} · "
                     f"{vector.size} numbers: min {lo:.3f}, max {hi:.3f}, mean {mean:.3f}"
                     .replace("-", "−"))
    return texts


PIN_NOTE = " · <i>pinned: click it again to release</i>"
HOVER_NOTE = " · <i>click to pin</i>"

# One callback for mouse moves and clicks (a second click within 300 ms reaches us as a
# "doubletap", not a "tap", so both count as clicks). The patch under the pointer is computed from data
# coordinates, so no invisible glyph has to be hit-tested. State lives in readout.tags
# ([shown patch, pinned]) where the page's own scripts and the tests can read it.
UPDATE_JS = heatmap.PAINT_JS + heatmap.CROP_JS + """
const {H, W, P, G, D, rows, cols} = geom
const [shown, pinned] = readout.tags
const col = Math.floor(cb_obj.x / P), row = Math.floor((H - cb_obj.y) / P)
if (!(col >= 0 && col < G && row >= 0 && row < G)) return
const i = row * G + col
let pin = pinned
if (cb_obj.event_name != "mousemove") pin = !(pinned && shown == i)
else if (pinned) return
if (i == shown && pin == pinned) return
frame.data = {x: [col * P + P / 2], y: [H - row * P - P / 2]}
crop(pixels.data.image[0], image.data.image[0], H, W, P, row, col)
pixels.change.emit()
paint(embedding.data.image[0], codes, i * D, rows, cols, palette)
embedding.change.emit()
readout.text = texts[i] + (pin ? pin_note : hover_note)
readout.tags = [i, pin]
"""


def build(trace: Trace, options: dict):
    # Bokeh is imported lazily (see conv.build): it would slow every Sphinx start by ~1.5 s.
    from bokeh.events import DoubleTap, MouseMove, Tap
    from bokeh.layouts import column, row
    from bokeh.models import ColumnDataSource, CustomJS, Div, HoverTool

    config = trace.config
    size, p, grid, d = config.image_size, config.patch_size, config.grid, config.hidden_size
    rows, cols = heatmap.grid_shape(d)
    start = int(options.get("patch", 0))
    vectors = trace["embeddings.patches"]
    r0, c0 = divmod(start, grid)

    picture = heatmap.pack_rgba(trace["input.image"])
    image = ColumnDataSource({"image": [heatmap.bokeh_rows(picture)]}, name="elvit-patches-image-data")
    image_fig = heatmap.bare_figure(IMAGE_PX, IMAGE_PX, size, size,
                        f"The image the model sees: {grid}×{grid} patches of {p}×{p} pixels",
                        name="elvit-patches-image")
    image_fig.image_rgba(image="image", x=0, y=0, dw=size, dh=size, source=image)
    edges = [k * p for k in range(grid + 1)]
    image_fig.segment(x0=edges + [0] * len(edges), x1=edges + [grid * p] * len(edges),
                      y0=[size - grid * p] * len(edges) + [size - e for e in edges],
                      y1=[size] * len(edges) + [size - e for e in edges],
                      line_color="white", line_alpha=0.6, line_width=1)
    # Invisible cells carry the patch numbers for the hover tooltip.
    cells = ColumnDataSource({
        "x": [(i % grid) * p + p / 2 for i in range(grid * grid)],
        "y": [size - (i // grid) * p - p / 2 for i in range(grid * grid)],
        "index": list(range(grid * grid)),
        "row": [i // grid for i in range(grid * grid)],
        "col": [i % grid for i in range(grid * grid)],
    })
    cell_renderer = image_fig.rect("x", "y", width=p, height=p, source=cells,
                                   fill_alpha=0, line_alpha=0)
    image_fig.add_tools(HoverTool(renderers=[cell_renderer], tooltips=[
        ("patch", "@index"), ("row, col", "@row, @col")]))
    frame = ColumnDataSource({"x": [c0 * p + p / 2], "y": [size - r0 * p - p / 2]},
                             name="elvit-patches-frame-data")
    image_fig.rect("x", "y", width=p, height=p, source=frame, fill_color="white",
                   fill_alpha=0.15, line_color="#ff3b30", line_width=3)

    top = slice(r0 * p, (r0 + 1) * p), slice(c0 * p, (c0 + 1) * p)
    pixels = ColumnDataSource({"image": [heatmap.bokeh_rows(picture[top])]},
                              name="elvit-patches-pixels-data")
    pixel_fig = heatmap.bare_figure(160, 160, p, p, f"Its {p}×{p} pixels, enlarged",
                        name="elvit-patches-pixels")
    pixel_fig.image_rgba(image="image", x=0, y=0, dw=p, dh=p, source=pixels)

    codes = np.stack([heatmap.codes(v) for v in vectors])  # per patch, as the text promises
    palette = heatmap.palette_rgba()
    embedding = ColumnDataSource(
        {"image": [heatmap.bokeh_rows(palette[codes[start]].reshape(rows, cols))]},
        name="elvit-patches-embedding-data")
    heat_px = SIDE_PX * rows // cols
    heat_fig = heatmap.bare_figure(SIDE_PX, heat_px, cols, rows,
                       f"Its embedding: {d} numbers as {rows}×{cols}",
                       name="elvit-patches-embedding")
    heat_fig.image_rgba(image="image", x=0, y=0, dw=cols, dh=rows, source=embedding)

    texts = readout_texts(trace)
    readout = Div(text=texts[start] + HOVER_NOTE, tags=[start, False], width=IMAGE_PX,
                  name="elvit-patches-readout")
    update = CustomJS(code=UPDATE_JS, args=dict(
        geom=dict(H=size, W=size, P=p, G=grid, D=d, rows=rows, cols=cols),
        image=image, pixels=pixels, embedding=embedding, frame=frame, readout=readout,
        codes=codes.reshape(-1), palette=palette, texts=texts,
        pin_note=PIN_NOTE, hover_note=HOVER_NOTE))
    image_fig.js_on_event(MouseMove, update)
    image_fig.js_on_event(Tap, update)
    image_fig.js_on_event(DoubleTap, update)
    return column(row(image_fig, column(pixel_fig, heat_fig)), readout, name="elvit-patches")


VIEW = ViewSpec(
    name="patches",
    option_spec={"patch": nonnegative_int},
    defaults={"patch": 0},
    validate=validate,
    build=build,
    alt=alt,
)
