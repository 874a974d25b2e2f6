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

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views.base import ViewOutput, ViewSpec, to_json
from elvit_sphinx.views.detail_levels import Item, Level, levels, notes, parse_level
from elvit_sphinx.views.encoding import encode
from elvit_sphinx.views.model_map import part_info, part_links, shape_text, tensor_shapes
from elvit_sphinx.views.mosaic import layout_for, picture, rgb_thumbnail_png
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


VIEW = ViewSpec(
    name="detail",
    option_spec={"open": _open_option},
    defaults={"open": "model"},
    validate=validate,
    build=build,
    alt=alt,
    links=links,
    libraries=LIBRARIES,
)
