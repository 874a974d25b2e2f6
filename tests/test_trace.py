"""The traced forward pass: every intermediate equals the plain-NumPy re-derivation."""

from __future__ import annotations

import numpy as np
import pytest

from elvit_sphinx.compute import load_model, reference, trace_image
from elvit_sphinx.compute.model import numpy_weights
from elvit_sphinx.compute.trace import expected_names
from elvit_sphinx.tracing.trace_data import Trace


def assert_matches_reference(loaded, trace):
    expected = reference.forward(numpy_weights(loaded), trace["input.pixels"],
                                 trace.config.num_heads, trace.config.layer_norm_eps)
    assert len(expected) == len([n for n in trace.names() if not n.startswith(("input.", "param."))])
    for name, value in expected.items():
        np.testing.assert_allclose(trace[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_default_model_trace_matches_numpy_reference(small_trace):
    loaded = load_model("embedded")
    assert_matches_reference(loaded, small_trace)


def test_trace_names_and_shapes_follow_the_config(small_trace):
    cfg = small_trace.config
    assert small_trace.names() == expected_names(cfg.num_layers)
    n, t, d, h = cfg.num_patches, cfg.num_tokens, cfg.hidden_size, cfg.num_heads
    assert (n, t, d, h) == (196, 197, 192, 3)
    assert small_trace["embeddings.patches"].shape == (n, d)
    assert small_trace["embeddings.with_cls"].shape == (t, d)
    assert small_trace["encoder.layer.0.attention.query"].shape == (h, t, d // h)
    assert small_trace["encoder.layer.11.attention.scores"].shape == (h, t, t)
    assert small_trace["encoder.layer.5.mlp.gelu"].shape == (t, cfg.intermediate_size)
    assert small_trace["param.layer.2.layernorm_after.weight"].shape == (d,)
    assert small_trace["param.classifier.weight"].shape == (cfg.num_labels, d)
    assert small_trace["input.image"].shape == (224, 224, 3)
    assert small_trace["input.image"].dtype == np.uint8
    np.testing.assert_allclose(small_trace["probs"].sum(), 1.0, rtol=1e-6)
    np.testing.assert_allclose(small_trace["encoder.layer.3.attention.probs"].sum(-1), 1.0, rtol=1e-5)
    assert not cfg.trained and "untrained" in cfg.model_label


def test_logits_equal_the_models_own_output(small_trace, sample_image):
    import torch

    from elvit_sphinx.compute.trace import preprocess

    plain = load_model("embedded", attn_implementation="sdpa")
    pixels, _ = preprocess(plain, sample_image)
    with torch.inference_mode():
        logits = plain.model(pixel_values=pixels).logits[0].numpy()
    np.testing.assert_allclose(small_trace["logits"], logits, rtol=1e-5, atol=1e-6)


def test_saved_trace_round_trips(small_trace, tmp_path):
    path = tmp_path / "t.npz"
    small_trace.save(path)
    loaded = Trace.load(path)
    assert loaded.config == small_trace.config
    np.testing.assert_array_equal(loaded["encoder.layer.2.output"], small_trace["encoder.layer.2.output"])


def test_corrupt_trace_file_is_reported(tmp_path):
    path = tmp_path / "bad.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="corrupt trace file"):
        Trace.load(path)


@pytest.mark.slow
def test_vit_b16_geometry_from_a_saved_folder_matches_reference(tmp_path, sample_image):
    """A ViT-B/16-geometry model (random weights) saved with save_pretrained, like a hub one."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    from elvit_sphinx.compute.model import embedded_processor

    torch.manual_seed(1)
    config = ViTConfig(num_labels=10, architectures=["ViTForImageClassification"])
    ViTForImageClassification(config).save_pretrained(tmp_path / "vit-b16")
    embedded_processor().save_pretrained(tmp_path / "vit-b16")
    loaded = load_model(str(tmp_path / "vit-b16"))
    trace = trace_image(loaded, sample_image)
    cfg = trace.config
    assert (cfg.hidden_size, cfg.num_heads, cfg.num_layers, cfg.num_tokens) == (768, 12, 12, 197)
    assert trace["encoder.layer.0.attention.key"].shape == (12, 197, 64)
    assert cfg.trained and cfg.model_label.startswith("checkpoint folder")
    assert_matches_reference(loaded, trace)


def test_recorded_parameters_reproduce_layernorm_and_head(small_trace):
    """γ, β and the classifier in the trace are the ones the forward pass used."""
    cfg = small_trace.config
    x = small_trace["encoder.layer.3.residual_1"].astype(np.float64)
    expected = reference.layer_norm(x, small_trace["param.layer.3.layernorm_after.weight"],
                                    small_trace["param.layer.3.layernorm_after.bias"], cfg.layer_norm_eps)
    np.testing.assert_allclose(small_trace["encoder.layer.3.layernorm_after"], expected, rtol=1e-4, atol=1e-5)
    final = small_trace["layernorm"].astype(np.float64)
    logits = final[0] @ small_trace["param.classifier.weight"].T + small_trace["param.classifier.bias"]
    np.testing.assert_allclose(small_trace["logits"], logits, rtol=1e-4, atol=1e-5)
