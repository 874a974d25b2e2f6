"""``elvit-backprop``: one real training step of the model on one image and its label.

During the build, torch autograd runs the model on the image, computes the cross-entropy
loss ``L = −log p[label]`` against the label, and sends the gradient back through every block to
the patch embedding (``elvit_sphinx.compute.backprop``, in the compute process). The figure
shows what that step recorded:

* the **loss** and the model's **probabilities** (the label's bar highlighted); a menu shows them
  again after one step of plain SGD, ``w ← w − lr·∂L/∂w`` on every weight, on the same image;
* the **gradient norms**, ``‖∂L/∂x‖``, of every tensor the gradient flows back through, from the
  logits back to the patch embeddings (menu: the activations; or every parameter tensor, from
  the classifier back to the patch kernel), on a log scale. Hover the plot, or focus it and use
  the arrow keys (Home/End for the ends), to read a tensor's name, shape and gradient norm;
* **one weight of the patch embedding**: type an output channel, then click one entry of its
  kernel on the map of ``∂L/∂w`` (or focus the map and move with the arrow keys; hovering shows
  an entry without choosing it). The map has one panel per colour channel, ``P × P`` each, each
  panel's colours min-max normalised on their own. The lines under it give ``w``, ``∂L/∂w``,
  ``lr`` and the updated ``w − lr·∂L/∂w``;
* a **finite-difference check** of autograd: for four weights (the largest gradient in the
  classifier, in a middle block's first MLP layer and in the first block's query projection,
  and the chosen patch-kernel weight), ``(L(w + ε) − L(w − ε)) / 2ε`` computed on a float64 copy
  of the model, beside autograd's gradient.

Every number is the recorded one; nothing is recomputed in the page except ``w − lr·∂L/∂w`` for
a weight chosen there.

Options:

``label`` (a class name or number, default: the class the image's file name names)
    The class the loss is computed against. By default, the class named in the image's file
    name (``horse`` in ``cifar10-test-horse-0006.jpg``), else the model's prediction.
``lr`` (a positive number, default 0.01)
    The learning rate of the SGD step.
``weight`` (four whole numbers, default: the kernel entry with the largest ``|∂L/∂w|``)
    The patch-kernel entry shown first and checked by finite differences: output channel,
    colour channel, row, column (e.g. ``12, 0, 3, 4``).

Example:

.. code-block:: md

    ```{elvit-backprop}
    :image: images/cat.png
    :label: cat
    :lr: 0.01
    :weight: 12, 0, 3, 4
    ```
"""

from __future__ import annotations

import numpy as np

from elvit_sphinx.tracing.steps import (
    DEFAULT_LR,
    Weight,
    lr_option,
    parse_label,
    resolve_label,
    weight_option,
    weight_problem,
)
from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.heatmap import codes
from elvit_sphinx.views.palettes import palette_rgb
from elvit_sphinx.views.prediction import CHARTS

#: Output channels per chunk of the patch kernel (weights, gradients and map colours).
CHANNELS_PER_CHUNK = 16
#: Classes drawn as bars: the most probable ones, and the label's.
MAX_CLASSES = 10


def validate(config: TraceConfig, options: dict) -> list[str]:
    problems = []
    if options.get("label") not in (None, ""):
        try:
            parse_label(config, options["label"])
        except ValueError as exc:
            problems.append(str(exc))
    problems.append(weight_problem(config, options.get("weight")))
    return [problem for problem in problems if problem]


def alt(config: TraceConfig, options: dict) -> str:
    return (f"One training step of the model on {config.image_name}: the loss and the class "
            f"probabilities, a log-scale plot of the gradient norm of every tensor from the "
            f"logits back through the {config.num_layers} blocks to the patch embedding, one "
            f"patch-embedding weight before and after the SGD update, and a finite-difference "
            f"check of the gradient.")


def load_step(trace: Trace, label: int, lr: float, weight: Weight | None) -> Trace:
    """The build's cached training step on ``trace`` (computed by the compute process once)."""
    # The build exports its model and cache (elvit_sphinx.notebook), as for the image menus.
    from elvit_sphinx.notebook import book_cache, book_source
    from elvit_sphinx.tracing.steps import get_step, source_of

    return get_step(book_cache(), source_of(trace, book_source()), trace, label, lr, weight)


def kernel_group(step: Trace, trace: Trace, group: int) -> dict:
    """Weights, gradients and map colours of output channels [16·group, 16·group + 16)."""
    start = group * CHANNELS_PER_CHUNK
    kernel = trace["param.patch_kernel"][start:start + CHANNELS_PER_CHUNK]
    grad = step["step.patch_kernel_grad"][start:start + CHANNELS_PER_CHUNK]
    n, colours, size = grad.shape[:3]
    # One map per output channel, P rows × C·P columns: its C colour panels side by side (row i
    # of the map is row i of every panel), each panel min-max normalised on its own (the colour
    # channels' gradients differ by their mean pixel value, which would hide each panel's pattern).
    maps = codes(grad, axis=(2, 3)).transpose(0, 2, 1, 3).reshape(n, size, colours * size)
    return {"first": start, "w": encode(kernel, "f32"), "g": encode(grad, "f32"),
            "codes": encode(maps, "u8")}


def _series(names, shapes, norms) -> dict:
    blocks = []
    for name in names:
        parts = str(name).split(".")
        if "layer" in parts or "layers" in parts:
            where = parts.index("layer") if "layer" in parts else parts.index("layers")
            blocks.append(int(parts[where + 1]))
        elif "embeddings" in parts[:2]:
            blocks.append(-2)  # the embeddings, after the blocks (the gradient's way back)
        else:
            blocks.append(-1)  # the head: logits, final LayerNorm, classifier
    return {"names": [str(n) for n in names], "shapes": [str(s) for s in shapes],
            "norms": [float(v) for v in norms], "blocks": blocks}


def build(trace: Trace, options: dict, step: Trace | None = None) -> ViewOutput:
    config = trace.config
    label, how = resolve_label(trace, options.get("label"))
    lr = float(options.get("lr", DEFAULT_LR))
    weight = options.get("weight")
    if step is None:
        step = load_step(trace, label, lr, weight)
    probs = step["step.probs"]
    classes = [int(i) for i in np.argsort(-probs, kind="stable")[:MAX_CLASSES]]
    if label not in classes:
        classes[-1] = label
    chosen = [int(v) for v in step["step.weight"]]
    groups = -(-config.hidden_size // CHANNELS_PER_CHUNK)
    checks = []
    for k, name in enumerate(step["step.check_names"]):
        index = [int(v) for v in step["step.check_index"][k] if v >= 0]
        checks.append({"name": str(name), "index": index,
                       "autograd": float(step["step.check_autograd"][k]),
                       "autograd64": float(step["step.check_autograd64"][k]),
                       "numeric": float(step["step.check_numeric"][k])})
    return ViewOutput({
        "image_name": config.image_name,
        "label": label, "label_name": config.id2label[label], "label_how": how,
        "lr": float(step["step.lr"]),
        "loss": float(step["step.loss"]), "loss_after": float(step["step.loss_after"]),
        "classes": classes, "class_names": [config.id2label[i] for i in classes],
        "probs": encode(probs[classes], "f32"),
        "probs_after": encode(step["step.probs_after"][classes], "f32"),
        "label_prob": float(probs[label]), "label_prob_after": float(step["step.probs_after"][label]),
        "activations": _series(step["step.activation_names"], step["step.activation_shapes"],
                               step["step.activation_grad_norms"]),
        "params": _series(step["step.param_names"], step["step.param_shapes"],
                          step["step.param_grad_norms"]),
        "layers": config.num_layers,
        "kernel": {"channels": config.hidden_size, "colours": config.num_channels,
                   "size": config.patch_size, "per_chunk": CHANNELS_PER_CHUNK, "chunks": groups},
        "weight": {"index": chosen, "value": float(step["step.weight_value"]),
                   "grad": float(step["step.weight_grad"]), "after": float(step["step.weight_after"])},
        "checks": checks, "eps": float(step["step.check_eps"]),
        "palette": encode(palette_rgb("viridis"), "u8"),
    }, {f"kernel-{g}": kernel_group(step, trace, g) for g in range(groups)})


def relative_difference(a: float, b: float) -> float:
    scale = max(abs(a), abs(b))
    return abs(a - b) / scale if scale > 0 else 0.0


def static(output: ViewOutput):
    """Probabilities, the gradient norms from the head back, the chosen weight and the check."""
    data = output.data
    figure = draw.new_figure(1000, 560)
    grid = figure.add_gridspec(2, 3, width_ratios=[1, 1.5, 1.2], height_ratios=[1, 0.8],
                               wspace=0.35, hspace=0.4, left=0.09, right=0.98, top=0.93, bottom=0.04)
    probs_ax = figure.add_subplot(grid[0, 0])
    draw.bars(probs_ax, data["class_names"], decode(data["probs"]),
              highlight=data["classes"].index(data["label"]), xlabel="probability", xmax=1.0,
              title=f"label {data['label_name']}: loss {data['loss']:.4f}")
    norms_ax = figure.add_subplot(grid[0, 1:])
    for key, colour, title in (("activations", draw.BAR, "activations ∂L/∂x"),
                               ("params", draw.BAR_TOP, "parameters ∂L/∂w")):
        series = data[key]
        values = np.asarray(series["norms"], dtype=np.float64)
        norms_ax.plot(np.linspace(0, 1, len(values)), np.where(values > 0, values, np.nan), ".-",
                      color=colour, markersize=3, linewidth=1, label=title)
    norms_ax.set_yscale("log")
    norms_ax.set_xticks([0, 1], ["head", "patch embedding"], fontsize=8)
    norms_ax.set_ylabel("gradient norm (log scale)", fontsize=8)
    norms_ax.tick_params(axis="y", labelsize=7)
    norms_ax.legend(fontsize=7, frameon=False)
    norms_ax.set_title(f"gradient norms, from the head back through {data['layers']} blocks",
                       fontsize=9, loc="left")
    kernel, (o, c, i, j) = data["kernel"], data["weight"]["index"]
    group = output.chunks[f"kernel-{o // kernel['per_chunk']}"]
    maps = decode(group["codes"])[o - group["first"]]  # P × C·P
    palette = decode(data["palette"])
    size = kernel["size"]
    gap = np.full((size, 1, 3), 255, dtype=np.uint8)
    panels = [draw.coloured(maps[:, k * size:(k + 1) * size], palette) for k in range(kernel["colours"])]
    picture = np.concatenate([part for panel in panels for part in (panel, gap)][:-1], axis=1)
    map_ax = figure.add_subplot(grid[1, 0])
    draw.picture(map_ax, picture, f"∂L/∂w, output channel {o}", box=(c * (size + 1) + j, i, 1, 1))
    w = data["weight"]
    lines = [
        f"w[{o}, {c}, {i}, {j}] = {w['value']:.6f}   ∂L/∂w = {w['grad']:.4e}   lr = {data['lr']:g}",
        f"after the step: w − lr·∂L/∂w = {w['after']:.6f}",
        f"loss {data['loss']:.4f} → {data['loss_after']:.4f} after one SGD step on every weight",
        "",
        f"finite differences (float64, ε = {data['eps']:g}):",
        f"{'weight':<44} {'autograd':>11} {'finite diff.':>12}",
    ]
    for check in data["checks"]:
        entry = f"{check['name'].removeprefix('vit.')}{check['index']}"
        lines.append(f"{entry[-44:]:<44} {check['autograd']:>11.4e} {check['numeric']:>12.4e}")
    draw.text_panel(figure.add_subplot(grid[1, 1:]), lines)
    return draw.to_image(figure)


def _label_option(text: str | None) -> str:
    value = (text or "").strip()
    if not value:
        raise ValueError("expected a class name or number")
    return value


VIEW = ViewSpec(
    name="backprop",
    option_spec={"label": _label_option, "lr": lr_option, "weight": weight_option},
    defaults={"lr": DEFAULT_LR},
    validate=validate,
    build=build,
    alt=alt,
    libraries=CHARTS,
    static=static,
)
