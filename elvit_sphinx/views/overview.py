"""``elvit-overview`` — the whole model at a glance, with focus+context (EL-VIT, Fig. 3).

A diagram of the ViT as it was loaded: input image → patch embedding → CLS token + position
embedding → Transformer encoder → final LayerNorm → classifier head → class. Every box names
the tensor that step produces and its shape for this model (``embeddings.patches`` 196×192 for
the embedded model, 196×768 for ViT-B/16).

Focus+context: click the *Transformer encoder* to open its blocks below it (the model stays in
view above); click a block to open its parts (LayerNorm, multi-head attention, residual
addition, LayerNorm, MLP, residual addition); click empty space in the diagram to go back up one
level. The path is shown above the diagram and each step of it can be clicked. From the
keyboard: Tab to a box, Enter opens it, Escape goes up.

Hovering a box (or focusing it) writes the glossary's one-sentence definition of that part under
the diagram, with the tensor's name and shape; the small ↗ in a box's corner links to the
chapter that explains the part. The marked arrows carry notes: hover them to see, framed, where
the CLS token is added, which row the classifier reads and where the residual additions happen.

Options:

``:open:`` (default ``model``)
    The level shown first: ``model``, ``encoder``, or ``block N`` (a block number from 0).

Example:

.. code-block:: md

    ```{elvit-overview}
    :image: images/cat.png
    :open: encoder
    ```
"""

from __future__ import annotations

import numpy as np

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.model_map import (
    BLOCK_PART_TENSORS,
    BLOCK_PARTS,
    part_info,
    part_links,
    shape_text,
    tensor_shapes,
)

#: The script reads glossary definitions (glossary.js); the extension embeds them in the page.
LIBRARIES = ("glossary.js", "focus.js")

TOP_PARTS = ("image", "patch_embedding", "cls_position", "encoder", "final_layernorm",
             "classifier", "prediction")
TOP_TENSORS = {"image": "input.image", "patch_embedding": "embeddings.patches",
               "cls_position": "embeddings.output", "final_layernorm": "layernorm",
               "classifier": "logits", "prediction": "probs"}


def parse_level(text: str) -> tuple[str, int | None]:
    """``"model"``, ``"encoder"``, ``"block 3"`` → (level, block); ValueError otherwise."""
    words = text.split()
    if words in (["model"], ["encoder"]):
        return words[0], None
    if len(words) == 2 and words[0] == "block" and words[1].isdigit():
        return "block", int(words[1])
    raise ValueError(f"{text!r} is not a level: use model, encoder or block N (e.g. block 0)")


def _open_option(text: str) -> str:
    parse_level(text or "")
    return " ".join(text.split())


def validate(config: TraceConfig, options: dict) -> list[str]:
    _level, block = parse_level(options.get("open", "model"))
    if block is not None and block >= config.num_layers:
        return [f"block {block} is out of range (0–{config.num_layers - 1}): this model has "
                f"{config.num_layers} blocks"]
    return []


def _box(part: str, tensor: str | None, shapes: dict) -> dict:
    box = {"id": part, **part_info(part)}
    if tensor:
        box.update(tensor=tensor, shape=shape_text(shapes[tensor]))
    return box


def notes(config: TraceConfig) -> dict[str, str]:
    """The built-in annotations, keyed by the arrow they mark."""
    t, n, d = config.num_tokens, config.num_patches, config.hidden_size
    return {
        "cls": (f"The CLS token is added here: the {n}×{d} patch tokens become {t}×{d}, "
                f"the CLS token being row 0; then the position embedding ({t}×{d}) is added "
                "to every row."),
        "head": (f"Only row 0 of the {t}×{d} matrix, the CLS token, goes on to the classifier: "
                 f"1×{d} numbers."),
        "skip_1": ("Residual connection: the block's input skips the LayerNorm and the attention "
                   "and is added to the attention's output here."),
        "skip_2": ("Residual connection: the first sum skips the LayerNorm and the MLP and is "
                   "added to the MLP's output here, giving the block's output."),
    }


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    shapes = tensor_shapes(config)
    level, block = parse_level(options.get("open", "model"))
    top = [_box(part, TOP_TENSORS.get(part), shapes) for part in TOP_PARTS]
    top[TOP_PARTS.index("encoder")]["detail"] = f"{config.num_layers} blocks"
    parts = [{**_box(part, None, shapes), "suffix": BLOCK_PART_TENSORS[part],
              "shape": shape_text(shapes["encoder.layer.0." + BLOCK_PART_TENSORS[part]])}
             for part in BLOCK_PARTS]
    probs = trace["probs"]
    best = int(np.argmax(probs))
    return ViewOutput({
        "top": top,
        "block": {**part_info("block"), "shape": shape_text(shapes["encoder.layer.0.output"])},
        "parts": parts,
        "layers": config.num_layers,
        "notes": notes(config),
        "predicted": {"label": config.id2label[best], "prob": encode(probs[best:best + 1], "f32")},
        "start": {"level": level, "block": block},
    })


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Diagram of the Vision Transformer: a {config.image_size}×{config.image_size} image, "
            f"patch embedding ({config.num_patches}×{config.hidden_size}), CLS token and position "
            f"embedding ({config.num_tokens}×{config.hidden_size}), a Transformer encoder of "
            f"{config.num_layers} blocks, final LayerNorm, classifier head and "
            f"{config.num_labels} classes; the encoder and each block open to show their parts.")


def links(config: TraceConfig, options: dict) -> dict[str, str]:
    return part_links([*TOP_PARTS, "block", *BLOCK_PARTS])


def wrap(text: str, width: int, most: int, separator: str = " ") -> list[str]:
    """``text`` in lines of at most ``width`` characters, at most ``most`` lines, broken at
    ``separator`` (a tensor name breaks at its dots, the next line starting with the dot)."""
    lines: list[str] = []
    for word in text.split(separator):
        if lines and len(lines[-1] + separator + word) <= width:
            lines[-1] += separator + word
        else:
            lines.append(("." + word) if lines and separator == "." else word)
    return lines[:most]


#: The static diagram's sizes, in pixels.
WIDTH, TOP_HEIGHT, BLOCK_HEIGHT, PART_HEIGHT, GAP = 1180, 112, 50, 104, 44
CURRENT = "#dcebff"  # the page's rgba(10, 132, 255, 0.14) over white
ZOOM_FACE, ZOOM_EDGE = "#eef5ff", "#9cc9ff"


def _step(ax, box: dict, x: float, y: float, width: float, height: float, title: str | None = None,
         tensor: str | None = None, shape: str | None = None, opens: bool = False,
         current: bool = False) -> None:
    """One step of the diagram as the page draws it: its name, its tensor and the tensor's shape
    (``shape=""`` leaves the shape out)."""
    draw.box(ax, x, y, width, height, edge=draw.BLUE if opens else draw.BORDER,
             face=CURRENT if current else draw.PANEL, linewidth=2.5 if current else 1.8 if opens else 1.2)
    line = y + 18
    for text in wrap(title or box["label"], max(6, int((width - 10) / 7.6)), 3 if height > 60 else 1):
        ax.text(x + 7, line, text, fontsize=9.5, fontweight="bold", color=draw.TEXT, va="baseline")
        line += 16
    if tensor and height > 60:
        for text in wrap(tensor, max(6, int((width - 10) / 6.4)), 2, "."):
            ax.text(x + 7, line, text, fontsize=8, family="monospace", color=draw.MUTED, va="baseline")
            line += 13
    if shape is None:
        shape = box.get("shape") or box.get("detail")
    if shape:
        ax.text(x + 7, y + height - 9, shape, fontsize=9, color=draw.TEXT, va="baseline")


def _note_mark(ax, number: int, x: float, y: float) -> None:
    """The numbered marker of a note (its text is listed under the diagram)."""
    from matplotlib.patches import Circle

    ax.add_patch(Circle((x, y), 8, facecolor=draw.BLUE, edgecolor="white", linewidth=1, zorder=5))
    ax.text(x, y + 0.5, str(number), fontsize=8, fontweight="bold", color="white", ha="center",
            va="center", zorder=6)


def _zoom(ax, corners: list[tuple[float, float]]) -> None:
    """The band joining an opened box to the row that shows its inside (focus+context)."""
    from matplotlib.patches import Polygon

    ax.add_patch(Polygon(corners, closed=True, facecolor=ZOOM_FACE, edgecolor=ZOOM_EDGE,
                         linestyle=(0, (3, 3)), linewidth=1))


def drawing(output: ViewOutput):
    """The diagram at the level the page opens with, the path to it and the notes of its arrows."""
    data = output.data
    level, block = data["start"]["level"], data["start"]["block"] or 0
    layers, top = data["layers"], data["top"]
    per_row = min(layers, 12)
    rows = -(-layers // per_row)
    height = 30 + TOP_HEIGHT + 8
    if level != "model":
        height += GAP + rows * (BLOCK_HEIGHT + 8)
    if level == "block":
        height += GAP + 34 + PART_HEIGHT
    notes = ["cls", "head"] + (["skip_1", "skip_2"] if level == "block" else [])
    note_lines = sum(len(wrap(data["notes"][name], 165, 9)) for name in notes)
    figure = draw.new_figure(WIDTH + 20, height + 16 + 17 * note_lines + 10)
    ax = draw.sketch(figure, 10, 0, WIDTH, height)
    trail = ["Model"] + (["Transformer encoder"] if level != "model" else []) + (
        [f"Block {block}"] if level == "block" else [])
    ax.text(0, 16, "  ›  ".join(trail), fontsize=10, color=draw.TEXT, va="baseline")

    count, width = len(top), 142
    gap = (WIDTH - count * width) / (count - 1)
    y0, mid = 30, 30 + TOP_HEIGHT / 2
    x = [i * (width + gap) for i in range(count)]
    probability = float(decode(data["predicted"]["prob"])[0])
    for i, part in enumerate(top):
        shape = (f"{part['shape']} → {data['predicted']['label']} {100 * probability:.1f}%"
                 if part["id"] == "prediction" else None)
        _step(ax, part, x[i], y0, width, TOP_HEIGHT, tensor=part.get("tensor"), shape=shape,
             opens=part["id"] == "encoder", current=part["id"] == "encoder" and level != "model")
        if i:
            draw.arrow(ax, (x[i] - gap + 2, mid), (x[i] - 3, mid))
    index = {part["id"]: i for i, part in enumerate(top)}
    _note_mark(ax, 1, x[index["cls_position"]] - gap / 2, mid - 16)
    _note_mark(ax, 2, x[index["classifier"]] - gap / 2, mid - 16)
    bottom = y0 + TOP_HEIGHT

    if level != "model":
        block_gap = 6
        block_width = (WIDTH - (per_row - 1) * block_gap) / per_row
        row_top = bottom + GAP
        left = x[index["encoder"]]
        _zoom(ax, [(left, bottom), (left + width, bottom), (WIDTH, row_top - 4), (0, row_top - 4)])
        places = []
        for i in range(layers):
            bx = (i % per_row) * (block_width + block_gap)
            by = row_top + (i // per_row) * (BLOCK_HEIGHT + 8)
            places.append((bx, by))
            roomy = block_width > 56
            _step(ax, data["block"], bx, by, block_width, BLOCK_HEIGHT,
                  title=f"Block {i}" if roomy else str(i), shape=data["block"]["shape"] if roomy else "",
                  opens=True, current=level == "block" and i == block)
        bottom = row_top + rows * (BLOCK_HEIGHT + 8) - 8

    if level == "block":
        parts = data["parts"]
        part_gap = 22
        part_width = (WIDTH - 24 - (len(parts) - 1) * part_gap) / len(parts)
        row_top = bottom + GAP + 34
        bx, by = places[block]
        _zoom(ax, [(bx, by + BLOCK_HEIGHT), (bx + block_width, by + BLOCK_HEIGHT), (WIDTH, row_top - 38),
                   (0, row_top - 38)])
        px = [24 + i * (part_width + part_gap) for i in range(len(parts))]
        middle = row_top + PART_HEIGHT / 2
        draw.arrow(ax, (0, middle), (px[0] - 3, middle))
        for i, part in enumerate(parts):
            _step(ax, part, px[i], row_top, part_width, PART_HEIGHT, tensor=part["suffix"])
            if i:
                draw.arrow(ax, (px[i] - part_gap + 2, middle), (px[i] - 3, middle))
        lane = row_top - 20
        ids = [part["id"] for part in parts]
        first, second = ids.index("residual_1"), ids.index("residual_2")
        skips = ((3, 12, px[first] + part_width / 2),
                 (4, px[first] + part_width + part_gap / 2, px[second] + part_width / 2))
        for number, start, target in skips:
            ax.plot([start, start, target], [middle, lane, lane], color=draw.MUTED, linewidth=1.5)
            draw.arrow(ax, (target, lane), (target, row_top - 3))
            _note_mark(ax, number, (start + target) / 2, lane)

    text = draw.sketch(figure, 10, height + 16, WIDTH, 17 * note_lines + 10)
    line = 12
    for k, name in enumerate(notes):
        for i, words in enumerate(wrap(data["notes"][name], 165, 9)):
            if i == 0:
                _note_mark(text, k + 1, 8, line - 4)
            text.text(24, line, words, fontsize=9, color=draw.TEXT, va="baseline")
            line += 17
    return figure


def static(output: ViewOutput):
    """The figure as the page opens it, as a picture."""
    return draw.to_image(drawing(output))


VIEW = ViewSpec(
    name="overview",
    option_spec={"open": _open_option},
    defaults={"open": "model"},
    validate=validate,
    build=build,
    alt=alt,
    links=links,
    libraries=LIBRARIES,
    static=static,
)
