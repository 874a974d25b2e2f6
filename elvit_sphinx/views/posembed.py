"""``elvit-posembed``: the CLS token and the position embeddings (EL-VIT, Fig. 7C).

Tokens are numbered as the model holds them: token 0 is the CLS token and patch ``i`` (numbered
row by row from 0, as in the patches view) is token ``i + 1``, so a model with an N-patch grid
has N + 1 tokens.

The top row shows the step as three heatmaps of (N + 1) × ``hidden_size`` numbers, one row per
token and one column per feature: the learned CLS vector stacked on top of the patch
embeddings (row 0 is CLS), plus the position embeddings (one learned row per position), equals
what enters the first Transformer block. Each map has its own colour range (min–max), written
under it. Hover a map to read the three numbers of one token and feature, which add up;
click a row to choose that token.

Below, for the chosen token, the cosine similarity of its position embedding to the position
embedding of every token is drawn over the patch grid, with the CLS position as a separate
cell (darker blue = more similar; 1 = same direction, 0 = unrelated, −1 = opposite). In a
trained ViT a patch's position embedding is most similar to those of nearby patches and of its
own row and column, so a cross lights up; with random weights there is no structure. The
colours span −1…1 by default, or the map's own range without the chosen token itself. Beside
the map, three strips show the chosen token's vectors on one shared colour scale: its patch
embedding (or the CLS vector), its position embedding and their sum; hover a strip to read one
feature's addition.

Choose a token by typing its number, clicking a patch or the CLS cell of the similarity map,
clicking a row of a heatmap, or from the keyboard (focus the map with Tab, arrow keys move,
Enter chooses).

Options:

``token`` (whole number, default 1: the top-left patch)
    The token chosen first: 0 for CLS, ``i + 1`` for patch ``i``.

Example:

.. code-block:: md

    ```{elvit-posembed}
    :image: images/cat.png
    :token: 32
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst.directives import nonnegative_int

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import encode
from elvit_sphinx.views.palettes import palette_rgb

DEFAULT_TOKEN = 1


def validate(config: TraceConfig, options: dict) -> list[str]:
    token = options.get("token", DEFAULT_TOKEN)
    last = config.num_tokens - 1
    if not 0 <= token <= last:
        return [f"token {token} is out of range (0–{last}): this model has the CLS token (0) and "
                f"{config.num_patches} patch tokens (patch i is token i + 1)"]
    return []


def alt(config: TraceConfig, options: dict) -> str:
    t, d, g = config.num_tokens, config.hidden_size, config.grid
    return (f"The {t}×{d} matrix of the CLS token and the patch embeddings, plus the {t}×{d} "
            f"position embeddings, gives the input of the first block; below, the cosine "
            f"similarity of token {options.get('token', DEFAULT_TOKEN)}'s position embedding to "
            f"every position, drawn over the {g}×{g} patch grid with a separate CLS cell.")


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    with_cls = trace["embeddings.with_cls"]
    position = trace["param.position_embeddings"]
    data = {
        "grid": config.grid, "tokens": config.num_tokens, "hidden": config.hidden_size,
        "start": int(options.get("token", DEFAULT_TOKEN)), "trained": bool(config.trained),
        "with_cls": encode(with_cls, "f32"),
        "position": encode(position, "f32"),
        "viridis": encode(palette_rgb("viridis"), "u8"),
        "blues": encode(palette_rgb("blues"), "u8"),
    }
    # The page adds the two matrices in float32, which is what the model does (HF's
    # ViTEmbeddings: concatenate, then add). A checkpoint whose embeddings do something else
    # (interpolated positions, another embedding class) sends its own sum, so that the figure
    # still shows the model's numbers.
    if not np.array_equal(with_cls + position, trace["embeddings.output"]):
        data["output"] = encode(trace["embeddings.output"], "f32")
    return ViewOutput(data)


VIEW = ViewSpec(
    name="posembed",
    option_spec={"token": nonnegative_int},
    defaults={"token": DEFAULT_TOKEN},
    validate=validate,
    build=build,
    alt=alt,
    libraries=("tokens.js",),
)
