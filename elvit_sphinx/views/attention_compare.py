"""``elvit-attention-compare``: three answers to "where did CLS look?", side by side.

For one image and one block, three maps over the patch grid, each with its own colour bar
(min-max normalised per map) and one sentence saying what it measures:

* **cosine similarity to CLS**: how closely each patch token's vector after the block points
  in the direction of the CLS token's vector (the EL-VIT paper's view);
* **CLS attention**: the attention weights of the CLS token's query over the patches in that
  block, averaged over the heads, or of one head (a menu; each head's map is loaded on demand);
* **attention rollout** (Abnar & Zuidema, 2020): every block's head-averaged attention with the
  identity added for the residual connection, rows renormalised, multiplied through the blocks
  up to the chosen one; the CLS row says how much of each patch has flowed into CLS so far.

A slider picks the block. Hovering a patch on any map (or on the image) writes its three values
under the maps.

Options:

``layer`` (whole number, default the last block)
    The block shown first, counted from 1.
``head`` (``mean`` or a head number, default ``mean``)
    The attention shown first: the mean over heads, or one head (counted from 0).

Example:

.. code-block:: md

    ```{elvit-attention-compare}
    :image: images/cat.png
    :layer: 6
    ```
"""

from __future__ import annotations

import numpy as np

from elvit_sphinx.interpretation import attention_rollout, block_similarities, mean_head_attention
from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import encode, encode_png
from elvit_sphinx.views.palettes import palette_rgb
from elvit_sphinx.views.similarity import LIBRARIES, layer_option, layer_problems, start_layer, word_or_number

head_option = word_or_number("mean", "head")


def validate(config: TraceConfig, options: dict) -> list[str]:
    problems = layer_problems(config, options)
    head = options.get("head", "mean")
    if head != "mean" and not 0 <= head < config.num_heads:
        problems.append(f"head {head} is out of range: this model has {config.num_heads} heads "
                        f"(0–{config.num_heads - 1}), or use mean")
    return problems


def cls_maps(trace: Trace) -> dict[str, np.ndarray]:
    """Per block, the three CLS-to-patch maps (L×N each) and every head's CLS attention (L×h×N)."""
    layers = trace.config.num_layers
    attention = mean_head_attention(trace)
    return {
        "similarity": block_similarities(trace)[:, 0, 1:],
        "attention": attention[:, 0, 1:],
        "rollout": attention_rollout(attention)[:, 0, 1:],
        "heads": np.stack([trace.block(i, "attention.probs")[:, 0, 1:] for i in range(layers)]),
    }


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    maps = cls_maps(trace)
    head = options.get("head", "mean")
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "layers": config.num_layers, "heads": config.num_heads,
        "start_layer": start_layer(config, options), "start_head": head,
        "image": encode_png(trace["input.image"]),
        "similarity": encode(maps["similarity"], "f32"),
        "attention": encode(maps["attention"], "f32"),
        "rollout": encode(maps["rollout"], "f32"),
        # One palette for the three maps: darker is larger in each.
        "palette": encode(palette_rgb("blues"), "u8"),
    }, {"heads": {"heads": encode(maps["heads"], "f32")}})


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Three heatmaps over the {config.grid}×{config.grid} patch grid for block "
            f"{start_layer(config, options)} of {config.num_layers}: the cosine similarity of each "
            "patch to the CLS token, the CLS token's attention to each patch, and the attention "
            "rollout up to that block, beside the input image.")


VIEW = ViewSpec(
    name="attention-compare",
    option_spec={"layer": layer_option, "head": head_option},
    defaults={"head": "mean"},
    validate=validate,
    build=build,
    alt=alt,
    libraries=LIBRARIES,
)
