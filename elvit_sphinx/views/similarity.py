"""``elvit-similarity``: which patches a token resembles, block by block (EL-VIT, Fig. 9 and 10).

Every block of the encoder outputs one vector per token. The view compares a chosen token with
every patch token of the same block output by their *cosine similarity*,
``s(a, b) = a·b / (|a| |b|)`` (1: same direction, 0: unrelated, −1: opposite), and draws the
``N`` values as a heatmap over the image's patch grid: bluer means more similar. The token is the
CLS token at first; click a patch on the image or on the heatmap, move with the arrow keys on
the image, or type a patch number to compare that patch with all the others instead (the *CLS*
button goes back). Hover the heatmap or the image to read a patch's similarity. A slider picks
the block (1 to the number of blocks), and a strip of small maps shows the chosen token's map
after every block at once; click one to jump to that block. Colours are min-max normalised per
map, so read the numbers on the colour bar: the lightest cell is the map's smallest value and
the darkest its largest. A chosen patch is compared with itself too (similarity 1, the darkest).

When the figure offers several images (``:images:``, and the reader's ``elvit_images``), a menu
switches between them. Choosing a token, or an image, tells the other figures of the page about
the same image (``elvit-patch-predictions``): they follow, and the figure follows them. The link
is a ``CustomEvent`` named ``elvit:token`` on ``document`` whose ``detail`` is ``{image, token,
origin}`` (the image's id, the token index with 0 for CLS, the sending figure's id); a reader's
own script can listen to it or send it (``static/interpretation.js``).

All ``L × T × T`` similarities are computed during the build (NumPy, float64 rounded to float32)
and sent one block at a time, as the upper triangle of the symmetric ``T × T`` matrix: a change of
block or token is a look-up in the page.

Options:

``layer`` (whole number, default the last block)
    The block shown first, counted from 1.
``token`` (``cls`` or a patch number, default ``cls``)
    The token compared with the patches at first.
``images`` (paths separated by commas, relative to the page)
    More images for the menu (at most 12 in all).

Example:

.. code-block:: md

    ```{elvit-similarity}
    :image: images/cat.png
    :images: images/dog.png, images/cat-and-dog.png
    :layer: 12
    ```
"""

from __future__ import annotations

import numpy as np

from elvit_sphinx.analysis.interpretation import block_similarities, full_from_upper, upper_triangle
from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, decode_png, encode, encode_png
from elvit_sphinx.views.image_menu import image_entry, images_option, menu_traces, validate_images
from elvit_sphinx.views.palettes import palette_rgb

LIBRARIES = ("interpretation.js",)


def word_or_number(word: str, what: str):
    """Option converter for ``word`` (any case) or a whole ``what`` number, e.g. cls or 45."""
    def convert(text: str | None) -> str | int:
        value = (text or "").strip()
        if value.lower() == word:
            return word
        if value.isdigit():
            return int(value)
        raise ValueError(f"{value!r} is neither {word!r} nor a {what} number (0, 1, 2, ...)")
    return convert


token_option = word_or_number("cls", "patch")


def layer_option(text: str | None) -> int:
    value = (text or "").strip()
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{value!r} is not a block number (1, 2, ...)")
    return int(value)


def start_layer(config: TraceConfig, options: dict) -> int:
    """The block shown first, counted from 1."""
    return options.get("layer") or config.num_layers


def start_token(options: dict) -> int:
    """The token shown first as a token index: 0 is CLS, patch ``k`` is token ``k + 1``."""
    token = options.get("token", "cls")
    return 0 if token == "cls" else int(token) + 1


def layer_problems(config: TraceConfig, options: dict) -> list[str]:
    """The ``layer`` option counts blocks from 1."""
    layer = options.get("layer")
    if layer is not None and not 1 <= layer <= config.num_layers:
        return [f"layer {layer} is out of range: this model has {config.num_layers} blocks "
                f"(1–{config.num_layers})"]
    return []


def validate(config: TraceConfig, options: dict) -> list[str]:
    problems = layer_problems(config, options)
    token = options.get("token", "cls")
    if token != "cls" and not 0 <= token < config.num_patches:
        problems.append(f"token {token} is out of range: patches are numbered 0–"
                        f"{config.num_patches - 1} ({config.grid}×{config.grid} grid), or use cls")
    return problems + validate_images(options)


def alt(config: TraceConfig, options: dict) -> str:
    token = start_token(options)
    which = "the CLS token" if token == 0 else f"patch {token - 1}"
    return (f"Heatmap over the {config.grid}×{config.grid} patch grid of the cosine similarity "
            f"between {which} and every patch after block {start_layer(config, options)} of "
            f"{config.num_layers}, bluer where more similar, beside the input image and a strip "
            "of the same map after every block.")


def similarity_chunks(trace: Trace, index: int) -> dict[str, dict]:
    """One chunk per block: the upper triangle of its T×T cosine-similarity matrix (float32)."""
    return {f"sim-{index}-{layer}": {"sim": encode(upper_triangle(matrix), "f32")}
            for layer, matrix in enumerate(block_similarities(trace))}


def build_from_traces(traces: list[Trace], options: dict) -> ViewOutput:
    config = traces[0].config
    chunks: dict[str, dict] = {}
    for index, trace in enumerate(traces):
        chunks.update(similarity_chunks(trace, index))
        if index:
            chunks[f"img-{index}"] = {"image": encode_png(trace["input.image"])}
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "tokens": config.num_tokens, "layers": config.num_layers,
        "start_layer": start_layer(config, options), "start_token": start_token(options),
        "images": [image_entry(trace) for trace in traces],
        "image": encode_png(traces[0]["input.image"]),
        "palette": encode(palette_rgb("blues"), "u8"),
    }, chunks)


def build(trace: Trace, options: dict) -> ViewOutput:
    return build_from_traces(menu_traces(trace, options), options)


# ----------------------------------------------------------------------------- static picture
#: Sizes of the static picture's panels, in pixels (about; pictures take whole pixels a patch).
PANEL, STRIP_MAP, STRIP_PER_ROW, MARGIN, GAP = 256, 96, 12, 16, 24


def token_name(token: int, grid: int) -> str:
    """"CLS" or "patch 45 (row 3, col 3)", as the page writes a token."""
    if token == 0:
        return "CLS"
    patch = token - 1
    return f"patch {patch} (row {patch // grid}, col {patch % grid})"


def number(value: float) -> str:
    """A similarity with four decimals and a true minus sign."""
    return f"{value:.4f}".replace("-", "−")


def token_rows(output: ViewOutput, token: int, image: int = 0) -> np.ndarray:
    """The similarity of ``token`` to the N patches after every block (L×N), from the chunks the
    page loads (upper triangles of the T×T matrices)."""
    data = output.data
    return np.stack([full_from_upper(decode(output.chunks[f"sim-{image}-{layer}"]["sim"]),
                                     data["tokens"])[token, 1:] for layer in range(data["layers"])])


def static(output: ViewOutput):
    """The image (the chosen patch framed), the chosen token's map after the block shown first
    with its colour bar and what the readout says, and the strip of its map after every block."""
    data = output.data
    grid, patch, size, layers = data["grid"], data["patch"], data["size"], data["layers"]
    token, layer = data["start_token"], data["start_layer"] - 1
    rows = token_rows(output, token)
    image = decode_png(data["image"])
    side = round(size * draw.whole_scale(size, PANEL))
    cell = max(1, round(side / grid))
    per_row = -(-layers // -(-layers // STRIP_PER_ROW))
    strip_cell = max(1, STRIP_MAP // grid)
    strip_rows = -(-layers // per_row)
    strip_width = per_row * grid * strip_cell + (per_row - 1) * 8
    width = max(MARGIN * 2 + side + GAP + grid * cell + GAP + 400, MARGIN * 2 + strip_width)
    top = MARGIN + 22
    strip_top = top + max(side, grid * cell + 56) + 40
    height = strip_top + strip_rows * (grid * strip_cell + 20) + MARGIN
    canvas = draw.PixelLayout(width, height)
    who = "the CLS token" if token == 0 else f"patch {token - 1}"
    box = None
    if token:
        row, col = divmod(token - 1, grid)
        scale = side / size
        box = (col * patch * scale, row * patch * scale, patch * scale, patch * scale)
    canvas.text(MARGIN, MARGIN, "The image" + (f": {who} chosen" if token else ""), size=9)
    draw.picture(canvas.axes(MARGIN, top, side, side), draw.resample(image, side, side), grid=grid, box=box)
    x = MARGIN + side + GAP
    values = rows[layer]
    heat, low, high = draw.value_map(values, grid, data["palette"], cell)
    canvas.text(x, MARGIN, f"Similarity to {who} after block {layer + 1} of {layers}", size=9)
    draw.picture(canvas.axes(x, top, grid * cell, grid * cell), heat,
                 box=None if token == 0 else (col * cell, row * cell, cell, cell))
    draw.titled_colorbar(canvas.axes(x, top + grid * cell + 30, grid * cell, 10), data["palette"],
                  number(low), number(high), "cosine similarity (bluer = more similar)")
    others = [j for j in range(grid * grid) if j != token - 1]  # a patch is most similar to itself
    best = max(others, key=lambda j: (values[j], -j))
    worst = min(others, key=lambda j: (values[j], j))
    draw.text_panel(canvas.axes(x + grid * cell + GAP, top, 400, side), [
        f"{token_name(token, grid)} after block {layer + 1}:",
        f"most similar  {token_name(best + 1, grid)}: {number(values[best])}",
        f"least similar {token_name(worst + 1, grid)}: {number(values[worst])}",
        "",
        "Colours are min–max normalised per map:",
        "read the numbers on the colour bar.",
    ])
    canvas.text(MARGIN, strip_top - 22, f"The same map after every block (block {layer + 1} framed)", size=9)
    for index in range(layers):
        r, c = divmod(index, per_row)
        x, y = MARGIN + c * (grid * strip_cell + 8), strip_top + r * (grid * strip_cell + 20)
        small = draw.value_map(rows[index], grid, data["palette"], strip_cell)[0]
        ax = canvas.axes(x, y, grid * strip_cell, grid * strip_cell)
        draw.picture(ax, small)
        if index == layer:
            for spine in ax.spines.values():
                spine.set_edgecolor(draw.ACCENT)
                spine.set_linewidth(2.5)
        canvas.text(x + grid * strip_cell / 2, y + grid * strip_cell + 3, f"block {index + 1}", size=8,
                    ha="center")
    return canvas.image()



VIEW = ViewSpec(
    name="similarity",
    option_spec={"layer": layer_option, "token": token_option, "images": images_option},
    defaults={"token": "cls"},
    validate=validate,
    build=build,
    alt=alt,
    libraries=LIBRARIES,
    static=static,
)
