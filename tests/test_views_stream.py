"""The residual-stream and head views: their numbers are the trace's, at every geometry, and a
reader can follow a token and a class in Chromium."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import assert_clean, view_state

from elvit_sphinx.views import head, residual
from elvit_sphinx.views.encoding import decode

# --- residual ------------------------------------------------------------------------------------


def test_residual_norms_follow_the_stream(trace):
    config = trace.config
    data = residual.VIEW.build(trace, {"token": 0, "block": 0}).data
    norms = decode(data["norms"])
    L, T = config.num_layers, config.num_tokens
    assert norms.shape == (2 * L + 1, T)
    np.testing.assert_allclose(norms[0], np.linalg.norm(trace["embeddings.output"], axis=1), rtol=1e-5)
    for i in (0, L - 1):
        np.testing.assert_allclose(norms[2 * i + 1], np.linalg.norm(trace.block(i, "residual_1"), axis=1),
                                   rtol=1e-5)
        np.testing.assert_allclose(norms[2 * i + 2], np.linalg.norm(trace.block(i, "output"), axis=1),
                                   rtol=1e-5)
        np.testing.assert_allclose(decode(data["attention_norms"])[i],
                                   np.linalg.norm(trace.block(i, "attention.output"), axis=1), rtol=1e-5)
        np.testing.assert_allclose(decode(data["mlp_norms"])[i],
                                   np.linalg.norm(trace.block(i, "mlp.fc2"), axis=1), rtol=1e-5)
        x = trace["embeddings.output"] if i == 0 else trace.block(i - 1, "output")
        y = trace.block(i, "output")
        cos = (x * y).sum(1) / np.linalg.norm(x, axis=1) / np.linalg.norm(y, axis=1)
        np.testing.assert_allclose(decode(data["cosines"])[i], cos, rtol=1e-4, atol=1e-6)


def test_residual_validate(odd_trace):
    config = odd_trace.config
    assert residual.validate(config, {"token": 64, "block": 2}) == []
    assert residual.validate(config, {"token": 65, "block": 3}) == [
        "token 65 is out of range: this model has 65 tokens (0–64; 0 is the CLS token)",
        "block 3 is out of range: this model has 3 blocks (0–2)"]


@pytest.mark.browser
def test_reader_follows_a_token_through_the_stream(small_trace, open_view, tmp_path):
    config = small_trace.config
    page, log, figure = open_view(residual.VIEW, small_trace, {"token": 0, "block": 2})
    assert view_state(page, "residual") == {"token": 0, "block": 2}
    path_before = figure.locator("path.elvit-line").get_attribute("d")
    # Click patch (row 1, col 2) on the picker: token 1 + 1·G + 2.
    box = figure.locator("canvas").first.bounding_box()
    g = config.grid
    page.mouse.click(box["x"] + (2.5 / g) * box["width"], box["y"] + (1.5 / g) * box["height"])
    token = 1 + g + 2
    assert view_state(page, "residual") == {"token": token, "block": 2}
    assert figure.locator("path.elvit-line").get_attribute("d") != path_before
    text = figure.locator(".elvit-readout").inner_text()
    out = np.linalg.norm(small_trace.block(2, "output")[token].astype(np.float64))
    assert f"output ‖·‖ = {out:.3f}" in text and f"token {token} (patch {token - 1}), block 2" in text
    # The block slider and the number box.
    figure.locator("input.elvit-slider").fill("5")
    assert view_state(page, "residual")["block"] == 5
    figure.locator("input.elvit-number").fill("0")
    assert view_state(page, "residual") == {"token": 0, "block": 5}
    figure.locator("input.elvit-number").fill(str(config.num_tokens))
    assert "from 0 to 196" in figure.locator(".elvit-message").first.inner_text()
    assert_clean(log, tmp_path)


# --- head ----------------------------------------------------------------------------------------

def test_head_rows_are_the_classifier_and_logits_recompute(trace):
    config = trace.config
    data = head.VIEW.build(trace, {}).data
    classes = data["classes"]
    assert classes[0] == int(np.argmax(trace["logits"])) and len(classes) == min(config.num_labels, 20)
    weights, biases, z = decode(data["weights"]), decode(data["biases"]), decode(data["cls_after"])
    assert np.array_equal(weights, trace["param.classifier.weight"][classes])
    assert np.array_equal(z, trace["layernorm"][0])
    np.testing.assert_allclose(weights.astype(np.float64) @ z + biases, trace["logits"][classes],
                               rtol=1e-4, atol=1e-5)
    assert np.array_equal(decode(data["probs"]), trace["probs"][classes])
    assert data["labels"] == [config.id2label[i] for i in classes]


def test_head_validate(odd_trace):
    assert head.validate(odd_trace.config, {"top": 5}) == []
    assert head.validate(odd_trace.config, {"top": 6}) == [
        "top 6 is out of range: this model has 5 classes (1–5)"]


@pytest.mark.browser
def test_reader_hovers_a_class_and_reads_its_dot_product(odd_trace, open_view, tmp_path):
    config = odd_trace.config
    page, log, figure = open_view(head.VIEW, odd_trace, {})
    order = np.argsort(-odd_trace["logits"], kind="stable")
    assert view_state(page, "head") == {"class": config.id2label[int(order[0])]}
    figure.locator(".elvit-bar-row").nth(3).hover()
    k = int(order[3])
    assert view_state(page, "head") == {"class": config.id2label[k]}
    text = figure.locator(".elvit-readout").inner_text()
    z = odd_trace["layernorm"][0].astype(np.float64)
    dot = float(odd_trace["param.classifier.weight"][k].astype(np.float64) @ z)
    assert f"w · z = {dot:.4f}".replace("-", "−") in text
    assert f"logit {odd_trace['logits'][k]:.4f}".replace("-", "−") in text
    # Keyboard on the weight rows.
    figure.locator(".elvit-picture-frame[tabindex]").first.focus()
    page.keyboard.press("ArrowDown")
    assert view_state(page, "head")["class"] == config.id2label[int(order[1])]
    assert_clean(log, tmp_path)
