"""Chapters 2 and 3 compute their step in NumPy in visible code cells. Those very cells, run on
the traces of every test geometry, must reproduce the model (rtol 1e-4): a reader who builds the
book with another checkpoint gets code that still works and still agrees."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

import elvit_sphinx.notebook as notebook

BOOK = Path(__file__).parent.parent / "book"
CELL = re.compile(r"^```\{code-cell\} python3\n(.*?)^```$", re.S | re.M)


def visible_cells(chapter: str) -> list[str]:
    cells = CELL.findall((BOOK / chapter).read_text(encoding="utf-8"))
    return [cell for cell in cells if not cell.startswith(":tags: [remove-cell]")]


def run_cells(chapter: str, trace, monkeypatch, capsys) -> dict:
    """Execute the chapter's visible cells in one namespace, as the notebook kernel does."""
    monkeypatch.setattr(notebook, "book_trace", lambda image: trace)
    namespace: dict = {}
    for cell in visible_cells(chapter):
        exec(compile(cell, f"{chapter} (code cell)", "exec"), namespace)
    namespace["printed"] = capsys.readouterr().out
    return namespace


def test_chapter_2_builds_the_encoder_input_and_shows_attention_ignores_order(trace, monkeypatch, capsys):
    assert len(visible_cells("02-cls-and-position.md")) == 2
    ns = run_cells("02-cls-and-position.md", trace, monkeypatch, capsys)
    # Our attention is the model's, and shuffling tokens only shuffles its output.
    context = trace["encoder.layer.0.attention.context"]
    np.testing.assert_allclose(ns["merged"], context, rtol=1e-4, atol=1e-6)
    assert ns["shuffle_gap"] < 1e-5 * max(1.0, float(np.abs(context).max()))
    assert sorted(ns["order"]) == list(range(trace.config.num_tokens))
    # CLS on top of the patch embeddings, plus positions: the model's block input, exactly.
    np.testing.assert_allclose(ns["z0"], trace["embeddings.output"], rtol=1e-4, atol=0)
    assert ns["diff"] == 0
    assert f"z0 ({trace.config.num_tokens}, {trace.config.hidden_size})" in ns["printed"]


def test_chapter_3_layernorm_of_one_token_and_of_all_tokens(trace, monkeypatch, capsys):
    assert len(visible_cells("03-layernorm.md")) == 1
    ns = run_cells("03-layernorm.md", trace, monkeypatch, capsys)
    model = trace["encoder.layer.0.layernorm_before"]
    np.testing.assert_allclose(ns["y"], model[ns["token"]], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(ns["Y"], model, rtol=1e-4, atol=1e-5)
    # The normalised token has mean 0 and (biased) variance σ²/(σ² + ε) ≈ 1.
    assert abs(ns["x_hat"].mean()) < 1e-12 and abs(ns["x_hat"].var() - 1) < 1e-9
    assert "largest difference from the model, all" in ns["printed"]


def test_chapter_3_cell_follows_the_input_of_a_later_block(small_trace, monkeypatch, capsys):
    """The cell invites readers to change the block: the input line must then be right too."""
    source = visible_cells("03-layernorm.md")[0].replace("block, token = 0, 32", "block, token = 5, 0")
    monkeypatch.setattr(notebook, "book_trace", lambda image: small_trace)
    namespace: dict = {}
    exec(compile(source, "03-layernorm.md (edited cell)", "exec"), namespace)
    np.testing.assert_allclose(namespace["Y"], small_trace["encoder.layer.5.layernorm_before"],
                               rtol=1e-4, atol=1e-5)
