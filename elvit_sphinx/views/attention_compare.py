"""``elvit-attention-compare``: three answers to "where did CLS look?", side by side.

For one image and one block, three maps over the patch grid, each with its own colour bar
(min-max normalised per map) and one sentence saying what it measures:

* **cosine similarity to CLS**: how closely each patch token's vector after the block points
  in the direction of the CLS token's vector (the EL-VIT paper's view);
* **CLS attention**: the attention weights of the CLS token's query over the patches in that
  block, averaged over the heads, or of one head (a menu; each head's map is loaded on demand);
* **attention rollout** (Abnar & Zuidema, 2020): every block's head-averaged attention with the
  identity added for the residual connection, rows renormalised, multiplied through the blocks
  up to the chosen one; the CLS row says how much of each patch has flowed into CLS so far.

A slider picks the block. Hovering a patch on any map (or on the image) writes its three values
under the maps.

Options:

``layer`` (whole number, default the last block)
    The block shown first, counted from 1.
``head`` (``mean`` or a head number, default ``mean``)
    The attention shown first: the mean over heads, or one head (counted from 0).

Example:

.. code-block:: md

    ```{elvit-attention-compare}
    :image: images/cat.png
    :layer: 6
    ```
"""

from __future__ import annotations

import numpy as np

from elvit_sphinx.analysis.interpretation import attention_rollout, block_similarities, mean_head_attention
from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, decode_png, encode, encode_png
from elvit_sphinx.views.palettes import palette_rgb
from elvit_sphinx.views.similarity import LIBRARIES, layer_option, layer_problems, start_layer, word_or_number

head_option = word_or_number("mean", "head")


def validate(config: TraceConfig, options: dict) -> list[str]:
    problems = layer_problems(config, options)
    head = options.get("head", "mean")
    if head != "mean" and not 0 <= head < config.num_heads:
        problems.append(f"head {head} is out of range: this model has {config.num_heads} heads "
                        f"(0–{config.num_heads - 1}), or use mean")
    return problems


def cls_maps(trace: Trace) -> dict[str, np.ndarray]:
    """Per block, the three CLS-to-patch maps (L×N each) and every head's CLS attention (L×h×N)."""
    layers = trace.config.num_layers
    attention = mean_head_attention(trace)
    return {
        "similarity": block_similarities(trace)[:, 0, 1:],
        "attention": attention[:, 0, 1:],
        "rollout": attention_rollout(attention)[:, 0, 1:],
        "heads": np.stack([trace.block(i, "attention.probs")[:, 0, 1:] for i in range(layers)]),
    }


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    maps = cls_maps(trace)
    head = options.get("head", "mean")
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "layers": config.num_layers, "heads": config.num_heads,
        "start_layer": start_layer(config, options), "start_head": head,
        "image": encode_png(trace["input.image"]),
        "similarity": encode(maps["similarity"], "f32"),
        "attention": encode(maps["attention"], "f32"),
        "rollout": encode(maps["rollout"], "f32"),
        # One palette for the three maps: darker is larger in each.
        "palette": encode(palette_rgb("blues"), "u8"),
    }, {"heads": {"heads": encode(maps["heads"], "f32")}})


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Three heatmaps over the {config.grid}×{config.grid} patch grid for block "
            f"{start_layer(config, options)} of {config.num_layers}: the cosine similarity of each "
            "patch to the CLS token, the CLS token's attention to each patch, and the attention "
            "rollout up to that block, beside the input image.")


# ----------------------------------------------------------------------------- static picture
#: Sizes of the static picture's panels, in pixels (about; pictures take whole pixels a patch).
PANEL, MARGIN, GAP = 224, 16, 28
#: The three maps: key in the data, title, decimals of the colour bar's numbers, what it measures.
PANELS = (
    ("similarity", "Cosine similarity to CLS", 4,
     "How closely each patch token's vector after this block points the same way as the CLS "
     "token's vector (the EL-VIT view)."),
    ("attention", "CLS attention", 5,
     "How much weight the CLS token's query gives each patch in this block's attention; over "
     "all tokens the weights sum to 1."),
    ("rollout", "Attention rollout", 5,
     "How much of each input patch has flowed into CLS through every block up to this one, "
     "counting the residual path."),
)


def shown_maps(output: ViewOutput) -> dict[str, np.ndarray]:
    """The three maps (N values each) the page opens with: its block, and its head's attention
    (the chunk of every head's) or the mean of the heads."""
    data = output.data
    layer, head = data["start_layer"] - 1, data["start_head"]
    maps = {key: decode(data[key])[layer] for key, *_ in PANELS}
    if head != "mean":
        maps["attention"] = decode(output.chunks["heads"]["heads"])[layer, head]
    return maps


def static(output: ViewOutput):
    """The image and the three maps of the block (and head) the page opens with, each with its
    colour bar and the sentence saying what it measures."""
    import textwrap

    data = output.data
    grid, size, head = data["grid"], data["size"], data["start_head"]
    side = round(size * draw.whole_scale(size, PANEL))
    cell = max(1, round(side / grid))
    panel = max(side, grid * cell, PANEL)  # room for the titles and sentences
    chars = int(panel / 6.2)
    sentences = [textwrap.wrap(sentence, chars) for *_, sentence in PANELS]
    top = MARGIN + 24
    height = top + max(side, grid * cell) + 52 + 15 * max(len(lines) for lines in sentences) + MARGIN
    canvas = draw.PixelLayout(2 * MARGIN + 4 * panel + 3 * GAP, height)
    which = "the mean of the heads" if head == "mean" else f"head {head}"
    canvas.text(MARGIN, MARGIN, f"Where did CLS look? Block {data['start_layer']} of {data['layers']}, "
                                f"attention of {which}", size=10, weight="bold")
    image = decode_png(data["image"])
    canvas.text(MARGIN, top, "The image", size=9)
    draw.picture(canvas.axes(MARGIN, top + 18, side, side), draw.resample(image, side, side), grid=grid)
    maps = shown_maps(output)
    for index, (key, title, decimals, _) in enumerate(PANELS):
        x = MARGIN + (index + 1) * (panel + GAP)
        if key == "attention":
            title = "CLS attention, mean of the heads" if head == "mean" else f"CLS attention, head {head}"
        canvas.text(x, top, title, size=9)
        rgb, low, high = draw.value_map(maps[key], grid, data["palette"], cell)
        draw.picture(canvas.axes(x, top + 18, grid * cell, grid * cell), rgb)
        draw.titled_colorbar(canvas.axes(x, top + 22 + grid * cell, grid * cell, 10), data["palette"],
                      f"{low:.{decimals}f}".replace("-", "−"), f"{high:.{decimals}f}".replace("-", "−"))
        canvas.text(x, top + 52 + grid * cell, "\n".join(sentences[index]), size=8, linespacing=1.25)
    return canvas.image()


VIEW = ViewSpec(
    name="attention-compare",
    option_spec={"layer": layer_option, "head": head_option},
    defaults={"head": "mean"},
    validate=validate,
    build=build,
    alt=alt,
    libraries=LIBRARIES,
    static=static,
)
