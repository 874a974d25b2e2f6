"""The attention and GELU views: what they embed and put in chunks is the trace's data, at every
geometry (default, ViT-B/16, and one that differs in every dimension), and what the browser
recomputes from it (scores, softmax) equals the trace's own numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from elvit_sphinx.views import attention, gelu, heatmap
from elvit_sphinx.views.base import to_json
from elvit_sphinx.views.encoding import decode


def json_size(value) -> int:
    return len(to_json(value).encode())


# --- attention -----------------------------------------------------------------------------------

def last_of_everything(config) -> dict:
    return {"layer": config.num_layers - 1, "head": config.num_heads - 1, "token": config.num_tokens - 1}


def test_attention_page_holds_the_start_head_and_layer(trace):
    config = trace.config
    options = last_of_everything(config)
    data = attention.VIEW.build(trace, options).data
    layer, head = options["layer"], options["head"]
    prefix = f"encoder.layer.{layer}.attention."
    assert data["start"] == options
    sizes = ("tokens", "grid", "hidden", "heads", "head_dim", "layers")
    assert [data[size] for size in sizes] == [config.num_tokens, config.grid, config.hidden_size,
                                              config.num_heads, config.head_dim, config.num_layers]
    for part, name in (("q", "query"), ("k", "key"), ("v", "value")):
        values = decode(data["head_data"][part])
        assert values.shape == (config.num_tokens, config.head_dim)
        assert np.array_equal(values, trace[prefix + name][head])
    layer_data = data["layer_data"]
    for part in ("context", "output"):
        values = trace[prefix + part]
        assert np.array_equal(decode(layer_data[f"{part}_codes"]), heatmap.codes(values))
        stats = decode(layer_data[f"{part}_stats"])
        assert np.array_equal(stats[:, 0], values.min(axis=1))
        assert np.array_equal(stats[:, 1], values.max(axis=1))
        np.testing.assert_allclose(stats[:, 2], values.mean(axis=1, dtype=np.float64), rtol=1e-6, atol=1e-7)
    assert np.array_equal(decode(data["image"]), trace["input.image"])


def test_attention_chunks_hold_every_other_head_and_layer(trace):
    config = trace.config
    output = attention.VIEW.build(trace, {"layer": 0, "head": 0, "token": 0})
    expected = ({f"head-{i}-{j}" for i in range(config.num_layers) for j in range(config.num_heads)}
                | {f"layer-{i}" for i in range(config.num_layers)}) - {"head-0-0", "layer-0"}
    assert set(output.chunks) == expected
    i, j = config.num_layers - 1, config.num_heads - 1
    chunk = output.chunks[f"head-{i}-{j}"]
    assert np.array_equal(decode(chunk["k"]), trace[f"encoder.layer.{i}.attention.key"][j])
    codes = decode(output.chunks[f"layer-{i}"]["output_codes"])
    assert np.array_equal(codes, heatmap.codes(trace[f"encoder.layer.{i}.attention.output"]))


def browser_arithmetic(q: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What attention.js computes from a head's Q and K: float64 scores, then a stable softmax."""
    q, k = q.astype(np.float64), k.astype(np.float64)
    scores = q @ k.T * (1 / math.sqrt(q.shape[1]))
    weights = np.exp(scores - scores.max(axis=1, keepdims=True))
    return scores, weights / weights.sum(axis=1, keepdims=True)


def test_scores_and_weights_recomputed_from_q_and_k_equal_the_trace(trace):
    config = trace.config
    output = attention.VIEW.build(trace, {"layer": 0, "head": 0, "token": 0})
    for layer, head in [(0, 0), (config.num_layers - 1, config.num_heads - 1)]:
        start = (layer, head) == (0, 0)
        payload = output.data["head_data"] if start else output.chunks[f"head-{layer}-{head}"]
        scores, weights = browser_arithmetic(decode(payload["q"]), decode(payload["k"]))
        prefix = f"encoder.layer.{layer}.attention."
        # The view prints scores with 3 decimals and weights with 4: far coarser than these.
        np.testing.assert_allclose(scores, trace[prefix + "scores"][head], rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(weights, trace[prefix + "probs"][head], rtol=1e-4, atol=1e-8)
        context = weights @ decode(payload["v"]).astype(np.float64)
        d = config.head_dim
        np.testing.assert_allclose(context, trace[prefix + "context"][:, head * d:(head + 1) * d],
                                   rtol=1e-4, atol=1e-6)


def test_attention_page_and_chunk_sizes(trace, capsys):
    config = trace.config
    output = attention.VIEW.build(trace, {"layer": 0, "head": 0, "token": 0})
    inline = json_size(output.data)
    head_chunk, layer_chunk = json_size(output.chunks[f"head-{config.num_layers - 1}-0"]), 0
    if config.num_layers > 1:
        layer_chunk = json_size(output.chunks["layer-1"])
    total = sum(json_size(chunk) for chunk in output.chunks.values())
    with capsys.disabled():
        print(f"\nattention view, D={config.hidden_size}, h={config.num_heads}: "
              f"inline {inline / 1024:.0f} KiB, "
              f"head chunk {head_chunk / 1024:.0f} KiB, layer chunk {layer_chunk / 1024:.0f} KiB, "
              f"{len(output.chunks)} chunks {total / 1e6:.1f} MB")
    # A ViT-B/16 page must stay under 2 MB with its text: the figure takes at most 1 MB of it.
    assert inline < 1_000_000
    assert head_chunk < 300_000 and layer_chunk < 450_000


def test_attention_validate_and_alt(small_trace, odd_trace):
    config = small_trace.config
    assert attention.validate(config, {"layer": 11, "head": 2, "token": 196}) == []
    assert attention.validate(config, {"layer": 12, "head": 3, "token": 197}) == [
        "layer 12 is out of range: this model has 12 blocks (0–11)",
        "head 3 is out of range: this model has 3 heads (0–2)",
        "token 197 is out of range: this model has 197 tokens (0–196; 0 is the CLS token)"]
    assert attention.validate(odd_trace.config, {"layer": 3, "head": 0, "token": 0}) == [
        "layer 3 is out of range: this model has 3 blocks (0–2)"]
    text = attention.alt(odd_trace.config, {"layer": 2, "head": 1, "token": 0})
    assert text.endswith(".") and text.count(". ") == 0
    assert "65×65" in text and "8×8" in text and "head 1 in block 2" in text


# --- gelu ----------------------------------------------------------------------------------------

def test_gelu_page_holds_the_start_token_and_chunks_hold_the_others(trace):
    config = trace.config
    block, token = config.num_layers - 1, config.num_tokens - 1
    output = gelu.VIEW.build(trace, {"block": block, "token": token})
    data = output.data
    prefix = f"encoder.layer.{block}.mlp."
    assert data["start"] == {"block": block, "token": token}
    assert (data["mlp"], data["hidden"], data["tokens"], data["blocks"]) == (
        config.intermediate_size, config.hidden_size, config.num_tokens, config.num_layers)
    assert np.array_equal(decode(data["first"]["fc1"]), trace[prefix + "fc1"][token])
    assert np.array_equal(decode(data["first"]["gelu"]), trace[prefix + "gelu"][token])
    assert len(output.chunks) == config.num_layers * config.num_tokens - 1
    assert gelu.chunk_name(block, token) not in output.chunks
    chunk = output.chunks[gelu.chunk_name(0, 0)]
    assert np.array_equal(decode(chunk["fc1"]), trace["encoder.layer.0.mlp.fc1"][0])
    assert np.array_equal(decode(chunk["gelu"]), trace["encoder.layer.0.mlp.gelu"][0])
    lo, hi = data["x_range"]
    for i in range(config.num_layers):
        fc1 = trace[f"encoder.layer.{i}.mlp.fc1"]
        assert lo <= fc1.min() and fc1.max() <= hi
    assert lo <= -gelu.MIN_HALF_RANGE and hi >= gelu.MIN_HALF_RANGE


def test_gelu_points_are_the_exact_gelu_of_fc1(trace):
    """The trace's GELU is the erf form (transformers' default), to float32 rounding."""
    for i in (0, trace.config.num_layers - 1):
        fc1, out = trace[f"encoder.layer.{i}.mlp.fc1"], trace[f"encoder.layer.{i}.mlp.gelu"]
        by_hand = np.array([[0.5 * x * (1 + math.erf(x / math.sqrt(2))) for x in row]
                            for row in fc1[:3].astype(np.float64)])
        np.testing.assert_allclose(out[:3], by_hand, rtol=1e-5, atol=1e-7)
        np.testing.assert_allclose(gelu.gelu_exact(fc1), out, rtol=1e-5, atol=1e-7)


def test_gelu_curve_facts_match_an_independent_derivation():
    # The minimum is where the derivative Φ(x) + x·φ(x) vanishes: find it by bisection.
    def slope(x):
        return 0.5 * (1 + math.erf(x / math.sqrt(2))) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    lo, hi = -1.0, -0.5
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if slope(mid) < 0 else (lo, mid)
    x, y = gelu.gelu_minimum()
    assert abs(x - lo) < 2e-5 and abs(y - float(gelu.gelu_exact(lo))) < 1e-10
    worst_x, worst = gelu.largest_tanh_error()
    assert 2.6 < worst_x < 2.8 and 4.6e-4 < abs(worst) < 4.8e-4
    xs = np.linspace(-8, 8, 20001)
    assert np.abs(gelu.gelu_exact(xs) - gelu.gelu_tanh(xs)).max() <= abs(worst) + 1e-9
    assert gelu.gelu_exact(-3.0) == pytest.approx(-3 * 0.0013498980316301, abs=1e-12)  # Φ(−3) from tables


def test_gelu_page_and_chunk_sizes(trace, capsys):
    config = trace.config
    output = gelu.VIEW.build(trace, {"block": 0, "token": 0})
    inline, chunk = json_size(output.data), json_size(output.chunks["b0-t1"])
    with capsys.disabled():
        print(f"\ngelu view, M={config.intermediate_size}: inline {inline / 1024:.0f} KiB, chunk "
              f"{chunk / 1024:.1f} KiB × {len(output.chunks)} = {chunk * len(output.chunks) / 1e6:.1f} MB")
    assert inline < 400_000 and chunk < 40_000


def test_gelu_validate_and_alt(small_trace, odd_trace):
    assert gelu.validate(small_trace.config, {"block": 11, "token": 196}) == []
    assert gelu.validate(odd_trace.config, {"block": 3, "token": 65}) == [
        "block 3 is out of range: this model has 3 blocks (0–2)",
        "token 65 is out of range: this model has 65 tokens (0–64; 0 is the CLS token)"]
    text = gelu.alt(odd_trace.config, {"block": 1, "token": 4})
    assert text.endswith(".") and text.count(". ") == 0 and "48 → 80 → 48" in text


# --- in a Sphinx build ---------------------------------------------------------------------------

def test_options_out_of_range_warn_with_file_and_line_and_the_page_builds(make_app, tmp_path):
    import shutil
    from pathlib import Path

    from sphinx.util.console import strip_colors

    from elvit_sphinx.compute.checkpoints import save_random_checkpoint

    model = save_random_checkpoint("odd", tmp_path / "odd-model")
    srcdir = tmp_path / "operations"
    shutil.copytree(Path(__file__).parent / "roots" / "test-operations", srcdir)
    (srcdir / "bad.rst").write_text(
        ":orphan:\n\nBad\n===\n\n"
        ".. elvit-attention::\n   :image: images/noise.png\n   :layer: 3\n   :head: 9\n\n"
        ".. elvit-gelu::\n   :image: images/noise.png\n   :token: 65\n", encoding="utf-8")
    app = make_app("html", srcdir=srcdir, confoverrides={"elvit_model": str(model)})
    app.build()
    warnings = strip_colors(app.warning.getvalue()).strip().splitlines()
    assert len(warnings) == 3, warnings
    assert f"{srcdir / 'bad.rst'}:6: WARNING: elvit-attention: layer 3 is out of range" in warnings[0]
    assert "head 9 is out of range: this model has 4 heads (0–3)" in warnings[1]
    assert f"{srcdir / 'bad.rst'}:11: WARNING: elvit-gelu: token 65 is out of range" in warnings[2]
    bad = (Path(app.outdir) / "bad.html").read_text(encoding="utf-8")
    assert "data-elvit-view" not in bad and "<h1>Bad" in bad
    assert (Path(app.outdir) / "index.html").read_text(encoding="utf-8").count("data-elvit-view=") == 2
