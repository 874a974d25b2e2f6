"""The interpretation views (similarity, patch-predictions, attention-compare) and their maths:
every number they ship equals an independent NumPy computation from the trace, at the three
geometries; rollout equals a hand-worked example; object regions and the composite image."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from elvit_sphinx.analysis import composite, interpretation
from elvit_sphinx.analysis import interpretation_chapter as chapter
from elvit_sphinx.analysis.image_regions import RegionsError, load_regions
from elvit_sphinx.views import VIEWS, attention_compare, image_menu, patch_predictions, similarity
from elvit_sphinx.views.base import to_json
from elvit_sphinx.views.encoding import decode, decode_png
from elvit_sphinx.views.palettes import palette_rgb


def independent_cosines(tokens: np.ndarray) -> np.ndarray:
    """Cosine similarity written out pair by pair's formula, not with the module's code."""
    x = tokens.astype(np.float64)
    dots = np.einsum("id,jd->ij", x, x)
    lengths = np.sqrt(np.einsum("id,id->i", x, x))
    return dots / np.outer(lengths, lengths)


def triangle_to_matrix(triangle: np.ndarray, size: int) -> np.ndarray:
    """Rebuild the symmetric matrix the way the page does (row i holds columns i…T-1)."""
    full, k = np.zeros((size, size)), 0
    for i in range(size):
        full[i, i:] = triangle[k:k + size - i]
        full[i:, i] = triangle[k:k + size - i]
        k += size - i
    return full


# --- similarity ----------------------------------------------------------------------------------

def test_similarity_chunks_equal_cosines_of_every_block_output(trace):
    config = trace.config
    output = similarity.VIEW.build(trace, {"token": "cls"})
    data, T = output.data, config.num_tokens
    assert (data["grid"], data["tokens"], data["layers"]) == (config.grid, T, config.num_layers)
    assert data["start_layer"] == config.num_layers and data["start_token"] == 0
    assert sorted(output.chunks) == sorted(f"sim-0-{layer}" for layer in range(config.num_layers))
    for layer in range(config.num_layers):
        triangle = decode(output.chunks[f"sim-0-{layer}"]["sim"])
        assert triangle.dtype == np.float32 and triangle.shape == (T * (T + 1) // 2,)
        shipped = triangle_to_matrix(triangle, T)
        expected = independent_cosines(trace[f"encoder.layer.{layer}.output"])
        np.testing.assert_allclose(shipped, expected, atol=2e-6)
    assert np.array_equal(decode_png(data["image"]), trace["input.image"])
    assert np.array_equal(decode(data["palette"]), palette_rgb("blues"))
    assert data["images"] == [image_menu.image_entry(trace)]
    assert data["images"][0]["id"] == trace.config.image_sha256[:16]


def test_similarity_is_exactly_symmetric_and_one_on_the_diagonal(small_trace):
    matrix = interpretation.cosine_similarity_matrix(small_trace["encoder.layer.3.output"])
    assert np.array_equal(matrix, matrix.T)
    np.testing.assert_allclose(np.diag(matrix), 1.0, atol=1e-12)
    triangle = interpretation.upper_triangle(matrix)
    assert np.array_equal(interpretation.full_from_upper(triangle, len(matrix)), matrix)
    zero = interpretation.cosine_similarity_matrix(np.array([[0.0, 0.0], [1.0, 2.0]]))
    assert zero[0].tolist() == [0.0, 0.0]  # a zero vector has no direction


def test_similarity_image_menu_ships_each_image_in_chunks(small_trace, horse_trace):
    options = {"token": 5, "layer": 2, "images": [["/somewhere/horse.jpg", "abc"]]}
    output = similarity.VIEW.build(small_trace, options | {"images": []})
    assert "img-1" not in output.chunks
    loaded = []

    def load(path):
        loaded.append(path)
        return horse_trace
    traces = image_menu.menu_traces(small_trace, options, load=load)
    assert loaded == ["/somewhere/horse.jpg"] and traces == [small_trace, horse_trace]
    output = similarity.build_from_traces(traces, options)
    assert output.data["start_token"] == 6 and output.data["start_layer"] == 2
    assert [entry["name"] for entry in output.data["images"]] == ["disc.png", "cifar10-test-horse-0006.jpg"]
    assert np.array_equal(decode_png(output.chunks["img-1"]["image"]), horse_trace["input.image"])
    horse = triangle_to_matrix(decode(output.chunks["sim-1-11"]["sim"]), horse_trace.config.num_tokens)
    np.testing.assert_allclose(horse, independent_cosines(horse_trace["encoder.layer.11.output"]), atol=2e-6)
    probs = horse_trace["probs"]
    entry = output.data["images"][1]
    assert entry["label"] == horse_trace.config.id2label[int(probs.argmax())]
    assert entry["prob"] == float(probs.max())


def test_similarity_options_and_messages(small_trace, odd_trace):
    spec = similarity.VIEW.option_spec
    assert spec["token"]("CLS") == "cls" and spec["token"]("12") == 12
    assert spec["layer"]("3") == 3
    assert spec["images"]("a.jpg, images/b.png\nc.png") == ["a.jpg", "images/b.png", "c.png"]
    for converter, bad in [(spec["token"], "first"), (spec["layer"], "0"), (spec["images"], " , ")]:
        with pytest.raises(ValueError):
            converter(bad)
    config = small_trace.config
    assert similarity.validate(config, {"token": "cls"}) == []
    assert similarity.validate(odd_trace.config, {"layer": 4, "token": 64}) == [
        "layer 4 is out of range: this model has 3 blocks (1–3)",
        "token 64 is out of range: patches are numbered 0–63 (8×8 grid), or use cls"]
    many = similarity.validate(config, {"token": "cls", "images": [["x", "y"]] * 12})
    assert many == ["13 images in the menu; at most 12 (each adds its data to the site and a "
                    "forward pass to the build)"]
    text = similarity.alt(config, {"token": 7, "layer": 3})
    assert text.endswith(".") and text.count(". ") == 0 and "patch 7 and every patch after block 3" in text


# --- patch predictions ---------------------------------------------------------------------------

def independent_head(trace) -> tuple[np.ndarray, np.ndarray]:
    """Final LayerNorm and classifier on every token, written from the formulas."""
    config = trace.config
    x = trace[f"encoder.layer.{config.num_layers - 1}.output"].astype(np.float64)
    mean = x.mean(axis=1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=1, keepdims=True)
    normed = (x - mean) / np.sqrt(variance + config.layer_norm_eps)
    normed = normed * trace["param.layernorm.weight"] + trace["param.layernorm.bias"]
    logits = normed @ trace["param.classifier.weight"].T.astype(np.float64) + trace["param.classifier.bias"]
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    return logits, exp / exp.sum(axis=1, keepdims=True)


def test_patch_predictions_are_the_head_on_every_token(trace):
    config = trace.config
    data = patch_predictions.VIEW.build(trace, {}).data
    logits, probs = independent_head(trace)
    classes = data["classes"]
    assert classes == list(range(config.num_labels))  # ≤ 20 classes: all, in the model's order
    assert data["labels"] == [config.id2label[i] for i in classes]
    shipped = decode(data["probs"])
    assert shipped.shape == (config.num_tokens, len(classes))
    np.testing.assert_allclose(shipped, probs[:, classes], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(decode(data["logits"]), logits[:, classes], rtol=1e-5, atol=1e-5)
    # The CLS row is the model's own prediction.
    np.testing.assert_allclose(shipped[0], trace["probs"], atol=1e-6)
    np.testing.assert_allclose(decode(data["logits"])[0], trace["logits"], atol=1e-5)
    assert np.array_equal(decode(data["best"]), probs.argmax(axis=1))
    np.testing.assert_allclose(decode(data["best_prob"]), probs.max(axis=1), rtol=1e-5)
    assert data["start"] == config.grid // 2 * config.grid + config.grid // 2
    assert np.array_equal(decode_png(data["image"]), trace["input.image"])


def test_patch_predictions_top_keeps_the_likeliest_classes_in_model_order(small_trace, horse_trace):
    data = patch_predictions.VIEW.build(small_trace, {"top": 3, "patch": 4}).data
    likeliest = np.argsort(-small_trace["probs"])[:3]
    assert data["classes"] == sorted(likeliest.tolist()) and data["start"] == 4
    output = patch_predictions.build_from_traces([small_trace, horse_trace], {"top": 3})
    chunk = output.chunks["img-1"]
    _logits, probs = independent_head(horse_trace)
    np.testing.assert_allclose(decode(chunk["probs"]), probs[:, data["classes"]], rtol=1e-5, atol=1e-7)
    assert np.array_equal(decode_png(chunk["image"]), horse_trace["input.image"])


def test_patch_predictions_messages(small_trace, odd_trace):
    assert patch_predictions.validate(small_trace.config, {"patch": 195, "top": 10}) == []
    assert patch_predictions.validate(odd_trace.config, {"patch": 64, "top": 6}) == [
        "patch 64 is out of range (0–63): this model cuts the image into a 8×8 grid",
        "top 6 is out of range: this model has 5 classes, and at most 20 bars are drawn (1–5)"]
    text = patch_predictions.alt(small_trace.config, {})
    assert text.endswith(".") and text.count(". ") == 0 and "patch 105" in text


# --- attention rollout ---------------------------------------------------------------------------

def test_rollout_of_a_hand_worked_two_block_example():
    # Block 1 has two heads, block 2 one (already averaged); 3 tokens.
    head_a = np.array([[0.5, 0.5, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    head_b = np.array([[0.5, 0.0, 0.5], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    block1 = (head_a + head_b) / 2          # [[.5, .25, .25], [0, 1, 0], [0, 0, 1]]
    block2 = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    rollout = interpretation.attention_rollout(np.stack([block1, block2]))
    # Block 1: (A + I) / 2 row by row.
    after_1 = [[0.75, 0.125, 0.125],
               [0.0, 1.0, 0.0],
               [0.0, 0.0, 1.0]]
    # Block 2: Â2 = (A2 + I) / 2 = [[.5, .5, 0], [0, .5, .5], [.5, 0, .5]], times after_1:
    # row 0: .5·[.75, .125, .125] + .5·[0, 1, 0]  = [.375, .5625, .0625]
    # row 1: .5·[0, 1, 0] + .5·[0, 0, 1]          = [0, .5, .5]
    # row 2: .5·[.75, .125, .125] + .5·[0, 0, 1]  = [.375, .0625, .5625]
    after_2 = [[0.375, 0.5625, 0.0625],
               [0.0, 0.5, 0.5],
               [0.375, 0.0625, 0.5625]]
    np.testing.assert_allclose(rollout[0], after_1, atol=1e-12)
    np.testing.assert_allclose(rollout[1], after_2, atol=1e-12)


def test_attention_compare_maps_equal_the_trace(trace):
    config = trace.config
    output = attention_compare.VIEW.build(trace, {"head": "mean"})
    data, n = output.data, config.num_patches
    heads = decode(output.chunks["heads"]["heads"])
    assert heads.shape == (config.num_layers, config.num_heads, n)
    rolled = np.eye(config.num_tokens)
    for layer in range(config.num_layers):
        probs = trace[f"encoder.layer.{layer}.attention.probs"].astype(np.float64)  # h×T×T
        assert np.array_equal(heads[layer], trace[f"encoder.layer.{layer}.attention.probs"][:, 0, 1:])
        mean = probs.mean(axis=0)
        np.testing.assert_allclose(decode(data["attention"])[layer], mean[0, 1:], rtol=1e-5, atol=1e-8)
        step = (mean + np.eye(len(mean))) / 2.0  # softmax rows sum to 1, so A + I rows sum to 2
        rolled = step @ rolled
        np.testing.assert_allclose(decode(data["rollout"])[layer], rolled[0, 1:], rtol=1e-5, atol=1e-8)
        cosines = independent_cosines(trace[f"encoder.layer.{layer}.output"])
        np.testing.assert_allclose(decode(data["similarity"])[layer], cosines[0, 1:], atol=2e-6)
    assert data["start_layer"] == config.num_layers and data["start_head"] == "mean"
    assert np.array_equal(decode_png(data["image"]), trace["input.image"])


def test_attention_compare_messages(small_trace):
    config = small_trace.config
    assert attention_compare.VIEW.option_spec["head"]("Mean") == "mean"
    assert attention_compare.validate(config, {"head": 3, "layer": 13}) == [
        "layer 13 is out of range: this model has 12 blocks (1–12)",
        "head 3 is out of range: this model has 3 heads (0–2), or use mean"]
    text = attention_compare.alt(config, {"layer": 4})
    assert text.endswith(".") and text.count(". ") == 0 and "block 4 of 12" in text


# --- evidence helpers ----------------------------------------------------------------------------

def test_contrast_counts_pairs_and_ties():
    values = np.array([3.0, 1.0, 2.0, 2.0, 0.0])
    mask = np.array([True, True, False, False, False])
    result = interpretation.contrast(values, mask)
    # inside {3, 1} vs outside {2, 2, 0}: 3 beats all three, 1 beats only 0 → 4 of 6 pairs
    assert result.auc == pytest.approx(4 / 6)
    assert (result.inside, result.outside) == (2.0, pytest.approx(4 / 3))
    assert interpretation.contrast(np.array([1.0, 1.0]), np.array([True, False])).auc == 0.5
    with pytest.raises(ValueError):
        interpretation.contrast(values, np.ones(5, dtype=bool))


def test_mean_pairwise_leaves_out_each_patch_with_itself():
    sims = np.array([[1.0, 0.0, 0.0, 0.0],   # row/column 0 is CLS, left out
                     [0.0, 1.0, 0.5, 0.1],
                     [0.0, 0.5, 1.0, 0.3],
                     [0.0, 0.1, 0.3, 1.0]])
    a = np.array([True, True, False])
    b = np.array([False, False, True])
    assert interpretation.mean_pairwise(sims, a, a) == pytest.approx(0.5)
    assert interpretation.mean_pairwise(sims, a, b) == pytest.approx(0.2)


def test_views_are_registered_deterministic_and_small(trace, capsys):
    for name, options in [("similarity", {"token": "cls"}), ("patch-predictions", {}),
                          ("attention-compare", {"head": "mean"})]:
        view = VIEWS[name]
        first = view.build(trace, options)
        inline = to_json(first.data)
        assert to_json(view.build(trace, options).data) == inline
        chunk_sizes = [len(to_json(payload)) for payload in first.chunks.values()]
        with capsys.disabled():
            print(f"\n{name}, D={trace.config.hidden_size}: inline {len(inline) / 1024:.0f} KiB, "
                  f"{len(chunk_sizes)} chunks of at most {max(chunk_sizes, default=0) / 1024:.0f} KiB")
        assert len(inline) < 400_000 and max(chunk_sizes, default=0) < 200_000


# --- regions, composite, wording -----------------------------------------------------------------

BOOK_IMAGES = Path(__file__).parent.parent / "book" / "images"


def test_regions_cover_patches_by_area():
    from elvit_sphinx.analysis.image_regions import ImageRegions, parse_regions

    regions = ImageRegions(40, 20, {"left": [(0, 0, 20, 20)], "corner": [(30, 0, 40, 5), (35, 0, 40, 10)]})
    coverage = regions.coverage(4)  # patches of 10 × 5 pixels, 4 × 4
    left = coverage["left"].reshape(4, 4)
    assert left[:, :2].min() == 1.0 and left[:, 2:].max() == 0
    corner = coverage["corner"].reshape(4, 4)
    assert corner[0, 3] == 1.0 and corner[1, 3] == pytest.approx(0.5) and corner[2:, :].max() == 0
    masks = regions.patch_masks(4)
    assert masks["corner"].reshape(4, 4)[1, 3] == False  # noqa: E712 - exactly half is not "more"
    assert parse_regions(json.loads(regions.to_json())) == regions
    with pytest.raises(RegionsError, match="not a regions file"):
        parse_regions({"size": [4, 4], "regions": {"x": [[3, 0, 1, 2]]}}, "bad.json")


def test_horse_and_composite_regions_fit_the_images():
    for name, objects in [("cifar10-test-horse-0006.jpg", ["horse"]),
                          ("composite-cat-dog.png", ["cat", "dog"])]:
        regions = load_regions(BOOK_IMAGES / name)
        assert list(regions.regions) == objects
        assert (regions.width, regions.height) == Image.open(BOOK_IMAGES / name).size
        for grid in (14, 8):
            masks = regions.patch_masks(grid)
            assert all(0 < mask.sum() < grid * grid for mask in masks.values())
    pair = load_regions(BOOK_IMAGES / "composite-cat-dog.png").patch_masks(14)
    assert not (pair["cat"] & pair["dog"]).any()


def test_composite_is_reproducible(tmp_path):
    """The committed composite is what the helper makes from the two committed images."""
    out = tmp_path / "composite-cat-dog.png"
    png, regions = composite.write_composite(str(BOOK_IMAGES / "cifar10-test-cat-0001.jpg"),
                                             str(BOOK_IMAGES / "cifar10-test-dog-0001.jpg"),
                                             str(out), ("cat", "dog"))
    assert Path(png).read_bytes() == (BOOK_IMAGES / "composite-cat-dog.png").read_bytes()
    assert Path(regions).read_text() == (BOOK_IMAGES / "composite-cat-dog.regions.json").read_text()
    pixels = np.asarray(Image.open(png))
    cat = np.asarray(Image.open(BOOK_IMAGES / "cifar10-test-cat-0001.jpg").convert("RGB"))
    dog = np.asarray(Image.open(BOOK_IMAGES / "cifar10-test-dog-0001.jpg").convert("RGB"))
    assert np.array_equal(pixels[16:48, :32], cat) and np.array_equal(pixels[16:48, 32:], dog)
    assert (pixels[:16] == composite.BACKGROUND).all() and (pixels[48:] == composite.BACKGROUND).all()


def test_composite_fits_images_of_other_shapes(tmp_path):
    wide, small = tmp_path / "wide.png", tmp_path / "small.png"
    Image.new("RGB", (60, 30), (255, 0, 0)).save(wide)
    Image.new("RGB", (40, 40), (0, 0, 255)).save(small)
    image, regions = composite.compose_side_by_side(str(wide), str(small), ("red", "blue"))
    assert image.size == (80, 80) and regions.regions["blue"] == [(40, 20, 80, 60)]
    pixels = np.asarray(image)
    assert tuple(pixels[40, 20]) == (255, 0, 0) and tuple(pixels[25, 20]) == composite.BACKGROUND


def test_wording_follows_the_numbers():
    from elvit_sphinx.analysis.interpretation import Contrast

    assert [chapter.preference(a) for a in (0.95, 0.7, 0.5, 0.3, 0.05)] == [
        "clearly more", "somewhat more", "about as", "somewhat less", "clearly less"]
    assert chapter.similarity_phrase(Contrast(0.6, 0.2, 0.91), "the horse's patches", "the rest") == (
        "clearly more similar to the horse's patches than to the rest (AUC 0.91)")
    assert chapter.similarity_phrase(Contrast(0.3, 0.3, 0.52), "a", "b") == (
        "about as similar to a as to b (AUC 0.52)")
    assert chapter.trend_phrase([0.38, 0.5, 0.55], "the AUC") == (
        "the AUC rises from 0.38 after block 1 to 0.55 after block 3")
    assert chapter.trend_phrase([0.6, 0.2]) == "falls from 0.60 after block 1 to 0.20 after block 2"
    assert chapter.trend_phrase([0.40, 0.43, 0.41]) == "stays near 0.41 (between 0.40 and 0.43)"
    assert chapter.markdown_table(["a", "b"], [[1, 2]]) == "| a | b |\n|---|---|\n| 1 | 2 |"
    assert chapter.signed(-0.25) == "\u22120.250"


def test_chapter_evidence_and_gallery(small_trace, odd_trace, monkeypatch):
    config = small_trace.config
    assert chapter.class_index(config, "Cat") == 3 and chapter.class_index(odd_trace.config, "cat") is None
    mask = np.zeros(config.num_patches, dtype=bool)
    mask[:50] = True
    evidence = chapter.cls_evidence(small_trace, mask)
    sims = independent_cosines(small_trace[f"encoder.layer.{config.num_layers - 1}.output"])[0, 1:]
    assert len(evidence) == config.num_layers
    assert evidence[-1].inside == pytest.approx(sims[:50].mean())
    assert evidence[-1].outside == pytest.approx(sims[50:].mean())
    pairs = chapter.pair_evidence(small_trace, {"in": (mask, mask)})
    first = independent_cosines(small_trace["encoder.layer.0.output"])[1:, 1:][:50, :50]
    assert pairs["in"][0] == pytest.approx((first.sum() - np.trace(first)) / (50 * 49))
    lengths = chapter.token_lengths(small_trace)
    first_output = small_trace["encoder.layer.0.output"]
    assert lengths[0] == pytest.approx(np.linalg.norm(first_output, axis=1).mean(), rel=1e-5)
    html = chapter.gallery_html([small_trace, odd_trace])
    assert html.count("<figure>") == 2 and html.count('src="data:image/png;base64,') == 2
    assert f"{odd_trace.config.id2label[int(odd_trace['probs'].argmax())]} (" in html
    assert 'class="elvit-mask-picture"' in chapter.mask_picture(small_trace, {"thing": mask})
    monkeypatch.setenv(chapter.READER_IMAGES_VARIABLE, '["/a.png", 3]')
    assert chapter.exported_reader_images() == ["/a.png"]
    monkeypatch.setenv(chapter.READER_IMAGES_VARIABLE, "not json")
    assert chapter.exported_reader_images() == []
