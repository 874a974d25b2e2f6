"""Chapters 4 (attention) and 5 (MLP and GELU) run their own cells on a model of every geometry:
the NumPy step each chapter shows equals the trace (rtol 1e-4), and the hidden cell that glues
the prose's numbers works for any model."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

BOOK = Path(__file__).parent.parent / "book"
CELL = re.compile(r"```\{code-cell\} python3\n(.*?)```", re.S)


def cells(chapter: str) -> list[tuple[bool, str]]:
    """(hidden?, source) of every code cell of a chapter, in order, without its option lines."""
    found = []
    for body in CELL.findall((BOOK / chapter).read_text(encoding="utf-8")):
        options = re.match(r"(?:\s*:[\w-]+:.*\n)*", body).group(0)
        found.append((":tags: [remove-cell]" in options, body[len(options):]))
    return found


def run_chapter(chapter: str, trace, monkeypatch, glued: dict) -> dict:
    """Execute a chapter's cells with ``book_trace`` answering ``trace``; return their namespace."""
    import myst_nb

    from elvit_sphinx import notebook

    monkeypatch.setattr(notebook, "book_trace", lambda image: trace)
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: glued.__setitem__(name, value))
    namespace: dict = {}
    for index, (_hidden, source) in enumerate(cells(chapter)):
        exec(compile(source, f"{chapter} cell {index}", "exec"), namespace)
    return namespace


def test_chapters_have_one_hidden_cell_and_their_numpy_cells():
    for chapter, visible_count in (("04-attention.md", 1), ("05-mlp-and-gelu.md", 2)):
        found = cells(chapter)
        assert [hidden for hidden, _ in found] == [True] + [False] * visible_count
        for _hidden, source in found[1:]:  # learners' cells: NumPy, the book's helpers, and the stdlib's math
            imports = set(re.findall(r"^(?:from|import) ([\w.]+)", source, re.M))
            assert imports <= {"numpy", "math", "elvit_sphinx.notebook"}, imports


def test_attention_chapter_recomputes_one_head_from_q_k_v(trace, monkeypatch):
    glued: dict = {}
    space = run_chapter("04-attention.md", trace, monkeypatch, glued)
    config = trace.config
    prefix = "encoder.layer.0.attention."
    for ours, model in space["checks"].values():
        np.testing.assert_allclose(ours, model, rtol=1e-4, atol=1e-6)
    assert space["context"].shape == (config.num_tokens, config.hidden_size)
    np.testing.assert_allclose(space["A"], trace[prefix + "probs"][0], rtol=1e-4, atol=1e-8)
    # The prose's numbers come from this model.
    assert glued["T"] == config.num_tokens and glued["d"] == config.head_dim
    assert glued["heads"] == config.num_heads
    assert float(glued["log_T"].replace("−", "-")) == pytest.approx(np.log(config.num_tokens), abs=1e-3)
    score = trace[prefix + "scores"][0][glued["i"], glued["j"]]
    assert glued["score_trace"] == f"{score:.4f}".replace("-", "−")
    assert float(glued["row_sum_error"]) < 1e-5
    assert glued["residual_error"] == "exactly" or float(glued["residual_error"].split()[-1]) < 1e-5


def test_mlp_chapter_recomputes_gelu_and_the_second_residual(trace, monkeypatch):
    glued: dict = {}
    space = run_chapter("05-mlp-and-gelu.md", trace, monkeypatch, glued)
    block = "encoder.layer.0."
    np.testing.assert_allclose(space["gelu"], trace[block + "mlp.gelu"], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(space["output"], trace[block + "output"], rtol=1e-4, atol=1e-6)
    # The token-by-token experiment: the MLP moved one token, attention moved them all.
    assert space["moved"].sum() == trace.config.num_tokens
    mlp, changed, x = space["mlp"], space["changed"], space["x"]
    assert np.flatnonzero(np.abs(mlp(changed) - mlp(x)).max(axis=1) > 0).tolist() == [5]
    assert glued["M"] == trace.config.intermediate_size
    assert "exact erf form" in str(glued["which_gelu"].data)
    assert glued["min_y"] == "−0.1700" and glued["tanh_gap"] == "4.7e-04"
