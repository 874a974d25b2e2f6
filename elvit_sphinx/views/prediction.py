"""``elvit-prediction`` — the model's output: class probabilities, the top class highlighted.

The classifier reads only the CLS token after the final LayerNorm; its logits go through a
softmax. The bar chart shows every class (sorted by probability unless ``:order: model``),
the top class in a contrasting colour, and the numbers on hover.

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

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views.base import ViewSpec

MAX_BARS = 20
TOP_COLOUR, OTHER_COLOUR = "#d95f02", "#7570b3"


def _order(value: str) -> str:
    return directives.choice(value, ("probability", "model"))


def validate(config: TraceConfig, options: dict) -> list[str]:
    top = options.get("top")
    if top is not None and not 1 <= top <= config.num_labels:
        return [f"top {top} is out of range: this model has {config.num_labels} classes "
                f"(1–{config.num_labels})"]
    return []


def _rows(trace: Trace, options: dict) -> list[tuple[str, float, float]]:
    labels = trace.config.id2label
    probs, logits = trace["probs"], trace["logits"]
    order = np.arange(len(probs))
    if options.get("order", "probability") == "probability":
        order = np.argsort(-probs, kind="stable")
    count = min(options.get("top") or len(probs), MAX_BARS)
    return [(labels[int(i)], float(probs[i]), float(logits[i])) for i in order[:count]]


def build(trace: Trace, options: dict):
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    rows = _rows(trace, options)
    top_label = trace.config.id2label[int(np.argmax(trace["probs"]))]
    source = ColumnDataSource({
        "label": [r[0] for r in rows],
        "prob": [round(r[1], 6) for r in rows],
        "logit": [round(r[2], 4) for r in rows],
        "colour": [TOP_COLOUR if r[0] == top_label else OTHER_COLOUR for r in rows],
    })
    labels = [r[0] for r in rows][::-1]
    plot = figure(y_range=labels, x_range=(0, 1), height=40 + 26 * len(rows), width=520,
                  title=f"Prediction: {top_label} ({max(r[1] for r in rows):.1%})",
                  toolbar_location=None, name="elvit-prediction-plot")
    plot.hbar(y="label", right="prob", height=0.7, color="colour", source=source)
    plot.add_tools(HoverTool(tooltips=[("class", "@label"), ("probability", "@prob{0.0000}"),
                                       ("logit", "@logit{0.000}")]))
    plot.xaxis.axis_label = "softmax probability"
    return plot


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Bar chart of the model's probabilities for its {config.num_labels} classes on "
            f"{config.image_name}, the most likely class highlighted.")


VIEW = ViewSpec(name="prediction", build=build, validate=validate, alt=alt,
                option_spec={"top": directives.positive_int, "order": _order},
                defaults={"order": "probability"})
