"""``elvit-detail`` — every intermediate tensor of the forward pass as heatmaps (EL-VIT, Fig. 5, 6).

A tensor of tokens × channels (197×192 in the embedded model) is drawn transposed: each channel
becomes one small picture of its values over the tokens, laid out as in the image (the CLS
token's cell at the top left, then the patch grid), min-max normalised per channel: the darkest
cell is that channel's smallest value and the brightest its largest, ``(x − min) / (max − min)``.
Attention tensors are drawn per head: Q, K and V as each head's channels (a head starts a new
row), scores and softmax as one token × token map per head (row = query, column = key).

Drill down as in the overview: the model (patch embeddings, CLS token added, position embedding
added, the encoder, final LayerNorm, prediction) → the outputs of the encoder's blocks → inside
one block (LayerNorm, multi-head attention, residual sum, LayerNorm, MLP, residual sum) → inside
its attention (Q, K, V, scores, softmax, context, output projection) or its MLP (fc1, GELU,
fc2). Click a picture to open it (a block, the attention, the MLP) or to see it large; click
empty space, press Escape or use the path above the figure to go back up. Hovering a picture
writes the channel, the token and the value under the pointer (read from the 256-step colour
code, so it is given as ≈ value ± half a step) and shows that channel's picture enlarged;
marked regions carry notes (the CLS cell, the √d scale, the residual sums). The last step is
the prediction, the top class highlighted beside the input image.

Each level's pictures are loaded only when the reader opens it (PNG sprites, one file per
level; the level shown first is in the page). A level whose pictures would exceed 2 MB (the
encoder of a ViT-B/16-sized model) shows the first channels of each tensor and says how many;
open one of them to see all.

Options:

``:open:`` (default ``model``)
    The level shown first: ``model``, ``encoder``, ``block N``, ``attention N`` or ``mlp N``
    (N a block number from 0).

Example:

.. code-block:: md

    ```{elvit-detail}
    :image: images/cat.png
    :open: attention 0
    ```
"""

from __future__ import annotations

import numpy as np

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec, to_json
from elvit_sphinx.views.detail_levels import Item, Level, levels, notes, parse_level
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.model_map import part_info, part_links, shape_text, tensor_shapes
from elvit_sphinx.views.mosaic import (
    layout_for,
    layout_from_json,
    mosaic_codes,
    picture,
    rgb_thumbnail_png,
    sheet_codes,
)
from elvit_sphinx.views.palettes import palette_rgb

LIBRARIES = ("glossary.js", "focus.js", "mosaic.js")
#: The most one level may make the reader fetch (bytes of its chunk file).
LEVEL_BUDGET_BYTES = 2_000_000
THUMBNAIL_PIXELS = 112


def _open_option(text: str) -> str:
    parse_level(text or "")
    return " ".join(text.split())


def validate(config: TraceConfig, options: dict) -> list[str]:
    try:
        parse_level(options.get("open", "model"), config.num_layers)
    except IndexError as exc:
        return [str(exc)]
    return []


def chunk_name(level_id: str) -> str:
    return f"level-{level_id}"


class _Pictures:
    """Each tensor's picture encoded once, though several levels show it."""

    def __init__(self, trace: Trace):
        self.trace, self.done = trace, {}

    def __call__(self, name: str, layout) -> dict:
        key = (name, layout.count)
        if key not in self.done:
            self.done[key] = picture(self.trace[name], layout)
        return self.done[key]


def _fit_level(pictures: _Pictures, level: Level, shapes: dict, budget: int):
    """(layouts, payload) of one level: every tile, or the first ones of each tensor if the
    level's chunk would be larger than ``budget`` bytes."""
    grid = pictures.trace.config.grid
    pictured = [item for item in level.items if item.kind in ("tiles", "maps")]
    share = 1.0
    while True:
        layouts = {}
        for item in pictured:
            full = layout_for(shapes[item.tensor], grid, item.kind)
            layouts[item.tensor] = layout_for(shapes[item.tensor], grid, item.kind,
                                              _shown(full, share))
        payload = {"pictures": {name: pictures(name, layout) for name, layout in layouts.items()}}
        size = len(to_json(payload).encode())
        if size <= budget or share < 0.02:
            return layouts, payload
        share *= 0.97 * budget / size


def _shown(full, share: float) -> int:
    """How many tiles (whole heads, or multiples of 8 channels) fit in ``share`` of them."""
    if share >= 1:
        return full.count
    if full.kind == "maps":
        unit = 1
    else:
        unit = full.group if full.group < full.count else 8
    return max(unit, int(full.count * share) // unit * unit)


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    shapes = tensor_shapes(config)
    plan = levels(config)
    chunks, fitted, pictures = {}, {}, _Pictures(trace)
    for level_id, level in plan.items():
        fitted[level_id], chunks[chunk_name(level_id)] = _fit_level(
            pictures, level, shapes, LEVEL_BUDGET_BYTES)
    # Where to find every tensor whole: a level that shows all of it, else a chunk of its own.
    complete = {}
    for level_id, layouts in fitted.items():
        for name, layout in layouts.items():
            if layout.count == layout_for(shapes[name], config.grid, layout.kind).count:
                complete.setdefault(name, chunk_name(level_id))
    for layouts in fitted.values():
        for name, layout in layouts.items():
            if name not in complete:
                whole = layout_for(shapes[name], config.grid, layout.kind)
                complete[name] = "tensor-" + name.replace(".", "-").replace("_", "-")
                chunks[complete[name]] = {"pictures": {name: pictures(name, whole)}}

    def item_json(item: Item, level_id: str) -> dict:
        entry = {"label": item.label, "kind": item.kind, "opens": item.opens, "part": item.part}
        if item.tensor:
            entry.update(tensor=item.tensor, shape=shape_text(shapes[item.tensor]))
        layout = fitted[level_id].get(item.tensor)
        if layout is not None:
            whole = layout_for(shapes[item.tensor], config.grid, item.kind)
            entry.update(layout=layout.to_json(), notes=notes(item, layout, config))
            if layout.count < whole.count:
                entry["whole"] = {"chunk": complete[item.tensor], "layout": whole.to_json(),
                                  "notes": notes(item, whole, config)}
        return entry

    probs = trace["probs"]
    labels = [config.id2label[i] for i in range(config.num_labels)]
    used_parts = sorted({item.part for level in plan.values() for item in level.items})
    # The level shown first travels in the page: no request stands between navigation and the
    # first drawing (with ViT-B/16 geometry the model level is 0.8 MB of the page's 2 MB).
    start = parse_level(options.get("open", "model"))
    inline = {"chunk": chunk_name(start), "payload": chunks.pop(chunk_name(start))}
    return ViewOutput({
        "inline": inline,
        "parts": {part: part_info(part) for part in used_parts},
        "levels": {level_id: {"title": level.title, "parent": level.parent,
                              "chunk": chunk_name(level_id),
                              "items": [item_json(item, level_id) for item in level.items]}
                   for level_id, level in plan.items()},
        "start": start,
        "grid": config.grid, "tokens": config.num_tokens,
        "palette": encode(palette_rgb("viridis"), "u8"),
        "thumbnail": rgb_thumbnail_png(trace["input.image"], THUMBNAIL_PIXELS),
        "prediction": {"labels": labels, "probs": encode(probs, "f32"),
                       "logits": encode(trace["logits"], "f32"), "top": int(np.argmax(probs))},
    }, chunks)


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Every intermediate tensor of the forward pass as small heatmaps, one per channel "
            f"({config.num_tokens} tokens: the CLS cell and a grid of {config.grid}×{config.grid} patches), "
            f"from the patch embeddings through the {config.num_layers} blocks, their attention "
            f"and MLP, to the {config.num_labels}-class prediction; each level opens the next.")


def links(config: TraceConfig, options: dict) -> dict[str, str]:
    return part_links(item.part for level in levels(config).values() for item in level.items)


# ----------------------------------------------------------------------------- static picture
#: The static picture: its width, margins, gaps between cards, and the text lines above a card.
STATIC_WIDTH, STATIC_MARGIN, CARD_GAP = 1200, 16, 18
CARD_HEAD, CARD_FOOT, LINE = 34, 16, 15
#: How many bars the prediction card draws (as the page does), and how many block outputs the
#: encoder's card draws in one row at the model level.
MAX_BARS, BLOCKS_PER_ROW = 20, 6


def _level_payload(output: ViewOutput, level_id: str) -> dict | None:
    """The pictures of a level: inline for the level the page opens with, else its chunk."""
    name = chunk_name(level_id)
    if output.data["inline"]["chunk"] == name:
        return output.data["inline"]["payload"]
    return output.chunks.get(name)


def _mosaic_rgb(payload: dict, item: dict, palette: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One item's mosaic in the palette's colours, white in the gaps (as mosaic.js paints it),
    resampled to ``size`` (width, height) pixels: whole cells when enlarged, averaged when shrunk."""
    layout = layout_from_json(item["layout"])
    codes = mosaic_codes(sheet_codes(payload["pictures"][item["tensor"]]), layout)
    rgb = np.asarray(palette)[np.maximum(codes, 0)]
    rgb[codes < 0] = 255
    return draw.resample(rgb, *size)


def _count_text(item: dict) -> str:
    """The line under a card's mosaic, as the page writes it."""
    layout = item["layout"]
    total = item["whole"]["layout"]["count"] if "whole" in item else layout["count"]
    if layout["kind"] == "maps":
        if layout["count"] < total:
            return f"heads 0–{layout['count'] - 1} of {total} shown"
        return f"{total} heads, {layout['tokens']}×{layout['tokens']} each"
    if layout["count"] < total:
        return f"channels 0–{layout['count'] - 1} of {total} shown"
    return f"{total} channels"


def _fit_picture(layout: dict, width: float, height: float) -> tuple[int, int]:
    """The largest size with the mosaic's aspect inside width × height: a whole number of pixels
    per cell when it fits (at most 4, as on the page), else scaled down."""
    scale = min(width / layout["width"], height / layout["height"])
    if scale >= 1:
        scale = min(4, int(scale))
    return round(layout["width"] * scale), round(layout["height"] * scale)


def _png_image(b64: str) -> np.ndarray:
    import base64
    import io

    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB"))


class _Card:
    """One card of the level, as on the page: a title, the tensor's name and shape, its picture
    and a line under it. At the model level the encoder's card shows every block's output."""

    def __init__(self, item: dict, output: ViewOutput, span: int):
        self.item, self.output, self.span = item, output, span
        self.inner = None
        if item["kind"] == "group" and item.get("opens"):
            payload = _level_payload(output, item["opens"])
            pictured = [entry for entry in output.data["levels"][item["opens"]]["items"]
                        if "layout" in entry]
            if payload is not None and pictured:
                self.inner = (payload, pictured)

    def _inner_grid(self, width: float) -> tuple[int, float, int]:
        """(pictures per row, width of one, height of a row) of the encoder card's pictures."""
        _, pictured = self.inner
        rows = -(-len(pictured) // BLOCKS_PER_ROW)
        per_row = -(-len(pictured) // rows)
        cell = (width - (per_row - 1) * 8) / per_row
        return per_row, cell, max(_fit_picture(e["layout"], cell, cell)[1] for e in pictured)

    def body_height(self, width: float) -> int:
        kind, item = self.item["kind"], self.item
        if kind in ("tiles", "maps"):
            return _fit_picture(item["layout"], width, width)[1]
        if kind == "image":
            return round(min(width, 180))
        if kind == "prediction":
            return 16 * min(MAX_BARS, len(self.output.data["prediction"]["labels"])) + 28
        if self.inner is None:
            return LINE
        per_row, _, height = self._inner_grid(width)
        rows = -(-len(self.inner[1]) // per_row)
        return rows * (height + LINE + 6)

    def height(self, width: float) -> int:
        foot = CARD_FOOT if self.item["kind"] in ("tiles", "maps", "group") else 0
        return CARD_HEAD + self.body_height(width) + foot

    def title(self) -> str:
        item, prediction = self.item, self.output.data["prediction"]
        title = item["label"] + (" ▸" if item.get("opens") else "")
        if item["kind"] == "prediction":
            top = prediction["top"]
            title += (f": {prediction['labels'][top]} "
                      f"({100 * float(decode(prediction['probs'])[top]):.1f}%)")
        return title

    def draw(self, canvas: draw.PixelLayout, x: int, y: int, width: float, palette) -> None:
        item, data = self.item, self.output.data
        canvas.text(x, y, self.title(), size=10, weight="bold")
        if item.get("tensor"):
            canvas.text(x, y + LINE + 2, f"{item['tensor']}  {item['shape']}", size=8,
                        family="monospace", color="#555555")
        top, kind, body = y + CARD_HEAD, item["kind"], self.body_height(width)
        if kind in ("tiles", "maps"):
            w, h = _fit_picture(item["layout"], width, width)
            payload = _level_payload(self.output, data["start"])
            draw.picture(canvas.axes(x, top, w, h), _mosaic_rgb(payload, item, palette, (w, h)))
            canvas.text(x, top + h + 3, _count_text(item), size=8, color="#555555")
        elif kind == "image":
            thumbnail = _png_image(data["thumbnail"])
            draw.picture(canvas.axes(x, top, body * thumbnail.shape[1] / thumbnail.shape[0], body),
                         thumbnail)
        elif kind == "prediction":
            self._draw_prediction(canvas, x, top, width, body)
        elif self.inner is not None:
            self._draw_inner(canvas, x, top, width, palette)
        else:
            canvas.text(x, top, "(opens in the page)", size=8, color="#555555")

    def _draw_prediction(self, canvas, x, top, width, height) -> None:
        prediction = self.output.data["prediction"]
        probs, labels = decode(prediction["probs"]), prediction["labels"]
        order = sorted(range(len(probs)), key=lambda k: (-float(probs[k]), k))[:MAX_BARS]
        room = min(width * 0.35, 8 + 6.5 * max(len(labels[k]) for k in order))
        draw.bars(canvas.axes(x + room, top, width - room - 40, height - 28),
                  [labels[k] for k in order], probs[order],
                  highlight=order.index(prediction["top"]), xlabel="softmax probability", xmax=1.0)

    def _draw_inner(self, canvas, x, top, width, palette) -> None:
        payload, pictured = self.inner
        per_row, cell, height = self._inner_grid(width)
        for index, entry in enumerate(pictured):
            row, col = divmod(index, per_row)
            cx, cy = round(x + col * (cell + 8)), round(top + row * (height + LINE + 6))
            canvas.text(cx, cy, entry["label"], size=8)
            w, h = _fit_picture(entry["layout"], cell, height)
            draw.picture(canvas.axes(cx, cy + LINE, w, h), _mosaic_rgb(payload, entry, palette, (w, h)))
        canvas.text(x, top + self.body_height(width) + 3,
                    f"Each: {_count_text(pictured[0])}; the page opens every block", size=8,
                    color="#555555")


def _trail(levels_data: dict, level_id: str) -> str:
    """"Model › Transformer encoder › Block 0": the path to a level, as above the page's figure."""
    chain = []
    while level_id is not None:
        chain.insert(0, levels_data[level_id]["title"])
        level_id = levels_data[level_id]["parent"]
    return " › ".join(chain)


def static(output: ViewOutput):
    """The level the page opens with: its cards (each tensor's mosaic of channel heatmaps, the
    image, the prediction; at the model level the encoder's card shows every block's output),
    in rows as on the page, under the path to that level, with the colour bar."""
    data = output.data
    items = data["levels"][data["start"]]["items"]
    model_level = any(item["kind"] == "group" for item in items)
    columns = 4 if model_level or len(items) >= 8 else 3
    spans = {"group": columns, "prediction": 2} if model_level else {}
    cards = [_Card(item, output, spans.get(item["kind"], 1)) for item in items]
    inner = STATIC_WIDTH - 2 * STATIC_MARGIN
    column = (inner - (columns - 1) * CARD_GAP) / columns
    rows, used = [[]], 0
    for card in cards:
        if used + card.span > columns:
            rows.append([])
            used = 0
        rows[-1].append(card)
        used += card.span

    def width_of(card: _Card) -> float:
        return card.span * column + (card.span - 1) * CARD_GAP

    heights = [max(card.height(width_of(card)) for card in row) for row in rows]
    header, bar = 34, 50
    total = 2 * STATIC_MARGIN + header + sum(heights) + CARD_GAP * len(rows) + bar
    canvas = draw.PixelLayout(STATIC_WIDTH, total)
    palette = decode(data["palette"]).reshape(256, 3)
    canvas.text(STATIC_MARGIN, STATIC_MARGIN, _trail(data["levels"], data["start"]), size=12,
                weight="bold")
    y = STATIC_MARGIN + header
    for row, height in zip(rows, heights, strict=True):
        x = STATIC_MARGIN
        for card in row:
            card.draw(canvas, round(x), y, width_of(card), palette)
            x += width_of(card) + CARD_GAP
        y += height + CARD_GAP
    draw.titled_colorbar(canvas.axes(STATIC_MARGIN, y + 16, 360, 12), data["palette"],
                  "its smallest value", "its largest value",
                  "Colour of a cell: each channel (each head's map) min–max normalised on its own")
    return canvas.image()


VIEW = ViewSpec(
    name="detail",
    option_spec={"open": _open_option},
    defaults={"open": "model"},
    validate=validate,
    build=build,
    alt=alt,
    links=links,
    libraries=LIBRARIES,
    static=static,
)
