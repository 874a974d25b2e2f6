"""One training step (compute/backprop.py, steps.py, views/backprop.py): autograd agrees with
finite differences, the loss is the cross-entropy of the traced logits, the SGD update is
w − lr·∂L/∂w, the record is cached, and the view's numbers are the record's at two geometries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from elvit_sphinx.tracing.steps import (
    label_from_name,
    lr_option,
    parse_label,
    resolve_label,
    weight_option,
    weight_problem,
)
from elvit_sphinx.tracing.trace_data import Trace
from elvit_sphinx.views import backprop
from elvit_sphinx.views.encoding import decode

LR = 0.01
HORSE = Path(__file__).parent.parent / "book" / "images" / "cifar10-test-horse-0006.jpg"


def step_of(loaded, trace, label, lr=LR, weight=None) -> Trace:
    from elvit_sphinx.compute.backprop import training_step

    return Trace(training_step(loaded, trace["input.pixels"], label, lr, weight), trace.config)


@pytest.fixture(scope="module")
def embedded():
    from elvit_sphinx.compute import load_model

    return load_model("embedded")


@pytest.fixture(scope="module")
def small_step(embedded, small_trace):
    return step_of(embedded, small_trace, 3)


@pytest.fixture(scope="module")
def odd_model(tmp_path_factory):
    from elvit_sphinx.compute import load_model
    from elvit_sphinx.compute.checkpoints import save_random_checkpoint

    return load_model(str(save_random_checkpoint("odd", tmp_path_factory.mktemp("odd"))))


@pytest.fixture(scope="module")
def odd_pair(odd_model, sample_image):
    from elvit_sphinx.compute import trace_image

    trace = trace_image(odd_model, sample_image)
    return trace, step_of(odd_model, trace, 4, lr=0.1, weight=(47, 2, 11, 0))


# --- the gradient ---------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["small", "odd"])
def test_autograd_agrees_with_finite_differences(which, small_step, odd_pair):
    step = small_step if which == "small" else odd_pair[1]
    numeric = step["step.check_numeric"]
    assert len(numeric) == 4 and np.all(np.abs(numeric) > 0)
    # Both in float64: only the central difference's error (~ε²) and rounding (~1e-16/ε) remain.
    np.testing.assert_allclose(step["step.check_autograd64"], numeric, rtol=1e-6)
    # The step itself runs in float32, the model's own precision.
    np.testing.assert_allclose(step["step.check_autograd"], numeric, rtol=2e-3, atol=1e-7)
    names = list(step["step.check_names"])
    assert names[0] == "classifier.weight" and names[-1].endswith("patch_embeddings.projection.weight")
    # The checked patch-kernel weight is the one whose update is recorded.
    assert list(step["step.check_index"][-1]) == list(step["step.weight"])
    assert step["step.check_autograd"][-1] == pytest.approx(float(step["step.weight_grad"]))


def test_loss_is_the_cross_entropy_of_the_traced_logits(small_trace, small_step):
    logits = small_trace["logits"].astype(np.float64)
    label = int(small_step["step.label"])
    log_probs = logits - logits.max() - np.log(np.exp(logits - logits.max()).sum())
    assert float(small_step["step.loss"]) == pytest.approx(-log_probs[label], rel=1e-5)
    np.testing.assert_allclose(small_step["step.logits"], small_trace["logits"], atol=1e-5)
    # ∂L/∂logits of a softmax cross-entropy is p − one-hot.
    expected = np.exp(log_probs)
    expected[label] -= 1
    np.testing.assert_allclose(small_step["step.logits_grad"], expected, atol=1e-6)
    names = list(small_step["step.activation_names"])
    assert small_step["step.activation_grad_norms"][names.index("logits")] == pytest.approx(
        np.linalg.norm(expected), rel=1e-5)


def test_sgd_update_of_the_chosen_weight(small_trace, small_step):
    index = tuple(int(v) for v in small_step["step.weight"])
    grad = small_step["step.patch_kernel_grad"]
    # By default the weight with the largest |∂L/∂w| is followed.
    assert index == np.unravel_index(np.abs(grad).argmax(), grad.shape)
    w = small_trace["param.patch_kernel"][index]
    assert float(small_step["step.weight_value"]) == w
    assert float(small_step["step.weight_grad"]) == grad[index]
    expected = np.float32(w) - np.float32(LR) * np.float32(grad[index])
    assert float(small_step["step.weight_after"]) == pytest.approx(float(expected), rel=1e-6, abs=1e-9)


def test_kernel_gradient_is_the_chain_rule_through_the_patch_embedding(small_trace, small_step):
    """∂L/∂W = Σ over patches of ∂L/∂(embedding of the patch) ⊗ (the patch's pixels)."""
    from elvit_sphinx.compute.reference import image_to_patches

    config = small_trace.config
    patches = image_to_patches(small_trace["input.pixels"].astype(np.float64), config.patch_size)
    delta = small_step["step.patches_grad"].astype(np.float64)  # N×D
    assert delta.shape == (config.num_patches, config.hidden_size)
    expected = (delta.T @ patches).reshape(small_step["step.patch_kernel_grad"].shape)
    np.testing.assert_allclose(small_step["step.patch_kernel_grad"], expected, rtol=1e-4,
                               atol=1e-4 * np.abs(expected).max())
    names = list(small_step["step.param_names"])
    bias = small_step["step.param_grad_norms"][names.index("vit.embeddings.patch_embeddings.projection.bias")]
    assert bias == pytest.approx(np.linalg.norm(delta.sum(axis=0)), rel=1e-5)


def test_gradient_norms_obey_the_residual_additions(small_trace, small_step):
    config = small_trace.config
    names = list(small_step["step.activation_names"])
    norms = dict(zip(names, small_step["step.activation_grad_norms"], strict=True))
    assert len(names) == 4 + 9 * config.num_layers
    assert names[0] == "logits" and names[-1] == "embeddings.patches"
    for i in range(config.num_layers):
        block = f"encoder.layer.{i}."
        # An addition hands its gradient unchanged to both of its terms.
        assert norms[block + "mlp.fc2"] == pytest.approx(norms[block + "output"], rel=1e-6)
        assert norms[block + "attention.output"] == pytest.approx(norms[block + "residual_1"], rel=1e-6)
    shapes = dict(zip(names, small_step["step.activation_shapes"], strict=True))
    assert shapes["encoder.layer.0.mlp.fc1"] == f"{config.num_tokens}×{config.intermediate_size}"
    params = list(small_step["step.param_names"])
    grads = dict(zip(params, small_step["step.param_grad_norms"], strict=True))
    assert params[0] == "classifier.bias" and params[-1].endswith("projection.weight")
    # Adding one vector to every key moves a query's scores by one constant, which the softmax
    # ignores: the key bias gets no gradient (rounding aside).
    assert grads["vit.layers.0.attention.k_proj.bias"] < 1e-5 * grads["vit.layers.0.attention.k_proj.weight"]
    assert grads["classifier.weight"] > 0


def test_loss_after_the_step_is_recomputed_independently(embedded, small_trace, small_step):
    import copy

    import torch

    model = copy.deepcopy(embedded.model)
    x = torch.from_numpy(small_trace["input.pixels"])[None]
    target = torch.tensor([int(small_step["step.label"])])
    loss = torch.nn.functional.cross_entropy(model(pixel_values=x).logits, target)
    loss.backward()
    torch.optim.SGD(model.parameters(), lr=LR).step()
    with torch.no_grad():
        after = torch.nn.functional.cross_entropy(model(pixel_values=x).logits, target).item()
    assert float(small_step["step.loss_after"]) == pytest.approx(after, rel=1e-5)
    # and the untouched model still gives the traced logits
    np.testing.assert_allclose(embedded.model(pixel_values=x).logits[0].detach().numpy(),
                               small_trace["logits"], atol=1e-5)


# --- labels and options -------------------------------------------------------------------------

def test_label_from_the_image_name_or_the_prediction(small_trace, horse_trace):
    assert label_from_name(horse_trace.config) == 7
    assert resolve_label(horse_trace) == (7, "image name")
    assert resolve_label(horse_trace, "Cat") == (3, "option")
    assert resolve_label(horse_trace, "9") == (9, "option")
    # disc.png names no class: the model's own prediction is the label.
    assert resolve_label(small_trace) == (int(np.argmax(small_trace["logits"])), "prediction")
    two = type(horse_trace.config)(**{**horse_trace.config.__dict__, "image_name": "cat-and-dog.png"})
    assert label_from_name(two) is None


def test_option_messages(odd_pair):
    config = odd_pair[0].config  # 5 classes, D = 48, 12×12 patches
    assert backprop.validate(config, {"label": "star", "weight": (47, 2, 11, 11)}) == []
    assert parse_label(config, 4) == 4
    assert backprop.validate(config, {"label": "zebra"}) == [
        "label 'zebra' is not a class of this model: give a class name (circle, square, triangle, "
        "star, ring) or a class number from 0 to 4"]
    assert backprop.validate(config, {"label": "5"})[0].startswith("label '5' is not a class")
    assert backprop.validate(config, {"weight": (48, 0, 0, 0)}) == [
        "weight 48, 0, 0, 0: output channel 48 is out of range: the patch kernel has 48 output "
        "channels (0–47); its shape is 48×3×12×12"]
    assert weight_problem(config, (0, 3, 0, 0)).startswith("weight 0, 3, 0, 0: colour channel 3")
    assert "column 12 is out of range" in weight_problem(config, (0, 0, 0, 12))
    assert weight_option(" 12, 0 3,4 ") == (12, 0, 3, 4)
    for bad in ("1, 2, 3", "a, b, c, d", "1, 2, 3, -4", ""):
        with pytest.raises(ValueError, match="four whole numbers"):
            weight_option(bad)
    assert lr_option("1e-3") == 0.001
    for bad in ("0", "-0.1", "fast", "nan", "inf"):
        with pytest.raises(ValueError, match="not a positive learning rate"):
            lr_option(bad)


def test_training_step_refuses_what_the_model_does_not_have(odd_model, odd_pair):
    from elvit_sphinx.compute.backprop import training_step

    pixels = odd_pair[0]["input.pixels"]
    with pytest.raises(ValueError, match="label 5 is out of range"):
        training_step(odd_model, pixels, 5, LR)
    with pytest.raises(ValueError, match="outside the patch kernel"):
        training_step(odd_model, pixels, 0, LR, (0, 0, 12, 0))
    with pytest.raises(ValueError, match="positive"):
        training_step(odd_model, pixels, 0, 0.0)


# --- the view ---------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["small", "odd"])
def test_view_numbers_are_the_records(which, small_trace, small_step, odd_pair):
    trace, step = (small_trace, small_step) if which == "small" else odd_pair
    config = trace.config
    options = {"lr": float(step["step.lr"]), "label": str(int(step["step.label"]))}
    output = backprop.build(trace, options, step=step)
    data = output.data
    assert data["loss"] == float(step["step.loss"]) and data["loss_after"] == float(step["step.loss_after"])
    assert data["label"] == int(step["step.label"]) and data["label_how"] == "option"
    assert data["label"] in data["classes"] and len(data["classes"]) == min(10, config.num_labels)
    np.testing.assert_array_equal(decode(data["probs"]), step["step.probs"][data["classes"]])
    assert data["activations"]["norms"] == list(step["step.activation_grad_norms"])
    assert data["params"]["names"] == list(step["step.param_names"])
    blocks = data["activations"]["blocks"]
    assert blocks[:3] == [-1, -1, config.num_layers - 1] and blocks[-1] == -2
    assert data["weight"]["index"] == [int(v) for v in step["step.weight"]]
    # The kernel travels in chunks of 16 output channels: weights, gradients and map colours.
    assert set(output.chunks) == {f"kernel-{g}" for g in range(math.ceil(config.hidden_size / 16))}
    o = config.hidden_size - 1
    last = output.chunks[f"kernel-{o // 16}"]
    np.testing.assert_array_equal(decode(last["w"])[o - last["first"]], trace["param.patch_kernel"][o])
    np.testing.assert_array_equal(decode(last["g"])[o - last["first"]], step["step.patch_kernel_grad"][o])
    codes = decode(last["codes"])[o - last["first"]]
    P = config.patch_size
    assert codes.shape == (P, config.num_channels * P)
    assert codes.min() == 0 and codes.max() == 255
    # Colour channel c of the kernel is the map's columns c·P … c·P + P − 1, its rows the kernel's.
    for c, panel in enumerate(step["step.patch_kernel_grad"][o].astype(np.float64)):
        i, j = np.unravel_index(panel.argmax(), panel.shape)
        assert codes[i, c * P + j] == 255  # each colour panel has its own range
    assert [c["numeric"] for c in data["checks"]] == list(step["step.check_numeric"])
    assert len(json.dumps(data)) < 100_000  # the page carries the small parts only


def test_static_picture(small_trace, small_step):
    output = backprop.build(small_trace, {"lr": LR, "label": "3"}, step=small_step)
    picture = backprop.static(output)
    pixels = np.asarray(picture.convert("RGB"), dtype=np.float64)
    assert picture.width >= 600 and picture.height >= 400 and pixels.std() > 20
    assert backprop.static(output).tobytes() == picture.tobytes()
    # The chosen weight is framed in the accent colour on its gradient map.
    assert (np.abs(pixels - [255, 59, 48]).sum(axis=-1) < 30).sum() > 4


# --- the cache ---------------------------------------------------------------------------------

def test_step_is_computed_once_and_keyed_by_label_and_lr(small_trace, small_step, tmp_path):
    from elvit_sphinx.tracing.cache import Cache
    from elvit_sphinx.tracing.model_source import resolve
    from elvit_sphinx.tracing.steps import get_step, step_key

    cache, source = Cache(str(tmp_path)), resolve("embedded")
    first = get_step(cache, source, small_trace, 3, LR)
    np.testing.assert_allclose(first["step.activation_grad_norms"], small_step["step.activation_grad_norms"],
                               rtol=1e-5)
    assert first["step.loss"] == pytest.approx(float(small_step["step.loss"]), rel=1e-6)
    again = get_step(cache, source, small_trace, 3, LR)
    assert again["step.loss"] == first["step.loss"]
    log = [json.loads(line) for line in (tmp_path / "compute-log.jsonl").read_text().splitlines()]
    assert [(e["kind"], e["origin"]) for e in log] == [("backprop", "sphinx")]
    keys = {step_key(small_trace, 3, LR, None), step_key(small_trace, 4, LR, None),
            step_key(small_trace, 3, 0.1, None), step_key(small_trace, 3, LR, (0, 0, 0, 0))}
    assert len(keys) == 4
    other = type(small_trace.config)(**{**small_trace.config.__dict__, "model_fingerprint": "0" * 64})
    with pytest.raises(ValueError, match="was made by"):
        get_step(cache, source, Trace(small_trace, other), 3, LR)
