"""The whole-model views (overview, detail, annotations): their data is the trace's, at every
geometry; the detail view's PNG sprites decode to the trace's colour codes channel by channel."""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
from PIL import Image

from elvit_sphinx.views import annotations, detail, heatmap, overview
from elvit_sphinx.views.base import to_json
from elvit_sphinx.views.detail_levels import parse_level
from elvit_sphinx.views.encoding import decode
from elvit_sphinx.views.model_map import PARTS, tensor_shapes
from elvit_sphinx.views.mosaic import layout_for
from elvit_sphinx.views.regions import RegionError, parse, resolve

CHAPTER_LABELS = {"chapter-patches", "chapter-cls-position", "chapter-layernorm", "chapter-attention",
                  "chapter-mlp-gelu", "chapter-residuals", "chapter-head"}


def png_codes(b64: str) -> np.ndarray:
    image = Image.open(io.BytesIO(base64.b64decode(b64)))
    assert image.mode == "L"
    return np.asarray(image)


def expected_rows(values: np.ndarray, kind: str, count: int) -> np.ndarray:
    """The values each tile (one channel over the tokens) or map (one head) shows, derived here
    independently of mosaic.py: one row per tile or map."""
    if kind == "maps":
        return values[:count].reshape(count, -1)
    if values.ndim == 3:  # heads × tokens × d: every head's channels in turn
        return np.stack([values[h][:, j] for h in range(values.shape[0])
                         for j in range(values.shape[2])])[:count]
    return values.T[:count]


# --- model map -----------------------------------------------------------------------------------

def test_tensor_shapes_from_the_config_are_the_traces_shapes(trace):
    assert tensor_shapes(trace.config) == {name: trace[name].shape for name in trace.names()}


def test_every_part_names_glossary_terms_of_the_book_and_a_chapter_label():
    from pathlib import Path

    glossary = (Path(__file__).parent.parent / "book" / "glossary.md").read_text().lower()
    for name, part in PARTS.items():
        assert part.chapter in CHAPTER_LABELS, name
        assert any(f"\n{term.lower()}\n" in glossary for term in part.terms), (name, part.terms)


# --- overview ------------------------------------------------------------------------------------

def test_overview_boxes_name_the_traces_tensors_and_shapes(trace):
    data = json.loads(to_json(overview.build(trace, {"open": "model"}).data))
    def shape(name):
        return "×".join(map(str, trace[name].shape))

    for box in data["top"]:
        if "tensor" in box:
            assert box["shape"] == shape(box["tensor"]), box["id"]
    last = trace.config.num_layers - 1
    for part in data["parts"]:
        assert part["shape"] == shape(f"encoder.layer.{last}.{part['suffix']}"), part["id"]
    assert [b["id"] for b in data["top"]] == list(overview.TOP_PARTS)
    assert data["layers"] == trace.config.num_layers
    best = int(np.argmax(trace["probs"]))
    assert data["predicted"]["label"] == trace.config.id2label[best]
    assert decode(data["predicted"]["prob"])[0] == trace["probs"][best]
    assert f"{trace.config.num_tokens}×{trace.config.hidden_size}" in data["notes"]["cls"]
    assert set(overview.links(trace.config, {}).values()) == CHAPTER_LABELS


def test_overview_open_option_is_validated(small_trace):
    config = small_trace.config
    assert overview.validate(config, {"open": "block 11"}) == []
    assert "out of range (0–11)" in overview.validate(config, {"open": "block 12"})[0]
    with pytest.raises(ValueError, match="not a level"):
        overview._open_option("blocks")


# --- detail --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def detail_outputs():
    return {}


def detail_of(trace, outputs):
    if id(trace) not in outputs:
        outputs[id(trace)] = detail.build(trace, {"open": "model"})
    return outputs[id(trace)]


def test_detail_sprites_hold_the_traces_codes_channel_by_channel(trace, detail_outputs):
    output = detail_of(trace, detail_outputs)
    data, chunks = output.data, output.chunks
    checked = 0
    assert data["inline"]["chunk"] == "level-model" and "level-model" not in chunks
    for level_id, level in data["levels"].items():
        payload = chunks.get(level["chunk"]) or data["inline"]["payload"]
        pictures = payload["pictures"]
        for item in level["items"]:
            if item["kind"] not in ("tiles", "maps"):
                continue
            layout, values = item["layout"], trace[item["tensor"]]
            picture = pictures[item["tensor"]]
            rows = expected_rows(values, layout["kind"], layout["count"])
            codes = png_codes(picture["png"]).reshape(len(rows), -1)
            expected = np.stack([heatmap.codes(row) for row in rows])  # min-max per channel or head
            assert np.array_equal(codes, expected), item["tensor"]
            assert np.array_equal(decode(picture["lo"]), rows.min(axis=1))
            assert np.array_equal(decode(picture["hi"]), rows.max(axis=1))
            checked += 1
            if level_id.startswith(("block-", "attention-", "mlp-")) and not level_id.endswith("-0"):
                break  # every picture of block 0, one per level of the others: enough, and quick
    assert checked > 20


def test_detail_levels_drill_down_as_the_paper_and_every_level_fits_its_budget(trace, detail_outputs):
    config = trace.config
    output = detail_of(trace, detail_outputs)
    levels = output.data["levels"]
    assert [i["tensor"] for i in levels["encoder"]["items"]] == [
        f"encoder.layer.{i}.output" for i in range(config.num_layers)]
    last = config.num_layers - 1
    assert levels[f"attention-{last}"]["parent"] == f"block-{last}"
    assert {i["opens"] for i in levels["block-0"]["items"]} == {None, "attention-0", "mlp-0"}
    for level in levels.values():
        payload = output.chunks.get(level["chunk"]) or output.data["inline"]["payload"]
        assert len(to_json(payload).encode()) <= detail.LEVEL_BUDGET_BYTES
    # The page carries the map of the levels and the first level's pictures, no more.
    page = len(to_json(output.data).encode()) - len(to_json(output.data["inline"]).encode())
    assert page < 400_000
    shown = output.data["levels"]["encoder"]["items"][0]
    if "whole" in shown:  # capped (ViT-B/16): the block's own level has every channel
        assert shown["whole"]["chunk"] == "level-block-0"
        assert shown["layout"]["count"] < shown["whole"]["layout"]["count"] == config.hidden_size


def test_detail_prediction_is_the_traces(odd_trace, detail_outputs):
    data = detail_of(odd_trace, detail_outputs).data
    assert np.array_equal(decode(data["prediction"]["probs"]), odd_trace["probs"])
    assert np.array_equal(decode(data["prediction"]["logits"]), odd_trace["logits"])
    assert data["prediction"]["top"] == int(np.argmax(odd_trace["probs"]))


def test_a_level_over_budget_shows_whole_heads_or_channels_and_points_to_the_rest(small_trace, monkeypatch):
    monkeypatch.setattr(detail, "LEVEL_BUDGET_BYTES", 200_000)
    output = detail.build(small_trace, {"open": "model"})
    d = small_trace.config.head_dim
    for level in output.data["levels"].values():
        payload = output.chunks.get(level["chunk"]) or output.data["inline"]["payload"]
        assert len(to_json(payload).encode()) <= 200_000
        for item in level["items"]:
            if "whole" not in item:
                continue
            layout, whole = item["layout"], item["whole"]
            assert layout["count"] < whole["layout"]["count"]
            if item["tensor"].endswith(("query", "key", "value")):
                assert layout["count"] % d == 0  # whole heads
            home = output.chunks.get(whole["chunk"]) or output.data["inline"]["payload"]
            picture = home["pictures"][item["tensor"]]
            assert png_codes(picture["png"]).shape[0] == whole["layout"]["count"] * (
                whole["layout"]["tokens"] if whole["layout"]["kind"] == "maps" else 1)
    assert any(name.startswith("tensor-") for name in output.chunks)  # fc1 is too big everywhere


def test_mosaic_layout_places_every_cell_once(small_trace, odd_trace):
    for config in (small_trace.config, odd_trace.config):
        for shape in [(config.num_tokens, config.hidden_size), (config.num_patches, config.hidden_size),
                      (config.num_heads, config.num_tokens, config.head_dim)]:
            layout = layout_for(shape, config.grid)
            seen = set()
            for index in range(layout.count):
                x0, y0 = layout.origin(index)
                for token in range(layout.tokens):
                    x, y = layout.cell(token)
                    assert 0 <= x < layout.tile_w and 0 <= y < layout.tile_h
                    seen.add((x0 + x, y0 + y))
            assert len(seen) == layout.count * layout.tokens
            assert max(x for x, _ in seen) < layout.width and max(y for _, y in seen) < layout.height


def test_detail_open_option():
    assert parse_level("attention 3") == "attention-3"
    with pytest.raises(IndexError, match="out of range"):
        parse_level("mlp 12", 12)
    with pytest.raises(ValueError, match="not a level"):
        parse_level("layer 1")


# --- annotations ---------------------------------------------------------------------------------

def test_regions_parse_rows_cols_rectangles_last_and_continued_text():
    found, problems = parse("rows 0..0: the CLS token\n  added here\n\n# a comment\n"
                            "col 3: one channel\nrows 1..last, cols 2..4: a rectangle")
    assert problems == []
    assert [(a.line, a.text) for a in found] == [(1, "the CLS token added here"), (5, "one channel"),
                                                 (6, "a rectangle")]
    assert resolve(found[0], 197, 192, "x") == {"r0": 0, "r1": 0, "c0": 0, "c1": 191,
                                                "text": "the CLS token added here"}
    assert resolve(found[2], 197, 192, "x") == {"r0": 1, "r1": 196, "c0": 2, "c1": 4, "text": "a rectangle"}


@pytest.mark.parametrize("content, message", [
    ("rows 0..0 the CLS token", "expected 'REGION: text'"),
    ("diagonal 0..3: no", "expected a region first"),
    ("rows 0..a: bad bound", "a region is 'rows A..B'"),
    ("rows 1..2, rows 3..4: twice", "rows are given twice"),
])
def test_bad_annotation_syntax_is_named_with_its_line(content, message):
    found, problems = parse("rows 0..0: fine\n" + content)
    assert len(problems) == 1 and message in problems[0] and "line 2" in problems[0]


def test_regions_out_of_range_for_the_model_are_problems(small_trace, odd_trace):
    good = {"tensor": "embeddings.with_cls", "content": "rows 0..0: CLS\nrows 1..last: patches"}
    assert annotations.validate(small_trace.config, good) == []
    bad = {"tensor": "embeddings.with_cls",
           "content": "rows 0..0: CLS\nrows 60..70: too far\ncols 9..3: back"}
    problems = annotations.validate(odd_trace.config, bad)
    assert len(problems) == 2
    assert "rows 60..70 are out of range: embeddings.with_cls has rows 0–64" in problems[0]
    assert "run backwards" in problems[1]
    assert "unknown tensor 'encoder.layer.0.probs'" in annotations.validate(
        small_trace.config, {"tensor": "encoder.layer.0.probs", "content": ""})[0]
    assert "head 3 is out of range (0–2)" in annotations.validate(
        small_trace.config, {"tensor": "encoder.layer.0.attention.probs", "head": 3, "content": ""})[0]
    with pytest.raises(RegionError):
        resolve(parse("rows 0..400: x")[0][0], 197, 192, "t")


def test_annotations_data_is_the_tensor_and_its_regions(trace):
    options = {"tensor": "encoder.layer.0.attention.scores", "head": 1,
               "content": "rows 0..0, cols 1..last: the CLS token's scores over the patches"}
    data = annotations.build(trace, options).data
    values = trace["encoder.layer.0.attention.scores"][1]
    assert np.array_equal(decode(data["codes"]).reshape(values.shape), heatmap.codes(values))
    assert decode(data["lo"])[0] == values.min() and decode(data["hi"])[0] == values.max()
    t = trace.config.num_tokens
    assert data["regions"] == [{"r0": 0, "r1": 0, "c0": 1, "c1": t - 1,
                                "text": "the CLS token's scores over the patches"}]
    assert (data["row_axis"], data["col_axis"]) == ("query token", "key token")
    image = annotations.build(trace, {"tensor": "input.image", "content": "rows 0..15: top"}).data
    assert np.array_equal(decode(image["rgb"]), trace["input.image"])
