"""``elvit-prediction`` — the model's output: class probabilities, the top class highlighted.

The classifier reads only the CLS token after the final LayerNorm; its logits go through a
softmax. The bar chart shows every class (sorted by probability unless ``:order: model``),
the top class in a contrasting colour. Hovering a bar (or focusing it with Tab) writes that
class's probability and logit under the chart.

Options:

``:image:`` (required), ``:caption:``
``:top:`` how many classes to show (default: all, at most 20)
``:order:`` ``probability`` (default) or ``model`` (the checkpoint's label order)

Example (MyST)::

    ```{elvit-prediction}
    :image: images/cat.png
    :top: 5
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst import directives

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.ranges import top_classes_problem

MAX_BARS = 20
CHARTS = ("vendor/d3-7.9.2.min.js", "charts.js")


def _order(value: str) -> str:
    return directives.choice(value, ("probability", "model"))


def validate(config: TraceConfig, options: dict) -> list[str]:
    problem = top_classes_problem(config, options.get("top"))
    return [problem] if problem else []


def shown_classes(trace: Trace, options: dict) -> list[int]:
    """Class indices in the order the bars are drawn."""
    probs = trace["probs"]
    order = np.arange(len(probs))
    if options.get("order", "probability") == "probability":
        order = np.argsort(-probs, kind="stable")
    count = min(options.get("top") or len(probs), MAX_BARS)
    return [int(i) for i in order[:count]]


def build(trace: Trace, options: dict) -> ViewOutput:
    classes = shown_classes(trace, options)
    labels = trace.config.id2label
    return ViewOutput({
        "classes": classes,
        "labels": [labels[i] for i in classes],
        "probs": encode(trace["probs"][classes], "f32"),
        "logits": encode(trace["logits"][classes], "f32"),
        "top": int(np.argmax(trace["probs"])),
        "top_label": labels[int(np.argmax(trace["probs"]))],
        "top_prob": encode(trace["probs"].max(keepdims=True), "f32"),
        "num_classes": trace.config.num_labels,
    })


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Bar chart of the model's probabilities for its {config.num_labels} classes on "
            f"{config.image_name}, the most likely class highlighted.")



def static(output: ViewOutput):
    """The bar chart of probabilities, the top class highlighted."""
    data = output.data
    probs = decode(data["probs"])
    figure = draw.new_figure(640, 60 + 26 * len(probs))
    ax = figure.add_axes((0.2, 0.8 / (1 + len(probs) / 3), 0.72, 0.75))
    top = data["classes"].index(data["top"]) if data["top"] in data["classes"] else None
    draw.bars(ax, data["labels"], probs, highlight=top, xlabel="softmax probability", xmax=1.0,
              title=f"Prediction: {data['top_label']} ({100 * decode(data['top_prob'])[0]:.1f}%)")
    return draw.to_image(figure)

VIEW = ViewSpec(name="prediction", build=build, validate=validate, alt=alt,
                option_spec={"top": directives.positive_int, "order": _order},
                defaults={"order": "probability"}, libraries=CHARTS, static=static)
