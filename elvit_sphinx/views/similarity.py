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

from elvit_sphinx.interpretation import block_similarities, upper_triangle
from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import encode, encode_png
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


VIEW = ViewSpec(
    name="similarity",
    option_spec={"layer": layer_option, "token": token_option, "images": images_option},
    defaults={"token": "cls"},
    validate=validate,
    build=build,
    alt=alt,
    libraries=LIBRARIES,
)
