"""The patches and conv views in a real Chromium, used the way a reader uses them."""

from __future__ import annotations

import numpy as np
import pytest

from elvit_sphinx.views import conv, heatmap, patches
from elvit_sphinx.views.base import standalone_html

pytestmark = pytest.mark.browser

READY = "window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].get_model_by_name('{}')"

# Screen rectangle of a plot's data frame, found through Bokeh's own view tree (the canvas is in
# shadow DOM, and the frame's offset inside the figure depends on title and borders).
FRAME_JS = """(name) => {
  const found = []
  const walk = (v) => {
    if (v.model && v.model.name == name) found.push(v)
    for (const child of (v.child_views ?? [])) walk(child)
  }
  for (const root of Bokeh.index.roots) walk(root)
  const view = found[0], frame = view.frame.bbox, box = view.el.getBoundingClientRect()
  return {x: box.left + frame.left, y: box.top + frame.top, w: frame.width, h: frame.height}
}"""


def model(page, name: str, expression: str):
    return page.evaluate(f"Bokeh.documents[0].get_model_by_name('{name}'){expression}")


def image_data(page, source: str) -> list[int]:
    return model(page, source, ".data.image[0].map(Number).join(',')")


def as_text(image: np.ndarray) -> str:
    return ",".join(str(int(v)) for v in image.reshape(-1))


def open_view(open_page, tmp_path, layout, readout: str):
    path = tmp_path / "view.html"
    path.write_text(standalone_html(layout), encoding="utf-8")
    page, log = open_page(path, wait_for=READY.format(readout))
    page.wait_for_function("Bokeh.index.roots.length > 0 && Bokeh.index.roots[0].is_idle")
    return page, log


def assert_clean(log, tmp_path):
    assert log.console_errors == [] and log.page_errors == []
    assert log.outside(tmp_path) == []


# --- patches -------------------------------------------------------------------------------------

def test_patches_hover_shows_a_patch_and_click_pins_it(small_trace, open_page, tmp_path):
    config = small_trace.config
    g, size = config.grid, config.image_size
    rows, cols = heatmap.grid_shape(config.hidden_size)
    page, log = open_view(open_page, tmp_path, patches.VIEW.build(small_trace, {"patch": 20}),
                          "elvit-patches-readout")
    frame = page.evaluate(FRAME_JS, "elvit-patches-image")
    cell = frame["w"] / g

    def point(r, c):  # screen position of the middle of patch (r, c)
        return frame["x"] + (c + 0.5) * cell, frame["y"] + (r + 0.5) * cell

    def state():
        return model(page, "elvit-patches-readout", ".tags")

    heat_figure = page.locator(".bk-Figure").nth(2)
    before = heat_figure.screenshot()
    assert state() == [20, False]

    page.mouse.move(*point(3, 5))
    page.wait_for_function("Bokeh.documents[0].get_model_by_name('elvit-patches-readout')"
                           ".tags[0] == 47")
    assert state() == [47, False]
    text = model(page, "elvit-patches-readout", ".text")
    assert "patch 47</b> · row 3, col 5" in text and "click to pin" in text
    vector = small_trace["embeddings.patches"][47]
    assert f"max {vector.max():.3f}".replace("-", "−") in text
    # The page coloured the heatmap exactly as Python would, and cut out the right pixels.
    expected = heatmap.bokeh_rows(heatmap.to_rgba(vector).reshape(rows, cols))
    assert image_data(page, "elvit-patches-embedding-data") == as_text(expected)
    p = config.patch_size
    window = small_trace["input.image"][3 * p:4 * p, 5 * p:6 * p]
    assert image_data(page, "elvit-patches-pixels-data") == as_text(
        heatmap.bokeh_rows(heatmap.pack_rgba(window)))
    assert model(page, "elvit-patches-frame-data", ".data.x[0]") == 5 * p + p / 2
    assert model(page, "elvit-patches-frame-data", ".data.y[0]") == size - 3 * p - p / 2
    page.wait_for_timeout(100)
    assert heat_figure.screenshot() != before  # the reader sees a different heatmap

    page.mouse.click(*point(10, 2))
    assert state() == [142, True]
    assert "pinned" in model(page, "elvit-patches-readout", ".text")
    page.mouse.move(*point(0, 0))
    page.mouse.move(*point(13, 13))
    assert state() == [142, True]  # pinned: hovering elsewhere changes nothing
    page.mouse.click(*point(1, 1))
    assert state() == [15, True]  # another click moves the pin
    page.mouse.click(*point(1, 1))
    assert state() == [15, False]  # clicking the pinned patch releases it
    page.mouse.move(*point(13, 13))
    assert state() == [g * g - 1, False]
    assert_clean(log, tmp_path)


# --- conv ----------------------------------------------------------------------------------------

def test_conv_steps_plays_pauses_and_switches_kernel(small_trace, open_page, tmp_path):
    config = small_trace.config
    g, p, n = config.grid, config.patch_size, config.num_patches
    channels = [0, 1, 5]
    page, log = open_view(open_page, tmp_path,
                          conv.VIEW.build(small_trace, {"kernels": channels, "kernel": 0}),
                          "elvit-conv-readout")

    def state():
        return model(page, "elvit-conv-readout", ".tags")

    def alpha():
        return model(page, "elvit-conv-output-data", ".data.alpha")

    def button(label):
        return page.get_by_role("button", name=label, exact=True)

    assert state() == [0, 0, False]
    button("step forward ▶").click()
    button("step forward ▶").click()
    assert state() == [2, 0, False]
    assert alpha()[:4] == [1, 1, 1, 0] and sum(alpha()) == 3
    assert model(page, "elvit-conv-frame-data", ".data.x[0]") == 2 * p + p / 2
    window = small_trace["input.image"][:p, 2 * p:3 * p]
    assert image_data(page, "elvit-conv-patch-data") == as_text(
        heatmap.bokeh_rows(heatmap.pack_rgba(window)))
    button("◀ step back").click()
    assert state() == [1, 0, False] and sum(alpha()) == 2

    # Pressing play twice must not start two timers: after pause nothing may move.
    button("▶ play").click()
    button("▶ play").click()
    page.wait_for_function("Bokeh.documents[0].get_model_by_name('elvit-conv-readout')"
                           ".tags[0] >= 4", timeout=5000)
    assert state()[2] is True
    button("❚❚ pause").click()
    paused = state()
    assert paused[2] is False
    page.wait_for_timeout(3 * conv.PERIOD_MS)
    assert state() == paused and sum(alpha()) == paused[0] + 1

    kernel_before = image_data(page, "elvit-conv-kernel-data")
    colours_before = model(page, "elvit-conv-output-data", ".data.color")
    page.locator("select").select_option(label="kernel 5")
    page.wait_for_function("Bokeh.documents[0].get_model_by_name('elvit-conv-readout')"
                           ".tags[1] == 5")
    assert state()[0] == paused[0]
    kernel_after = image_data(page, "elvit-conv-kernel-data")
    expected = heatmap.bokeh_rows(heatmap.pack_rgba(
        heatmap.minmax_rgb(small_trace["param.patch_kernel"][5])))
    assert kernel_after != kernel_before and kernel_after == as_text(expected)
    assert model(page, "elvit-conv-output-data", ".data.color") != colours_before
    step = paused[0]
    value = heatmap.f32(small_trace["embeddings.patches"][step, 5])
    text = model(page, "elvit-conv-readout", ".text")
    assert "kernel 5: patch · kernel =" in text and f"<b>{conv._fmt(value)}</b>" in text

    # Played to the end, the animation stops by itself on the last patch.
    page.evaluate(f"Bokeh.documents[0].get_model_by_name('elvit-conv-readout').tags = "
                  f"[{n - 2}, 5, false]")
    button("▶ play").click()
    page.wait_for_function("(() => { const t = Bokeh.documents[0].get_model_by_name("
                           f"'elvit-conv-readout').tags; return t[0] == {n - 1} && !t[2] }})()",
                           timeout=5000)
    assert sum(alpha()) == n
    bottom_row = config.image_size - (g - 1) * p - p / 2
    assert model(page, "elvit-conv-frame-data", ".data.y[0]") == bottom_row

    # A view removed while playing (the page re-renders it) stops its own timer.
    button("◀ step back").click()
    button("▶ play").click()
    page.evaluate("""() => {
      const doc = Bokeh.documents[0]
      window.readout = doc.get_model_by_name('elvit-conv-readout')
      doc.remove_root(doc.roots()[0])
    }""")
    page.wait_for_timeout(3 * conv.PERIOD_MS)
    assert page.evaluate("window.readout.document == null && window.readout._elvit_timer == null")
    assert_clean(log, tmp_path)
