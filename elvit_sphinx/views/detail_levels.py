"""The levels of the detail view: which tensors each level shows and where each item leads.

Levels (EL-VIT Fig. 5 A–D): ``model`` (input image, patch embeddings, CLS token added, position
embedding added, the encoder as one openable box, final LayerNorm, prediction) → ``encoder``
(the output of every block) → ``block-i`` (LayerNorm, attention, residual sum, LayerNorm, MLP,
residual sum) → ``attention-i`` (Q, K, V, scores, softmax, context, output projection) and
``mlp-i`` (fc1, GELU, fc2). Items that open a level say so in ``opens``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from elvit_sphinx.tracing.trace_data import TraceConfig
from elvit_sphinx.views.mosaic import Layout


@dataclass(frozen=True)
class Item:
    part: str  # key of model_map.PARTS
    label: str
    kind: str  # "tiles", "maps", "image", "prediction" or "group"
    tensor: str | None = None
    opens: str | None = None


@dataclass(frozen=True)
class Level:
    title: str
    parent: str | None
    items: tuple[Item, ...]


def parse_level(text: str, num_layers: int | None = None) -> str:
    """``"model"``, ``"encoder"``, ``"block 3"``, ``"attention 3"``, ``"mlp 3"`` → level id."""
    words = text.split()
    if words in (["model"], ["encoder"]):
        return words[0]
    if len(words) == 2 and words[0] in ("block", "attention", "mlp") and words[1].isdigit():
        if num_layers is not None and int(words[1]) >= num_layers:
            raise IndexError(f"block {words[1]} is out of range (0–{num_layers - 1}): this model "
                             f"has {num_layers} blocks")
        return f"{words[0]}-{int(words[1])}"
    raise ValueError(f"{text!r} is not a level: use model, encoder, block N, attention N or mlp N")


def levels(config: TraceConfig) -> dict[str, Level]:
    found = {"model": Level("Model", None, (
        Item("image", "Input image", "image", "input.image"),
        Item("patch_embedding", "Patch embeddings", "tiles", "embeddings.patches"),
        Item("cls_position", "CLS token added", "tiles", "embeddings.with_cls"),
        Item("cls_position", "Position embedding added", "tiles", "embeddings.output"),
        Item("encoder", f"Transformer encoder: {config.num_layers} blocks", "group", opens="encoder"),
        Item("final_layernorm", "Final LayerNorm", "tiles", "layernorm"),
        Item("prediction", "Prediction", "prediction", "probs"),
    ))}
    found["encoder"] = Level("Transformer encoder", "model", tuple(
        Item("block", f"Block {i} output", "tiles", f"encoder.layer.{i}.output", f"block-{i}")
        for i in range(config.num_layers)))
    for i in range(config.num_layers):
        prefix = f"encoder.layer.{i}."
        found[f"block-{i}"] = Level(f"Block {i}", "encoder", (
            Item("layernorm_before", "LayerNorm", "tiles", prefix + "layernorm_before"),
            Item("attention", "Multi-head attention", "tiles", prefix + "attention.output",
                 f"attention-{i}"),
            Item("residual_1", "Residual sum", "tiles", prefix + "residual_1"),
            Item("layernorm_after", "LayerNorm", "tiles", prefix + "layernorm_after"),
            Item("mlp", "MLP", "tiles", prefix + "mlp.fc2", f"mlp-{i}"),
            Item("residual_2", "Residual sum: the block's output", "tiles", prefix + "output"),
        ))
        found[f"attention-{i}"] = Level("Multi-head attention", f"block-{i}", (
            Item("query", "Queries Q", "tiles", prefix + "attention.query"),
            Item("key", "Keys K", "tiles", prefix + "attention.key"),
            Item("value", "Values V", "tiles", prefix + "attention.value"),
            Item("scores", "Scores QKᵀ/√d", "maps", prefix + "attention.scores"),
            Item("probs", "Softmax", "maps", prefix + "attention.probs"),
            Item("context", "Context (heads side by side)", "tiles", prefix + "attention.context"),
            Item("projection", "Output projection", "tiles", prefix + "attention.output"),
        ))
        found[f"mlp-{i}"] = Level("MLP", f"block-{i}", (
            Item("fc1", "fc1", "tiles", prefix + "mlp.fc1"),
            Item("gelu", "GELU", "tiles", prefix + "mlp.gelu"),
            Item("fc2", "fc2", "tiles", prefix + "mlp.fc2"),
        ))
    return found


def _note(layout: Layout, first: int, last: int, text: str) -> dict:
    """A note about tiles/maps ``first…last``: the rectangle around them, in mosaic pixels."""
    x0, y0 = layout.origin(first)
    x1, y1 = layout.origin(last)
    return {"x0": min(x0, x1), "y0": y0, "x1": max(x0, x1) + layout.tile_w,
            "y1": y1 + layout.tile_h, "text": text}


def _whole(layout: Layout, text: str) -> dict:
    return {"x0": 0, "y0": 0, "x1": layout.width, "y1": layout.height, "text": text}


def notes(item: Item, layout: Layout, config: TraceConfig) -> list[dict]:
    """The built-in annotations of one item (EL-VIT Fig. 8): a region of its mosaic and a text."""
    t, n, d, g = config.num_tokens, config.num_patches, config.hidden_size, config.grid
    hd = config.head_dim
    suffix = (item.tensor or "").rpartition("encoder.layer.")[2].partition(".")[2]
    if item.tensor == "embeddings.patches":
        return [_note(layout, 0, 0, f"Channel 0: the {n} patches' values of this channel, in their "
                                    f"{g}×{g} grid as in the image. There is no CLS token yet.")]
    if item.tensor == "embeddings.with_cls":
        return [_note(layout, 0, 0, f"Channel 0. The top-left cell is the CLS token, row 0 of the "
                                    f"{t}×{d} matrix, added in this step; the {n} patches follow in "
                                    f"their {g}×{g} grid. Every tile has its CLS cell there.")]
    if item.tensor == "embeddings.output":
        return [_note(layout, 0, 0, f"Channel 0 after the position embedding ({t}×{d}) was added: "
                                    "every cell, the CLS cell included, has its own position's "
                                    "vector added.")]
    if suffix in ("attention.query", "attention.key", "attention.value", "attention.context"):
        if layout.count >= hd:
            return [_note(layout, 0, hd - 1, f"Head 0: its d = {hd} channels ({d} / "
                                             f"{config.num_heads} heads). Each head starts a new row.")]
    if suffix == "attention.scores":
        return [_note(layout, 0, 0, f"Head 0: row = query token, column = key token (0 = CLS). Each "
                                    f"cell is a query·key dot product scaled by 1/√d = 1/√{hd} = "
                                    f"{1 / math.sqrt(hd):.4g}.")]
    if suffix == "attention.probs":
        return [_note(layout, 0, 0, "Head 0 after the softmax: every row now sums to 1, the "
                                    "weights with which that query token mixes the values.")]
    if suffix == "residual_1":
        return [_whole(layout, "The block's input plus the attention's output, value by value: "
                               "the first residual connection.")]
    if suffix == "output":
        return [_whole(layout, "The first residual sum plus the MLP's output: the block's output "
                               "and the next block's input.")]
    if suffix == "mlp.gelu":
        return [_whole(layout, f"GELU of fc1, value by value ({config.intermediate_size} channels): "
                               "negative inputs end near 0, positive ones pass almost unchanged.")]
    return []
