"""A reader in Chromium works through the training-step figure: hovers and walks the gradient
norms, switches to the parameters, chooses weights of the patch kernel by number, click and keys,
and reads the recorded numbers."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import READY, assert_clean, view_state

from elvit_sphinx.pages.standalone import standalone_html
from elvit_sphinx.tracing.trace_data import Trace
from elvit_sphinx.views import backprop

LR = 0.05


def sci(value: float) -> str:
    """The figure's gradient format: Python's .4e with a real minus sign."""
    return f"{value:.4e}".replace("-", "\u2212")


def fixed(value: float, digits: int) -> str:
    return f"{value:.{digits}f}".replace("-", "\u2212")


@pytest.fixture(scope="module")
def small_step(small_trace):
    from elvit_sphinx.compute import load_model
    from elvit_sphinx.compute.backprop import training_step

    record = training_step(load_model("embedded"), small_trace["input.pixels"], 2, LR)
    return Trace(record, small_trace.config)


@pytest.mark.browser
def test_reader_follows_the_gradient_and_moves_a_weight(small_trace, small_step, open_page, tmp_path):
    config = small_trace.config
    output = backprop.build(small_trace, {"lr": LR, "label": "bird"}, step=small_step)
    path = tmp_path / "backprop.html"
    path.write_text(standalone_html(backprop.VIEW, output), encoding="utf-8")
    page, log = open_page(path, wait_for=READY)
    figure = page.locator('[data-elvit-view="backprop"]')
    start = [int(v) for v in small_step["step.weight"]]
    assert view_state(page, "backprop") == {"series": "activations", "point": 0, "weight": start}
    text = figure.inner_text()
    assert "bird" in text and fixed(float(small_step["step.loss"]), 4) in text
    assert fixed(float(small_step["step.loss_after"]), 4) in text

    # The finite-difference table: one row per checked weight, the recorded numbers.
    rows = figure.locator("table.elvit-backprop-checks tbody tr")
    assert rows.count() == 4
    for k in range(4):
        row = rows.nth(k).inner_text()
        assert sci(float(small_step["step.check_autograd"][k])) in row
        assert sci(float(small_step["step.check_numeric"][k])) in row

    # Hover the gradient-norm plot over tensor k: its name, shape and norm are written out.
    names = list(small_step["step.activation_names"])
    n, k = len(names), names.index("encoder.layer.5.mlp.fc1")
    svg = figure.locator("svg.elvit-chart").nth(1)
    box = svg.bounding_box()
    scale = box["width"] / 640
    x = box["x"] + (52 + (k + 0.5) / n * (640 - 68)) * scale
    page.mouse.move(x, box["y"] + box["height"] / 2)
    assert view_state(page, "backprop")["point"] == k
    readout = figure.locator(".elvit-readout.elvit-mono").first.inner_text()
    assert "encoder.layer.5.mlp.fc1" in readout
    assert f"{config.num_tokens}×{config.intermediate_size}" in readout
    assert sci(float(small_step["step.activation_grad_norms"][k])) in readout
    marker = figure.locator("circle.elvit-marker")
    before = marker.get_attribute("cx")
    # Keys walk the plot: End is the patch embeddings, the last tensor the gradient reaches.
    svg.focus()
    page.keyboard.press("End")
    assert view_state(page, "backprop")["point"] == n - 1
    assert "embeddings.patches" in figure.locator(".elvit-readout.elvit-mono").first.inner_text()
    page.keyboard.press("ArrowLeft")
    assert view_state(page, "backprop")["point"] == n - 2
    assert marker.get_attribute("cx") != before

    # The parameters instead: the classifier's bias is the first tensor the gradient reaches.
    figure.locator("select").nth(1).select_option("params")
    assert view_state(page, "backprop") == {"series": "params", "point": 0, "weight": start}
    assert "classifier.bias" in figure.locator(".elvit-readout.elvit-mono").first.inner_text()

    # One weight of the patch kernel: type its output channel, click an entry of its map.
    C, P = config.num_channels, config.patch_size
    channel = figure.locator("input.elvit-number")
    channel.fill("17")
    assert view_state(page, "backprop")["weight"] == [17, *start[1:]]
    canvas = figure.locator(".elvit-picture canvas").first
    cbox = canvas.bounding_box()
    colour, row, col = 2, 5, 9
    page.mouse.click(cbox["x"] + (colour * P + col + 0.5) / (C * P) * cbox["width"],
                     cbox["y"] + (row + 0.5) / P * cbox["height"])
    assert view_state(page, "backprop")["weight"] == [17, colour, row, col]
    w = small_trace["param.patch_kernel"][17, colour, row, col]
    g = small_step["step.patch_kernel_grad"][17, colour, row, col]
    after = np.float32(w - np.float32(np.float32(LR) * g))
    readout = figure.locator(".elvit-readout.elvit-mono").nth(1).inner_text()
    assert f"w[17, {colour}, {row}, {col}] = {fixed(w, 6)}" in readout
    assert sci(g) in readout and fixed(after, 6) in readout
    # Keys move over the map from the keyboard cursor (the clicked weight) and choose at once.
    canvas_frame = figure.locator(".elvit-picture-frame").first
    canvas_frame.focus()
    page.keyboard.press("ArrowUp")
    assert view_state(page, "backprop")["weight"] == [17, colour, row - 1, col]
    # A channel in another chunk of the kernel loads it and keeps the entry.
    channel.fill(str(config.hidden_size - 1))
    page.wait_for_function("() => JSON.parse(document.querySelector('[data-elvit-view=\"backprop\"]')"
                           f".dataset.elvitState).weight[0] === {config.hidden_size - 1}")
    last = small_trace["param.patch_kernel"][config.hidden_size - 1, colour, row - 1, col]
    page.wait_for_function(f"() => document.querySelectorAll('.elvit-readout.elvit-mono')[1].textContent"
                           f".includes('= {fixed(last, 6)}')")
    channel.fill(str(config.hidden_size))
    assert "is not a number from" in figure.locator(".elvit-message").first.inner_text()
    assert view_state(page, "backprop")["weight"][0] == config.hidden_size - 1

    # The probabilities after one SGD step on every weight.
    label_row = figure.locator("svg.elvit-chart").first
    before_bars = label_row.text_content()
    figure.locator("select").first.select_option("after")
    assert view_state(page, "backprop")["probs"] == "after"
    assert label_row.text_content() != before_bars
    assert_clean(log, tmp_path)
