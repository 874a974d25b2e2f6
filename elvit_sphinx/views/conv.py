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

Controls: *step back*, *step forward*, *play*, *pause*, and the kernel menu. Output-map colours
are min-max normalised per map (the darkest cell is that kernel's smallest output).

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

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap
from elvit_sphinx.views.base import ViewSpec

DEFAULT_KERNELS = 8
MAX_KERNELS = 32
IMAGE_PX = 320
SMALL_PX = 120
OUTPUT_PX = 280
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


def _fmt(value: float) -> str:
    # Mirrors the page's fmt(): same rounding (toFixed) on the same float32-rounded number.
    return f"{value:.4f}".replace("-", "−")


def readout_text(step: int, grid: int, channel: int, dot: float, bias: float, value: float) -> str:
    r, c = divmod(step, grid)
    return (f"<b>patch {step}</b> (row {r}, col {c}) · kernel {channel}: patch · kernel = "
            f"{_fmt(dot)}, + bias {_fmt(bias)} = <b>{_fmt(value)}</b> → output cell ({r}, {c})")


# One controller for every button and the menu (one CustomJS, so its data is on the page once);
# the name of the widget that fired says what to do. State lives in
# readout.tags ([step, channel, playing]) for tests and readers' tools; the timer handle lives
# on the readout model so that every callback can stop it, and a tick that finds its view gone
# stops itself, so re-rendering never leaves a timer running.
CONTROL_JS = heatmap.CROP_JS + """
const {H, W, P, G, N} = geom
const fmt = (v) => v.toFixed(4).replace("-", "−")
const [step, channel] = readout.tags
function stop() {
  if (readout._elvit_timer != null) clearInterval(readout._elvit_timer)
  readout._elvit_timer = null
}
function render(s, k) {
  const row = Math.floor(s / G), col = s % G, c = kernels[k]
  frame.data = {x: [col * P + P / 2], y: [H - row * P - P / 2]}
  cell.data = {x: [col + 0.5], y: [G - row - 0.5]}
  crop(pixels.data.image[0], image.data.image[0], H, W, P, row, col)
  pixels.change.emit()
  if (c != readout.tags[1]) {
    kernel_image.data.image[0].set(kernel_images[k])
    kernel_image.change.emit()
    kernel_title.text = `Kernel ${c} (${P}×${P}×3)`
    out_title.text = `Output map of kernel ${c}`
  }
  const alpha = Array.from({length: N}, (_, i) => i <= s ? 1 : 0)
  out.data = {...out.data, alpha, color: colors[k], value: values[k]}
  readout.text = `<b>patch ${s}</b> (row ${row}, col ${col}) · kernel ${c}: patch · kernel = ` +
    `${fmt(dots[k][s])}, + bias ${fmt(biases[k])} = <b>${fmt(values[k][s])}</b> → ` +
    `output cell (${row}, ${col})`
  readout.tags = [s, c, readout._elvit_timer != null]
}
const action = (cb_obj.origin ?? cb_obj).name.replace("elvit-conv-", "")
const k = kernels.indexOf(channel)
if (action == "back") { stop(); render(Math.max(step - 1, 0), k) }
else if (action == "forward") { stop(); render(Math.min(step + 1, N - 1), k) }
else if (action == "pause") { stop(); render(step, k) }
else if (action == "kernel") render(step, kernels.indexOf(Number(cb_obj.value)))
else if (action == "play") {
  stop()
  readout._elvit_timer = setInterval(() => {
    if (readout.document == null) { stop(); return }
    const [s, c] = readout.tags
    if (s >= N - 1) stop()
    render(s >= N - 1 ? s : s + 1, kernels.indexOf(c))
  }, period)
  render(step >= N - 1 ? 0 : step, k)
}
"""


def build(trace: Trace, options: dict):
    # Bokeh is imported here, not at module level: importing it costs ~1.5 s, which every
    # Sphinx start (a no-op rebuild included) would pay just to register the directive.
    from bokeh.layouts import column, row
    from bokeh.models import Button, ColumnDataSource, CustomJS, Div, HoverTool, Select
    from bokeh.palettes import Viridis256

    config = trace.config
    size, p, g, n = config.image_size, config.patch_size, config.grid, config.num_patches
    channels = offered(config, options)
    k0 = channels.index(first_kernel(config, options))
    c0 = channels[k0]

    picture = heatmap.pack_rgba(trace["input.image"])
    image = ColumnDataSource({"image": [heatmap.bokeh_rows(picture)]}, name="elvit-conv-image-data")
    image_fig = heatmap.bare_figure(IMAGE_PX, IMAGE_PX, size, size,
                        f"Input: {g}×{g} patches of {p}×{p} pixels", name="elvit-conv-image")
    image_fig.image_rgba(image="image", x=0, y=0, dw=size, dh=size, source=image)
    edges = [k * p for k in range(g + 1)]
    image_fig.segment(x0=edges + [0] * len(edges), x1=edges + [g * p] * len(edges),
                      y0=[size - g * p] * len(edges) + [size - e for e in edges],
                      y1=[size] * len(edges) + [size - e for e in edges],
                      line_color="white", line_alpha=0.5)
    frame = ColumnDataSource({"x": [p / 2], "y": [size - p / 2]}, name="elvit-conv-frame-data")
    image_fig.rect("x", "y", width=p, height=p, source=frame, fill_alpha=0,
                   line_color="#ff3b30", line_width=3)

    pixels = ColumnDataSource({"image": [heatmap.bokeh_rows(picture[:p, :p])]},
                              name="elvit-conv-patch-data")
    pixel_fig = heatmap.bare_figure(SMALL_PX, SMALL_PX, p, p, "Current patch",
                                    name="elvit-conv-patch")
    pixel_fig.image_rgba(image="image", x=0, y=0, dw=p, dh=p, source=pixels)

    weights = trace["param.patch_kernel"]
    kernel_images = [heatmap.bokeh_rows(heatmap.pack_rgba(heatmap.minmax_rgb(weights[c])))
                     for c in channels]
    kernel_image = ColumnDataSource({"image": [kernel_images[k0].copy()]},
                                    name="elvit-conv-kernel-data")
    kernel_fig = heatmap.bare_figure(SMALL_PX, SMALL_PX, p, p, f"Kernel {c0} ({p}×{p}×3)",
                                     name="elvit-conv-kernel-image")
    kernel_fig.image_rgba(image="image", x=0, y=0, dw=p, dh=p, source=kernel_image)

    # Only the offered channels travel to the page (ViT-B/16 has 768).
    values = [heatmap.f32(v) for v in trace["embeddings.patches"][:, channels].T]
    dots = [heatmap.f32(v) for v in dot_products(trace, channels)]
    biases = heatmap.f32(trace["param.patch_bias"][channels])
    colors = [[Viridis256[i] for i in heatmap.codes(np.asarray(v))] for v in values]
    out = ColumnDataSource({
        "x": [i % g + 0.5 for i in range(n)], "y": [g - i // g - 0.5 for i in range(n)],
        "index": list(range(n)), "alpha": [1] + [0] * (n - 1),
        "color": colors[k0], "value": values[k0],
    }, name="elvit-conv-output-data")
    out_fig = heatmap.bare_figure(OUTPUT_PX, OUTPUT_PX, g, g, f"Output map of kernel {c0}",
                                  name="elvit-conv-output")
    cells = out_fig.rect("x", "y", width=1, height=1, source=out, fill_color="color",
                         fill_alpha="alpha", line_color="#d0d0d0", line_width=0.5)
    out_fig.add_tools(HoverTool(renderers=[cells], tooltips=[("patch", "@index"),
                                                             ("value", "@value{0.0000}")]))
    cell = ColumnDataSource({"x": [0.5], "y": [g - 0.5]})
    out_fig.rect("x", "y", width=1, height=1, source=cell, fill_alpha=0,
                 line_color="#ff3b30", line_width=3)

    readout = Div(text=readout_text(0, g, c0, dots[k0][0], biases[k0], values[k0][0]),
                  tags=[0, c0, False], name="elvit-conv-readout",
                  width=IMAGE_PX + SMALL_PX + OUTPUT_PX + 40)
    control = CustomJS(code=CONTROL_JS, args=dict(
        geom=dict(H=size, W=size, P=p, G=g, N=n), image=image, pixels=pixels,
        kernel_image=kernel_image, kernel_images=kernel_images, out=out, frame=frame, cell=cell,
        readout=readout, kernels=channels, dots=dots, biases=biases, values=values,
        colors=colors, period=PERIOD_MS, kernel_title=kernel_fig.title, out_title=out_fig.title))
    buttons = []
    for action, label in [("back", "◀ step back"), ("play", "▶ play"), ("pause", "❚❚ pause"),
                          ("forward", "step forward ▶")]:
        button = Button(label=label, name=f"elvit-conv-{action}", width=110)
        button.js_on_event("button_click", control)
        buttons.append(button)
    picker = Select(title="", value=str(c0), width=130, name="elvit-conv-kernel",
                    options=[(str(c), f"kernel {c}") for c in channels])
    picker.js_on_change("value", control)

    middle = column(pixel_fig, kernel_fig)
    return column(row(image_fig, middle, out_fig), row(*buttons, picker), readout,
                  name="elvit-conv")


VIEW = ViewSpec(
    name="conv",
    option_spec={"kernels": heatmap.int_list, "kernel": nonnegative_int},
    defaults={"kernels": None, "kernel": None},
    validate=validate,
    build=build,
    alt=alt,
)
