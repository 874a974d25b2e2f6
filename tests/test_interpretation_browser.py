"""The interpretation views in a real Chromium, used as a reader uses them: click a patch, move
the block slider, type a patch number, use the keys, switch image; the heatmaps' pixels and the
bars must then show the values computed independently from the trace, and two views of the same
image must stay in step."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import READY, assert_clean, canvas_pixels, view_state
from test_interpretation import independent_cosines, independent_head

from elvit_sphinx.pages.assets import STATIC_DIR
from elvit_sphinx.pages.figure_html import figure_html
from elvit_sphinx.views import attention_compare, heatmap, patch_predictions, similarity
from elvit_sphinx.views.base import chunk_script, script_safe, to_json
from elvit_sphinx.views.palettes import palette_rgb

pytestmark = pytest.mark.browser

SIM = '[data-elvit-view="similarity"]'
PRED = '[data-elvit-view="patch-predictions"]'
COMPARE = '[data-elvit-view="attention-compare"]'


def page_of(views: list[tuple], path) -> str:
    """One HTML page holding several figures (each its own id and chunk key), as a chapter does."""
    libraries, scripts, figures, chunks = [], [], [], []
    for index, (view, output) in enumerate(views):
        key = f"figure{index}"
        libraries += [lib for lib in view.libraries if lib not in libraries]
        if view.script not in scripts:
            scripts.append(view.script)
        figures.append(figure_html(view.name, f"elvit-{index}", key, to_json(output.data), "", "", ""))
        chunks += [f"<script>{script_safe(chunk_script(f'{key}/{name}', payload))}</script>"
                   for name, payload in sorted(output.chunks.items())]

    def inline(name):
        return f"<script>{script_safe((STATIC_DIR / name).read_text(encoding='utf-8'))}</script>"
    css = (STATIC_DIR / "elvit.css").read_text(encoding="utf-8")
    path.write_text("".join([
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>interpretation</title>',
        f"<style>{css}</style></head><body>", *figures,
        *(inline(name) for name in [*libraries, "elvit.js"]),
        *chunks, *(inline(name) for name in scripts), "</body></html>"]), encoding="utf-8")
    return path


@pytest.fixture
def open_figures(open_page, tmp_path):
    def _open(*views):
        page, log = open_page(page_of(list(views), tmp_path / "page.html"), wait_for=READY)
        return page, log
    return _open


def rgba(rgb) -> list[int]:
    rgb = np.asarray(rgb, dtype=np.uint8)
    return np.concatenate([rgb, np.full(rgb.shape[:-1] + (1,), 255, np.uint8)], -1).reshape(-1).tolist()


def expected_map(values) -> list[int]:
    """The pixels of a blues heatmap of ``values`` as Python colours it (min-max per map)."""
    return rgba(palette_rgb("blues")[heatmap.codes(np.asarray(values, dtype=np.float32))])


def cell_point(locator, cols: int, rows: int):
    box = locator.bounding_box()

    def point(r, c):
        return box["x"] + (c + 0.5) * box["width"] / cols, box["y"] + (r + 0.5) * box["height"] / rows
    return point


def four(value) -> str:
    return f"{value:.4f}".replace("-", "−")


# --- similarity ----------------------------------------------------------------------------------

def test_similarity_click_slider_type_keys_and_image_menu(small_trace, horse_trace, open_figures, tmp_path):
    config = small_trace.config
    g, L, n = config.grid, config.num_layers, config.num_patches
    output = similarity.build_from_traces([small_trace, horse_trace], {"token": "cls"})
    page, log = open_figures((similarity.VIEW, output))
    figure = page.locator(SIM)

    def cosines(trace, layer):
        return independent_cosines(trace[f"encoder.layer.{layer}.output"])

    def heat():
        return canvas_pixels(page, SIM, 1)

    def tile(layer):
        """Block ``layer``'s map in the strip (canvas 3: after the image, the map and its colour
        bar), cut out of the strip's pixels."""
        strip = np.array(canvas_pixels(page, SIM, 3)).reshape(g, L * (g + 1) - 1, 4)
        return strip[:, layer * (g + 1):layer * (g + 1) + g].reshape(-1).tolist()

    # At first: CLS against every patch after the last block; the strip fills in with every block.
    page.wait_for_function(f"JSON.parse(document.querySelector('{SIM}').dataset.elvitState).blocks_loaded")
    assert view_state(page, "similarity") == {"image": 0, "block": L, "token": 0, "hovered": None,
                                              "blocks_loaded": L}
    assert heat() == expected_map(cosines(small_trace, L - 1)[0, 1:])
    for layer in (0, 5):
        assert tile(layer) == expected_map(cosines(small_trace, layer)[0, 1:])
    bar_text = figure.locator(".elvit-colorbar").inner_text()
    assert four(cosines(small_trace, L - 1)[0, 1:].max()) in bar_text

    # The slider: Home goes to block 1.
    figure.locator("input.elvit-slider").focus()
    page.keyboard.press("Home")
    assert view_state(page, "similarity")["block"] == 1
    assert heat() == expected_map(cosines(small_trace, 0)[0, 1:])
    page.keyboard.press("ArrowRight")
    assert view_state(page, "similarity")["block"] == 2

    # Click a patch on the image: it becomes the token compared with every patch.
    image = figure.locator("canvas").first
    image.click(position={"x": 1, "y": 1})  # scroll into view first
    point = cell_point(image, g, g)
    page.mouse.click(*point(4, 9))
    patch = 4 * g + 9
    assert view_state(page, "similarity")["token"] == patch + 1
    assert heat() == expected_map(cosines(small_trace, 1)[patch + 1, 1:])
    assert tile(7) == expected_map(cosines(small_trace, 7)[patch + 1, 1:])

    # Hover a heatmap cell: its value is the cosine similarity, to 4 decimals.
    heat_point = cell_point(figure.locator("canvas").nth(1), g, g)
    page.mouse.move(*heat_point(10, 3))
    hovered = 10 * g + 3
    assert view_state(page, "similarity")["hovered"] == hovered
    text = figure.locator(".elvit-readout").inner_text()
    assert f"patch {hovered} (row 10, col 3)" in text
    assert four(cosines(small_trace, 1)[patch + 1, hovered + 1]) in text

    # Typing a number does what a click does; out of range says so inside the view.
    box = figure.locator("input.elvit-number")
    box.fill("17")
    assert view_state(page, "similarity")["token"] == 18
    assert heat() == expected_map(cosines(small_trace, 1)[18, 1:])
    box.fill(str(n))
    assert f"from 0 to {n - 1}" in figure.locator(".elvit-message").first.inner_text()
    assert view_state(page, "similarity")["token"] == 18

    # Keys on the image move the chosen patch; the CLS button goes back.
    figure.locator(".elvit-picture-frame[tabindex]").first.focus()
    page.keyboard.press("ArrowDown")
    assert view_state(page, "similarity")["token"] == 18 + g
    figure.get_by_role("button", name="CLS token").click()
    assert view_state(page, "similarity")["token"] == 0

    # A map of the strip jumps to its block.
    strip = figure.locator(".elvit-interp-strip canvas")
    box = strip.bounding_box()
    middle_of_block_5 = (4 * (g + 1) + g / 2) / (L * (g + 1) - 1)
    page.mouse.click(box["x"] + box["width"] * middle_of_block_5, box["y"] + box["height"] / 2)
    assert view_state(page, "similarity")["block"] == 5

    # The image menu: the second image's picture and maps.
    figure.locator("select").select_option(index=1)
    page.wait_for_function(f"(s => s.image === 1 && s.blocks_loaded)"
                           f"(JSON.parse(document.querySelector('{SIM}').dataset.elvitState))")
    assert canvas_pixels(page, SIM, 0) == rgba(horse_trace["input.image"])
    assert heat() == expected_map(cosines(horse_trace, 4)[0, 1:])
    assert tile(11) == expected_map(cosines(horse_trace, 11)[0, 1:])
    assert_clean(log, tmp_path)


# --- patch predictions, and the link between views -----------------------------------------------

def wait_state(page, name: str, condition: str) -> dict:
    """Wait until the view's state satisfies ``condition`` (JS, on ``s``): linked views follow
    one frame after the view the reader touched."""
    page.wait_for_function(f"(s => {condition})(JSON.parse(document.querySelector("
                           f"'[data-elvit-view=\"{name}\"]').dataset.elvitState || '{{}}'))", timeout=5000)
    return view_state(page, name)


def bar_values(page, selector: str, chart: int) -> list[str]:
    """The numbers written at the end of each bar of a figure's ``chart``-th chart."""
    return page.evaluate(
        """([selector, chart]) => [...document.querySelector(selector).querySelectorAll('svg')[chart]
             .querySelectorAll('.elvit-bar-row text:last-of-type')].map(t => t.textContent)""",
        [selector, chart])


def test_patch_predictions_follow_the_similarity_view_and_back(small_trace, horse_trace, open_figures,
                                                                 tmp_path):
    config = small_trace.config
    g = config.grid
    traces = [small_trace, horse_trace]
    page, log = open_figures(
        (similarity.VIEW, similarity.build_from_traces(traces, {"token": "cls"})),
        (patch_predictions.VIEW, patch_predictions.build_from_traces(traces, {})))
    pred = page.locator(PRED)
    _logits, probs = independent_head(small_trace)
    start = g // 2 * g + g // 2
    state = view_state(page, "patch-predictions")
    assert state["patch"] == start and state["image"] == 0
    assert state["cls_top"] == config.id2label[int(np.argmax(small_trace["probs"]))]
    assert bar_values(page, PRED, 0) == [f"{p:.3f}" for p in probs[0]]
    assert bar_values(page, PRED, 1) == [f"{p:.3f}" for p in probs[start + 1]]

    # Choosing a patch in the similarity view chooses it here.
    page.locator(SIM).locator("input.elvit-number").fill("40")
    wait_state(page, "patch-predictions", "s.patch === 40")
    assert bar_values(page, PRED, 1) == [f"{p:.3f}" for p in probs[41]]
    assert view_state(page, "patch-predictions")["patch_top"] == config.id2label[int(probs[41].argmax())]
    # ... and CLS there keeps the patch here.
    page.locator(SIM).get_by_role("button", name="CLS token").click()
    page.wait_for_timeout(100)
    assert view_state(page, "patch-predictions")["patch"] == 40

    # Hovering a bar compares one class for both tokens.
    pred.locator(".elvit-bar-row").nth(3).hover()
    text = pred.locator(".elvit-readout").inner_text()
    label = config.id2label[3]
    assert view_state(page, "patch-predictions")["hovered"] == label
    assert f"{label}: CLS token probability {four(probs[0, 3])}" in text
    assert f"patch 40 probability {four(probs[41, 3])}" in text

    # The predictions' own picker: a click, the keys and a typed number; the similarity view follows.
    picture = pred.locator("canvas").first
    picture.scroll_into_view_if_needed()
    page.mouse.click(*cell_point(picture, g, g)(2, 3))
    assert view_state(page, "patch-predictions")["patch"] == 2 * g + 3
    wait_state(page, "similarity", f"s.token === {2 * g + 4}")
    pred.locator(".elvit-picture-frame[tabindex]").focus()
    page.keyboard.press("ArrowRight")
    assert view_state(page, "patch-predictions")["patch"] == 2 * g + 4
    pred.locator("input.elvit-number").fill("7")
    wait_state(page, "similarity", "s.token === 8")

    # Switching image in one view switches the other; the bars are the second image's.
    page.locator(SIM).locator("select").select_option(index=1)
    wait_state(page, "patch-predictions", "s.image === 1")
    _logits, horse_probs = independent_head(horse_trace)
    assert bar_values(page, PRED, 0) == [f"{p:.3f}" for p in horse_probs[0]]
    assert bar_values(page, PRED, 1) == [f"{p:.3f}" for p in horse_probs[8]]
    assert canvas_pixels(page, PRED, 0) == rgba(horse_trace["input.image"])
    assert_clean(log, tmp_path)


# --- attention compare ---------------------------------------------------------------------------

def test_attention_compare_block_head_and_hover(small_trace, open_figures, tmp_path):
    config = small_trace.config
    g, L = config.grid, config.num_layers
    output = attention_compare.VIEW.build(small_trace, {"head": "mean"})
    page, log = open_figures((attention_compare.VIEW, output))
    figure = page.locator(COMPARE)
    maps = attention_compare.cls_maps(small_trace)

    def panels():
        # Canvases: the image, then each map followed by its colour bar.
        return [canvas_pixels(page, COMPARE, i) for i in (1, 3, 5)]

    def expected(layer, head="mean"):
        attention = maps["attention"][layer] if head == "mean" else maps["heads"][layer, head]
        return [expected_map(maps["similarity"][layer]), expected_map(attention),
                expected_map(maps["rollout"][layer])]

    assert view_state(page, "attention-compare") == {"block": L, "head": "mean", "hovered": None}
    assert panels() == expected(L - 1)
    figure.locator("input.elvit-slider").focus()
    page.keyboard.press("Home")
    page.keyboard.press("ArrowRight")
    assert view_state(page, "attention-compare")["block"] == 2
    assert panels() == expected(1)
    figure.locator("select").select_option(label="head 2")
    page.wait_for_function(f"JSON.parse(document.querySelector('{COMPARE}').dataset.elvitState).head === 2")
    assert panels() == expected(1, head=2)
    assert "head 2" in figure.inner_text()

    rollout = figure.locator("canvas").nth(5)
    rollout.scroll_into_view_if_needed()
    page.mouse.move(*cell_point(rollout, g, g)(5, 6))
    patch = 5 * g + 6
    assert view_state(page, "attention-compare")["hovered"] == patch
    text = figure.locator(".elvit-readout").inner_text()
    attention = small_trace["encoder.layer.1.attention.probs"][2, 0, patch + 1]
    assert f"CLS attention {attention:.5f}" in text
    assert f"attention rollout {maps['rollout'][1, patch]:.5f}" in text
    assert four(maps["similarity"][1, patch]) in text
    sentences = figure.locator(".elvit-interp-sentence").all_inner_texts()
    assert len(sentences) == 3 and all(s.endswith(".") and s.count(". ") == 0 for s in sentences)
    assert_clean(log, tmp_path)

