"""The patches, conv and prediction views in a real Chromium, used the way a reader uses them."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_clean, canvas_pixels, view_state

from elvit_sphinx.views import conv, heatmap, patches, prediction
from elvit_sphinx.views.palettes import palette_rgb

pytestmark = pytest.mark.browser


def rgba(rgb: np.ndarray) -> list[int]:
    """H×W×3 → the RGBA bytes a canvas holds."""
    rgb = np.asarray(rgb, dtype=np.uint8)
    return np.concatenate([rgb, np.full(rgb.shape[:-1] + (1,), 255, np.uint8)], -1).reshape(-1).tolist()


def cell_centre(page, figure, canvas_index: int, cols: int, rows: int):
    """Screen position of the middle of cell (r, c) of a canvas cut into cols × rows cells."""
    box = figure.locator("canvas").nth(canvas_index).bounding_box()

    def point(r, c):
        return box["x"] + (c + 0.5) * box["width"] / cols, box["y"] + (r + 0.5) * box["height"] / rows
    return point


def readout(figure) -> str:
    return figure.locator(".elvit-readout").first.inner_text()


# --- patches -------------------------------------------------------------------------------------

def test_patches_hover_click_type_and_keys(small_trace, open_view, tmp_path):
    config = small_trace.config
    g, p = config.grid, config.patch_size
    page, log, figure = open_view(patches.VIEW, small_trace, {"patch": 20})
    point = cell_centre(page, figure, 0, g, g)
    selector = '[data-elvit-view="patches"]'
    assert view_state(page, "patches") == {"patch": 20, "pinned": False}
    before = canvas_pixels(page, selector, 2)

    page.mouse.move(*point(3, 5))
    assert view_state(page, "patches") == {"patch": 47, "pinned": False}
    text = readout(figure)
    assert "patch 47 · row 3, col 5" in text and "click to pin" in text
    vector = small_trace["embeddings.patches"][47]
    assert f"max {np.float32(vector.max()):.3f}".replace("-", "−") in text
    # The page coloured the heatmap exactly as Python would, and cut out the right pixels.
    heat = canvas_pixels(page, selector, 2)
    assert heat == rgba(heatmap.to_rgb(vector).reshape(*heatmap.grid_shape(config.hidden_size), 3))
    assert heat != before
    window = small_trace["input.image"][3 * p:4 * p, 5 * p:6 * p]
    assert canvas_pixels(page, selector, 1) == rgba(window)

    page.mouse.click(*point(10, 2))
    assert view_state(page, "patches") == {"patch": 142, "pinned": True}
    assert "pinned" in readout(figure)
    page.mouse.move(*point(0, 0))
    page.mouse.move(*point(13, 13))
    assert view_state(page, "patches")["patch"] == 142  # pinned: hovering changes nothing
    page.mouse.click(*point(1, 1))
    assert view_state(page, "patches") == {"patch": 15, "pinned": True}  # the pin moves
    page.mouse.click(*point(1, 1))
    assert view_state(page, "patches") == {"patch": 15, "pinned": False}  # and is released
    page.mouse.move(*point(13, 13))
    assert view_state(page, "patches")["patch"] == g * g - 1

    # Typing a number does what clicking that patch does; a bad number says so in the view.
    box = figure.locator("input.elvit-number")
    box.fill("7")
    assert view_state(page, "patches") == {"patch": 7, "pinned": True}
    box.fill("999")
    assert "from 0 to 195" in figure.locator(".elvit-message").first.inner_text()
    assert view_state(page, "patches")["patch"] == 7

    # Keyboard: arrows move the selection, Enter releases/pins.
    figure.locator(".elvit-picture-frame[tabindex]").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    assert view_state(page, "patches")["patch"] == 7 + 1 + g
    page.keyboard.press("Enter")
    assert view_state(page, "patches") == {"patch": 8 + g, "pinned": False}
    assert_clean(log, tmp_path)


# --- conv ----------------------------------------------------------------------------------------

def test_conv_steps_plays_pauses_and_switches_kernel(small_trace, open_view, tmp_path):
    config = small_trace.config
    g, p, n = config.grid, config.patch_size, config.num_patches
    page, log, figure = open_view(conv.VIEW, small_trace, {"kernels": [0, 1, 5], "kernel": 0})
    selector = '[data-elvit-view="conv"]'

    def state():
        return view_state(page, "conv")

    def button(label):
        return figure.get_by_role("button", name=label, exact=True)

    def filled() -> int:  # output cells drawn so far (the others are transparent)
        pixels = np.array(canvas_pixels(page, selector, 3)).reshape(-1, 4)
        return int((pixels[:, 3] == 255).sum())

    assert state() == {"step": 0, "kernel": 0, "playing": False}
    button("step forward ▶").click()
    button("step forward ▶").click()
    assert state() == {"step": 2, "kernel": 0, "playing": False} and filled() == 3
    window = small_trace["input.image"][:p, 2 * p:3 * p]
    assert canvas_pixels(page, selector, 1) == rgba(window)
    button("◀ step back").click()
    assert state()["step"] == 1 and filled() == 2

    # Pressing play twice must not start two timers: after pause nothing may move.
    button("▶ play").click()
    button("▶ play").click()
    page.wait_for_function("JSON.parse(document.querySelector('[data-elvit-view=conv]')"
                           ".dataset.elvitState).step >= 4", timeout=5000)
    assert state()["playing"] is True
    button("❚❚ pause").click()
    paused = state()
    assert paused["playing"] is False
    page.wait_for_timeout(3 * conv.PERIOD_MS)
    assert state() == paused and filled() == paused["step"] + 1

    kernel_before = canvas_pixels(page, selector, 2)
    figure.locator("select").select_option(label="kernel 5")
    assert state()["kernel"] == 5 and state()["step"] == paused["step"]
    expected = heatmap.minmax_rgb(small_trace["param.patch_kernel"][5])
    assert canvas_pixels(page, selector, 2) == rgba(expected) != kernel_before
    step = paused["step"]
    value = small_trace["embeddings.patches"][step, 5]
    assert f"= {np.float32(value):.4f}".replace("-", "−") in readout(figure)

    # Clicking a patch (or typing its number) jumps there; played to the end, it stops itself.
    point = cell_centre(page, figure, 0, g, g)
    page.mouse.click(*point(g - 1, g - 3))
    assert state()["step"] == n - 3
    button("▶ play").click()
    page.wait_for_function("(() => { const s = JSON.parse(document.querySelector("
                           f"'[data-elvit-view=conv]').dataset.elvitState); return s.step == {n - 1} "
                           "&& !s.playing })()", timeout=5000)
    assert filled() == n
    figure.locator("input.elvit-number").fill("30")
    assert state()["step"] == 30

    # A figure removed while playing stops its own timer.
    button("▶ play").click()
    page.evaluate("document.querySelector('[data-elvit-view=conv]').remove()")
    page.wait_for_timeout(3 * conv.PERIOD_MS)
    assert_clean(log, tmp_path)


# --- prediction ----------------------------------------------------------------------------------

def test_prediction_hover_and_focus_read_a_bar(odd_trace, open_view, tmp_path):
    page, log, figure = open_view(prediction.VIEW, odd_trace)
    probs = odd_trace["probs"]
    top = int(np.argmax(probs))
    label = odd_trace.config.id2label[top]
    assert f"Prediction: {label}" in figure.inner_text()
    rows = figure.locator(".elvit-bar-row")
    assert rows.count() == odd_trace.config.num_labels
    rows.first.hover()
    assert view_state(page, "prediction") == {"hovered": label}
    assert f"{label}: probability {probs[top]:.4f}" in readout(figure)
    rows.nth(2).focus()
    second = odd_trace.config.id2label[int(np.argsort(-probs, kind="stable")[2])]
    assert view_state(page, "prediction") == {"hovered": second}
    # The top class is drawn in the highlight colour, the others not.
    classes = figure.locator("rect.elvit-bar").evaluate_all("els => els.map(e => e.getAttribute('class'))")
    assert classes[0] == "elvit-bar elvit-top" and all("elvit-top" not in c for c in classes[1:])
    assert_clean(log, tmp_path)


def test_palette_in_the_page_is_the_python_palette(small_trace, open_view):
    page, _log, _figure = open_view(patches.VIEW, small_trace)
    colours = page.evaluate("Array.from(elvit.decode(JSON.parse(document.querySelector("
                            "'script.elvit-data').textContent).palette))")
    assert colours == palette_rgb("viridis").reshape(-1).tolist()
