"""``elvit-attention``: multi-head self-attention of one head, row by row (EL-VIT, Fig. 7D).

For a chosen block (layer) and head the view shows the head's queries Q and keys K (one row of
``head_dim`` numbers per token, ``T = N + 1`` tokens with the CLS token first), the scores
``QKᵀ/√d`` and the attention weights (softmax of each row of scores) as two ``T×T`` heatmaps.
An animation computes the matrices row by row: for query token *i*, first its scores
``q_i · k_j / √d`` with every key *j*, then the softmax of that row; the numbers of the current
row (its largest scores and weights, the CLS entry, the row's sum) stand beside it. Hovering
either matrix reads one entry: query token, key token, score and weight; clicking it (or Enter)
makes that query token the current row.

Below, the current row is drawn over the image's patch grid ("where token *i* looks"; the
entry for the CLS token, which has no patch, is written beside it), next to the CLS row as a
grid map (the classic attention map). Last come the values V, the context (each token's
weighted sum of the values, one band of ``head_dim`` columns per head, heads concatenated into
``T×hidden_size``) and the output projection, with the current token's row framed.

Controls: *layer* and *head* menus; *step back*, *play*, *pause*, *step forward* (starts
paused); a token box (0 is the CLS token, token *p* + 1 is patch *p*); clicking a patch of the
image selects its token. Heatmap colours are min-max normalised per map.

How the data travels: the page holds the starting layer and head. Every other head is a
chunk of its Q, K and V (``head-<layer>-<head>``) and every other layer a chunk of its context
and output colours (``layer-<layer>``), loaded when the reader picks them; the browser then
computes scores and softmax in float64 from Q and K (a ViT-B/16 has 12 × 12 heads of
197 × 197 weights, 22 MB as float32, while its Q and K are 197 × 64 per head).

Options:

``layer`` (whole number, default 0)
    The block shown first (0 is the first block).
``head`` (whole number, default 0)
    The head shown first.
``token`` (whole number, default 0)
    The query token (row) shown first; 0 is the CLS token.

Example:

.. code-block:: md

    ```{elvit-attention}
    :image: images/cat.png
    :layer: 0
    :head: 1
    :token: 35
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst.directives import nonnegative_int

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap, ranges
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.palettes import palette_rgb

PERIOD_MS = 120  # two steps per row (scores, then softmax): 197 rows play in about 47 s


def _start(options: dict) -> tuple[int, int, int]:
    return int(options.get("layer") or 0), int(options.get("head") or 0), int(options.get("token") or 0)


def validate(config: TraceConfig, options: dict) -> list[str]:
    layer, head, token = _start(options)
    found = [ranges.block_problem(config, layer, "layer"), ranges.head_problem(config, head),
             ranges.token_problem(config, token)]
    return [problem for problem in found if problem]


def alt(config: TraceConfig, options: dict) -> str:
    layer, head, _token = _start(options)
    t = config.num_tokens
    return (f"Self-attention of head {head} in block {layer}: its queries and keys, the {t}×{t} "
            f"matrices of scores and softmax weights computed row by row, one token's weights over "
            f"the {config.grid}×{config.grid} patch grid and the CLS token's attention map.")


def head_chunk_name(layer: int, head: int) -> str:
    return f"head-{layer}-{head}"


def layer_chunk_name(layer: int) -> str:
    return f"layer-{layer}"


def head_payloads(trace: Trace, layer: int) -> list[dict]:
    """Per head of a block: its Q, K, V (T×d each, the trace's float32), from which the browser
    computes scores and weights. (Each ``trace[name]`` reads its array from disk: once per block.)"""
    prefix = f"encoder.layer.{layer}.attention."
    q, k, v = (trace[prefix + name] for name in ("query", "key", "value"))
    return [{"q": encode(q[head], "f32"), "k": encode(k[head], "f32"), "v": encode(v[head], "f32")}
            for head in range(len(q))]


def token_stats(values: np.ndarray) -> np.ndarray:
    """Per token (row): smallest, largest and mean value (T×3, float32)."""
    return np.stack([values.min(axis=1), values.max(axis=1),
                     values.mean(axis=1, dtype=np.float64)], axis=1).astype(np.float32)


def layer_payload(trace: Trace, layer: int) -> dict:
    """A block's merged context and output projection (T×D), as colours plus per-token stats."""
    prefix = f"encoder.layer.{layer}.attention."
    context, output = trace[prefix + "context"], trace[prefix + "output"]
    return {"context_codes": encode(heatmap.codes(context), "u8"),
            "context_stats": encode(token_stats(context), "f32"),
            "output_codes": encode(heatmap.codes(output), "u8"),
            "output_stats": encode(token_stats(output), "f32")}


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    layer, head, token = _start(options)
    chunks = {}
    for i in range(config.num_layers):
        if i != layer:
            chunks[layer_chunk_name(i)] = layer_payload(trace, i)
        for j, payload in enumerate(head_payloads(trace, i)):
            if (i, j) == (layer, head):
                first_head = payload
            else:
                chunks[head_chunk_name(i, j)] = payload
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "tokens": config.num_tokens, "hidden": config.hidden_size, "heads": config.num_heads,
        "head_dim": config.head_dim, "layers": config.num_layers, "period": PERIOD_MS,
        "start": {"layer": layer, "head": head, "token": token},
        "image": encode(trace["input.image"], "u8"),
        "palette": encode(palette_rgb("viridis"), "u8"),
        "head_data": first_head,
        "layer_data": layer_payload(trace, layer),
    }, chunks)


TOP = 5  # the row's largest entries the page writes out


def scores_and_weights(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """QKᵀ/√d and the softmax of each row, in float64 from the trace's float32 Q and K, as the
    page computes them."""
    q, k = np.asarray(q, dtype=np.float64), np.asarray(k, dtype=np.float64)
    scores = q @ k.T / np.sqrt(q.shape[1])
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    return scores, weights / weights.sum(axis=1, keepdims=True)


def short_name(token: int) -> str:
    return "CLS" if token == 0 else f"patch {token - 1}"


def where(token: int, grid: int) -> str:
    """A query token as the page describes it."""
    if token == 0:
        return "the CLS token"
    row, col = divmod(token - 1, grid)
    return f"token {token} = patch {token - 1} (row {row}, col {col})"


def row_text(scores: np.ndarray, weights: np.ndarray, row: int, grid: int, head_dim: int) -> list[str]:
    """The page's two sentences about a row: its scores, then its softmax weights."""
    tokens = len(scores)
    top_scores = np.argsort(-scores[row], kind="stable")[:TOP]
    top_weights = np.argsort(-weights[row], kind="stable")[:TOP]

    def listed(values: np.ndarray, order: np.ndarray, digits: int) -> str:
        return ", ".join(f"{short_name(j)}: {draw.fmt(values[row, j], digits)}" for j in order)

    return [
        f"Row {row} (query: {where(row, grid)}): scores s = q·k/√{head_dim} with all {tokens} keys. "
        f"Largest: {listed(scores, top_scores, 3)}; CLS key {draw.fmt(scores[row, 0], 3)}.",
        f"Softmax of the row, w = e^(s − max)/Σ. Largest: {listed(weights, top_weights, 4)}; CLS "
        f"{draw.fmt(weights[row, 0], 4)}; sum of the row {draw.fmt(weights[row].sum(), 4)} (uniform "
        f"would be 1/{tokens} = {draw.fmt(1 / tokens, 4)}).",
    ]


def drawing(output: ViewOutput):
    """The head's Q, K, scores and weights with the starting row framed, that row over the image,
    the CLS row's map, V, the context and the output projection, and the numbers of the row."""
    data = output.data
    tokens, grid, size, patch = data["tokens"], data["grid"], data["size"], data["patch"]
    hidden, head_dim, heads = data["hidden"], data["head_dim"], data["heads"]
    layer, head, row = data["start"]["layer"], data["start"]["head"], data["start"]["token"]
    palette = data["palette"]
    q, k, v = (decode(data["head_data"][name]) for name in ("q", "k", "v"))
    scores, weights = scores_and_weights(q, k)

    width, side = 1200, 290
    tall = max(30, round(side * head_dim / tokens))
    band = min(400, round(side * hidden / tokens))
    height = 56 + side + 60 + side + 70 + 200 + 40
    figure = draw.new_figure(width, height)

    top = 56
    left = 40
    for name, values in (("Q", q), ("K", k)):
        ax = draw.panel(figure, left, top, tall, side)
        draw.heatmap(ax, heatmap.codes(values), palette, f"{name}: {tokens}×{head_dim}",
                     box=(0, row, head_dim, 1) if name == "Q" else None, smooth=head_dim > tall)
        ax.set_aspect("auto")
        if name == "Q":
            ax.set_yticks([row + 0.5], [f"{row} →"], fontsize=8, color=draw.ACCENT)
        left += tall + 20
    figure.text(10 / width, 1 - 12 / height, f"Block {layer}, head {head} of {heads}: self-attention of "
                f"{tokens} tokens (the CLS token first)", fontsize=10, fontweight="bold", va="top",
                color=draw.TEXT)
    left += 20
    for title, values, digits, label in ((f"Scores QKᵀ/√{head_dim}", scores, 3, "scores"),
                                         ("Weights: softmax of each row", weights, 4, "weights")):
        ax = draw.panel(figure, left, top, side, side)
        draw.heatmap(ax, heatmap.codes(values), palette, title, box=(0, row, tokens, 1),
                     smooth=tokens > side)
        draw.colorbar(draw.panel(figure, left + 70, top + side + 10, side - 70, 12), palette,
                      draw.fmt(values.min(), digits), draw.fmt(values.max(), digits), label)
        left += side + 40
    scores_text, weights_text = row_text(scores, weights, row, grid, head_dim)
    draw.text_block(draw.panel(figure, left - 10, top, width - left, side), [scores_text, "", weights_text],
                    chars=35, fontsize=9)

    top += side + 80
    ax = draw.panel(figure, 10, top, side, side)
    draw.picture(ax, decode(data["image"]),
                 "Where the CLS token looks" if row == 0 else f"Where token {row} looks",
                 box=None if row == 0 else ((row - 1) % grid * patch, (row - 1) // grid * patch,
                                            patch, patch))
    patches = weights[row, 1:]
    ax.imshow(draw.coloured(heatmap.codes(patches), decode(palette)).reshape(grid, grid, 3), alpha=0.58,
              interpolation="nearest", extent=(0, size, size, 0), zorder=0.5)
    draw.colorbar(draw.panel(figure, 80, top + side + 10, side - 70, 12), palette,
                  draw.fmt(patches.min(), 4), draw.fmt(patches.max(), 4), "weight")
    cls_row = weights[0, 1:]
    ax = draw.panel(figure, side + 80, top + 20, side - 40, side - 40)
    draw.heatmap(ax, heatmap.codes(cls_row).reshape(grid, grid), palette, "CLS row: the attention map")
    draw.colorbar(draw.panel(figure, side + 140, top + side + 10, side - 100, 12), palette,
                  draw.fmt(cls_row.min(), 4), draw.fmt(cls_row.max(), 4), "weight")

    context = weights[row] @ v.astype(np.float64)
    stats = {name: decode(data["layer_data"][f"{name}_stats"])[row] for name in ("context", "output")}
    draw.text_block(draw.panel(figure, 2 * side + 80, top, width - 2 * side - 90, side), [
        f"Over the {grid}×{grid} patches: the row's weights to the {grid * grid} patch keys, laid over "
        f"the image{'' if row == 0 else ', its patch framed'}. The CLS key has no patch: "
        f"{'the CLS token gives itself' if row == 0 else f'token {row} gives it'} weight "
        f"{draw.fmt(weights[row, 0], 4)}.",
        "",
        f"Token {row}, head {head}: context = Σ_j w_{row}j v_j = "
        f"({', '.join(draw.fmt(c, 4) for c in context[:4])}, …), columns {head * head_dim}–"
        f"{(head + 1) * head_dim - 1} of the context. With all {heads} heads: min "
        f"{draw.fmt(stats['context'][0], 3)}, max {draw.fmt(stats['context'][1], 3)}. After the output "
        f"projection: min {draw.fmt(stats['output'][0], 3)}, max {draw.fmt(stats['output'][1], 3)}, "
        f"mean {draw.fmt(stats['output'][2], 3)}.",
    ], chars=62, fontsize=9)

    top += side + 70
    ax = draw.panel(figure, 10, top, tall, 200)
    draw.heatmap(ax, heatmap.codes(v), palette, f"V: {tokens}×{head_dim}", smooth=head_dim > tall)
    ax.set_aspect("auto")
    left = tall + 50
    for title, name in ((f"Context, heads concatenated: {tokens}×{hidden}", "context"),
                        (f"Output projection: {tokens}×{hidden}", "output")):
        ax = draw.panel(figure, left, top, band, 200)
        codes = decode(data["layer_data"][f"{name}_codes"])
        draw.heatmap(ax, codes, palette, title, box=(0, row, hidden, 1), smooth=hidden > band)
        ax.set_aspect("auto")
        if name == "context":
            from matplotlib.patches import Rectangle

            ax.add_patch(Rectangle((head * head_dim, 0), head_dim, tokens, fill=False, edgecolor=draw.BLUE,
                                   linestyle="--", linewidth=2))
        left += band + 40
    return figure


def static(output: ViewOutput):
    """The figure as the page opens it, as a picture."""
    return draw.to_image(drawing(output))


VIEW = ViewSpec(
    name="attention",
    option_spec={"layer": nonnegative_int, "head": nonnegative_int, "token": nonnegative_int},
    defaults={"layer": 0, "head": 0, "token": 0},
    validate=validate,
    build=build,
    alt=alt,
    static=static,
)
