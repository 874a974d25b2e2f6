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

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap, ranges
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import encode
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


VIEW = ViewSpec(
    name="attention",
    option_spec={"layer": nonnegative_int, "head": nonnegative_int, "token": nonnegative_int},
    defaults={"layer": 0, "head": 0, "token": 0},
    validate=validate,
    build=build,
    alt=alt,
)
