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

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig
from elvit_sphinx.views import heatmap
from elvit_sphinx.views import static_render as draw
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import decode, encode
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


def token_name(token: int, grid: int) -> str:
    """A token as the page names it (``elvit.tokenName``)."""
    if token == 0:
        return "CLS (token 0)"
    row, col = divmod(token - 1, grid)
    return f"token {token} = patch {token - 1} (row {row}, col {col})"


def similarities(position: np.ndarray, token: int) -> np.ndarray:
    """Cosine of token's position embedding with every token's, in float64 (NaN for a zero vector)."""
    vectors = np.asarray(position, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1)
    lengths = norms[token] * norms
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(lengths > 0, vectors @ vectors[token] / lengths, np.nan)


def similarity_summary(similarity: np.ndarray, token: int, grid: int) -> str:
    """The page's sentence under the map: the most and least similar other positions."""
    others = np.delete(np.arange(len(similarity)), token)
    values = similarity[others]
    best, worst = int(others[np.argmax(values)]), int(others[np.argmin(values)])
    return (f"{token_name(token, grid)}. Compared with the other {len(others)} positions, its "
            f"position embedding is most similar to {token_name(best, grid)} "
            f"({draw.fmt(similarity[best], 3)}) and least similar to {token_name(worst, grid)} "
            f"({draw.fmt(similarity[worst], 3)}); mean |cos| {draw.fmt(np.abs(values).mean(), 3)}.")


def drawing(output: ViewOutput):
    """The addition as three T×D maps, then the chosen token's similarity map and vectors."""
    data = output.data
    grid, tokens, hidden, token = data["grid"], data["tokens"], data["hidden"], data["start"]
    with_cls, position = decode(data["with_cls"]), decode(data["position"])
    total = decode(data["output"]) if "output" in data else with_cls + position  # float32, as the page
    width, matrix_width = 1200, 320
    matrix_height = int(min(260, max(130, 1.25 * tokens)))
    map_width = 330
    map_height = map_width * grid / (grid + draw.PATCHES_LEFT)
    height = int(30 + matrix_height + 70 + map_height + 65 + 75)
    figure = draw.new_figure(width, height)

    gap = (width - 60 - 3 * matrix_width) / 2
    titles = (f"[CLS; patch embeddings]: {tokens}×{hidden}", f"position embeddings: {tokens}×{hidden}",
              f"sum, the input of block 0: {tokens}×{hidden}")
    for k, (values, title) in enumerate(zip((with_cls, position, total), titles, strict=True)):
        left = 50 + k * (matrix_width + gap)
        ax = draw.panel(figure, left, 30, matrix_width, matrix_height)
        draw.heatmap(ax, heatmap.codes(values), data["viridis"], title, box=(0, token, hidden, 1),
                     smooth=hidden > matrix_width or tokens > matrix_height)
        ax.set_aspect("auto")
        ax.set_yticks([token + 0.5], [f"{token} →" if k == 0 else ""], fontsize=8, color=draw.ACCENT)
        ax.set_xlabel(f"colours: {draw.fmt(values.min(), 4)} … {draw.fmt(values.max(), 4)}",
                      fontsize=8, color=draw.TEXT)
        if k:
            figure.text((left - gap / 2) / width, 1 - (30 + matrix_height / 2) / height, "+=" [k - 1],
                        fontsize=22, ha="center", va="center", color=draw.TEXT)

    top = 30 + matrix_height + 70
    similarity = similarities(position, token)
    ax = draw.panel(figure, 10, top, map_width, map_height)
    draw.token_grid(ax, draw.codes_between(similarity, -1.0, 1.0), data["blues"], grid, token,
                    "Cosine similarity of the chosen position embedding\nto every position")
    draw.colorbar(draw.panel(figure, 130, top + map_height + 12, 200, 12), data["blues"],
                  "−1.000", "1.000", "cosine similarity")

    rows = with_cls[token], position[token], total[token]
    lo, hi = min(float(r.min()) for r in rows), max(float(r.max()) for r in rows)
    first = "the CLS vector (learned)" if token == 0 else f"patch {token - 1}'s embedding (chapter 1)"
    strip_titles = (first, f"+ the position embedding of token {token}",
                    f"= what token {token} carries into block 0")
    strip_width = 700
    for k, (row, title) in enumerate(zip(rows, strip_titles, strict=True)):
        ax = draw.panel(figure, 440, top + 22 + k * 62, strip_width, 20)
        draw.heatmap(ax, draw.codes_between(row, lo, hi)[None, :], data["viridis"], title,
                     smooth=hidden > strip_width)
        ax.set_aspect("auto")
    draw.colorbar(draw.panel(figure, 540, top + 22 + 3 * 62, 200, 12), data["viridis"],
                  draw.fmt(lo, 4), draw.fmt(hi, 4), "shared colours")

    note = ("In a trained ViT a patch's position embedding is most similar to those of nearby "
            "patches and of its own row and column: look for a cross." if data["trained"] else
            "This model is untrained: its position embeddings are random vectors, so the map has "
            "no structure. Only the chosen position itself is similar (1); the others scatter "
            "randomly around 0. A trained ViT lights up nearby patches and the patch's own row "
            "and column.")
    draw.text_block(draw.panel(figure, 10, height - 75, width - 20, 70),
                    [similarity_summary(similarity, token, grid), note], chars=190)
    return figure


def static(output: ViewOutput):
    """The figure as the page opens it, as a picture."""
    return draw.to_image(drawing(output))


VIEW = ViewSpec(
    name="posembed",
    option_spec={"token": nonnegative_int},
    defaults={"token": DEFAULT_TOKEN},
    validate=validate,
    build=build,
    alt=alt,
    libraries=("tokens.js",),
    static=static,
)
