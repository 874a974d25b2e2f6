"""What the code chapter glues: the walk from the model class, excerpts, version facts."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from elvit_sphinx.codegraph.chapter import ModelCode, chapter_reference, legacy_weight_names
from elvit_sphinx.codegraph.source_code import MODEL_CLASS

BOOK = Path(__file__).parent.parent / "book"


@pytest.fixture(scope="module")
def model() -> ModelCode:
    return ModelCode(BOOK / "glossary.md")


def test_walk_goes_from_the_model_class_down_to_attention_and_the_mlp(model):
    walk = model.walk()
    assert walk[0][0] == 0 and walk[0][1].owner == MODEL_CLASS
    reached = {step.target for _, step in walk if step.target}
    implementing = {model.name(link.target) for link in model.links
                    if link.term in ("multi-head self-attention", "MLP", "block", "patch embedding")}
    assert implementing <= reached
    lines = model.code.path.read_text().splitlines()
    for depth, step in walk:
        assert lines[step.member.line - 1].strip() == step.member.text
        assert f"self.{step.member.name}" in step.member.text
        assert depth == 0 or any(s.target == step.owner for _, s in walk)
    markdown = model.walk_markdown()
    assert markdown.startswith(f"- {{elvit-class}}`{MODEL_CLASS}` builds `self.")
    assert "(a list of them)" in markdown  # the blocks


def test_excerpts_and_matching_lines_come_from_the_file(model):
    block = next(step.target for _, step in model.walk() if step.member.repeats)
    first, text = model.method_excerpt(block, "forward")
    assert text.lstrip().startswith("def forward(")
    assert model.code.path.read_text().splitlines()[first - 1].strip().startswith("def forward(")
    for line, text in model.lines_matching(MODEL_CLASS, r"self\.\w+ = "):
        assert model.code.path.read_text().splitlines()[line - 1].strip() == text
    with pytest.raises(LookupError):
        model.node("NoSuchClass")


def test_concept_rows_name_chapters_in_words_until_they_exist(model, tmp_path):
    rows = {name: chapters for name, _terms, chapters in model.concept_rows(BOOK)}
    assert rows[MODEL_CLASS] == "{ref}`chapter-head`"  # chapter 7 has the label
    assert chapter_reference("chapter-patches", BOOK) == "{ref}`chapter-patches`"
    (tmp_path / "07-the-head.md").write_text("# The head, before its label was added\n")
    assert chapter_reference("chapter-head", tmp_path) == "the chapter on the classifier head"
    (tmp_path / "04-attention.md").write_text("# Attention without its label\n")
    assert chapter_reference("chapter-attention", tmp_path) == "the attention chapter"


def test_legacy_weight_names_are_read_from_the_library(model, tmp_path):
    base = next(step.target for _, step in model.walk() if step.owner == MODEL_CLASS and step.target)
    renames = legacy_weight_names(model.code.path, base)
    if int(metadata.version("transformers").split(".")[0]) >= 5:
        assert ("intermediate.dense", "mlp.fc1") in renames
        assert all("\\" not in old and not old.startswith("^") for old, _ in renames)
    fake = tmp_path / "lib" / "models" / "toy" / "modeling_toy.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("")
    assert legacy_weight_names(fake, base) == []  # no conversion_mapping.py: a 4.x layout
