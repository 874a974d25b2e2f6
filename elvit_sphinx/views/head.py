"""``elvit-head``: from the CLS token to the class scores, one dot product per class.

After the last block, the final LayerNorm normalises every token, but the classifier reads only
the CLS token: its normalised vector ``z`` (``hidden_size`` numbers). For each class ``k`` the
classifier has a row of weights ``w_k`` and a bias ``b_k``, and the class's score (its *logit*) is
``w_k · z + b_k``. A softmax turns the logits into probabilities.

The view shows ``z`` before and after the final LayerNorm (as near-square heatmaps), the
classifier's weight rows as a heatmap (one row per class), and the logits as bars. Hover a class
(its bar or its weight row), or step through the classes with the keyboard, to see its dot product
written out and, as a heatmap, the products ``w_k,j · z_j`` whose sum it is: the features that push
that class up (bright) or down (dark).

For a model with many classes, the ``top`` classes by logit are shown (default: all, at most 20).

Options:

``top`` (whole number, default all classes, at most 20)
    How many classes to show, highest logit first.

Example:

.. code-block:: md

    ```{elvit-head}
    :image: images/cat.png
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst import directives

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.palettes import palette_rgb
from elvit_sphinx.views.prediction import CHARTS
from elvit_sphinx.views.ranges import top_classes_problem

MAX_CLASSES = 20


def shown_count(config: TraceConfig, options: dict) -> int:
    return min(options.get("top") or config.num_labels, MAX_CLASSES, config.num_labels)


def validate(config: TraceConfig, options: dict) -> list[str]:
    problem = top_classes_problem(config, options.get("top"))
    return [problem] if problem else []


def alt(config: TraceConfig, options: dict) -> str:
    return (f"The CLS token's {config.hidden_size} numbers before and after the final LayerNorm, "
            f"the classifier's weight rows for {shown_count(config, options)} classes as a heatmap, "
            f"and the resulting logits as bars.")


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    rows, cols = heatmap.grid_shape(config.hidden_size)
    logits = trace["logits"]
    classes = [int(i) for i in np.argsort(-logits, kind="stable")[:shown_count(config, options)]]
    weights = trace["param.classifier.weight"][classes]
    before = trace.block(config.num_layers - 1, "output")[0]
    after = trace["layernorm"][0]
    return ViewOutput({
        "hidden": config.hidden_size, "rows": rows, "cols": cols,
        "classes": classes, "labels": [config.id2label[i] for i in classes],
        "cls_before": encode(before, "f32"), "cls_after": encode(after, "f32"),
        "before_codes": encode(heatmap.codes(before), "u8"),
        "after_codes": encode(heatmap.codes(after), "u8"),
        "weights": encode(weights, "f32"),  # K×D, the rows of the shown classes
        "weight_codes": encode(heatmap.codes(weights), "u8"),  # one colour scale for all rows
        "biases": encode(trace["param.classifier.bias"][classes], "f32"),
        "logits": encode(logits[classes], "f32"),
        "probs": encode(trace["probs"][classes], "f32"),
        "palette": encode(palette_rgb("viridis"), "u8"),
    })



def static(output: ViewOutput):
    """CLS before and after the final LayerNorm, the classifier rows, the probabilities."""
    data = output.data
    rows, cols = data["rows"], data["cols"]
    figure = draw.new_figure(900, 420)
    axes = figure.subplot_mosaic([["before", "weights"], ["after", "probs"]], width_ratios=[0.6, 1.4],
                                 gridspec_kw={"hspace": 0.4, "wspace": 0.25})
    draw.heatmap(axes["before"], decode(data["before_codes"]).reshape(rows, cols), data["palette"],
                 "CLS after the last block")
    draw.heatmap(axes["after"], decode(data["after_codes"]).reshape(rows, cols), data["palette"],
                 "… after the final LayerNorm: z")
    weights = decode(data["weight_codes"])
    draw.heatmap(axes["weights"], weights, data["palette"],
                 f"Classifier weights: {weights.shape[0]} rows of {data['hidden']}")
    axes["weights"].set_aspect("auto")
    draw.bars(axes["probs"], data["labels"], decode(data["probs"]), highlight=0,
              xlabel="softmax probability", xmax=1.0)
    return draw.to_image(figure)

VIEW = ViewSpec(
    name="head",
    option_spec={"top": directives.positive_int},
    validate=validate,
    build=build,
    alt=alt,
    libraries=CHARTS,
    static=static,
)
