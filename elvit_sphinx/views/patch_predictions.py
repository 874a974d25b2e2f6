"""``elvit-patch-predictions``: what the model's head says about one patch token (EL-VIT, Fig. 11).

The model classifies an image with its CLS token only: after the last block, the final
LayerNorm and the classifier turn CLS's vector into one logit per class, and a softmax into
probabilities. Every patch token of the last block output has the same length, so the same head
can be applied to it, as if that patch's token were the CLS token. The view draws both sets of
probabilities side by side as bars, in the same class order: on the left the CLS token's (the
model's real prediction), on the right the chosen patch's. Click a patch on the image, move with
the arrow keys, or type its number to choose it; hover (or Tab to) a bar to read both tokens'
probability and logit for that class.

The view follows the other figures of the page that show the same image: choosing a patch in an
``elvit-similarity`` figure chooses it here too, and the other way round. With several images
(``:images:``, and the reader's ``elvit_images``) a menu switches between them.

Options:

``patch`` (whole number, default the patch at the centre of the grid)
    The patch shown first.
``top`` (whole number, default every class, at most 20)
    Show only this many classes: those the CLS token finds most likely.
``images`` (paths separated by commas, relative to the page)
    More images for the menu (at most 12 in all).

Example:

.. code-block:: md

    ```{elvit-patch-predictions}
    :image: images/cat-and-dog.png
    :patch: 82
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst.directives import nonnegative_int, positive_int

from elvit_sphinx.analysis.interpretation import token_logits, token_probabilities
from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, decode_png, encode, encode_png
from elvit_sphinx.views.image_menu import image_entry, images_option, menu_traces, validate_images
from elvit_sphinx.views.prediction import CHARTS, MAX_BARS

LIBRARIES = (*CHARTS, "interpretation.js")


def start_patch(config: TraceConfig, options: dict) -> int:
    patch = options.get("patch")
    return config.grid // 2 * config.grid + config.grid // 2 if patch is None else patch


def validate(config: TraceConfig, options: dict) -> list[str]:
    problems = []
    patch = options.get("patch")
    if patch is not None and not 0 <= patch < config.num_patches:
        problems.append(f"patch {patch} is out of range (0–{config.num_patches - 1}): this model "
                        f"cuts the image into a {config.grid}×{config.grid} grid")
    top = options.get("top")
    if top is not None and not 1 <= top <= min(config.num_labels, MAX_BARS):
        problems.append(f"top {top} is out of range: this model has {config.num_labels} classes, "
                        f"and at most {MAX_BARS} bars are drawn (1–{min(config.num_labels, MAX_BARS)})")
    return problems + validate_images(options)


def shown_classes(trace: Trace, options: dict) -> list[int]:
    """The classes drawn, in the model's order: all, or the ``top`` most likely for CLS."""
    count = options.get("top") or min(trace.config.num_labels, MAX_BARS)
    likely = np.argsort(-trace["probs"], kind="stable")[:count]
    return sorted(int(i) for i in likely)


def token_predictions(trace: Trace, classes: list[int]) -> dict:
    """Per token (0 = CLS): probabilities and logits of the shown classes, and its top class."""
    logits = token_logits(trace)
    probs = token_probabilities(trace)
    best = probs.argmax(axis=1)
    return {
        "probs": encode(probs[:, classes], "f32"),
        "logits": encode(logits[:, classes], "f32"),
        "best": encode(best, "u32"),
        "best_prob": encode(probs[np.arange(len(best)), best], "f32"),
    }


def build_from_traces(traces: list[Trace], options: dict) -> ViewOutput:
    config = traces[0].config
    classes = shown_classes(traces[0], options)
    chunks = {f"img-{index}": {"image": encode_png(trace["input.image"]),
                               **token_predictions(trace, classes)}
              for index, trace in enumerate(traces) if index}
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "start": start_patch(config, options),
        "classes": classes, "labels": [config.id2label[i] for i in classes],
        "all_labels": [config.id2label[i] for i in range(config.num_labels)],
        "images": [image_entry(trace) for trace in traces],
        "image": encode_png(traces[0]["input.image"]),
        **token_predictions(traces[0], classes),
    }, chunks)


def build(trace: Trace, options: dict) -> ViewOutput:
    return build_from_traces(menu_traces(trace, options), options)


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Two bar charts of class probabilities side by side: the model's head applied to the "
            f"CLS token and to patch {start_patch(config, options)} of the last block output, "
            f"beside the image with its {config.grid}×{config.grid} patch grid.")


# ----------------------------------------------------------------------------- static picture
#: Sizes of the static picture's parts, in pixels (the image takes whole pixels a pixel).
PANEL, CHART, BAR, MARGIN, GAP = 224, 300, 20, 16, 30


def static(output: ViewOutput):
    """The image with its patch grid and the first patch framed, and the head's probabilities for
    the CLS token and for that patch's token, side by side in the same class order."""
    data = output.data
    grid, patch, size, start = data["grid"], data["patch"], data["size"], data["start"]
    labels, count = data["labels"], len(data["classes"])
    probs = decode(data["probs"])  # tokens × shown classes
    best, best_prob = decode(data["best"]), decode(data["best_prob"])
    side = round(size * draw.whole_scale(size, PANEL))
    room = 12 + 6.5 * max(len(label) for label in labels)  # the class names left of the bars
    chart_height = BAR * count + 44
    top = MARGIN + 24
    height = top + max(side + 40, chart_height + 20) + MARGIN
    width = round(MARGIN * 2 + side + 2 * (GAP + room + CHART))
    canvas = draw.PixelLayout(width, height)
    row, col = divmod(start, grid)

    def top_text(token: int) -> str:
        return f"{data['all_labels'][int(best[token])]} ({100 * float(best_prob[token]):.1f}%)"

    canvas.text(MARGIN, MARGIN, "The model's head applied to the CLS token and to one patch's token",
                size=10, weight="bold")
    canvas.text(MARGIN, top, f"The image: patch {start} framed", size=9)
    scale = side / size
    image = draw.resample(decode_png(data["image"]), side, side)
    box = (col * patch * scale, row * patch * scale, patch * scale, patch * scale)
    draw.picture(canvas.axes(MARGIN, top + 18, side, side), image, grid=grid, box=box)
    canvas.text(MARGIN, top + 24 + side, f"{grid}×{grid} patches of {patch}×{patch} pixels", size=8,
                color="#555555")
    x = MARGIN + side + GAP
    for token, title in ((0, f"CLS token → {top_text(0)}"),
                         (start + 1, f"Patch {start} (row {row}, col {col}) → {top_text(start + 1)}")):
        winner = int(best[token])
        highlight = data["classes"].index(winner) if winner in data["classes"] else None
        canvas.text(x, top, title, size=9)
        draw.bars(canvas.axes(x + room, top + 22, CHART - 40, chart_height - 44), labels, probs[token],
                  highlight=highlight, xlabel="probability", xmax=1.0)
        x += room + CHART + GAP
    return canvas.image()



VIEW = ViewSpec(
    name="patch-predictions",
    option_spec={"patch": nonnegative_int, "top": positive_int, "images": images_option},
    validate=validate,
    build=build,
    alt=alt,
    libraries=LIBRARIES,
    static=static,
)
