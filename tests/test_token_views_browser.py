"""The posembed and layernorm views in a real Chromium, used the way a reader uses them: the
numbers they print are the trace's (or NumPy's, for what the trace does not hold)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import READY, assert_clean, canvas_pixels, view_state

from elvit_sphinx.views import heatmap, layernorm, posembed
from elvit_sphinx.views.palettes import palette_rgb

pytestmark = pytest.mark.browser

POSEMBED = '[data-elvit-view="posembed"]'
LAYERNORM = '[data-elvit-view="layernorm"]'


def f(value, digits: int) -> str:
    """A number as the page prints it (elvit.fmt)."""
    return f"{value:.{digits}f}".replace("-", "\u2212")


def rgba(rgb: np.ndarray) -> list[int]:
    rgb = np.asarray(rgb, dtype=np.uint8)
    return np.concatenate([rgb, np.full(rgb.shape[:-1] + (1,), 255, np.uint8)], -1).reshape(-1).tolist()


def centre(locator, cols: int, rows: int, row: int, col: int):
    """Screen position of the middle of cell (row, col) of a canvas (inside its 1-px border:
    with cells about 1 px wide, the border matters)."""
    box = locator.bounding_box()
    x, y, width, height = box["x"] + 1, box["y"] + 1, box["width"] - 2, box["height"] - 2
    return x + (col + 0.5) * width / cols, y + (row + 0.5) * height / rows


def canvas_index(page, selector: str, label_start: str) -> int:
    """Index among the figure's canvases of the picture whose aria-label starts with label_start."""
    return page.evaluate("""([selector, start]) => [...document.querySelector(selector)
        .querySelectorAll('canvas')].findIndex(c => (c.parentElement.getAttribute('aria-label') || '')
        .startsWith(start))""", [selector, label_start])


def text_of(figure, css: str, index: int = 0) -> str:
    return figure.locator(css).nth(index).inner_text()


# --- posembed ------------------------------------------------------------------------------------

def cosine_similarities(position: np.ndarray) -> np.ndarray:
    unit = position.astype(np.float64) / np.linalg.norm(position.astype(np.float64), axis=1, keepdims=True)
    return unit @ unit.T


def similarity_rgb(row: np.ndarray, lo: float, hi: float, grid: int) -> np.ndarray:
    codes = np.clip(np.rint((row[1:] - lo) / (hi - lo) * 255.0), 0, 255).astype(np.uint8)
    return palette_rgb("blues")[codes].reshape(grid, grid, 3)


def test_posembed_type_click_hover_keys_and_scale(small_trace, open_view, tmp_path):
    config = small_trace.config
    g, t_count, d = config.grid, config.num_tokens, config.hidden_size
    similarity = cosine_similarities(small_trace["param.position_embeddings"])
    page, log, figure = open_view(posembed.VIEW, small_trace, {"token": 32})
    assert view_state(page, "posembed") == {"token": 32, "scale": "fixed"}
    grid_index = canvas_index(page, POSEMBED, "Similarity map")
    grid = figure.locator("canvas").nth(grid_index)
    before = canvas_pixels(page, POSEMBED, grid_index)
    assert before == rgba(similarity_rgb(similarity[32], -1, 1, g))

    # Typing a token number chooses it; the summary names the most similar other position.
    figure.locator("input.elvit-number").fill("45")
    assert view_state(page, "posembed")["token"] == 45
    summary = text_of(figure, ".elvit-readout", 1)
    others = similarity[45].copy()
    others[45] = -np.inf
    best = int(np.argmax(others))
    assert "token 45 = patch 44 (row 3, col 2)" in summary
    assert f"most similar to token {best} = patch {best - 1}" in summary
    assert f"({f(similarity[45, best], 3)})" in summary
    after = canvas_pixels(page, POSEMBED, grid_index)
    assert after == rgba(similarity_rgb(similarity[45], -1, 1, g)) and after != before

    # Clicking a patch chooses it (patch i is token i + 1); hovering another reads one number.
    page.mouse.click(*centre(grid, g, g, 2, 5))
    assert view_state(page, "posembed")["token"] == 1 + 2 * g + 5
    page.mouse.move(*centre(grid, g, g, 7, 1))
    hovered = 1 + 7 * g + 1
    assert (f"cos(position embedding of token {1 + 2 * g + 5} = patch {2 * g + 5} (row 2, col 5), of "
            f"token {hovered} = patch {hovered - 1} (row 7, col 1)) = "
            f"{f(similarity[1 + 2 * g + 5, hovered], 3)}") in text_of(figure, ".elvit-readout", 0)
    assert view_state(page, "posembed")["token"] == 1 + 2 * g + 5  # hovering chooses nothing

    # The CLS cell, then the keyboard on the grid.
    figure.locator('[aria-label^="CLS token"] canvas').click()
    assert view_state(page, "posembed")["token"] == 0
    figure.locator('[aria-label^="Similarity map"]').focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    chosen = view_state(page, "posembed")["token"]
    assert chosen == 1 + 8 * g + 2  # the keyboard continues from the last patch the pointer was on

    # Colours stretched to the map's own range (the chosen token left out).
    figure.locator("select").select_option("own")
    row = similarity[chosen]
    rest = np.delete(row, chosen)
    assert view_state(page, "posembed") == {"token": chosen, "scale": "own"}
    assert canvas_pixels(page, POSEMBED, grid_index) == rgba(similarity_rgb(row, rest.min(), rest.max(), g))

    # A bad number says so inside the view and changes nothing.
    figure.locator("input.elvit-number").fill(str(t_count))
    assert f"from 0 to {t_count - 1}" in text_of(figure, ".elvit-message")
    assert view_state(page, "posembed")["token"] == chosen
    assert_clean(log, tmp_path)

    # Hovering a heatmap reads the addition of one token and feature: the model's numbers.
    matrix = figure.locator('[aria-label^="[CLS; patch embeddings]"] canvas')
    token, feature = 100, 40
    page.mouse.move(*centre(matrix, d, t_count, token, feature))
    a = small_trace["embeddings.with_cls"][token, feature]
    p = small_trace["param.position_embeddings"][token, feature]
    z = small_trace["embeddings.output"][token, feature]
    assert (f"feature {feature}: patch {f(a, 4)} + position {f(p, 4)} = {f(z, 4)}"
            in text_of(figure, ".elvit-readout", 0))
    page.mouse.click(*centre(matrix, d, t_count, token, feature))
    assert view_state(page, "posembed")["token"] == token
    # The third heatmap is the model's embeddings.output, coloured min-max.
    out_index = canvas_index(page, POSEMBED, "sum, the input of block 0")
    assert canvas_pixels(page, POSEMBED, out_index) == rgba(heatmap.to_rgb(small_trace["embeddings.output"]))
    assert_clean(log, tmp_path)


# --- layernorm -----------------------------------------------------------------------------------

def ln_parts(trace, block: int, norm: str, token: int):
    names = layernorm.tensor_names(trace.config, block, norm)
    x = trace[names["x"]][token].astype(np.float64)
    mean, variance = x.mean(), x.var()
    xhat = (x - mean) / np.sqrt(variance + trace.config.layer_norm_eps)
    return {"x": trace[names["x"]][token], "xhat": xhat, "y": trace[names["y"]][token],
            "gamma": trace[names["gamma"]], "beta": trace[names["beta"]], "mean": mean, "variance": variance}


def sig(value: float) -> float:
    return float(f"{value:.4g}")


def wait_ready(page):
    page.wait_for_function(f"JSON.parse(document.querySelector('{LAYERNORM}').dataset.elvitState).ready",
                           timeout=10000)


def check_formula(figure, trace, block, norm, token, feature):
    parts = ln_parts(trace, block, norm, token)
    text = figure.locator(".elvit-readout").nth(2).inner_text()  # the numbers of the framed feature
    assert f"feature {feature}:" in text
    xhat, gamma, beta = parts["xhat"][feature], parts["gamma"][feature], parts["beta"][feature]
    first, second = text.split("\n")
    # (x − μ) / √(σ² + ε) = x̂, then x̂ × γ + β = y (the model's y)
    x_text, _sign, mean_text, root_text, xhat_text = re.search(
        r"= \((\S+) ([−+]) (\S+)\) / (\S+) = (\S+)$", first).groups()
    assert x_text == f(parts["x"][feature], 4) and xhat_text == f(xhat, 4)
    assert float(root_text) == sig(np.sqrt(parts["variance"] + trace.config.layer_norm_eps))
    assert float(mean_text) == sig(abs(parts["mean"]))
    assert second == (f"y = x̂ × γ + β = {f(xhat, 4)} × {f(gamma, 4)} {'−' if beta < 0 else '+'} "
                      f"{f(abs(beta), 4)} = {f(parts['y'][feature], 4)}")
    moments = figure.locator(".elvit-readout").nth(1).inner_text()
    mean = float(moments.split("μ = (1/")[1].split("= ", 1)[1].split(" ")[0].replace("\u2212", "-"))
    variance = float(moments.split("σ² = (1/")[1].split("= ", 1)[1].split(" ")[0])
    assert mean == sig(parts["mean"]) and variance == sig(parts["variance"])


def test_layernorm_step_play_pause_and_choose(small_trace, open_view, tmp_path):
    config = small_trace.config
    g, d = config.grid, config.hidden_size
    rows, cols = heatmap.grid_shape(d)
    page, log, figure = open_view(layernorm.VIEW, small_trace, {"block": 0, "norm": "before", "token": 32,
                                                                "feature": 10})

    def state():
        return view_state(page, "layernorm")

    def button(label):
        return figure.get_by_role("button", name=label, exact=True)

    assert state() == {"block": 0, "norm": "before", "token": 32, "feature": 10, "playing": False,
                       "ready": True}
    check_formula(figure, small_trace, 0, "before", 32, 10)
    x_index = canvas_index(page, LAYERNORM, "Input features")
    parts = ln_parts(small_trace, 0, "before", 32)
    assert canvas_pixels(page, LAYERNORM, x_index) == rgba(heatmap.to_rgb(parts["x"].reshape(rows, cols)))

    button("step forward ▶").click()
    button("step forward ▶").click()
    button("◀ step back").click()
    assert state()["feature"] == 11
    check_formula(figure, small_trace, 0, "before", 32, 11)
    table = figure.locator("td.elvit-current").all_inner_texts()
    assert table == ["11", *(f(v, 4) for v in (parts["x"][11], parts["x"][11] - parts["mean"],
                                                parts["xhat"][11], parts["gamma"][11], parts["beta"][11],
                                                parts["y"][11]))]

    # Play twice (one timer only), pause, and nothing moves any more.
    button("▶ play").click()
    button("▶ play").click()
    page.wait_for_function(
        f"JSON.parse(document.querySelector('{LAYERNORM}').dataset.elvitState).feature >= 14", timeout=5000)
    assert state()["playing"] is True
    button("❚❚ pause").click()
    paused = state()
    page.wait_for_timeout(3 * layernorm.PERIOD_MS)
    assert state() == paused and paused["playing"] is False
    check_formula(figure, small_trace, 0, "before", 32, paused["feature"])

    # Another block, then the LayerNorm before the MLP: their numbers arrive from chunks.
    figure.locator("select").nth(0).select_option("2")
    wait_ready(page)
    assert state()["block"] == 2 and state()["feature"] == paused["feature"]
    check_formula(figure, small_trace, 2, "before", 32, paused["feature"])
    figure.locator("select").nth(1).select_option("after")
    wait_ready(page)
    check_formula(figure, small_trace, 2, "after", 32, paused["feature"])
    assert "encoder.layer.2.residual_1" in figure.locator(".elvit-readout").nth(0).inner_text()

    # A token typed, a token clicked on the map, a feature clicked on a grid.
    figure.locator("input.elvit-number").nth(0).fill("0")
    wait_ready(page)
    check_formula(figure, small_trace, 2, "after", 0, paused["feature"])
    token_map = figure.locator('[aria-label^="Token map"] canvas')
    page.mouse.click(*centre(token_map, g, g, 4, 6))
    wait_ready(page)
    assert state()["token"] == 1 + 4 * g + 6
    grid = figure.locator("canvas").nth(x_index)
    page.mouse.click(*centre(grid, cols, rows, 1, 3))
    assert state()["feature"] == cols + 3
    check_formula(figure, small_trace, 2, "after", 1 + 4 * g + 6, cols + 3)

    # Hovering the token map reads that token's μ and σ² (NumPy, 4 significant digits).
    page.mouse.move(*centre(token_map, g, g, 0, 0))
    hover = figure.locator(".elvit-readout").last.inner_text()
    x = small_trace["encoder.layer.2.residual_1"][1].astype(np.float64)
    assert hover.startswith("token 1 = patch 0 (row 0, col 0): μ = ")
    mean = float(hover.split("μ = ")[1].split(",")[0].replace("\u2212", "-"))
    variance = float(hover.split("σ² = ")[1].split(",")[0])
    assert mean == sig(x.mean()) and variance == sig(x.var())

    # The final LayerNorm: the block menu no longer applies.
    figure.locator("select").nth(1).select_option("final")
    wait_ready(page)
    assert figure.locator("select").nth(0).is_disabled()
    assert state()["block"] == config.num_layers - 1
    check_formula(figure, small_trace, config.num_layers - 1, "final", 1 + 4 * g + 6, cols + 3)

    # Bad numbers stay inside the view.
    figure.locator("input.elvit-number").nth(1).fill(str(d))
    assert f"from 0 to {d - 1}" in figure.locator(".elvit-message").nth(1).inner_text()
    assert state()["feature"] == cols + 3
    assert_clean(log, tmp_path)


def test_layernorm_keys_and_odd_geometry(odd_trace, open_view, tmp_path):
    config = odd_trace.config
    rows, cols = heatmap.grid_shape(config.hidden_size)
    page, log, figure = open_view(layernorm.VIEW, odd_trace, {"block": 1, "norm": "after", "token": 64,
                                                              "feature": 47})
    check_formula(figure, odd_trace, 1, "after", 64, 47)
    figure.locator('[aria-label^="Input features"]').focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowUp")
    assert view_state(page, "layernorm")["feature"] == 47 - 1 - cols
    figure.locator('[aria-label^="Token map"]').focus()
    page.keyboard.press("ArrowUp")  # from patch 63 (bottom-right) one row up
    wait_ready(page)
    assert view_state(page, "layernorm")["token"] == 64 - config.grid
    check_formula(figure, odd_trace, 1, "after", 64 - config.grid, 47 - 1 - cols)
    assert_clean(log, tmp_path)


# --- in a built site: chunks come from _elvit/ through <script> ---------------------------------

@pytest.mark.sphinx("html", testroot="basic")
def test_layernorm_loads_its_chunks_in_a_built_page(app, open_page):
    (Path(app.srcdir) / "norms.rst").write_text(
        "Norms\n=====\n\n.. elvit-layernorm::\n   :image: images/noise.png\n   :token: 5\n\n"
        ".. elvit-posembed::\n   :image: images/noise.png\n")
    app.build()
    site = Path(app.outdir)
    html = (site / "norms.html").read_text()
    assert "_static/elvit/tokens.js" in html and html.count("tokens.js") == 1
    page, log = open_page(site / "norms.html", wait_for=READY)
    figure = page.locator(LAYERNORM)
    figure.locator("select").nth(0).select_option("3")
    wait_ready(page)
    assert [url for url in log.requests if "/_elvit/" in url][-1].endswith("/block-3-before.js")
    from elvit_sphinx.compute import load_model, trace_image

    trace = trace_image(load_model("embedded"), Path(app.srcdir) / "images" / "noise.png")
    check_formula(figure, trace, 3, "before", 5, 0)
    assert_clean(log, site)


# --- tokens.js helpers ---------------------------------------------------------------------------

def test_token_helpers_match_python(odd_trace, open_view, tmp_path):
    """decodeRow cuts any row out of base64 (rows that do not start on a 3-byte boundary too),
    and heat.codes gives views/heatmap.codes' palette indices, halves rounded to even."""
    from elvit_sphinx.views.encoding import encode

    page, log, _figure = open_view(posembed.VIEW, odd_trace)
    rows = np.arange(35, dtype=np.float32).reshape(5, 7) * np.float32(-1.5) + np.float32(0.1)
    packed = encode(rows, "f32")
    decoded = page.evaluate("(p) => [0, 1, 2, 3, 4].map(r => Array.from(elvit.heat.decodeRow(p, r)))", packed)
    assert np.array_equal(np.array(decoded, dtype=np.float32), rows)
    small = encode(np.array([[1, 2], [3, 4], [5, 6]], dtype=np.uint8), "u8")
    assert page.evaluate("(p) => Array.from(elvit.heat.decodeRow(p, 2))", small) == [5, 6]
    values = np.concatenate([np.random.default_rng(1).normal(size=500), [0.0, 2.0, 1.0, 0.5 / 255 * 2]])
    codes = page.evaluate("(v) => Array.from(elvit.heat.codes(v, 0, v.length))", values.tolist())
    assert codes == heatmap.codes(values).tolist()
    assert page.evaluate("() => [0.5, 1.5, 2.5, -0.5, 3.2].map(elvit.heat.rint)") == [0, 2, 2, 0, 3]
    assert_clean(log, tmp_path)
