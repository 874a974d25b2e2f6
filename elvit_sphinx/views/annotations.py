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

import numpy as np
from docutils.parsers.rst import directives

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import encode
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


VIEW = ViewSpec(
    name="annotations",
    option_spec={"tensor": _tensor_option, "head": directives.nonnegative_int},
    defaults={"head": 0},
    validate=validate,
    build=build,
    alt=alt,
    libraries=LIBRARIES,
    content=True,
)
