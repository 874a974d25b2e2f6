"""``elvit-gelu``: the GELU of one block's MLP, with the model's real numbers on it (EL-VIT, Fig. 7B).

The MLP of a block widens every token from ``hidden_size`` to ``intermediate_size`` numbers
(fc1), applies GELU to each of them, and narrows them back (fc2). The view draws the GELU curve,
exact form ``0.5·x·(1 + erf(x/√2))`` as a solid line and the tanh approximation
``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`` dashed, with a second small chart of their
difference (too small to see on the first), its largest value stated. On the curve sit the
``intermediate_size`` points of one token in one block: x is what fc1 gave that token, y what
came out of the model's GELU (both recorded during the forward pass, not recomputed). A marker
moves over the points from the most negative input to the most positive (step / play / pause,
starts paused; hover the chart to jump to the nearest point), with the input and output written
beside it, next to what the two formulas give for the same input. A small flow shows the MLP's
shapes, ``D → M → D``, read from the model's configuration.

Controls: the *block* menu, a token box (0 is the CLS token, token *p* + 1 is patch *p*), a click
on a patch of the image (or the *CLS* button), and the player.

How the data travels: the page holds the starting block and token; every other (block, token)
is a chunk ``b<block>-t<token>`` of its fc1 and GELU numbers (2 × intermediate_size float32),
loaded when the reader picks it (a ViT-B/16 has 12 blocks × 197 tokens × 3072 numbers in each
of the two, 58 MB as float32).

Options:

``block`` (whole number, default 0)
    The block shown first.
``token`` (whole number, default 0)
    The token shown first; 0 is the CLS token.

Example:

.. code-block:: md

    ```{elvit-gelu}
    :image: images/cat.png
    :block: 3
    :token: 40
    ```
"""

from __future__ import annotations

import math

import numpy as np
from docutils.parsers.rst.directives import nonnegative_int

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import ranges
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.attention import where
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.prediction import CHARTS  # d3 and charts.js, as the other chart views

PERIOD_MS = 40  # one point per step: 768 points play in about 31 s
#: The GELU curve is always drawn over at least this range, so that its bend shows.
MIN_HALF_RANGE = 4.0

_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_exact(x) -> np.ndarray:
    """GELU as transformers' "gelu" computes it: 0.5·x·(1 + erf(x/√2)), in float64."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_tanh(x) -> np.ndarray:
    """The tanh approximation ("gelu_new", "gelu_pytorch_tanh"), in float64."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def largest_tanh_error(step: float = 1e-4, half_range: float = 8.0) -> tuple[float, float]:
    """(x, exact − tanh) where the two forms differ most (the difference is even in x: x ≥ 0)."""
    x = np.arange(0.0, half_range, step)
    difference = gelu_exact(x) - gelu_tanh(x)
    i = int(np.abs(difference).argmax())
    return float(x[i]), float(difference[i])


def gelu_minimum(step: float = 1e-5) -> tuple[float, float]:
    """(x, GELU(x)) at the curve's lowest point, which lies between −1 and −0.5."""
    x = np.arange(-1.0, -0.5, step)
    y = gelu_exact(x)
    i = int(y.argmin())
    return float(x[i]), float(y[i])


def validate(config: TraceConfig, options: dict) -> list[str]:
    block, token = _start(options)
    found = [ranges.block_problem(config, block), ranges.token_problem(config, token)]
    return [problem for problem in found if problem]


def _start(options: dict) -> tuple[int, int]:
    return int(options.get("block") or 0), int(options.get("token") or 0)


def alt(config: TraceConfig, options: dict) -> str:
    block, token = _start(options)
    return (f"The GELU curve with the {config.intermediate_size} inputs and outputs of token {token}'s "
            f"MLP in block {block} plotted on it as points, a marker stepping along them, and the "
            f"MLP's shapes {config.hidden_size} → {config.intermediate_size} → {config.hidden_size}.")


def chunk_name(block: int, token: int) -> str:
    return f"b{block}-t{token}"


def block_arrays(trace: Trace, block: int) -> tuple[np.ndarray, np.ndarray]:
    """A block's fc1 and GELU outputs (T×M each). Read once per block: every ``trace[name]``
    reads the whole array from disk again."""
    prefix = f"encoder.layer.{block}.mlp."
    return trace[prefix + "fc1"], trace[prefix + "gelu"]


def token_payload(fc1: np.ndarray, out: np.ndarray, token: int) -> dict:
    """One token's numbers: what fc1 gave it (x) and what the model's GELU made of them (y)."""
    return {"fc1": encode(fc1[token], "f32"), "gelu": encode(out[token], "f32")}


def input_range(lowest: float, highest: float) -> list[float]:
    """The x range of the chart: every fc1 value of every block fits, and at least ±4."""
    return [min(-MIN_HALF_RANGE, math.floor(lowest)), max(MIN_HALF_RANGE, math.ceil(highest))]


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    block, token = _start(options)
    chunks, lowest, highest = {}, math.inf, -math.inf
    for b in range(config.num_layers):
        fc1, out = block_arrays(trace, b)
        lowest, highest = min(lowest, float(fc1.min())), max(highest, float(fc1.max()))
        for t in range(config.num_tokens):
            if (b, t) == (block, token):
                first = token_payload(fc1, out, t)
            else:
                chunks[chunk_name(b, t)] = token_payload(fc1, out, t)
    worst_x, worst = largest_tanh_error()
    min_x, min_y = gelu_minimum()
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "tokens": config.num_tokens, "hidden": config.hidden_size, "mlp": config.intermediate_size,
        "blocks": config.num_layers, "period": PERIOD_MS,
        "start": {"block": block, "token": token},
        "image": encode(trace["input.image"], "u8"),
        "x_range": input_range(lowest, highest),
        "tanh_error": {"x": worst_x, "difference": worst},
        "minimum": {"x": min_x, "y": min_y},
        "first": first,
    }, chunks)


DIFFERENCE_SCALE = 1e4  # the difference chart is in units of 10⁻⁴


def flow(ax, data: dict, x: float, y: float) -> None:
    """The MLP's shapes as the page's small flow of boxes, GELU (the current step) framed red."""
    t, d, m = data["tokens"], data["hidden"], data["mlp"]
    steps = [("LayerNorm", f"{t}×{d}", ""), ("fc1", f"{d} → {m}", f"x = {draw.fmt(x, 4)}"),
             ("GELU", f"each of {m}", f"y = {draw.fmt(y, 4)}"), ("fc2", f"{m} → {d}", ""),
             ("+ residual", f"{t}×{d}", "")]
    width, gap = 150, 40
    for k, (name, shape, value) in enumerate(steps):
        left = k * (width + gap)
        current = name == "GELU"
        draw.box(ax, left, 2, width, 62, edge=draw.ACCENT if current else draw.BORDER,
                 linewidth=2 if current else 1.2)
        ax.text(left + width / 2, 18, name, ha="center", fontsize=9, fontweight="bold", color=draw.TEXT)
        ax.text(left + width / 2, 36, shape, ha="center", fontsize=9, color=draw.TEXT)
        if value:
            ax.text(left + width / 2, 54, value, ha="center", fontsize=8.5, color=draw.MUTED)
        if k:
            draw.arrow(ax, (left - gap + 4, 33), (left - 4, 33))


def drawing(output: ViewOutput):
    """The GELU curve (exact and tanh) with the starting token's points and the marker on its most
    negative input, their difference, the image with the token's patch, the MLP's flow and the
    numbers of the marked point."""
    data = output.data
    block, token = data["start"]["block"], data["start"]["token"]
    grid, patch, m = data["grid"], data["patch"], data["mlp"]
    xs = decode(data["first"]["fc1"]).astype(np.float64)
    ys = decode(data["first"]["gelu"]).astype(np.float64)
    feature = int(np.argsort(xs, kind="stable")[0])  # the player starts at the most negative input
    x0, x1 = data["x_range"]
    curve = np.linspace(x0, x1, 481)
    exact, approx = gelu_exact(curve), gelu_tanh(curve)

    figure = draw.new_figure(1150, 760)
    plot = draw.panel(figure, 70, 30, 620, 340)
    plot.plot(curve, exact, color=draw.BLUE, linewidth=2, zorder=2)
    plot.plot(curve, approx, color=draw.ACCENT, linewidth=1.5, dashes=(6, 4), zorder=3)
    plot.scatter(xs, ys, s=14, color=draw.BAR_TOP, alpha=0.5, linewidths=0, zorder=4)
    plot.plot([xs[feature]], [ys[feature]], "o", markersize=9, color=draw.ACCENT, markeredgecolor="white",
              markeredgewidth=1.5, zorder=5)
    plot.set_xlim(x0, x1)
    plot.set_ylim(min(-0.5, data["minimum"]["y"]), x1)
    plot.set_xlabel("x: what fc1 gave (input of GELU)", fontsize=9)
    plot.set_ylabel("GELU(x)", fontsize=9)
    plot.set_title(f"GELU, and the {m} numbers of one token", fontsize=10, loc="left", color=draw.TEXT)

    difference = (exact - approx) * DIFFERENCE_SCALE
    top = max(1, math.ceil(np.abs(difference).max()))
    small = draw.panel(figure, 70, 440, 620, 110)
    small.plot(curve, difference, color=draw.BLUE, linewidth=2)
    small.axhline(0, color=draw.BORDER, linewidth=0.8)
    small.set_xlim(x0, x1)
    small.set_ylim(-top, top)
    small.set_xlabel("x", fontsize=9)
    small.set_ylabel("× 10⁻⁴", fontsize=9)
    small.set_title("exact − tanh approximation", fontsize=10, loc="left", color=draw.TEXT)
    for ax in (plot, small):
        ax.tick_params(labelsize=8)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

    image = draw.panel(figure, 760, 30, 240, 240)
    frame = None if token == 0 else ((token - 1) % grid * patch, (token - 1) // grid * patch, patch, patch)
    draw.picture(image, decode(data["image"]), f"Block {block}, {where(token, grid)}", grid=grid, box=frame)

    worst, lowest = data["tanh_error"], data["minimum"]
    negative = int((xs < 0).sum())
    x, y = xs[feature], ys[feature]
    draw.text_block(draw.sketch(figure, 740, 300, 400, 280), [
        f"Point 1 of {m} (feature {feature}): fc1 gave x = {draw.fmt(x, 4)}, the model's GELU gave "
        f"y = {draw.fmt(y, 4)}. Exact formula: {draw.fmt(float(gelu_exact(x)), 4)}; tanh approximation: "
        f"{draw.fmt(float(gelu_tanh(x)), 4)}.",
        "",
        f"Block {block}, {where(token, grid)}: {negative} of its {m} inputs are negative (GELU squeezes "
        f"them into [{draw.fmt(lowest['y'], 4)}, 0]), {m - negative} are positive or zero.",
    ], chars=54, fontsize=9)
    flow(draw.sketch(figure, 70, 600, 940, 70), data, x, y)
    draw.text_block(draw.sketch(figure, 20, 700, 1110, 70), [
        "Solid blue: exact GELU, 0.5·x·(1 + erf(x/√2)). Dashed red: the tanh approximation "
        "0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), at most "
        f"{draw.fmt(abs(worst['difference']) * DIFFERENCE_SCALE, 2)}·10⁻⁴ away (at x = ±"
        f"{draw.fmt(worst['x'], 2)}). Lowest point of GELU: {draw.fmt(lowest['y'], 4)} at x = "
        f"{draw.fmt(lowest['x'], 4)}. Dots: the token's {m} (fc1, GELU) pairs; the red marker is the "
        "first point the player shows, the most negative input.",
    ], chars=175, fontsize=9)
    return figure


def static(output: ViewOutput):
    """The figure as the page opens it, as a picture."""
    return draw.to_image(drawing(output))


VIEW = ViewSpec(
    name="gelu",
    option_spec={"block": nonnegative_int, "token": nonnegative_int},
    defaults={"block": 0, "token": 0},
    validate=validate,
    build=build,
    alt=alt,
    libraries=CHARTS,
    static=static,
)
