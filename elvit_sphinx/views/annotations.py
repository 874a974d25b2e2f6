"""``elvit-annotations`` — a tensor with explanations in place (EL-VIT, Fig. 8).

Draws one tensor of the forward pass as a matrix heatmap (rows and columns in the tensor's own
indices; colours min-max normalised over the whole matrix) and lets the author mark regions of
it, each with a short text. Hovering a marked region frames it and shows its text; the texts are
also listed under the figure, and focusing or hovering an entry frames its region. Hovering any
cell reads out its row, column and value (read from the 256-step colour code: ≈ value ± half a
step).

The tensor is named by ``:tensor:`` with its name in the trace (``embeddings.with_cls``,
``encoder.layer.0.attention.probs``…; ``trace.names()`` lists them all). Vectors are drawn as
one row; ``heads × tokens × …`` attention tensors one head at a time (``:head:``); the patch
kernels ``D × 3 × P × P`` as ``D`` rows of ``3·P·P`` weights; ``input.image`` as the image.

Annotations are the directive's content, one per line (a line that does not start with a region
continues the text above it)::

    rows 0..0: the CLS token, added here
    cols 0..63: the first 64 channels
    rows 1..last, cols 5..5: channel 5 of every patch

``rows A..B``, ``cols A..B`` or both (a rectangle); ``row A``/``col A`` for one index; bounds from
0, or ``last``, both included. A region out of range for the loaded model, or an unknown tensor,
gives one warning with file and line and the figure is left out.

Options:

``:tensor:`` (required)
    The tensor's name in the trace.
``:head:`` (whole number, default 0)
    For ``heads × …`` tensors: which head.

Example:

.. code-block:: md

    ```{elvit-annotations}
    :image: images/cat.png
    :tensor: embeddings.with_cls
    rows 0..0: the CLS token, added here as row 0
    rows 1..last: the patch embeddings, one row per patch
    ```
"""

from __future__ import annotations

import math
import textwrap

import numpy as np
from docutils.parsers.rst import directives

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.model_map import shape_text, tensor_shapes
from elvit_sphinx.views.palettes import palette_rgb
from elvit_sphinx.views.regions import RegionError, parse, resolve

LIBRARIES = ("mosaic.js",)  # elvit.mosaic.formatApprox: values read back from colour codes


def matrix_shape(name: str, shape: tuple[int, ...]) -> tuple[int, int]:
    """Rows × columns the tensor is drawn as (see the module docstring)."""
    if name == "input.image":
        return shape[0], shape[1]
    if len(shape) == 1:
        return 1, shape[0]
    if len(shape) == 3:
        return shape[1], shape[2]
    return shape[0], int(np.prod(shape[1:]))


def matrix_of(name: str, values: np.ndarray, head: int) -> np.ndarray:
    if name == "input.image" or values.ndim == 2:
        return values
    if values.ndim == 1:
        return values[None, :]
    if values.ndim == 3:
        return values[head]
    return values.reshape(values.shape[0], -1)


def axes(name: str, config: TraceConfig, rows: int) -> tuple[str, str]:
    """What a row and a column of the drawn matrix are, in words."""
    if name == "input.image":
        return "pixel row", "pixel column"
    if name in ("logits", "probs"):
        return "", "class"
    if name.endswith(("attention.scores", "attention.probs")):
        return "query token", "key token"
    if name.startswith(("embeddings.", "encoder.", "layernorm")) and rows in (
            config.num_tokens, config.num_patches):
        return "token", "channel"
    return "row", "column"


def _tensor_option(text: str) -> str:
    if not text or not text.strip():
        raise ValueError("give the tensor's name in the trace, e.g. embeddings.with_cls")
    return text.strip()


def problems_and_regions(config: TraceConfig, options: dict) -> tuple[list[str], list[dict]]:
    shapes = tensor_shapes(config)
    name = options["tensor"]
    if name not in shapes:
        close = [n for n in shapes if n.split(".")[-1] == name.split(".")[-1]][:3]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        return [f"unknown tensor {name!r}{hint}: use a name from the trace, e.g. "
                "embeddings.with_cls or encoder.layer.0.attention.probs"], []
    shape = shapes[name]
    head = options.get("head", 0)
    if len(shape) == 3 and name != "input.image" and head >= shape[0]:
        return [f"head {head} is out of range (0–{shape[0] - 1}): {name} has {shape[0]} heads"], []
    rows, cols = matrix_shape(name, shape)
    annotations, problems = parse(options.get("content", ""))
    regions = []
    for annotation in annotations:
        try:
            regions.append(resolve(annotation, rows, cols, name))
        except RegionError as exc:
            problems.append(str(exc))
    return problems, regions


def validate(config: TraceConfig, options: dict) -> list[str]:
    if not options.get("tensor"):
        return ["the :tensor: option is required (a name from the trace, e.g. embeddings.with_cls)"]
    return problems_and_regions(config, options)[0]


def build(trace: Trace, options: dict) -> ViewOutput:
    config, name = trace.config, options["tensor"]
    _problems, regions = problems_and_regions(config, options)
    values = matrix_of(name, trace[name], options.get("head", 0))
    rows, cols = values.shape[:2]
    row_axis, col_axis = axes(name, config, rows)
    data = {"tensor": name, "shape": shape_text(trace[name].shape), "rows": rows, "cols": cols,
            "head": options.get("head", 0) if trace[name].ndim == 3 and name != "input.image" else None,
            "row_axis": row_axis, "col_axis": col_axis, "grid": config.grid,
            "cls": rows == config.num_tokens, "regions": regions}
    if name == "input.image":
        data["rgb"] = encode(values, "u8")
    else:
        data.update(codes=encode(heatmap.codes(values), "u8"),
                    lo=encode(np.min(values, keepdims=True).reshape(1), "f32"),
                    hi=encode(np.max(values, keepdims=True).reshape(1), "f32"),
                    palette=encode(palette_rgb("viridis"), "u8"))
    return ViewOutput(data)


def alt(config: TraceConfig, options: dict) -> str:
    name = options.get("tensor", "")
    shape = tensor_shapes(config).get(name)
    size = f" ({shape_text(shape)})" if shape else ""
    count = len(parse(options.get("content", ""))[0])
    return (f"The tensor {name}{size} drawn as a heatmap, with {count} marked "
            f"region{'s' if count != 1 else ''} explained in text.")


#: All of an axis's rows or columns, as the page's title names them (annotations.js AXES).
AXIS_PLURALS = {"token": "tokens", "query token": "query tokens", "key token": "key tokens",
                "channel": "channels", "class": "classes", "pixel row": "pixel rows",
                "pixel column": "pixel columns", "row": "rows", "column": "columns"}
#: The page's heatmap fits this box, whole pixels per cell up to 40 (annotations.js).
FIT_WIDTH, FIT_HEIGHT = 740, 520


def title(data: dict) -> str:
    """The heatmap's title as the page writes it."""
    what = (f"{data['tensor']}, head {data['head']} ({data['shape']})" if data["head"] is not None
            else f"{data['tensor']} ({data['shape']})")
    rows = f" · rows: {AXIS_PLURALS.get(data['row_axis'], data['row_axis'])}" if data["row_axis"] else ""
    return f"{what}{rows} · columns: {AXIS_PLURALS.get(data['col_axis'], data['col_axis'])}"


def region_text(region: dict) -> str:
    """Where a region is, as the page lists it."""
    rows, cols = ((region[f"{axis}0"], region[f"{axis}1"]) for axis in "rc")
    return (f"rows {rows[0] if rows[0] == rows[1] else f'{rows[0]}–{rows[1]}'}, "
            f"columns {cols[0] if cols[0] == cols[1] else f'{cols[0]}–{cols[1]}'}")


def cell_size(rows: int, cols: int) -> float:
    """Pixels per cell, as the page sizes the heatmap: whole pixels (at most 40) when cells fit."""
    fit = min(FIT_WIDTH / cols, FIT_HEIGHT / rows)
    return min(40, math.floor(fit)) if fit >= 1 else fit


def bar_digits(lo: float, hi: float) -> int:
    """Decimals for the colour range: those a reading from the colours can trust (the page's
    ``formatApprox`` for half a colour step)."""
    half = (hi - lo) / 510
    return 4 if not half > 0 else min(6, max(0, math.ceil(-math.log10(half))))


def mark_places(regions: list[dict], cell_width: float, cell_height: float,
                room: float = 18) -> list[tuple[float, float]]:
    """Where each region's number goes (col, row in cells): on its top-left corner, or further
    along its top edge, then down its left edge, where it keeps ``room`` pixels from the numbers
    placed before it."""
    placed: list[tuple[float, float]] = []
    for region in regions:
        along = [(c, region["r0"]) for c in np.arange(region["c0"], region["c1"] + 1, room / cell_width)]
        down = [(region["c0"], r) for r in np.arange(region["r0"], region["r1"] + 1, room / cell_height)]
        free = [(float(c), float(r)) for c, r in along + down
                if all(math.hypot((c - pc) * cell_width, (r - pr) * cell_height) >= room
                       for pc, pr in placed)]
        placed.append(free[0] if free else (region["c0"], region["r0"]))
    return placed


def drawing(output: ViewOutput):
    """The tensor as a heatmap with every annotated region framed and numbered, its colour range,
    and the numbered notes."""
    from matplotlib.patches import Rectangle

    data = output.data
    rows, cols, regions = data["rows"], data["cols"], data["regions"]
    scale = cell_size(rows, cols)
    width_px, height_px = max(36, cols * scale), max(36, rows * scale)
    width = int(max(720, width_px + 140))
    chars = int((width - 20) / 6.6)
    heading = textwrap.wrap(title(data), chars)
    notes = [textwrap.wrap(f"{k + 1}. {region_text(r)} — {r['text']}", chars, subsequent_indent="    ")
             for k, r in enumerate(regions)] or [["This figure has no notes."]]
    lines = sum(len(note) for note in notes)
    top = 16 + 16 * len(heading)
    height = int(top + height_px + 64 + 17 * lines + 10)
    figure = draw.new_figure(width, height)
    figure.text(10 / width, 1 - 8 / height, "\n".join(heading), fontsize=9.5, color=draw.TEXT, va="top")

    ax = draw.panel(figure, 70, top, width_px, height_px)
    if "rgb" in data:
        draw.picture(ax, decode(data["rgb"]), smooth=scale < 1)
    else:
        draw.heatmap(ax, decode(data["codes"]), data["palette"], smooth=scale < 1)
        lo, hi = float(decode(data["lo"])[0]), float(decode(data["hi"])[0])
        digits = bar_digits(lo, hi)
        draw.colorbar(draw.panel(figure, 70 + 40, top + height_px + 30, 240, 12), data["palette"],
                      draw.fmt(lo, digits), draw.fmt(hi, digits), "values")
    ax.set_aspect("auto")
    ax.set_xticks([0.5, cols - 0.5], ["0", str(cols - 1)], fontsize=8)
    ax.set_yticks([0.5, rows - 0.5], ["0", str(rows - 1)], fontsize=8)
    marks = mark_places(regions, width_px / cols, height_px / rows)
    for k, (region, (col, row)) in enumerate(zip(regions, marks, strict=True)):
        ax.add_patch(Rectangle((region["c0"], region["r0"]), region["c1"] - region["c0"] + 1,
                               region["r1"] - region["r0"] + 1, fill=False, edgecolor=draw.ACCENT,
                               linewidth=2, clip_on=False))
        ax.text(col, row, str(k + 1), fontsize=8, fontweight="bold", color="white",
                ha="center", va="center", clip_on=False,
                bbox={"boxstyle": "circle,pad=0.25", "facecolor": draw.ACCENT, "edgecolor": "white"})

    text = draw.sketch(figure, 10, top + height_px + 64, width - 20, 17 * lines + 6)
    line = 12
    for note in notes:
        for words in note:
            text.text(0, line, words, fontsize=9, color=draw.TEXT, va="baseline")
            line += 17
    return figure


def static(output: ViewOutput):
    """The figure with all its notes shown at once, as a picture."""
    return draw.to_image(drawing(output))


VIEW = ViewSpec(
    name="annotations",
    option_spec={"tensor": _tensor_option, "head": directives.nonnegative_int},
    defaults={"head": 0},
    validate=validate,
    build=build,
    alt=alt,
    libraries=LIBRARIES,
    content=True,
    static=static,
)
