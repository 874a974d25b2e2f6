"""``elvit-layernorm``: one token through one LayerNorm, feature by feature (EL-VIT, Fig. 7E).

A LayerNorm takes one token's ``hidden_size`` features x, computes their mean μ and (biased)
variance σ², normalises every feature to x̂ = (x − μ) / √(σ² + ε), then scales and shifts it
with two learned vectors: y = γ·x̂ + β. Every block has two LayerNorms, one before the
attention (``layernorm_before`` in the checkpoint) and one before the MLP
(``layernorm_after``), and the model has one more, the final LayerNorm before the classifier.

The view shows the token's x, x̂, γ, β and y as grids of cells (192 features as 12×16, 768 as
24×32; each grid has its own colour range, written under it), with a frame on the current
feature j. Beside them: μ, σ² and √(σ² + ε) of the token, the numbers of the current feature
in the formula ``(x_j − μ) / √(σ² + ε) × γ_j + β_j = y_j``, and a table of the neighbouring
features. *Step back*, *play*, *pause* and *step forward* move the frame (it starts paused);
clicking a cell of a grid, or typing a feature number, moves it there.

Choose the block and the LayerNorm from the menus, and the token by typing its number or
clicking the token map (token 0 is CLS, patch i is token i + 1; focus the map with Tab, arrow
keys move, Enter chooses). The token map is coloured by each token's spread σ at this
LayerNorm's input, so you can see which tokens have large values and how the spread grows from
block to block. The numbers of the first LayerNorm shown are in the page; another block or
LayerNorm is loaded when chosen.

Options:

``block`` (whole number, default 0)
    The block shown first (0 to the number of blocks − 1).
``norm`` (``before``, ``after`` or ``final``; default ``before``)
    ``before``: the LayerNorm before the attention; ``after``: the one before the MLP;
    ``final``: the LayerNorm after the last block (``block`` is then ignored).
``token`` (whole number, default 0: CLS)
    The token shown first.
``feature`` (whole number, default 0)
    Where the frame starts.

Example:

.. code-block:: md

    ```{elvit-layernorm}
    :image: images/cat.png
    :block: 0
    :norm: after
    :token: 32
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst import directives
from docutils.parsers.rst.directives import nonnegative_int

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.palettes import palette_rgb
from elvit_sphinx.views.posembed import token_name

NORMS = ("before", "after", "final")
PERIOD_MS = 150  # one feature per step: 192 features play in about 30 s


def tensor_names(config: TraceConfig, block: int, norm: str) -> dict[str, str]:
    """Trace names of one LayerNorm's input, output, γ and β."""
    if norm == "final":
        return {"x": f"encoder.layer.{config.num_layers - 1}.output", "y": "layernorm",
                "gamma": "param.layernorm.weight", "beta": "param.layernorm.bias"}
    module = "layernorm_before" if norm == "before" else "layernorm_after"
    if norm == "after":
        x = f"encoder.layer.{block}.residual_1"  # what layernorm_after receives
    elif block == 0:
        x = "embeddings.output"
    else:
        x = f"encoder.layer.{block - 1}.output"  # a block's input is the previous block's output
    return {"x": x, "y": f"encoder.layer.{block}.{module}",
            "gamma": f"param.layer.{block}.{module}.weight", "beta": f"param.layer.{block}.{module}.bias"}


def norm_list(config: TraceConfig) -> list[tuple[int, str]]:
    """Every LayerNorm of the model in forward order, as (block, norm); the final one last."""
    return [(b, n) for b in range(config.num_layers) for n in ("before", "after")] + [
        (config.num_layers - 1, "final")]


def chunk_name(block: int, norm: str) -> str:
    return "final" if norm == "final" else f"block-{block}-{norm}"


def token_stats(x: np.ndarray) -> np.ndarray:
    """Per token: mean and biased variance of its features (T×2), computed in float64."""
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=1)
    return np.stack([mean, ((x - mean[:, None]) ** 2).mean(axis=1)], axis=1)


def validate(config: TraceConfig, options: dict) -> list[str]:
    problems = []
    norm = options.get("norm", "before")
    if norm not in NORMS:
        problems.append(f"norm {norm!r} is not a LayerNorm of a block; choose before (before the "
                        f"attention), after (before the MLP) or final (after the last block)")
    block, last = options.get("block", 0), config.num_layers - 1
    if norm != "final" and not 0 <= block <= last:  # the final LayerNorm belongs to no block
        problems.append(f"block {block} is out of range: this model has {config.num_layers} "
                        f"blocks (0–{last})")
    token, last_token = options.get("token", 0), config.num_tokens - 1
    if not 0 <= token <= last_token:
        problems.append(f"token {token} is out of range (0–{last_token}): token 0 is CLS and "
                        f"patch i is token i + 1 ({config.num_patches} patches)")
    feature, d = options.get("feature", 0), config.hidden_size
    if not 0 <= feature < d:
        problems.append(f"feature {feature} is out of range: tokens have {d} features (0–{d - 1})")
    return problems


def alt(config: TraceConfig, options: dict) -> str:
    norm = options.get("norm", "before")
    where = ("the final LayerNorm" if norm == "final" else
             f"the LayerNorm {'before the attention' if norm == 'before' else 'before the MLP'} "
             f"of block {options.get('block', 0)}")
    return (f"Token {options.get('token', 0)}'s {config.hidden_size} features going through "
            f"{where}: input, normalised values, γ, β and output as grids, with the mean, the "
            f"variance and the formula for one feature at a time.")


def _chunk(trace: Trace, names: dict[str, str]) -> dict:
    return {key: encode(trace[name], "f32") for key, name in names.items()}


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    norms = norm_list(config)
    block, norm = int(options.get("block", 0)), options.get("norm", "before")
    if norm == "final":
        block = config.num_layers - 1
    token = int(options.get("token", 0))
    rows, cols = heatmap.grid_shape(config.hidden_size)
    start = tensor_names(config, block, norm)
    return ViewOutput(
        {
            "grid": config.grid, "tokens": config.num_tokens, "hidden": config.hidden_size,
            "layers": config.num_layers, "rows": rows, "cols": cols, "eps": config.layer_norm_eps,
            "period": PERIOD_MS, "trained": bool(config.trained),
            "start": {"block": block, "norm": norm, "token": token,
                      "feature": int(options.get("feature", 0))},
            # Mean and variance of every token at every LayerNorm (small): the token map's
            # colours, available before a LayerNorm's features are loaded.
            "stats": encode(np.stack([token_stats(trace[tensor_names(config, b, n)["x"]])
                                      for b, n in norms]), "f32"),
            # What the page says about each LayerNorm: where its numbers come from in the trace.
            "norms": [{"block": b, "norm": n, "chunk": chunk_name(b, n), **tensor_names(config, b, n)}
                      for b, n in norms],
            # The first token's numbers travel in the page; the rest of its LayerNorm in a chunk.
            "first": {"x": encode(trace[start["x"]][token], "f32"),
                      "y": encode(trace[start["y"]][token], "f32"),
                      "gamma": encode(trace[start["gamma"]], "f32"),
                      "beta": encode(trace[start["beta"]], "f32")},
            "viridis": encode(palette_rgb("viridis"), "u8"),
        },
        chunks={chunk_name(b, n): _chunk(trace, tensor_names(config, b, n)) for b, n in norms},
    )


def norm_list_index(layers: int, block: int, norm: str) -> int:
    """Where (block, norm) is in :func:`norm_list` (the page's ``normIndex``)."""
    return 2 * layers if norm == "final" else 2 * block + (norm == "after")


def significant(value: float, digits: int = 4) -> str:
    """``value.toPrecision(digits)`` as the page writes μ, σ² and σ (a real minus sign)."""
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
    power = int(exponent)
    if value == 0:
        text = f"{0:.{digits - 1}f}"
    elif power < -6 or power >= digits:
        text = f"{mantissa}e{'+' if power >= 0 else '-'}{abs(power)}"
    else:
        text = f"{value:.{digits - 1 - power}f}"
    return text.replace("-", "−", 1)


def place(token: int, grid: int, info: dict) -> str:
    """Which LayerNorm the view shows, for which token, and its tensors (the page's first line)."""
    where = {"final": "the LayerNorm after the last block",
             "after": f"the LayerNorm before the MLP of block {info['block']}",
             "before": f"the LayerNorm before the attention of block {info['block']}"}[info["norm"]]
    return f"{token_name(token, grid)} at {where} · input {info['x']}, output {info['y']}"


def neighbours(hidden: int, feature: int, width: int = 7) -> range:
    """The features of the table beside the formula: ``width`` of them around ``feature``."""
    width = min(width, hidden)
    start = min(max(0, feature - width // 2), hidden - width)
    return range(start, start + width)


def drawing(output: ViewOutput):
    """The token map of spreads, the chosen token's numbers and formula, and its five grids."""
    data = output.data
    grid, hidden, rows, cols = data["grid"], data["hidden"], data["rows"], data["cols"]
    start = data["start"]
    token, j = start["token"], start["feature"]
    index = norm_list_index(data["layers"], start["block"], start["norm"])
    first = {key: decode(packed).astype(np.float64) for key, packed in data["first"].items()}
    x = first["x"]
    mean = x.mean()
    variance = ((x - mean) ** 2).mean()  # biased, as the model
    root = np.sqrt(variance + data["eps"])
    values = {"x": x, "xhat": (x - mean) / root, "gamma": first["gamma"], "beta": first["beta"],
              "y": first["y"]}

    width, grid_width = 1200, 214
    map_width = 280
    map_height = map_width * grid / (grid + draw.PATCHES_LEFT)
    grid_height = grid_width * rows / cols
    top_height = max(map_height + 60, 250)
    height = int(20 + top_height + 40 + grid_height + 50)
    figure = draw.new_figure(width, height)

    spread = np.sqrt(decode(data["stats"])[index, :, 1].astype(np.float64))
    ax = draw.panel(figure, 10, 30, map_width, map_height)
    draw.token_grid(ax, heatmap.codes(spread), data["viridis"], grid, token,
                    "Spread σ of each token's features here")
    draw.colorbar(draw.panel(figure, 40, 30 + map_height + 14, 200, 12), data["viridis"],
                  significant(spread.min()), significant(spread.max()), "σ")

    xj, xhat, gamma, beta = x[j], values["xhat"][j], values["gamma"][j], values["beta"][j]
    numbers = draw.panel(figure, 330, 12, width - 340, top_height)
    draw.text_block(numbers, [place(token, grid, data["norms"][index])], chars=125, fontsize=9)
    numbers.text(0, 0.86, "\n".join([
        f"μ = (1/{hidden}) Σ x = {significant(mean)} · σ² = (1/{hidden}) Σ (x − μ)² = "
        f"{significant(variance)} · √(σ² + ε) = {significant(root)} (ε = {data['eps']})",
        f"feature {j}: x̂ = (x − μ) / √(σ² + ε) = ({draw.fmt(xj, 4)} {'+' if mean < 0 else '−'} "
        f"{significant(abs(mean))}) / {significant(root)} = {draw.fmt(xhat, 4)}",
        f"y = x̂ × γ + β = {draw.fmt(xhat, 4)} × {draw.fmt(gamma, 4)} {'−' if beta < 0 else '+'} "
        f"{draw.fmt(abs(beta), 4)} = {draw.fmt(values['y'][j], 4)}",
    ]), va="top", ha="left", fontsize=9, family="monospace", color=draw.TEXT, transform=numbers.transAxes,
        linespacing=1.6)
    shown = neighbours(hidden, j)
    labels = (("x", "x"), ("x − μ", None), ("x̂", "xhat"), ("γ", "gamma"), ("β", "beta"), ("y", "y"))
    cells = [["feature", *(str(k) for k in shown)]] + [
        [label, *(draw.fmt(values[key][k] if key else x[k] - mean, 4) for k in shown)]
        for label, key in labels]
    table = numbers.table(cellText=cells, bbox=(0.02, 0.0, 0.96, 0.56), cellLoc="center",
                          colWidths=[1.2] + [1.0] * len(shown))
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    for (_r, c), cell in table.get_celld().items():
        cell.set_edgecolor(draw.BORDER)
        if c == 0:
            cell.set_facecolor(draw.PANEL)
        elif shown[c - 1] == j:
            cell.set_facecolor("#ffe3e1")
            cell.get_text().set_fontweight("bold")

    titles = {"x": "x: the input", "xhat": "x̂ = (x − μ) / √(σ² + ε)", "gamma": "γ (learned scale)",
              "beta": "β (learned shift)", "y": "y = γ x̂ + β: the output"}
    gap = (width - 20 - 5 * grid_width) / 4
    for k, (key, title) in enumerate(titles.items()):
        ax = draw.panel(figure, 10 + k * (grid_width + gap), 20 + top_height + 40, grid_width, grid_height)
        draw.heatmap(ax, heatmap.codes(values[key]).reshape(rows, cols), data["viridis"], title,
                     box=(j % cols, j // cols, 1, 1))
        lo, hi = values[key].min(), values[key].max()
        colours = (f"all {draw.fmt(lo, 4)}" if lo == hi else
                   f"colours: {draw.fmt(lo, 4)} … {draw.fmt(hi, 4)}")
        ax.set_xlabel(colours, fontsize=8, color=draw.TEXT)
    return figure


def static(output: ViewOutput):
    """The figure as the page opens it, as a picture."""
    return draw.to_image(drawing(output))


VIEW = ViewSpec(
    name="layernorm",
    option_spec={"block": nonnegative_int, "norm": directives.unchanged_required,
                 "token": nonnegative_int, "feature": nonnegative_int},
    defaults={"block": 0, "norm": "before", "token": 0, "feature": 0},
    validate=validate,
    build=build,
    alt=alt,
    libraries=("tokens.js",),
    static=static,
)
