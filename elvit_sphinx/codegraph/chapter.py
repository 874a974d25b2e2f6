"""What the code chapter (``book/10-how-the-code-is-organised.md``) prints, read from the code.

Every class name, line number, edge and excerpt in that chapter comes from here, computed from
the installed model source at build time, so the chapter stays true when transformers changes
its classes. Pure Python (``ast``, no torch): notebook cells import it cheaply.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from code_graph.concepts import ConceptLink, link_concepts
from code_graph.members import Member

from .glossary import read_glossary
from .source_code import MODEL_CLASS, SourceCode, model_source_file, read_source

#: The chapter that explains each glossary term's maths (labels of the book's chapters).
TERM_CHAPTERS = {
    "patch": "chapter-patches", "patch embedding": "chapter-patches",
    "convolution": "chapter-patches", "channel": "chapter-patches",
    "CLS token": "chapter-cls-position", "position embedding": "chapter-cls-position",
    "token": "chapter-cls-position", "LayerNorm": "chapter-layernorm",
    "multi-head self-attention": "chapter-attention", "head": "chapter-attention",
    "query, key, value": "chapter-attention", "attention score": "chapter-attention",
    "MLP": "chapter-mlp-gelu", "GELU": "chapter-mlp-gelu",
    "residual connection": "chapter-residuals", "block": "chapter-residuals",
    "Transformer encoder": "chapter-residuals",
    "classifier head": "chapter-head", "logits": "chapter-head",
}
#: Chapter label -> (file, title in words), as the book's layout fixes them.
CHAPTERS = {
    "chapter-patches": ("01-image-to-patches.md", "From an image to patch embeddings"),
    "chapter-cls-position": ("02-cls-and-position.md",
                             "the chapter on the CLS token and position embeddings"),
    "chapter-layernorm": ("03-layernorm.md", "the LayerNorm chapter"),
    "chapter-attention": ("04-attention.md", "the attention chapter"),
    "chapter-mlp-gelu": ("05-mlp-and-gelu.md", "the chapter on the MLP and GELU"),
    "chapter-residuals": ("06-residual-stream.md", "the chapter on the residual stream"),
    "chapter-head": ("07-the-head.md", "the chapter on the classifier head"),
}


def chapter_reference(label: str, book: Path) -> str:
    """``{ref}`label``` when that chapter is part of this book (its file has the label),
    else its title in words: a missing label would fail the ``-W`` build."""
    file, words = CHAPTERS[label]
    path = book / file
    if path.is_file() and f"({label})=" in path.read_text(encoding="utf-8"):
        return f"{{ref}}`{label}`"
    return words


@dataclass(frozen=True)
class Step:
    """One part a class builds in ``__init__``: ``self.<name> = <text>`` on ``line``."""

    owner: str  # class name
    member: Member
    target: str  # the analysed class it holds, or "" for a part from outside the file

    @property
    def built(self) -> str:
        """What builds the part: the analysed class, or the outside callable's short name."""
        if self.target:
            return self.target
        return " or ".join(ref.rsplit(".", 1)[-1] for ref in self.member.made_by)


class ModelCode:
    """The model's source, its class graph and its glossary links, as the chapter tells them."""

    def __init__(self, glossary: str | Path, path: str | Path | None = None) -> None:
        self.code: SourceCode = read_source(path or model_source_file())
        self.terms = read_glossary(glossary)
        first_lines = {k: n.line or 0 for k, n in self.code.graph.nodes.items()}
        self.links: list[ConceptLink] = link_concepts(self.terms, self.code.parts, first_lines)

    def name(self, node_id: str) -> str:
        return self.code.graph.nodes[node_id].name

    def node(self, class_name: str):
        found = self.code.find_class(class_name)
        if found is None:
            raise LookupError(f"{self.code.file_name} defines no class {class_name}")
        return found

    def edge_counts(self) -> Counter:
        return Counter(e.kind for e in self.code.classes.edges if e.kind != "defines")

    def parts_of(self, class_name: str) -> list[Step]:
        """The parts a class builds, in source order (attributes that hold something)."""
        node = self.node(class_name)
        steps = []
        seen = set()
        for member in self.code.parts[node.id].attributes():
            if member.name in seen:
                continue
            seen.add(member.name)
            held = (*member.holds, *member.repeats)
            if held:
                steps += [Step(class_name, member, self.name(target)) for target in held]
            elif member.made_by and not member.made_by[0].startswith("builtins."):
                steps.append(Step(class_name, member, ""))
        return steps

    def walk(self, root: str = MODEL_CLASS) -> list[tuple[int, Step]]:
        """Depth-first from ``root`` along the classes each class builds: (depth, step)."""
        out: list[tuple[int, Step]] = []
        visited = {root}

        def visit(class_name: str, depth: int) -> None:
            for step in self.parts_of(class_name):
                out.append((depth, step))
                if step.target and step.target not in visited:
                    visited.add(step.target)
                    visit(step.target, depth + 1)

        visit(root, 0)
        return out

    def walk_markdown(self, root: str = MODEL_CLASS) -> str:
        """The walk as a nested MyST list, every class linked to its source."""
        lines = []
        for depth, step in self.walk(root):
            member = step.member
            built = f"{{elvit-class}}`{step.target}`" if step.target else " or ".join(
                f"`{name}`" for name in step.built.split(" or "))
            many = " (a list of them)" if step.target and member.repeats else ""
            lines.append(f"{'  ' * depth}- {{elvit-class}}`{step.owner}` builds `self.{member.name}`: "
                         f"{built}{many}, line {member.line}")
        return "\n".join(lines)

    def method_excerpt(self, class_name: str, method: str) -> tuple[int, str]:
        """(first line, source text) of a method of a class."""
        node = self.code.graph.nodes[f"{self.node(class_name).id}.{method}"]
        return node.line, "\n".join(self.code.text_lines(node.line, node.end_line))

    def lines_matching(self, class_name: str, pattern: str) -> list[tuple[int, str]]:
        """(line, text) of the class's lines that match a regular expression."""
        node = self.node(class_name)
        texts = self.code.text_lines(node.line, node.end_line)
        return [(node.line + i, text.strip()) for i, text in enumerate(texts) if re.search(pattern, text)]

    def concept_rows(self, book: Path) -> list[tuple[str, str, str]]:
        """(class, terms it implements, chapters explaining them) for the classes with terms."""
        by_class: dict[str, list[str]] = {}
        for link in self.links:
            by_class.setdefault(link.target, [])
            if link.term not in by_class[link.target]:
                by_class[link.target].append(link.term)
        rows = []
        for node in self.code.analysed_classes():
            terms = by_class.get(node.id)
            if not terms:
                continue
            labels = list(dict.fromkeys(TERM_CHAPTERS[t] for t in terms if t in TERM_CHAPTERS))
            chapters = "; ".join(chapter_reference(label, book) for label in labels) or "—"
            rows.append((node.name, ", ".join(terms), chapters))
        return rows


def _string(node: ast.expr) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def legacy_weight_names(model_file: str | Path, class_name: str) -> list[tuple[str, str]]:
    """The renamings the installed library applies to older checkpoints of ``class_name``.

    Transformers 5 loads checkpoints written by 4.x, whose modules had other names, by renaming
    their weights (``WeightRenaming(old, new)`` in ``conversion_mapping.py``, beside the models
    folder). Read with ``ast``: ``[]`` when the file or the entry does not exist (4.x).
    """
    library = Path(model_file).resolve().parents[2]
    mapping = library / "conversion_mapping.py"
    if not mapping.is_file():
        return []
    tree = ast.parse(mapping.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if not isinstance(node, ast.Dict):
            continue
        for key, value in zip(node.keys, node.values, strict=True):
            if key is None or _string(key) != class_name or not isinstance(value, ast.List):
                continue
            pairs = []
            for call in value.elts:
                if (isinstance(call, ast.Call) and getattr(call.func, "id", "") == "WeightRenaming"
                        and len(call.args) >= 2):
                    old, new = (_string(arg) for arg in call.args[:2])
                    if old is not None and new is not None:
                        pairs.append((_plain(old), _plain(new)))
            return pairs
    return []


def _plain(pattern: str) -> str:
    """A regular expression as the dotted name it matches (``encoder\\.layer\\.`` → ``encoder.layer.``)."""
    return pattern.replace("\\.", ".").lstrip("^")
