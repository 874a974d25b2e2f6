"""``elvit-patches``: the input image cut into patches, and what one patch becomes.

The image is shown exactly as the model sees it (resized to the model's input size), with the
patch grid drawn over it. Hover a patch to highlight it: beside the image appear its pixels,
enlarged, and its *patch embedding*, the vector of ``hidden_size`` numbers the model computes
from those pixels, drawn as a near-square heatmap (192 numbers as 12×16, 768 as 24×32), with
its index (counting from 0, row by row), its row and column, and the smallest, largest and
mean value. Click a patch to pin it, so that moving the mouse no longer changes the selection;
click it again (or another patch) to release (or move) the pin. Typing a patch number in the box
does the same as clicking that patch. From the keyboard: focus the image (Tab), move with the
arrow keys, pin with Enter.

Heatmap colours are min-max normalised per patch: the darkest cell is that patch's smallest
value and the brightest its largest, so two patches' colours are not comparable; their numbers
are.

Options:

``patch`` (whole number, default 0)
    The patch shown before the reader touches the image.

Example:

.. code-block:: md

    ```{elvit-patches}
    :image: images/cat.png
    :patch: 37
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst.directives import nonnegative_int

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.palettes import palette_rgb


def validate(config: TraceConfig, options: dict) -> list[str]:
    patch = options.get("patch", 0)
    last = config.num_patches - 1
    if not 0 <= patch <= last:
        return [f"patch {patch} is out of range (0–{last}): this model cuts the image into a "
                f"{config.grid}×{config.grid} grid"]
    return []


def alt(config: TraceConfig, options: dict) -> str:
    rows, cols = heatmap.grid_shape(config.hidden_size)
    return (f"The input image ({config.image_size}×{config.image_size} pixels) divided into a "
            f"{config.grid}×{config.grid} grid of {config.patch_size}×{config.patch_size}-pixel "
            f"patches, with patch {options.get('patch', 0)} highlighted beside its enlarged pixels "
            f"and its {config.hidden_size}-number embedding drawn as a {rows}×{cols} heatmap.")


def patch_stats(vectors: np.ndarray) -> np.ndarray:
    """Per patch: smallest, largest and mean value of its embedding (N×3, float32)."""
    return np.stack([vectors.min(axis=1), vectors.max(axis=1),
                     vectors.mean(axis=1, dtype=np.float64)], axis=1).astype(np.float32)


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    rows, cols = heatmap.grid_shape(config.hidden_size)
    vectors = trace["embeddings.patches"]
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "hidden": config.hidden_size, "rows": rows, "cols": cols,
        "start": int(options.get("patch", 0)),
        "image": encode(trace["input.image"], "u8"),
        # One colour scale per patch, as the text promises.
        "codes": encode(heatmap.codes(vectors, axis=1), "u8"),
        "stats": encode(patch_stats(vectors), "f32"),
        "palette": encode(palette_rgb("viridis"), "u8"),
    })



def static(output: ViewOutput):
    """The image with its grid and the first patch framed, its pixels and its embedding."""
    data = output.data
    image = decode(data["image"])
    p, grid, start = data["patch"], data["grid"], data["start"]
    row, col = divmod(start, grid)
    codes = decode(data["codes"])[start].reshape(data["rows"], data["cols"])
    low, high, mean = decode(data["stats"])[start]
    figure = draw.new_figure(900, 420)
    axes = figure.subplot_mosaic([["image", "pixels"], ["image", "embedding"]],
                                 width_ratios=[1, 1], gridspec_kw={"wspace": 0.1, "hspace": 0.35})
    draw.picture(axes["image"], image, f"The image the model sees: {grid}×{grid} patches of {p}×{p} pixels",
                 grid=grid, box=(col * p, row * p, p, p))
    draw.picture(axes["pixels"], image[row * p:(row + 1) * p, col * p:(col + 1) * p],
                 f"Patch {start} (row {row}, col {col}), enlarged")
    draw.heatmap(axes["embedding"], codes, data["palette"],
                 f"Its embedding: {data['hidden']} numbers as {data['rows']}×{data['cols']}\n"
                 f"min {low:.3f}, max {high:.3f}, mean {mean:.3f}".replace("-", "−"))
    return draw.to_image(figure)

VIEW = ViewSpec(
    name="patches",
    option_spec={"patch": nonnegative_int},
    defaults={"patch": 0},
    validate=validate,
    build=build,
    alt=alt,
    static=static,
)
