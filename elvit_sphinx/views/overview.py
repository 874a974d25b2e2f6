"""``elvit-overview`` — the whole model at a glance, with focus+context (EL-VIT, Fig. 3).

A diagram of the ViT as it was loaded: input image → patch embedding → CLS token + position
embedding → Transformer encoder → final LayerNorm → classifier head → class. Every box names
the tensor that step produces and its shape for this model (``embeddings.patches`` 196×192 for
the embedded model, 196×768 for ViT-B/16).

Focus+context: click the *Transformer encoder* to open its blocks below it (the model stays in
view above); click a block to open its parts (LayerNorm, multi-head attention, residual
addition, LayerNorm, MLP, residual addition); click empty space in the diagram to go back up one
level. The path is shown above the diagram and each step of it can be clicked. From the
keyboard: Tab to a box, Enter opens it, Escape goes up.

Hovering a box (or focusing it) writes the glossary's one-sentence definition of that part under
the diagram, with the tensor's name and shape; the small ↗ in a box's corner links to the
chapter that explains the part. The marked arrows carry notes: hover them to see, framed, where
the CLS token is added, which row the classifier reads and where the residual additions happen.

Options:

``:open:`` (default ``model``)
    The level shown first: ``model``, ``encoder``, or ``block N`` (a block number from 0).

Example:

.. code-block:: md

    ```{elvit-overview}
    :image: images/cat.png
    :open: encoder
    ```
"""

from __future__ import annotations

import numpy as np

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import encode
from elvit_sphinx.views.model_map import (
    BLOCK_PART_TENSORS,
    BLOCK_PARTS,
    part_info,
    part_links,
    shape_text,
    tensor_shapes,
)

#: The script reads glossary definitions (glossary.js); the extension embeds them in the page.
LIBRARIES = ("glossary.js", "focus.js")

TOP_PARTS = ("image", "patch_embedding", "cls_position", "encoder", "final_layernorm",
             "classifier", "prediction")
TOP_TENSORS = {"image": "input.image", "patch_embedding": "embeddings.patches",
               "cls_position": "embeddings.output", "final_layernorm": "layernorm",
               "classifier": "logits", "prediction": "probs"}


def parse_level(text: str) -> tuple[str, int | None]:
    """``"model"``, ``"encoder"``, ``"block 3"`` → (level, block); ValueError otherwise."""
    words = text.split()
    if words in (["model"], ["encoder"]):
        return words[0], None
    if len(words) == 2 and words[0] == "block" and words[1].isdigit():
        return "block", int(words[1])
    raise ValueError(f"{text!r} is not a level: use model, encoder or block N (e.g. block 0)")


def _open_option(text: str) -> str:
    parse_level(text or "")
    return " ".join(text.split())


def validate(config: TraceConfig, options: dict) -> list[str]:
    _level, block = parse_level(options.get("open", "model"))
    if block is not None and block >= config.num_layers:
        return [f"block {block} is out of range (0–{config.num_layers - 1}): this model has "
                f"{config.num_layers} blocks"]
    return []


def _box(part: str, tensor: str | None, shapes: dict) -> dict:
    box = {"id": part, **part_info(part)}
    if tensor:
        box.update(tensor=tensor, shape=shape_text(shapes[tensor]))
    return box


def notes(config: TraceConfig) -> dict[str, str]:
    """The built-in annotations, keyed by the arrow they mark."""
    t, n, d = config.num_tokens, config.num_patches, config.hidden_size
    return {
        "cls": (f"The CLS token is added here: the {n}×{d} patch tokens become {t}×{d}, "
                f"the CLS token being row 0; then the position embedding ({t}×{d}) is added "
                "to every row."),
        "head": (f"Only row 0 of the {t}×{d} matrix, the CLS token, goes on to the classifier: "
                 f"1×{d} numbers."),
        "skip_1": ("Residual connection: the block's input skips the LayerNorm and the attention "
                   "and is added to the attention's output here."),
        "skip_2": ("Residual connection: the first sum skips the LayerNorm and the MLP and is "
                   "added to the MLP's output here, giving the block's output."),
    }


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    shapes = tensor_shapes(config)
    level, block = parse_level(options.get("open", "model"))
    top = [_box(part, TOP_TENSORS.get(part), shapes) for part in TOP_PARTS]
    top[TOP_PARTS.index("encoder")]["detail"] = f"{config.num_layers} blocks"
    parts = [{**_box(part, None, shapes), "suffix": BLOCK_PART_TENSORS[part],
              "shape": shape_text(shapes["encoder.layer.0." + BLOCK_PART_TENSORS[part]])}
             for part in BLOCK_PARTS]
    probs = trace["probs"]
    best = int(np.argmax(probs))
    return ViewOutput({
        "top": top,
        "block": {**part_info("block"), "shape": shape_text(shapes["encoder.layer.0.output"])},
        "parts": parts,
        "layers": config.num_layers,
        "notes": notes(config),
        "predicted": {"label": config.id2label[best], "prob": encode(probs[best:best + 1], "f32")},
        "start": {"level": level, "block": block},
    })


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Diagram of the Vision Transformer: a {config.image_size}×{config.image_size} image, "
            f"patch embedding ({config.num_patches}×{config.hidden_size}), CLS token and position "
            f"embedding ({config.num_tokens}×{config.hidden_size}), a Transformer encoder of "
            f"{config.num_layers} blocks, final LayerNorm, classifier head and "
            f"{config.num_labels} classes; the encoder and each block open to show their parts.")


def links(config: TraceConfig, options: dict) -> dict[str, str]:
    return part_links([*TOP_PARTS, "block", *BLOCK_PARTS])


VIEW = ViewSpec(
    name="overview",
    option_spec={"open": _open_option},
    defaults={"open": "model"},
    validate=validate,
    build=build,
    alt=alt,
    links=links,
    libraries=LIBRARIES,
)
