"""The patches and conv views: the numbers they embed are the trace's numbers, at any geometry."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bokeh.palettes import Viridis256

from elvit_sphinx.views import conv, heatmap, patches
from elvit_sphinx.views.base import embed_json

# The ViT-B/16-geometry trace costs a model build (~3 s) and a forward pass, once per session.
TRACES = ["small_trace", pytest.param("vitb_trace", marks=pytest.mark.slow)]


@pytest.fixture(scope="session")
def vitb_trace(sample_image):
    """ViT-B/16 geometry (D = 768, 12 heads), random weights (seed 0), traced once."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification
    from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

    from elvit_sphinx.compute import trace_image
    from elvit_sphinx.compute.attention_recorder import ATTENTION_IMPLEMENTATION
    from elvit_sphinx.compute.model import LoadedModel
    from elvit_sphinx.model_source import ModelSource

    config = ViTConfig()
    config._attn_implementation = ATTENTION_IMPLEMENTATION
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        model = ViTForImageClassification(config).eval()
    finally:
        torch.random.set_rng_state(state)
    source = ModelSource(spec="test-vit-b16", kind="untrained", path=None,
                         label="ViT-B/16 geometry, untrained (test)", trained=False,
                         fingerprint="0" * 64)
    processor = ViTImageProcessorPil(size={"height": 224, "width": 224})
    return trace_image(LoadedModel(model, processor, source), sample_image)


@pytest.fixture(params=TRACES)
def trace(request):
    return request.getfixturevalue(request.param)


def callback_args(layout, widget_name: str, event: str = "button_click") -> dict:
    widget = layout.select_one({"name": widget_name})
    return widget.js_event_callbacks[event][0].args


# --- heatmap helpers ---------------------------------------------------------------------------

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
    assert heatmap.codes(np.full(5, 3.0)).tolist() == [0] * 5
    rgba = heatmap.to_rgba(values)
    assert rgba.shape == (2, 2) and rgba.dtype == np.uint32
    first = rgba[0, 0].tobytes()
    assert "#" + first[:3].hex() == Viridis256[0].lower() and first[3] == 255


def test_int_list_converter():
    assert heatmap.int_list("0, 1,2 5") == [0, 1, 2, 5]
    assert heatmap.int_list("3,3,1") == [3, 1]
    for bad, words in [("a,1", "'a' is not a whole number"), ("-1", "negative"),
                       ("", "expected a list")]:
        with pytest.raises(ValueError, match=words):
            heatmap.int_list(bad)


def test_f32_is_short_and_float32_exact():
    values = np.array([0.1, -1 / 3, 12345.678], dtype=np.float32)
    rounded = heatmap.f32(values)
    assert np.array_equal(np.asarray(rounded, dtype=np.float32), values)
    assert json.dumps(rounded) == "[0.1, -0.33333334, 12345.678]"


# --- conv ----------------------------------------------------------------------------------------

def test_conv_dot_product_reproduces_the_patch_embedding(trace):
    config = trace.config
    p, g = config.patch_size, config.grid
    pixels, kernels = trace["input.pixels"], trace["param.patch_kernel"]
    bias, out = trace["param.patch_bias"], trace["embeddings.patches"]
    channels = [0, 5, config.hidden_size - 1]
    dots = conv.dot_products(trace, channels)
    for patch in [0, 1, g, g * g - 1, 37]:
        r, c = divmod(patch, g)
        window = pixels[:, r * p:(r + 1) * p, c * p:(c + 1) * p]
        for k, channel in enumerate(channels):
            by_hand = (window * kernels[channel]).sum(dtype=np.float64) + bias[channel]
            assert abs(by_hand - out[patch, channel]) < 1e-4
            assert abs(dots[k, patch] + bias[channel] - out[patch, channel]) < 1e-4


def test_conv_embeds_only_the_offered_kernels_with_the_trace_values(trace):
    channels = [3, 1, trace.config.hidden_size - 1]
    layout = conv.VIEW.build(trace, {"kernels": channels, "kernel": 1})
    args = callback_args(layout, "elvit-conv-play")
    out = trace["embeddings.patches"]
    assert args["kernels"] == channels
    assert len(args["values"]) == len(args["dots"]) == len(args["kernel_images"]) == 3
    for k, channel in enumerate(channels):
        assert np.array_equal(np.asarray(args["values"][k], np.float32), out[:, channel])
        assert np.allclose(np.asarray(args["dots"][k]) + args["biases"][k], out[:, channel],
                           atol=1e-4)
        picture = heatmap.minmax_rgb(trace["param.patch_kernel"][channel])
        assert np.array_equal(args["kernel_images"][k],
                              heatmap.bokeh_rows(heatmap.pack_rgba(picture)))
        assert args["colors"][k] == [Viridis256[i] for i in heatmap.codes(out[:, channel])]
    readout = layout.select_one({"name": "elvit-conv-readout"})
    assert readout.tags == [0, 1, False]
    assert conv._fmt(heatmap.f32(out[0, 1])) in readout.text
    # The initial map shows the first patch done and the initially chosen kernel's colours.
    source = args["out"]
    assert source.data["alpha"][:2] == [1, 0] and source.data["color"] == args["colors"][1]


def test_conv_kernel_picture_is_min_max_normalised_rgb(small_trace):
    weights = small_trace["param.patch_kernel"][4]
    picture = heatmap.minmax_rgb(weights)
    p = small_trace.config.patch_size
    assert picture.shape == (p, p, 3) and picture.dtype == np.uint8
    assert picture.min() == 0 and picture.max() == 255  # one range for all three colours
    largest = np.unravel_index(weights.argmax(), weights.shape)  # (colour, row, col)
    assert picture[largest[1], largest[2], largest[0]] == 255


def test_conv_defaults_offer_the_first_eight_kernels(small_trace):
    config = small_trace.config
    assert conv.offered(config, conv.VIEW.defaults) == list(range(8))
    assert conv.first_kernel(config, conv.VIEW.defaults) == 0
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
    layout = patches.VIEW.build(trace, {"patch": start})
    args = callback_args(layout, "elvit-patches-image", "mousemove")
    vectors = trace["embeddings.patches"]
    codes = np.asarray(args["codes"]).reshape(config.num_patches, config.hidden_size)
    for i in [0, 1, start, config.num_patches - 1]:
        vector = vectors[i]
        assert np.array_equal(codes[i], heatmap.codes(vector))
        # Codes are the vector itself, up to half a colour step of its own range.
        lo, hi = vector.min(), vector.max()
        assert np.abs(lo + codes[i] / 255 * (hi - lo) - vector).max() <= (hi - lo) / 510 + 1e-6
        text = args["texts"][i]
        r, c = divmod(i, config.grid)
        assert f"patch {i}</b> · row {r}, col {c}" in text
        for number in (lo, hi, vector.mean(dtype=np.float64)):
            assert f"{number:.3f}".replace("-", "−") in text
    assert args["geom"] == dict(H=config.image_size, W=config.image_size, P=config.patch_size,
                                G=config.grid, D=config.hidden_size, rows=rows, cols=cols)
    # What is drawn before any interaction: patch `start`, its pixels and its heatmap.
    shown = args["embedding"].data["image"][0]
    assert shown.shape == (rows, cols)
    expected = heatmap.to_rgba(vectors[start]).reshape(rows, cols)
    assert np.array_equal(shown, heatmap.bokeh_rows(expected))
    p, (r, c) = config.patch_size, divmod(start, config.grid)
    window = trace["input.image"][r * p:(r + 1) * p, c * p:(c + 1) * p]
    assert np.array_equal(args["pixels"].data["image"][0],
                          heatmap.bokeh_rows(heatmap.pack_rgba(window)))
    assert layout.select_one({"name": "elvit-patches-readout"}).tags == [start, False]


def test_patches_validate_and_alt(small_trace):
    config = small_trace.config
    assert patches.validate(config, {"patch": 195}) == []
    assert patches.validate(config, {"patch": 300}) == [
        "patch 300 is out of range (0–195): this model cuts the image into a 14×14 grid"]
    text = patches.alt(config, {"patch": 3})
    assert text.endswith(".") and text.count(". ") == 0 and "12×16 heatmap" in text


def test_alt_texts_are_one_sentence(small_trace):
    text = conv.alt(small_trace.config, {"kernels": [4, 5], "kernel": None})
    assert text.endswith(".") and text.count(". ") == 0 and "channel 4" in text


# --- both ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("view, options", [(patches.VIEW, {"patch": 0}),
                                           (conv.VIEW, {"kernels": None, "kernel": None})])
def test_views_are_deterministic_and_small(trace, view, options, capsys):
    first = embed_json(view.build(trace, options))
    assert embed_json(view.build(trace, options)) == first
    size = len(first.encode())
    with capsys.disabled():
        print(f"\n{view.name} view JSON, D={trace.config.hidden_size}: {size / 1024:.0f} KiB")
    assert size < 600_000


def test_docstrings_document_options_with_a_myst_example():
    for module, directive, option in [(patches, "elvit-patches", "``patch``"),
                                      (conv, "elvit-conv", "``kernels``")]:
        doc = module.__doc__
        assert f"```{{{directive}}}" in doc and option in doc and ":image:" in doc
        assert module.VIEW.name == directive.removeprefix("elvit-")
