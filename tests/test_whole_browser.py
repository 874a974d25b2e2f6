"""The overview, detail and annotations views in a real Chromium, used the way a reader uses them:
drill down and back up by clicking empty space, keys, hovers whose numbers are the trace's."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import assert_clean, view_state

from elvit_sphinx.views import annotations, detail, heatmap, overview
from elvit_sphinx.views.model_map import PARTS
from elvit_sphinx.views.mosaic import layout_for
from elvit_sphinx.views.palettes import palette_rgb

pytestmark = pytest.mark.browser

APPROX = re.compile(r"value ≈ (−?[\d.]+) ± ([\d.]+)")


def number(text: str) -> float:
    return float(text.replace("−", "-"))


def wait_drawn(page, level: str) -> None:
    page.wait_for_function("(level) => JSON.parse(document.querySelector('[data-elvit-view=detail]')"
                           ".dataset.elvitState || '{}').drawn === level", arg=level, timeout=15000)


def click_empty_space(page, figure_selector: str, inner: str) -> None:
    """Click a point of ``inner`` (the stage or the diagram) that no box or card covers."""
    box = page.locator(f"{figure_selector} {inner}").bounding_box()
    point = page.evaluate("""([selector, inner]) => {
        const area = document.querySelector(selector + ' ' + inner).getBoundingClientRect();
        for (let y = area.bottom - 4; y > area.top; y -= 7)
          for (let x = area.right - 4; x > area.left; x -= 7) {
            const hit = document.elementFromPoint(x, y);
            if (hit && !hit.closest('.elvit-dt-card, .elvit-ov-box, .elvit-ov-note')) return [x, y];
          }
        return null; }""", [figure_selector, inner])
    assert point, box
    page.mouse.click(*point)


def assert_value_read_out(text: str, true_value: float) -> None:
    """The readout's ≈ v ± e must contain the trace's value (give or take the last digit)."""
    match = APPROX.search(text)
    assert match, text
    shown, half = number(match.group(1)), float(match.group(2))
    digits = len(match.group(2).split(".")[1])
    assert abs(shown - true_value) <= half + 0.5 * 10 ** -digits + 1e-12, (text, true_value)


# --- overview ------------------------------------------------------------------------------------

def test_overview_opens_the_encoder_and_a_block_and_goes_back_by_empty_space_and_keys(
        small_trace, open_view, tmp_path):
    page, log, figure = open_view(overview.VIEW, small_trace)
    selector = '[data-elvit-view="overview"]'
    state = lambda: view_state(page, "overview")  # noqa: E731
    assert state()["level"] == "model"
    assert figure.locator("[data-box^=block-]").count() == 0

    figure.locator("[data-box=encoder]").hover()
    text = figure.locator(".elvit-readout").inner_text()
    assert "Transformer encoder" in text and "12 blocks" in text
    assert PARTS["encoder"].fallback in text  # no glossary on a standalone page

    figure.locator("[data-box=encoder]").click()
    assert state()["level"] == "encoder"
    assert figure.locator("[data-box^=block-]").count() == small_trace.config.num_layers
    figure.locator("[data-box=block-3]").click()
    assert state() | {"hovered": None} == {"level": "block", "block": 3, "hovered": None, "note": None}
    part = figure.locator("[data-box=part-1]")
    part.hover()
    text = figure.locator(".elvit-readout").inner_text()
    t, d = small_trace.config.num_tokens, small_trace.config.hidden_size
    assert "encoder.layer.3.attention.output" in text and f"{t}×{d}" in text
    assert "Multi-head attention" in text
    assert figure.locator(".elvit-trail").inner_text().split() == ["Model", "›", "Transformer", "encoder",
                                                                   "›", "Block", "3"]

    # A note: hovering the marked bypass frames it and explains it.
    figure.locator("[data-note=skip_1] .elvit-ov-note-hit").hover()
    assert state()["note"] == "skip_1"
    assert "Residual connection" in figure.locator(".elvit-readout").inner_text()
    assert figure.locator("[data-note=skip_1] .elvit-ov-note-frame").evaluate(
        "el => getComputedStyle(el).visibility") == "visible"

    click_empty_space(page, selector, "svg")
    assert state()["level"] == "encoder"
    figure.get_by_role("button", name="Model", exact=True).click()  # the path is clickable
    assert state()["level"] == "model"

    # Keyboard: Enter opens (and moves into the opened level), Escape goes up.
    figure.locator("[data-box=encoder]").focus()
    page.keyboard.press("Enter")
    assert state()["level"] == "encoder"
    assert page.evaluate("document.activeElement.dataset.box") == "block-0"
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert state()["level"] == "block" and state()["block"] == 1
    page.keyboard.press("Escape")
    assert state()["level"] == "encoder"
    page.keyboard.press("Escape")
    assert state()["level"] == "model"
    assert page.evaluate("document.activeElement.dataset.box") == "encoder"
    assert_clean(log, tmp_path)


def test_overview_sizes_come_from_the_model(odd_trace, open_view, tmp_path):
    page, log, figure = open_view(overview.VIEW, odd_trace, {"open": "block 2"})
    config = odd_trace.config
    assert view_state(page, "overview")["level"] == "block"
    assert figure.locator("[data-box^=block-]").count() == config.num_layers
    text = figure.inner_text()
    assert f"{config.num_patches}×{config.hidden_size}" in text
    assert f"{config.image_size}×{config.image_size}×3" in text
    assert_clean(log, tmp_path)


# --- detail --------------------------------------------------------------------------------------

def card(figure, index):
    return figure.locator(f'.elvit-dt-card[data-item="{index}"]')


def hover_native(page, figure, index, layout, x, y):
    """Move the pointer to mosaic pixel (x, y) of card ``index``'s picture."""
    box = card(figure, index).locator("canvas").bounding_box()  # 1 px border around the content
    sx, sy = (box["width"] - 2) / layout.width, (box["height"] - 2) / layout.height
    page.mouse.move(box["x"] + 1 + (x + 0.5) * sx, box["y"] + 1 + (y + 0.5) * sy)


def canvas_rgb(page, index, x, y):
    return page.evaluate("""([index, x, y]) => Array.from(document.querySelector(
        `[data-elvit-view=detail] .elvit-dt-card[data-item="${index}"] canvas`).getContext('2d')
        .getImageData(x, y, 1, 1).data).slice(0, 3)""", [index, x, y])


def test_detail_drills_down_to_one_tensor_reads_it_and_comes_back_up(small_trace, open_view, tmp_path):
    config = small_trace.config
    page, log, figure = open_view(detail.VIEW, small_trace)
    selector = '[data-elvit-view="detail"]'
    state = lambda: view_state(page, "detail")  # noqa: E731
    assert state()["drawn"] == "model"

    card(figure, 4).click()  # the encoder
    wait_drawn(page, "encoder")
    assert figure.locator(".elvit-dt-card").count() == config.num_layers
    card(figure, 2).click()  # block 2
    wait_drawn(page, "block-2")
    card(figure, 1).click()  # its attention
    wait_drawn(page, "attention-2")
    assert figure.locator(".elvit-trail").inner_text().split("›")[-1].strip() == "Multi-head attention"

    # Softmax, one map per head: open it large and read a value.
    card(figure, 4).click()
    page.wait_for_function("() => JSON.parse(document.querySelector('[data-elvit-view=detail]')"
                           ".dataset.elvitState).focus === 'encoder.layer.2.attention.probs' && "
                           "JSON.parse(document.querySelector('[data-elvit-view=detail]').dataset.elvitState).drawn")
    probs = small_trace["encoder.layer.2.attention.probs"]
    layout = layout_for(probs.shape, config.grid, "maps")
    head, query, key = 1, 5, 17
    ox, oy = layout.origin(head)
    hover_native(page, figure, 4, layout, ox + key, oy + query)
    cell = state()["cell"]
    assert (cell["index"], cell["query"], cell["key"]) == (head, query, key)
    expected_code = heatmap.codes(probs[head])[query, key]
    assert cell["code"] == expected_code
    text = figure.locator(".elvit-dt-readout").inner_text()
    assert f"head {head} · query token {query} (patch {query - 1}:" in text
    assert_value_read_out(text, float(probs[head, query, key]))
    assert canvas_rgb(page, 4, ox + key, oy + query) == palette_rgb("viridis")[expected_code].tolist()
    # The note on head 0: hovering inside it frames the map and explains the row sums.
    hover_native(page, figure, 4, layout, 3, 3)
    assert "every row now sums to 1" in state()["note"]

    # Back up by clicking empty space, level by level.
    click_empty_space(page, selector, ".elvit-dt-stage")
    wait_drawn(page, "attention-2")
    assert state()["focus"] is None
    click_empty_space(page, selector, ".elvit-dt-stage")
    wait_drawn(page, "block-2")
    page.keyboard.press("Escape")
    wait_drawn(page, "encoder")
    click_empty_space(page, selector, ".elvit-dt-stage")
    wait_drawn(page, "model")
    assert_clean(log, tmp_path)


def test_detail_tiles_read_out_channel_token_and_value_of_the_trace(odd_trace, open_view, tmp_path):
    """Fig. 6 layout: the CLS cell above the patch grid, one tile per channel; hover and keys."""
    config = odd_trace.config
    page, log, figure = open_view(detail.VIEW, odd_trace, {"open": "block 1"})
    wait_drawn(page, "block-1")
    values = odd_trace["encoder.layer.1.residual_1"]  # item 2 of a block
    layout = layout_for(values.shape, config.grid)
    card(figure, 2).click()
    wait_drawn(page, "block-1")
    channel, token = 7, 1 + 2 * config.grid + 3  # patch at row 2, column 3
    ox, oy = layout.origin(channel)
    cx, cy = layout.cell(token)
    hover_native(page, figure, 2, layout, ox + cx, oy + cy)
    cell = view_state(page, "detail")["cell"]
    assert (cell["index"], cell["token"]) == (channel, token)
    assert cell["code"] == heatmap.codes(values[:, channel])[token]
    text = figure.locator(".elvit-dt-readout").inner_text()
    assert f"channel {channel} · token {token} (patch {token - 1}: row 2, col 3)" in text
    assert_value_read_out(text, float(values[token, channel]))
    # The CLS cell: top left of the tile.
    hover_native(page, figure, 2, layout, ox, oy)
    assert view_state(page, "detail")["cell"]["token"] == 0
    assert "token 0 (CLS)" in figure.locator(".elvit-dt-readout").inner_text()
    # Keys: right = next token, down = next channel; click pins the readout.
    card(figure, 2).focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    cell = view_state(page, "detail")["cell"]
    assert (cell["index"], cell["token"]) == (channel + 1, 1)
    assert_value_read_out(figure.locator(".elvit-dt-readout").inner_text(), float(values[1, channel + 1]))
    assert_clean(log, tmp_path)


def test_detail_prediction_ends_the_chain_with_the_top_class(odd_trace, open_view, tmp_path):
    page, log, figure = open_view(detail.VIEW, odd_trace)
    probs, labels = odd_trace["probs"], odd_trace.config.id2label
    top = int(np.argmax(probs))
    prediction = figure.locator(".elvit-dt-prediction")
    assert f"Prediction: {labels[top]}" in prediction.inner_text()
    assert prediction.locator(".elvit-dt-top").get_attribute("data-class") == labels[top]
    assert prediction.locator("img").count() == 1
    prediction.locator(".elvit-dt-bar-row").nth(1).hover()
    second = int(np.argsort(-probs, kind="stable")[1])
    readout = figure.locator(".elvit-dt-readout").inner_text()
    assert f"{labels[second]}: probability {probs[second]:.4f}" in readout
    assert_clean(log, tmp_path)


# --- annotations ---------------------------------------------------------------------------------

def test_annotation_hover_frames_its_region_and_reads_values(small_trace, open_view, tmp_path):
    options = {"tensor": "embeddings.with_cls",
               "content": "rows 0..0: the CLS token, added here\nrows 1..last, cols 5..5: channel 5"}
    page, log, figure = open_view(annotations.VIEW, small_trace, options)
    values = small_trace["embeddings.with_cls"]
    rows, cols = values.shape
    box = figure.locator("canvas").bounding_box()

    def point(r, c):  # inside the canvas's 1 px border
        return (box["x"] + 1 + (c + 0.5) * (box["width"] - 2) / cols,
                box["y"] + 1 + (r + 0.5) * (box["height"] - 2) / rows)

    page.mouse.move(*point(0, 40))
    assert view_state(page, "annotations")["region"] == 0
    assert "the CLS token, added here" in figure.locator(".elvit-an-note").inner_text()
    frame = figure.locator(".elvit-an-box")
    assert frame.is_visible()
    framed = frame.bounding_box()
    assert framed["height"] < box["height"] / rows * 2 and framed["width"] > box["width"] * 0.9
    text = figure.locator(".elvit-readout").nth(1).inner_text()
    assert "token 0 (CLS), channel 40" in text
    lo, hi = values.min(), values.max()
    code = heatmap.codes(values)[0, 40]
    assert view_state(page, "annotations")["cell"]["code"] == code
    assert_value_read_out(text, float(values[0, 40]))
    assert abs(lo + code / 255 * (hi - lo) - values[0, 40]) <= (hi - lo) / 510 + 1e-7

    page.mouse.move(*point(50, 5))  # inside the smaller region 2
    assert view_state(page, "annotations")["region"] == 1
    page.mouse.move(*point(50, 50))
    assert view_state(page, "annotations")["region"] is None
    figure.locator(".elvit-an-item").first.focus()  # the list: keyboard readers get the same
    assert view_state(page, "annotations")["region"] == 0 and frame.is_visible()
    assert_clean(log, tmp_path)


def test_the_pages_png_decoder_gives_back_every_palette_index(small_trace, open_view, tmp_path):
    """Rows of noise, gradients and edges make the encoder pick every PNG filter type."""
    import base64

    from elvit_sphinx.views.encoding import encode
    from elvit_sphinx.views.mosaic import png_bytes

    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:40, 0:197]
    images = {"noise": rng.integers(0, 256, (40, 197)), "ramp": (x + 3 * y) % 256,
              "steps": (x // 7 * 31 + y // 5 * 17) % 256, "flat": np.full((3, 197), 200),
              "wave": 127 + 120 * np.sin(x / 9.0 + y / 4.0)}
    page, log, _figure = open_view(detail.VIEW, small_trace)
    for name, codes in images.items():
        codes = np.asarray(codes, dtype=np.uint8)
        picture = {"png": base64.b64encode(png_bytes(codes)).decode(), "lo": encode([0.0], "f32"),
                   "hi": encode([1.0], "f32")}
        decoded = page.evaluate("async (p) => { const s = await elvit.mosaic.decode(p); "
                                "return [s.cols, Array.from(s.codes)]; }", picture)
        assert decoded[0] == codes.shape[1] and decoded[1] == codes.reshape(-1).tolist(), name
    assert_clean(log, tmp_path)


def test_a_missing_level_says_so_inside_the_view(small_trace, open_page, tmp_path):
    """A site copied without its chunk files: opening a level reports it, no console error."""
    from elvit_sphinx.pages.standalone import standalone_html
    from elvit_sphinx.views.base import ViewOutput

    output = detail.build(small_trace, {"open": "model"})
    path = tmp_path / "detail.html"
    path.write_text(standalone_html(detail.VIEW, ViewOutput(output.data, {})), encoding="utf-8")
    page, log = open_page(path, wait_for="() => document.querySelector('[data-elvit-view]')"
                                         ".dataset.elvitReady !== 'rendering'")
    figure = page.locator('[data-elvit-view="detail"]')
    assert figure.get_attribute("data-elvit-ready") == "true"  # the first level is in the page
    figure.locator('.elvit-dt-card[data-item="4"]').click()
    page.wait_for_function("() => document.querySelector('[data-elvit-view=detail] .elvit-dt-readout')"
                           ".textContent.includes('missing')")
    assert "cannot load" in figure.locator(".elvit-dt-readout").inner_text()
    assert log.page_errors == []
