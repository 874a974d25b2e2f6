"""``elvit-residual``: the residual stream, block by block, for every token.

Each block adds two updates to every token's vector: the attention output gives
``residual_1 = input + attention``, the MLP output then gives ``output = residual_1 + MLP``. The
plot follows the length (Euclidean norm) of one token's vector through these ``2L + 1`` stages:
the embeddings, then after the attention and after the MLP of each block. The CLS token is drawn
in orange, the chosen token in blue, and the median over all patch tokens as a dashed line, with
the range from the smallest to the largest patch-token norm shaded.

Beside the plot, for the chosen block and token, the two additions are written out with the
length of each term, and the cosine between the token's vector before and after the block (1 when
the block kept its direction, smaller when it turned it).

Choose the token with the number box (0 is the CLS token, ``1…N`` are the patches in reading
order: token ``i + 1`` is patch ``i``) or by clicking a patch on the small image (keyboard: focus
it, arrow keys, Enter), and the block with the slider.

Options:

``token`` (whole number, default 0: the CLS token)
    The token shown first.
``block`` (whole number, default 0)
    The block whose additions are written out first (blocks count from 0).

Example:

.. code-block:: md

    ```{elvit-residual}
    :image: images/cat.png
    :token: 0
    :block: 3
    ```
"""

from __future__ import annotations

import numpy as np
from docutils.parsers.rst.directives import nonnegative_int

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.prediction import CHARTS
from elvit_sphinx.views.ranges import block_problem, token_problem


def validate(config: TraceConfig, options: dict) -> list[str]:
    problems = [token_problem(config, options.get("token", 0)),
                block_problem(config, options.get("block", 0))]
    return [problem for problem in problems if problem]


def alt(config: TraceConfig, options: dict) -> str:
    return (f"Line plot of the length of token {options.get('token', 0)}'s vector, of the CLS "
            f"token's and of the patch tokens' median through the {2 * config.num_layers + 1} "
            f"stages of the residual stream (embeddings, then after the attention and the MLP of "
            f"each of the {config.num_layers} blocks).")


def stream(trace: Trace) -> np.ndarray:
    """Every token's vector at each stage: (2L+1)×T×D, float64."""
    stages = [trace["embeddings.output"]]
    for i in range(trace.config.num_layers):
        stages += [trace.block(i, "residual_1"), trace.block(i, "output")]
    return np.stack(stages).astype(np.float64)


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine of two T×D arrays (0 where a vector is zero)."""
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return np.where(norms > 0, (a * b).sum(-1) / np.where(norms > 0, norms, 1), 0.0)


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    layers = config.num_layers
    vectors = stream(trace)
    attention = np.stack([trace.block(i, "attention.output") for i in range(layers)]).astype(np.float64)
    mlp = np.stack([trace.block(i, "mlp.fc2") for i in range(layers)]).astype(np.float64)
    block_inputs, block_outputs = vectors[0:-1:2], vectors[2::2]
    turned = np.stack([cosine(block_inputs[i], block_outputs[i]) for i in range(layers)])
    return ViewOutput({
        "size": config.image_size, "grid": config.grid, "layers": layers,
        "tokens": config.num_tokens, "start_token": int(options.get("token", 0)),
        "start_block": int(options.get("block", 0)),
        "image": encode(trace["input.image"], "u8"),
        # (2L+1)×T: stage s of token t. Stage 0 = embeddings, 2i+1 = block i's residual_1,
        # 2i+2 = block i's output.
        "norms": encode(np.linalg.norm(vectors, axis=-1), "f32"),
        "attention_norms": encode(np.linalg.norm(attention, axis=-1), "f32"),  # L×T
        "mlp_norms": encode(np.linalg.norm(mlp, axis=-1), "f32"),  # L×T
        "cosines": encode(turned, "f32"),  # L×T: cos(block input, block output)
    })



def static(output: ViewOutput):
    """The plot of lengths through the stream, and the chosen block's two additions."""
    data = output.data
    norms, layers = decode(data["norms"]), data["layers"]
    token, block = data["start_token"], data["start_block"]
    stages = np.arange(2 * layers + 1)
    patches = norms[:, 1:]
    figure = draw.new_figure(900, 380)
    plot, sums = figure.subplots(1, 2, width_ratios=[1.7, 1], gridspec_kw={"wspace": 0.05})
    plot.fill_between(stages, patches.min(1), patches.max(1), color="#888888", alpha=0.15, linewidth=0)
    plot.plot(stages, np.median(patches, 1), "--", color="#666666", label="median of the patch tokens")
    plot.plot(stages, norms[:, 0], color=draw.BAR_TOP, linewidth=2.5, label="CLS token")
    if token:
        plot.plot(stages, norms[:, token], color="#0a84ff", linewidth=2, label=f"token {token}")
    plot.axvspan(2 * block, 2 * block + 2, color="#0a84ff", alpha=0.1)
    plot.set_xticks(stages[::2], ["emb"] + [str(i) for i in range(layers)], fontsize=7)
    plot.set_xlabel("stage (after embeddings, then after each block)", fontsize=8)
    plot.set_ylabel("length ‖x‖", fontsize=8)
    plot.legend(fontsize=7, frameon=False)
    t, i = token, block
    attention, mlp = decode(data["attention_norms"]), decode(data["mlp_norms"])
    draw.text_panel(sums, [
        f"{'CLS' if t == 0 else f'token {t}'}, block {i}:",
        f"input ‖x‖      = {norms[2 * i, t]:.3f}",
        f"+ attention ‖a‖ = {attention[i, t]:.3f}",
        f"→ residual₁     = {norms[2 * i + 1, t]:.3f}",
        f"+ MLP ‖m‖       = {mlp[i, t]:.3f}",
        f"→ output        = {norms[2 * i + 2, t]:.3f}",
        f"cos(input, output) = {decode(data['cosines'])[i, t]:.3f}",
    ])
    return draw.to_image(figure)

VIEW = ViewSpec(
    name="residual",
    option_spec={"token": nonnegative_int, "block": nonnegative_int},
    defaults={"token": 0, "block": 0},
    validate=validate,
    build=build,
    alt=alt,
    libraries=CHARTS,
    static=static,
)
