"""The attention and GELU views in a real Chromium, used the way a reader uses them: standalone
pages for the interactions, and a built Sphinx page opened from file:// for the chunks."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import READY, assert_clean, view_state

from elvit_sphinx.views import attention, gelu, heatmap
from elvit_sphinx.views.palettes import palette_rgb

pytestmark = pytest.mark.browser

NUMBER = re.compile(r"−?\d+\.\d+")


def number(text: str) -> float:
    return float(text.replace("−", "-"))


def shown(value: float, digits: int) -> str:
    """A number as the views print it (elvit.fmt): Python's rounding, a real minus sign."""
    return f"{float(value):.{digits}f}".replace("-", "−")


def assert_shown(text: str, value: float, digits: int) -> None:
    """A number the browser computed in float64 equals the trace's to the digits it shows."""
    assert abs(number(text) - float(value)) <= 0.5 * 10.0 ** -digits + 1e-9, (text, value)


def text_of(figure, selector: str) -> str:
    return figure.locator(selector).first.inner_text()


def picture_rgb(page, selector: str) -> np.ndarray:
    """The RGB colour of every pixel of the first canvas under ``selector`` (pixels × 3)."""
    rgba = page.evaluate(
        """(selector) => { const c = document.querySelector(selector);
             return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data); }""",
        selector)
    return np.array(rgba, dtype=np.uint8).reshape(-1, 4)[:, :3]


def palette_steps(rgb: np.ndarray, expected_codes: np.ndarray) -> np.ndarray:
    """How many viridis steps each pixel is from the colour of its expected palette index (viridis
    has two pairs of equal neighbours, so a colour can stand for two indices: take the nearer)."""
    palette = palette_rgb("viridis")
    indices: dict[tuple, list[int]] = {}
    for i, colour in enumerate(palette):
        indices.setdefault(tuple(int(c) for c in colour), []).append(i)
    return np.array([min(abs(i - int(e)) for i in indices[tuple(int(c) for c in pixel)])
                     for pixel, e in zip(rgb, np.ravel(expected_codes), strict=True)])


def cell_point(figure, selector: str, cols: int, rows: int, row: int, col: int):
    """The middle of cell (row, col) of a canvas: inside its 1-pixel border, where cells are
    counted (a 197×197 matrix drawn 256 pixels wide has cells of 1.3 pixels)."""
    box = figure.locator(selector).first.bounding_box()
    width, height = box["width"] - 2, box["height"] - 2
    return box["x"] + 1 + (col + 0.5) * width / cols, box["y"] + 1 + (row + 0.5) * height / rows


def check_play_then_pause(page, figure, name: str, moved: str, period_ms: int) -> None:
    """Play (pressed twice: still one timer) until ``moved`` holds, pause: nothing moves after."""
    figure.get_by_role("button", name="▶ play", exact=True).click()
    figure.get_by_role("button", name="▶ play", exact=True).click()
    wait_state(page, name, moved)
    figure.get_by_role("button", name="❚❚ pause", exact=True).click()
    paused = view_state(page, name)
    assert paused["playing"] is False
    page.wait_for_timeout(4 * period_ms)
    assert view_state(page, name) == paused


def wait_state(page, name: str, condition: str) -> None:
    page.wait_for_function(f"(() => {{ const s = JSON.parse(document.querySelector("
                           f"'[data-elvit-view={name}]').dataset.elvitState || '{{}}'); "
                           f"return {condition}; }})()", timeout=10000)


# --- attention -----------------------------------------------------------------------------------

def check_row_text(figure, probs_row: np.ndarray) -> None:
    """The current row's readout: its largest weights, its CLS entry and its sum, as the trace has them."""
    text = text_of(figure, ".elvit-attention-row-text")
    largest = re.search(r"Largest: (.*?); CLS (−?\d+\.\d+); sum of the row (\d+\.\d+)", text)
    assert largest, text
    fifth = np.sort(probs_row)[-5]
    for name, value in re.findall(r"(CLS|patch \d+): (−?\d+\.\d+)", largest.group(1)):
        token = 0 if name == "CLS" else int(name.split()[1]) + 1
        assert_shown(value, probs_row[token], 4)
        assert probs_row[token] >= fifth - 1e-6
    assert_shown(largest.group(2), probs_row[0], 4)
    assert largest.group(3) == "1.0000"


def test_attention_steps_hovers_picks_and_switches_head(small_trace, open_view, tmp_path):
    config = small_trace.config
    t, g = config.num_tokens, config.grid
    page, log, figure = open_view(attention.VIEW, small_trace, {"layer": 1, "head": 2, "token": 35})

    def probs(layer, head):
        return small_trace[f"encoder.layer.{layer}.attention.probs"][head]

    def scores(layer, head):
        return small_trace[f"encoder.layer.{layer}.attention.scores"][head]

    def state():
        return view_state(page, "attention")

    assert state() == {"row": 35, "phase": "softmax", "playing": False, "loading": False,
                       "layer": 1, "head": 2, "hover": None}
    check_row_text(figure, probs(1, 2)[35])
    # The weights heatmap is the trace's matrix coloured as Python colours it (±1 palette step:
    # the browser recomputes the weights in float64 from Q and K).
    steps = palette_steps(picture_rgb(page, "[data-elvit-view=attention] .elvit-attention-weights canvas"),
                          heatmap.codes(probs(1, 2)))
    assert steps.max() <= 1 and (steps == 0).mean() > 0.99
    # The token's row over the image grid, and the CLS row as the attention map.
    over = picture_rgb(page, "[data-elvit-view=attention] .elvit-attention-overlay")
    assert palette_steps(over, heatmap.codes(probs(1, 2)[35, 1:])).max() <= 1
    cls_map = picture_rgb(page, "[data-elvit-view=attention] .elvit-attention-cls canvas")
    assert palette_steps(cls_map, heatmap.codes(probs(1, 2)[0, 1:])).max() <= 1
    token_text = text_of(figure, ".elvit-attention-token-text")
    assert_shown(NUMBER.findall(token_text)[-1], probs(1, 2)[35, 0], 4)
    context_text = text_of(figure, ".elvit-attention-context-text")
    d = config.head_dim
    context = small_trace["encoder.layer.1.attention.context"][35, 2 * d:2 * d + 4]
    for text, value in zip(NUMBER.findall(context_text)[:4], context, strict=True):
        assert_shown(text, value, 4)
    output_stats = small_trace["encoder.layer.1.attention.output"][35]
    assert f"min {shown(output_stats.min(), 3)}, max {shown(output_stats.max(), 3)}" in context_text

    # Hover the weights matrix: one entry, read as (query, key, score, weight).
    page.mouse.move(*cell_point(figure, ".elvit-attention-weights canvas", t, t, 60, 7))
    assert state()["hover"] == [60, 7]
    hover = text_of(figure, ".elvit-attention-hover-text")
    assert "token 60 (patch 59)" in hover and "token 7 (patch 6)" in hover
    score, weight = re.search(r"score (−?\d+\.\d+), weight (−?\d+\.\d+)", hover).groups()
    assert_shown(score, scores(1, 2)[60, 7], 3)
    assert_shown(weight, probs(1, 2)[60, 7], 4)
    assert state()["row"] == 35  # hovering reads; it does not move the current row

    # The animation: scores of a row, then its softmax; play and pause.
    button = lambda label: figure.get_by_role("button", name=label, exact=True)  # noqa: E731
    button("step forward ▶").click()
    assert (state()["row"], state()["phase"]) == (36, "scores")
    row_text = text_of(figure, ".elvit-attention-row-text")
    assert "scores s = q·k/√64" in row_text
    cls_score = re.search(r"CLS key (−?\d+\.\d+)", row_text).group(1)
    assert_shown(cls_score, scores(1, 2)[36, 0], 3)
    button("step forward ▶").click()
    assert (state()["row"], state()["phase"]) == (36, "softmax")
    check_row_text(figure, probs(1, 2)[36])
    button("◀ step back").click()
    assert (state()["row"], state()["phase"]) == (36, "scores")
    check_play_then_pause(page, figure, "attention", "s.row >= 38", attention.PERIOD_MS)

    # Click a patch of the image, type a token number, press keys on the matrix.
    page.mouse.click(*cell_point(figure, ".elvit-attention-image canvas", g, g, 3, 5))
    assert (state()["row"], state()["phase"]) == (3 * g + 5 + 1, "softmax")
    over = picture_rgb(page, "[data-elvit-view=attention] .elvit-attention-overlay")
    assert palette_steps(over, heatmap.codes(probs(1, 2)[3 * g + 6, 1:])).max() <= 1
    box = figure.locator("input.elvit-number")
    box.fill("0")
    assert state()["row"] == 0
    assert "the CLS token" in text_of(figure, ".elvit-attention-row-text")
    box.fill("999")
    assert "from 0 to 196" in figure.locator(".elvit-message").first.inner_text()
    assert state()["row"] == 0
    figure.locator(".elvit-attention-scores .elvit-picture-frame").focus()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowRight")
    assert state()["hover"] == [1, 1] and state()["row"] == 0
    page.keyboard.press("Enter")
    assert state()["row"] == 1

    # Another head, then another layer: their Q and K come from chunks, the matrices are recomputed.
    before = picture_rgb(page, "[data-elvit-view=attention] .elvit-attention-weights canvas")
    figure.locator("select").nth(1).select_option("0")
    wait_state(page, "attention", "s.head === 0 && !s.loading")
    check_row_text(figure, probs(1, 0)[1])
    after = picture_rgb(page, "[data-elvit-view=attention] .elvit-attention-weights canvas")
    assert palette_steps(after, heatmap.codes(probs(1, 0))).max() <= 1 and (after != before).any()
    figure.locator("select").nth(0).select_option("11")
    wait_state(page, "attention", "s.layer === 11 && !s.loading")
    check_row_text(figure, probs(11, 0)[1])
    # The context's colours travel as palette indices: exactly Python's.
    context = picture_rgb(page, "[data-elvit-view=attention] .elvit-attention-context canvas")
    expected = palette_rgb("viridis")[heatmap.codes(small_trace["encoder.layer.11.attention.context"])]
    assert np.array_equal(context, expected.reshape(-1, 3))
    assert_clean(log, tmp_path)


# --- gelu ----------------------------------------------------------------------------------------

def test_gelu_steps_hovers_and_picks_tokens(small_trace, open_view, tmp_path):
    config = small_trace.config
    g, m = config.grid, config.intermediate_size
    page, log, figure = open_view(gelu.VIEW, small_trace, {"block": 2, "token": 35})

    def row(block, token):
        prefix = f"encoder.layer.{block}.mlp."
        return small_trace[prefix + "fc1"][token], small_trace[prefix + "gelu"][token]

    def state():
        return view_state(page, "gelu")

    def check_point(block, token, step):
        x, y = row(block, token)
        feature = state()["feature"]
        assert x[feature] == np.sort(x)[step]  # the marker walks the inputs in increasing order
        text = text_of(figure, ".elvit-gelu-point-text")
        assert f"Point {step + 1} of {m} (feature {feature})" in text
        assert f"fc1 gave x = {shown(x[feature], 4)}" in text
        assert f"the model's GELU gave y = {shown(y[feature], 4)}" in text
        formula = re.search(r"Exact formula: (−?\d+\.\d+); tanh approximation: (−?\d+\.\d+)", text)
        assert_shown(formula.group(1), gelu.gelu_exact(float(x[feature])), 4)
        assert_shown(formula.group(2), gelu.gelu_tanh(float(x[feature])), 4)

    def dots() -> list[int]:
        """The alpha of every pixel of the dots' canvas (0 where no dot is drawn)."""
        return page.evaluate("""() => {
            const c = document.querySelector('[data-elvit-view=gelu] .elvit-gelu-dots');
            const a = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            return Array.from({length: a.length / 4}, (_, i) => a[4 * i + 3]); }""")

    def marker() -> tuple[float, float]:
        """Where the marker's centre is, in the chart's own pixel coordinates."""
        style = figure.locator(".elvit-gelu-marker").get_attribute("style")
        left, top = (float(v) for v in re.search(r"left: ([\d.]+)%; top: ([\d.]+)%", style).groups())
        svg = figure.locator("svg.elvit-chart").first
        return left / 100 * float(svg.get_attribute("width")), top / 100 * float(svg.get_attribute("height"))

    def on_its_dot() -> bool:
        """A dot is drawn under the marker's centre (dots share the chart's coordinates)."""
        x, y = marker()
        width = int(figure.locator("svg.elvit-chart").first.get_attribute("width"))
        pixels = int(figure.locator(".elvit-gelu-dots").get_attribute("width"))  # × devicePixelRatio
        scale = pixels / width
        return dots()[round(y * scale) * pixels + round(x * scale)] > 0

    assert state() == {"block": 2, "token": 35, "step": 0, "feature": state()["feature"],
                       "playing": False, "loading": False}
    check_point(2, 35, 0)
    assert sum(alpha > 0 for alpha in dots()) > 100 and on_its_dot()
    fc1, _ = row(2, 35)
    negative = f"{int((fc1 < 0).sum())} of its {m} inputs are negative"
    assert negative in text_of(figure, ".elvit-gelu-token-text")
    legend = figure.locator(".elvit-legend").inner_text()
    assert "4.73·10⁻⁴" in legend and "−0.1700 at x = −0.7518" in legend

    button = lambda label: figure.get_by_role("button", name=label, exact=True)  # noqa: E731
    first_marker = marker()
    button("step forward ▶").click()
    button("step forward ▶").click()
    assert state()["step"] == 2 and marker() != first_marker and on_its_dot()
    check_point(2, 35, 2)
    button("◀ step back").click()
    assert state()["step"] == 1
    check_play_then_pause(page, figure, "gelu", "s.step >= 5", gelu.PERIOD_MS)

    # Hovering the chart moves the marker to the point nearest the pointer's x: the largest input.
    chart = figure.locator("svg.elvit-chart").first.bounding_box()
    page.mouse.move(chart["x"] + chart["width"] - 20, chart["y"] + chart["height"] / 2)
    assert state()["step"] == m - 1 and on_its_dot()
    check_point(2, 35, m - 1)

    # Another token: click a patch, the CLS button, a typed number; another block.
    before = dots()
    page.mouse.click(*cell_point(figure, ".elvit-gelu-image canvas", g, g, 4, 2))
    wait_state(page, "gelu", f"s.token === {4 * g + 3} && !s.loading")
    assert dots() != before and on_its_dot()
    check_point(2, 4 * g + 3, state()["step"])
    figure.get_by_role("button", name="CLS token").click()
    wait_state(page, "gelu", "s.token === 0 && !s.loading")
    assert "the CLS token" in text_of(figure, ".elvit-gelu-token-text")
    figure.locator("select").select_option("0")
    wait_state(page, "gelu", "s.block === 0 && s.token === 0 && !s.loading")
    check_point(0, 0, state()["step"])
    box = figure.locator("input.elvit-number")
    box.fill("7")
    wait_state(page, "gelu", "s.token === 7 && !s.loading")
    box.fill("1000")
    assert "from 0 to 196" in figure.locator(".elvit-message").first.inner_text()
    assert state()["token"] == 7
    assert_clean(log, tmp_path)


# --- a built page, from file:// -------------------------------------------------------------------

def test_chunks_load_from_file_in_a_built_page(make_app, tmp_path, open_page):
    """Another head, layer, block or token comes from a chunk file beside the page (file://)."""
    from elvit_sphinx.compute.checkpoints import save_random_checkpoint

    model = save_random_checkpoint("odd", tmp_path / "odd-model")
    srcdir = tmp_path / "operations"
    shutil.copytree(Path(__file__).parent / "roots" / "test-operations", srcdir)
    app = make_app("html", srcdir=srcdir, confoverrides={"elvit_model": str(model)})
    app.build()
    assert app._warncount == 0, app.warning.getvalue()
    outdir = Path(app.outdir)
    page, log = open_page(outdir / "index.html", wait_for=READY)
    attention_figure = page.locator("[data-elvit-view=attention]")
    key = attention_figure.get_attribute("data-elvit-key")
    assert (outdir / "_elvit" / key / "head-2-3.js").is_file()
    attention_figure.locator("select").nth(0).select_option("2")
    attention_figure.locator("select").nth(1).select_option("3")
    wait_state(page, "attention", "s.layer === 2 && s.head === 3 && !s.loading")
    assert any(url.endswith(f"_elvit/{key}/head-2-3.js") for url in log.requests)
    assert any(url.endswith(f"_elvit/{key}/layer-2.js") for url in log.requests)

    gelu_figure = page.locator("[data-elvit-view=gelu]")
    gelu_figure.locator("select").select_option("1")
    wait_state(page, "gelu", "s.block === 1 && s.token === 0 && !s.loading")
    gelu_key = gelu_figure.get_attribute("data-elvit-key")
    assert any(url.endswith(f"_elvit/{gelu_key}/b1-t0.js") for url in log.requests)
    assert_clean(log, outdir)
