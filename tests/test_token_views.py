"""The posembed and layernorm views: the numbers they embed (inline and in chunks) are the
trace's, checked against NumPy computations of the same steps at every geometry."""

from __future__ import annotations

import numpy as np
import pytest

from elvit_sphinx.tracing.trace_data import Trace
from elvit_sphinx.views import layernorm, posembed
from elvit_sphinx.views.base import to_json
from elvit_sphinx.views.encoding import decode, is_encoded
from elvit_sphinx.views.palettes import palette_rgb


def numpy_layer_norm(x, gamma, beta, eps):
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(variance + eps) * gamma + beta


def json_size(value) -> int:
    return len(to_json(value).encode())


# --- posembed ------------------------------------------------------------------------------------

def test_posembed_sends_the_two_matrices_whose_float32_sum_is_the_block_input(trace):
    config = trace.config
    data = posembed.VIEW.build(trace, {"token": 3}).data
    with_cls, position = decode(data["with_cls"]), decode(data["position"])
    t, d = config.num_tokens, config.hidden_size
    assert with_cls.shape == position.shape == (t, d)
    # Row 0 is the CLS vector, rows 1… the patch embeddings of chapter 1, in patch order.
    assert np.array_equal(with_cls[0], trace["param.cls_token"])
    assert np.array_equal(with_cls[1:], trace["embeddings.patches"])
    assert np.array_equal(position, trace["param.position_embeddings"])
    # The page adds them in float32: that must be exactly what the model computed.
    assert np.array_equal(with_cls + position, trace["embeddings.output"])
    assert "output" not in data
    assert (data["grid"], data["tokens"], data["hidden"], data["start"]) == (config.grid, t, d, 3)
    assert data["trained"] is config.trained
    assert np.array_equal(decode(data["blues"]), palette_rgb("blues"))


def test_posembed_similarity_structure_is_what_the_page_computes(small_trace):
    """The page's cosine similarities (float64 from the float32 rows) are NumPy's."""
    position = decode(posembed.VIEW.build(small_trace, {"token": 1}).data["position"]).astype(np.float64)
    unit = position / np.linalg.norm(position, axis=1, keepdims=True)
    similarity = unit @ unit.T
    np.testing.assert_allclose(np.diag(similarity), 1.0, atol=1e-12)
    # Random position embeddings: nothing but the position itself is similar.
    off = similarity[~np.eye(len(similarity), dtype=bool)]
    assert np.abs(off).max() < 0.5 and np.abs(off).mean() < 3 / np.sqrt(small_trace.config.hidden_size)


def test_posembed_sends_the_model_sum_when_it_is_not_the_plain_sum(small_trace):
    arrays = {name: small_trace[name] for name in small_trace.names()}
    arrays["embeddings.output"] = arrays["embeddings.output"] * np.float32(1.5)
    doctored = Trace(arrays, small_trace.config)
    data = posembed.VIEW.build(doctored, {"token": 0}).data
    assert np.array_equal(decode(data["output"]), arrays["embeddings.output"])


def test_posembed_validate_and_alt(small_trace, odd_trace):
    assert posembed.validate(small_trace.config, {"token": 196}) == []
    assert posembed.validate(small_trace.config, {"token": 197}) == [
        "token 197 is out of range (0–196): this model has the CLS token (0) and 196 patch tokens "
        "(patch i is token i + 1)"]
    assert posembed.validate(odd_trace.config, {"token": 65}) == [
        "token 65 is out of range (0–64): this model has the CLS token (0) and 64 patch tokens "
        "(patch i is token i + 1)"]
    text = posembed.alt(odd_trace.config, {"token": 5})
    assert text.endswith(".") and text.count(". ") == 0 and "65×48" in text and "8×8" in text


# --- layernorm -----------------------------------------------------------------------------------

def test_layernorm_chunks_pair_each_input_with_its_output(trace):
    """Every chunk's y is NumPy's LayerNorm of its x with its γ, β: the pairing is right."""
    config = trace.config
    output = layernorm.VIEW.build(trace, layernorm.VIEW.defaults)
    t, d, layers = config.num_tokens, config.hidden_size, config.num_layers
    assert sorted(output.chunks) == sorted(
        [f"block-{b}-{n}" for b in range(layers) for n in ("before", "after")] + ["final"])
    for name, chunk in output.chunks.items():
        x, y = decode(chunk["x"]), decode(chunk["y"])
        gamma, beta = decode(chunk["gamma"]), decode(chunk["beta"])
        assert x.shape == y.shape == (t, d) and gamma.shape == beta.shape == (d,)
        np.testing.assert_allclose(numpy_layer_norm(x, gamma, beta, config.layer_norm_eps), y,
                                   rtol=1e-4, atol=2e-5, err_msg=name)
    # Spot-check the names against the model's structure.
    last = layers - 1
    assert np.array_equal(decode(output.chunks["block-0-before"]["x"]), trace["embeddings.output"])
    assert np.array_equal(decode(output.chunks[f"block-{last}-before"]["x"]),
                          trace[f"encoder.layer.{last - 1}.output"])
    assert np.array_equal(decode(output.chunks["block-1-after"]["x"]), trace["encoder.layer.1.residual_1"])
    assert np.array_equal(decode(output.chunks["block-1-after"]["gamma"]),
                          trace["param.layer.1.layernorm_after.weight"])
    assert np.array_equal(decode(output.chunks["final"]["x"]), trace[f"encoder.layer.{last}.output"])
    assert np.array_equal(decode(output.chunks["final"]["y"]), trace["layernorm"])
    assert np.array_equal(decode(output.chunks["final"]["beta"]), trace["param.layernorm.bias"])


def test_layernorm_inline_data_is_small_and_exact(trace, capsys):
    config = trace.config
    last = config.num_layers - 1
    options = {"block": last, "norm": "after", "token": config.num_tokens - 1, "feature": 7}
    output = layernorm.VIEW.build(trace, options)
    data = output.data
    token = options["token"]
    x = trace[f"encoder.layer.{last}.residual_1"]
    assert np.array_equal(decode(data["first"]["x"]), x[token])
    assert np.array_equal(decode(data["first"]["y"]), trace[f"encoder.layer.{last}.layernorm_after"][token])
    assert np.array_equal(decode(data["first"]["gamma"]), trace[f"param.layer.{last}.layernorm_after.weight"])
    assert data["start"] == {"block": last, "norm": "after", "token": token, "feature": 7}
    assert (data["rows"] * data["cols"], data["layers"], data["eps"]) == (
        config.hidden_size, config.num_layers, config.layer_norm_eps)
    # Mean and biased variance of every token at every LayerNorm, in forward order.
    stats = decode(data["stats"])
    assert stats.shape == (2 * config.num_layers + 1, config.num_tokens, 2)
    index = 2 * last + 1
    x64 = x.astype(np.float64)
    np.testing.assert_array_equal(stats[index, :, 0], x64.mean(axis=1).astype(np.float32))
    np.testing.assert_allclose(stats[index, :, 1], x64.var(axis=1), rtol=1e-6)
    assert [(n["block"], n["norm"]) for n in data["norms"]][index] == (last, "after")
    assert data["norms"][index]["x"] == f"encoder.layer.{last}.residual_1"
    assert data["norms"][-1] == {"block": last, "norm": "final", "chunk": "final",
                                 "x": f"encoder.layer.{last}.output", "y": "layernorm",
                                 "gamma": "param.layernorm.weight", "beta": "param.layernorm.bias"}
    inline = json_size(data)
    chunk = max(json_size(c) for c in output.chunks.values())
    with capsys.disabled():
        print(f"\nlayernorm D={config.hidden_size}: inline {inline / 1024:.0f} KiB, "
              f"{len(output.chunks)} chunks of {chunk / 1024:.0f} KiB, "
              f"all {sum(json_size(c) for c in output.chunks.values()) / 2**20:.1f} MiB")
    assert inline < 120_000
    assert all(is_encoded(v) for c in output.chunks.values() for v in c.values())


def test_layernorm_final_norm_ignores_the_block(small_trace):
    data = layernorm.VIEW.build(small_trace, {"block": 0, "norm": "final", "token": 0, "feature": 0}).data
    assert data["start"]["block"] == small_trace.config.num_layers - 1
    assert np.array_equal(decode(data["first"]["y"]), small_trace["layernorm"][0])


def test_layernorm_validate_messages(small_trace, odd_trace):
    config = small_trace.config
    assert layernorm.validate(config, layernorm.VIEW.defaults) == []
    assert layernorm.validate(config, {"block": 11, "norm": "after", "token": 196, "feature": 191}) == []
    assert layernorm.validate(config, {"block": 99, "norm": "final", "token": 0, "feature": 0}) == []
    assert layernorm.validate(odd_trace.config, {"block": 3, "norm": "before", "token": 0, "feature": 0}) == [
        "block 3 is out of range: this model has 3 blocks (0–2)"]
    assert layernorm.validate(config, {"block": 0, "norm": "middle", "token": 0, "feature": 0}) == [
        "norm 'middle' is not a LayerNorm of a block; choose before (before the attention), after "
        "(before the MLP) or final (after the last block)"]
    odd = odd_trace.config
    assert layernorm.validate(odd, {"block": 0, "norm": "after", "token": 65, "feature": 48}) == [
        "token 65 is out of range (0–64): token 0 is CLS and patch i is token i + 1 (64 patches)",
        "feature 48 is out of range: tokens have 48 features (0–47)"]
    text = layernorm.alt(config, {"block": 2, "norm": "after", "token": 5})
    assert text.endswith(".") and text.count(". ") == 0 and "before the MLP of block 2" in text


@pytest.mark.parametrize("view, options", [(posembed.VIEW, {"token": 1}),
                                           (layernorm.VIEW, layernorm.VIEW.defaults)])
def test_token_views_are_deterministic_and_fit_the_page(trace, view, options, capsys):
    first = to_json(view.build(trace, options).data)
    assert to_json(view.build(trace, options).data) == first
    size = len(first.encode())
    with capsys.disabled():
        print(f"\n{view.name} inline data, D={trace.config.hidden_size}: {size / 1024:.0f} KiB")
    assert size < 1_800_000  # a chapter page stays under 2 MB with ViT-B/16


def test_bad_options_warn_once_each_with_file_and_line(make_app, tmp_path):
    import shutil
    from pathlib import Path

    from sphinx.util.console import strip_colors

    srcdir = tmp_path / "basic"
    shutil.copytree(Path(__file__).parent / "roots" / "test-basic", srcdir)
    (srcdir / "bad.rst").write_text(
        "Bad\n===\n\n"                                                     # lines 1-3
        ".. elvit-layernorm::\n   :image: images/noise.png\n   :norm: middle\n   :block: 40\n\n"  # 4
        ".. elvit-posembed::\n   :image: images/noise.png\n   :token: 999\n\n"                    # 9
        "Text after the figures.\n")
    app = make_app("html", srcdir=srcdir)
    app.build()
    # (the new page is in no toctree: Sphinx says so, that is not ours)
    warnings = [w for w in strip_colors(app.warning.getvalue()).strip().splitlines()
                if "toc.not_included" not in w]
    where = str(srcdir / "bad.rst")
    locations = sorted(w.split(": WARNING: ", 1)[0] for w in warnings)
    assert locations == [f"{where}:4", f"{where}:4", f"{where}:9"]
    text = "\n".join(warnings)
    assert "elvit-layernorm: norm 'middle' is not a LayerNorm of a block" in text
    assert "elvit-layernorm: block 40 is out of range: this model has 12 blocks (0–11)" in text
    assert "elvit-posembed: token 999 is out of range (0–196)" in text
    html = (Path(app.outdir) / "bad.html").read_text()
    assert "Text after the figures." in html and "elvit-figure" not in html
