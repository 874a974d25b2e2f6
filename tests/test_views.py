"""The patches, conv and prediction views: the numbers they embed are the trace's numbers, at
every geometry (default, ViT-B/16, and one that differs in every dimension)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from elvit_sphinx.views import VIEWS, conv, heatmap, patches, prediction
from elvit_sphinx.views.base import ViewOutput, to_json
from elvit_sphinx.views.encoding import decode, encode
from elvit_sphinx.views.palettes import palette_rgb

# --- helpers -------------------------------------------------------------------------------------


def test_grid_shape_is_near_square_and_exact():
    assert heatmap.grid_shape(192) == (12, 16)
    assert heatmap.grid_shape(768) == (24, 32)
    assert heatmap.grid_shape(196) == (14, 14)
    assert heatmap.grid_shape(7) == (1, 7)
    with pytest.raises(ValueError):
        heatmap.grid_shape(0)


def test_codes_are_min_max_normalised_per_map():
    values = np.array([[-2.0, 0.0], [1.0, 2.0]])
    assert heatmap.codes(values).tolist() == [[0, 128], [191, 255]]
    assert heatmap.codes(values, axis=1).tolist() == [[0, 255], [0, 255]]
    assert heatmap.codes(np.full(5, 3.0)).tolist() == [0] * 5
    rgb = heatmap.to_rgb(values)
    assert rgb.shape == (2, 2, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [0x44, 0x01, 0x54]  # viridis starts dark purple


def test_palettes_have_256_colours_and_blues_darkens():
    for name in ("viridis", "cividis", "blues"):
        assert palette_rgb(name).shape == (256, 3)
    blues = palette_rgb("blues").astype(int)
    assert blues[0].sum() > blues[255].sum()  # the largest value is the darkest blue
    with pytest.raises(ValueError, match="unknown palette"):
        palette_rgb("jet")


def test_encoding_round_trips_exactly():
    values = np.array([[0.1, -1 / 3], [12345.678, 0.0]], dtype=np.float32)
    packed = encode(values, "f32")
    assert packed["shape"] == [2, 2] and json.loads(json.dumps(packed)) == packed
    assert np.array_equal(decode(packed), values)
    assert decode(encode([1, 2, 255], "u8")).tolist() == [1, 2, 255]
    with pytest.raises(ValueError, match="unknown dtype"):
        encode([1], "f64")


def test_int_list_converter():
    assert heatmap.int_list("0, 1,2 5") == [0, 1, 2, 5]
    assert heatmap.int_list("3,3,1") == [3, 1]
    for bad, words in [("a,1", "'a' is not a whole number"), ("-1", "negative"),
                       ("", "expected a list")]:
        with pytest.raises(ValueError, match=words):
            heatmap.int_list(bad)


def test_chunk_names_are_checked():
    with pytest.raises(ValueError, match="chunk names"):
        ViewOutput({}, {"Layer 1": {}})


def test_every_view_has_a_script_and_a_documented_directive():
    from elvit_sphinx.pages.assets import STATIC_DIR

    for name, spec in VIEWS.items():
        assert (STATIC_DIR / spec.script).is_file(), name
        for library in spec.libraries:
            assert (STATIC_DIR / library).is_file(), library
        module = __import__(spec.build.__module__, fromlist=["_"])
        assert f"```{{elvit-{name}}}" in module.__doc__
        assert (":image:" in module.__doc__) == spec.needs_trace, name  # file-drawn views take none


# --- conv ----------------------------------------------------------------------------------------

def test_conv_dot_product_reproduces_the_patch_embedding(trace):
    config = trace.config
    p, g = config.patch_size, config.grid
    pixels, kernels = trace["input.pixels"], trace["param.patch_kernel"]
    bias, out = trace["param.patch_bias"], trace["embeddings.patches"]
    channels = [0, 5, config.hidden_size - 1]
    dots = conv.dot_products(trace, channels)
    for patch in [0, 1, g, g * g - 1, g + 3]:
        r, c = divmod(patch, g)
        window = pixels[:, r * p:(r + 1) * p, c * p:(c + 1) * p]
        for k, channel in enumerate(channels):
            by_hand = (window * kernels[channel]).sum(dtype=np.float64) + bias[channel]
            assert abs(by_hand - out[patch, channel]) < 1e-4
            assert abs(dots[k, patch] + bias[channel] - out[patch, channel]) < 1e-4


def test_conv_embeds_only_the_offered_kernels_with_the_trace_values(trace):
    channels = [3, 1, trace.config.hidden_size - 1]
    data = conv.VIEW.build(trace, {"kernels": channels, "kernel": 1}).data
    out = trace["embeddings.patches"]
    assert data["kernels"] == channels and data["start_kernel"] == 1
    values, dots, biases = decode(data["values"]), decode(data["dots"]), decode(data["biases"])
    pictures, codes = decode(data["kernel_pictures"]), decode(data["codes"])
    p = trace.config.patch_size
    assert pictures.shape == (3, p, p, 3) and values.shape == (3, trace.config.num_patches)
    for k, channel in enumerate(channels):
        assert np.array_equal(values[k], out[:, channel])
        np.testing.assert_allclose(dots[k] + biases[k], out[:, channel], atol=1e-4)
        assert biases[k] == trace["param.patch_bias"][channel]
        assert np.array_equal(pictures[k], heatmap.minmax_rgb(trace["param.patch_kernel"][channel]))
        assert np.array_equal(codes[k], heatmap.codes(out[:, channel]))
    assert np.array_equal(decode(data["image"]), trace["input.image"])


def test_conv_kernel_picture_is_min_max_normalised_rgb(small_trace):
    weights = small_trace["param.patch_kernel"][4]
    picture = heatmap.minmax_rgb(weights)
    p = small_trace.config.patch_size
    assert picture.shape == (p, p, 3) and picture.dtype == np.uint8
    assert picture.min() == 0 and picture.max() == 255  # one range for all three colours
    largest = np.unravel_index(weights.argmax(), weights.shape)  # (colour, row, col)
    assert picture[largest[1], largest[2], largest[0]] == 255


def test_conv_defaults_offer_the_first_eight_kernels(small_trace, odd_trace):
    assert conv.offered(small_trace.config, conv.VIEW.defaults) == list(range(8))
    assert conv.first_kernel(small_trace.config, conv.VIEW.defaults) == 0
    assert conv.VIEW.option_spec["kernels"]("0,1,2") == [0, 1, 2]


def test_conv_validate_messages(small_trace):
    config = small_trace.config
    assert conv.validate(config, {"kernels": None, "kernel": None}) == []
    assert conv.validate(config, {"kernels": [0, 900], "kernel": 0}) == [
        "kernel 900 is out of range: this model has 192 channels (0–191)"]
    assert conv.validate(config, {"kernels": [0, 1], "kernel": 5}) == [
        "kernel 5 is not among the offered kernels (0, 1); add it to the kernels option"]
    assert conv.validate(config, {"kernels": None, "kernel": 900}) == [
        "kernel 900 is out of range: this model has 192 channels (0–191)"]
    many = conv.validate(config, {"kernels": list(range(40)), "kernel": None})
    assert many == ["kernels offers 40 channels; at most 32 can be offered, because each adds "
                    "its weights and outputs to the page"]


# --- patches -------------------------------------------------------------------------------------

def test_patches_embeds_every_patch_embedding(trace):
    config = trace.config
    rows, cols = heatmap.grid_shape(config.hidden_size)
    start = config.num_patches - 2
    data = patches.VIEW.build(trace, {"patch": start}).data
    vectors = trace["embeddings.patches"]
    codes, stats = decode(data["codes"]), decode(data["stats"])
    assert codes.shape == (config.num_patches, config.hidden_size)
    for i in [0, 1, start, config.num_patches - 1]:
        vector = vectors[i]
        assert np.array_equal(codes[i], heatmap.codes(vector))
        # Codes are the vector itself, up to half a colour step of its own range.
        lo, hi = vector.min(), vector.max()
        assert np.abs(lo + codes[i] / 255 * (hi - lo) - vector).max() <= (hi - lo) / 510 + 1e-6
        assert stats[i, 0] == lo and stats[i, 1] == hi
        assert stats[i, 2] == np.float32(vector.mean(dtype=np.float64))
    assert (data["size"], data["patch"], data["grid"], data["hidden"], data["rows"], data["cols"]) == (
        config.image_size, config.patch_size, config.grid, config.hidden_size, rows, cols)
    assert data["start"] == start
    assert np.array_equal(decode(data["image"]), trace["input.image"])
    assert np.array_equal(decode(data["palette"]), palette_rgb("viridis"))


def test_patches_validate_and_alt(small_trace, odd_trace):
    config = small_trace.config
    assert patches.validate(config, {"patch": 195}) == []
    assert patches.validate(config, {"patch": 300}) == [
        "patch 300 is out of range (0–195): this model cuts the image into a 14×14 grid"]
    assert patches.validate(odd_trace.config, {"patch": 64}) == [
        "patch 64 is out of range (0–63): this model cuts the image into a 8×8 grid"]
    text = patches.alt(config, {"patch": 3})
    assert text.endswith(".") and text.count(". ") == 0 and "12×16 heatmap" in text


def test_alt_texts_are_one_sentence(small_trace):
    text = conv.alt(small_trace.config, {"kernels": [4, 5], "kernel": None})
    assert text.endswith(".") and text.count(". ") == 0 and "channel 4" in text


# --- prediction ----------------------------------------------------------------------------------

def test_prediction_bars_are_the_trace_probabilities(trace):
    data = prediction.VIEW.build(trace, {"order": "probability"}).data
    probs = trace["probs"]
    order = data["classes"]
    assert sorted(order) == list(range(trace.config.num_labels))
    assert np.array_equal(decode(data["probs"]), probs[order])
    assert np.array_equal(decode(data["logits"]), trace["logits"][order])
    assert list(decode(data["probs"])) == sorted(probs, reverse=True)
    assert data["labels"][0] == trace.config.id2label[int(np.argmax(probs))] == data["top_label"]
    top3 = prediction.VIEW.build(trace, {"order": "model", "top": 3}).data
    assert top3["classes"] == [0, 1, 2]


# --- all views -----------------------------------------------------------------------------------

@pytest.mark.parametrize("view, options", [(patches.VIEW, {"patch": 0}),
                                           (conv.VIEW, {"kernels": None, "kernel": None}),
                                           (prediction.VIEW, {"order": "probability"})])
def test_views_are_deterministic_and_small(trace, view, options, capsys):
    first = to_json(view.build(trace, options).data)
    assert to_json(view.build(trace, options).data) == first
    size = len(first.encode())
    with capsys.disabled():
        print(f"\n{view.name} view data, D={trace.config.hidden_size}: {size / 1024:.0f} KiB")
    assert size < 700_000


@pytest.mark.parametrize("name", ["patches", "conv", "prediction", "residual", "head"])
def test_static_picture_is_drawn_from_the_view_data(small_trace, name):
    """The PNG for readers without JavaScript, the download link and the PDF."""
    view = VIEWS[name]
    picture = view.static(view.build(small_trace, dict(view.defaults)))
    pixels = np.asarray(picture.convert("RGB"), dtype=np.float64)
    assert picture.width >= 600 and picture.height >= 250
    assert pixels.std() > 20  # a drawing, not an empty canvas
    assert view.static(view.build(small_trace, dict(view.defaults))).tobytes() == picture.tobytes()


def test_patches_static_picture_shows_the_image(small_trace):
    """The framed input image sits in the picture, at its size scaled to the panel."""
    output = patches.VIEW.build(small_trace, {"patch": 0})
    picture = np.asarray(patches.VIEW.static(output).convert("RGB"), dtype=np.float64)
    image = small_trace["input.image"].astype(np.float64)
    centre = image[96:128, 96:128].mean(axis=(0, 1))  # the image's middle colour
    assert np.abs(picture.reshape(-1, 3) - centre).sum(axis=1).min() < 12
