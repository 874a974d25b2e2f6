"""``elvit-conv``: the patch embedding is a convolution (EL-VIT, Fig. 7A).

The image the model sees is cut into the patch grid. One kernel of the patch-embedding layer, a
block of ``patch_size × patch_size × 3`` weights (shown as a picture, min-max normalised), is
laid on one patch at a time: each pixel value is multiplied by the weight at the same place,
the products are summed, and the layer's bias for that kernel is added. That single number is
one cell of the output map, which has one cell per patch (14×14 for a 224-pixel image cut into
16-pixel patches). The view animates the kernel sliding from patch to patch, framing the current
one, while the output map fills in cell by cell; beside it stand the numbers of the current
step: ``patch · kernel + bias = value``.

Each kernel is one output channel: the model has ``hidden_size`` of them (192 in the embedded
model, 768 in ViT-B/16) and applies all of them to every patch, which is how a patch becomes a
vector of ``hidden_size`` numbers. Use the kernel menu to switch between them.

Controls: *step back*, *play*, *pause*, *step forward* (the animation starts paused), the kernel
menu, and a patch box: typing a patch number, or clicking a patch on the image or a cell of the
output map, jumps to that step. Output-map colours are min-max normalised per map (the darkest
cell is that kernel's smallest output).

Options:

``kernels`` (list of channel numbers, default the first 8)
    The kernels the reader can pick from, e.g. ``0,1,2,3`` or ``5 17 40``. Each adds its
    weights and outputs to the page, so offer a handful (at most 32).
``kernel`` (whole number, default the first of ``kernels``)
    The kernel shown first; it must be one of ``kernels``.

Example:

.. code-block:: md

    ```{elvit-conv}
    :image: images/cat.png
    :kernels: 0,1,2,3
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

DEFAULT_KERNELS = 8
MAX_KERNELS = 32
PERIOD_MS = 200  # one patch per step: a 14×14 grid plays in about 40 s


def offered(config: TraceConfig, options: dict) -> list[int]:
    kernels = options.get("kernels")
    return list(kernels) if kernels else list(range(min(DEFAULT_KERNELS, config.hidden_size)))


def first_kernel(config: TraceConfig, options: dict) -> int:
    kernel = options.get("kernel")
    return offered(config, options)[0] if kernel is None else kernel


def validate(config: TraceConfig, options: dict) -> list[str]:
    d = config.hidden_size
    kernels = offered(config, options)
    problems = [f"kernel {c} is out of range: this model has {d} channels (0–{d - 1})"
                for c in kernels if c >= d]
    if len(kernels) > MAX_KERNELS:
        problems.append(f"kernels offers {len(kernels)} channels; at most {MAX_KERNELS} can be "
                        f"offered, because each adds its weights and outputs to the page")
    kernel = first_kernel(config, options)
    if kernel >= d:
        problems.append(f"kernel {kernel} is out of range: this model has {d} channels "
                        f"(0–{d - 1})")
    elif kernel not in kernels:
        problems.append(f"kernel {kernel} is not among the offered kernels "
                        f"({', '.join(map(str, kernels))}); add it to the kernels option")
    return problems


def alt(config: TraceConfig, options: dict) -> str:
    g, p = config.grid, config.patch_size
    return (f"Patch embedding as a convolution: a {p}×{p}×3 kernel (channel "
            f"{first_kernel(config, options)}) slides over the {g}×{g} patches of the input "
            f"image, and each position gives one cell of a {g}×{g} output map.")


def dot_products(trace: Trace, channels: list[int]) -> np.ndarray:
    """``(patch pixels * kernel).sum()`` for each offered channel and patch (K×N), from the trace."""
    config = trace.config
    p, g = config.patch_size, config.grid
    pixels = trace["input.pixels"][:, :g * p, :g * p].astype(np.float64)
    # 3×H×W → N×(3·P·P), patches row-major, each flattened like the kernel (channel, row, col).
    patches = pixels.reshape(3, g, p, g, p).transpose(1, 3, 0, 2, 4).reshape(g * g, -1)
    kernels = trace["param.patch_kernel"][channels].astype(np.float64).reshape(len(channels), -1)
    return kernels @ patches.T


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    channels = offered(config, options)
    values = trace["embeddings.patches"][:, channels].T  # K×N: only the offered channels travel
    weights = trace["param.patch_kernel"][channels]
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "kernels": channels, "start_kernel": first_kernel(config, options), "period": PERIOD_MS,
        "image": encode(trace["input.image"], "u8"),
        "kernel_pictures": encode(np.stack([heatmap.minmax_rgb(w) for w in weights]), "u8"),
        "values": encode(values, "f32"),
        "dots": encode(dot_products(trace, channels), "f32"),
        "biases": encode(trace["param.patch_bias"][channels], "f32"),
        "codes": encode(heatmap.codes(values, axis=1), "u8"),
        "palette": encode(palette_rgb("viridis"), "u8"),
    })



def static(output: ViewOutput):
    """The image, the first kernel, and that kernel's complete output map."""
    data = output.data
    image, grid, p = decode(data["image"]), data["grid"], data["patch"]
    k = data["kernels"].index(data["start_kernel"])
    n = grid * grid
    figure = draw.new_figure(900, 330)
    axes = figure.subplots(1, 3, width_ratios=[1.2, 0.6, 1.2], gridspec_kw={"wspace": 0.15})
    draw.picture(axes[0], image, f"Input: {grid}×{grid} patches of {p}×{p} pixels", grid=grid,
                 box=(0, 0, p, p))
    draw.picture(axes[1], decode(data["kernel_pictures"])[k], f"Kernel {data['start_kernel']} ({p}×{p}×3)")
    draw.heatmap(axes[2], decode(data["codes"])[k, :n].reshape(grid, grid), data["palette"],
                 f"Output map of kernel {data['start_kernel']}")
    return draw.to_image(figure)

VIEW = ViewSpec(
    name="conv",
    option_spec={"kernels": heatmap.int_list, "kernel": nonnegative_int},
    defaults={"kernels": None, "kernel": None},
    validate=validate,
    build=build,
    alt=alt,
    static=static,
)
