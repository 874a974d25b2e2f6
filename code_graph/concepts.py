"""Which classes implement which concepts: glossary terms matched against the names in the code.

A textbook says "patch embedding", "CLS token", "LayerNorm"; the code says
``ViTPatchEmbeddings``, ``self.cls_token``, ``self.layernorm_before = nn.LayerNorm(...)``.
:func:`link_concepts` joins the two without a list of class names, so it follows the code from
one library version to the next. The evidence, strongest first (a term keeps only its
strongest kind):

1. **a class name** — ``ViTPatchEmbeddings`` implements *patch embedding*;
2. **an attribute or what built it** — ``self.position_embeddings = nn.Parameter(...)`` in
   ``ViTEmbeddings``: the class that owns it implements *position embedding*; an attribute
   that holds an analysed class (``self.mlp = ViTMLP(config)``) points at that class;
   ``nn.LayerNorm`` in ``ViTLayer`` gives *LayerNorm*;
3. **a local name or the documentation** — ``residual = hidden_states`` in ``ViTLayer.forward``
   gives *residual connection*; a docstring that spells a term out gives that term.

Words are compared after splitting ``snake_case`` and ``CamelCase``, dropping the prefix all
the analysed classes share (``ViT``), singularising, expanding common code abbreviations
(``attn``, ``pos``, ``embed``, ``conv``) and joining neighbours (``layer_norm`` is also
``layernorm``). A name matches the terms whose words it covers best, preferring the term's
last word (its head noun: ``attention`` is *multi-head self-attention*, not *attention
score*); a name that matches several terms equally but only in part (``embeddings``: patch?
position?) is ambiguous and gives nothing, unless one of those terms is the one the others are
defined with (``residual``: the *residual stream*'s definition refers to {term}`residual
connection`, so the local name stands for the connection).

Two concepts are named by no identifier but by the graph's shape (:data:`STRUCTURAL`): the
*block* is the class whose instances fill a container (``nn.ModuleList([ViTLayer(config) for
...])``) and the *Transformer encoder* is the class that holds that container.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from .members import ClassParts, Member
from .model import Graph, Node

#: Abbreviations common in model code, spelled out before matching.
ABBREVIATIONS = {"attn": "attention", "pos": "position", "embed": "embedding",
                 "emb": "embedding", "conv": "convolution"}
#: Concepts found by their role in the graph rather than by a name (see the module docstring).
STRUCTURAL = {"block": "repeated", "transformer encoder": "holds repeated"}

TIER_NAME, TIER_PART, TIER_WORD = 1, 2, 3
#: A MyST glossary reference inside a definition: {term}`name` or {term}`text <name>`.
_TERM_ROLE = re.compile(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`")


@dataclass(frozen=True)
class Term:
    """One glossary entry: its names (``query``, ``key``, ``value`` share one) and definition."""

    names: tuple[str, ...]
    definition: str = ""

    @property
    def label(self) -> str:
        return ", ".join(self.names)


@dataclass(frozen=True, order=True)
class ConceptLink:
    """``term`` is implemented by class ``target``; ``evidence`` is what showed it.

    ``tier``: 1 a class name, 2 an attribute or its constructor, 3 a local name or the
    documentation, 4 the graph's shape. ``line`` and ``text`` locate the evidence (the class's
    first line and name for tiers 1 and 4).
    """

    term: str
    target: str
    tier: int
    line: int
    owner: str
    evidence: str
    text: str
    matched: str = ""  # the name of the term the evidence spells (query, key or value)
    identifier: str = ""  # the name in the code that spells it (cls_token, LayerNorm, ...)


def _singular(word: str) -> str:
    if len(word) <= 3 or word.endswith(("ss", "us", "is", "as")):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") else word


def _normal(word: str) -> str:
    word = word.lower()
    return ABBREVIATIONS.get(word, _singular(word))


def identifier_words(name: str) -> frozenset[str]:
    """``layernorm_before`` → {layernorm, before}; ``LayerNorm`` → {layer, norm, layernorm}."""
    parts = [w for chunk in re.split(r"[^A-Za-z0-9]+", name)
             for w in re.findall(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+", chunk)]
    words = [_normal(w) for w in parts if len(w) > 1]
    joined = [_normal(a + b) for a, b in zip(parts, parts[1:], strict=False)]
    return frozenset(words + joined)


def term_words(name: str) -> tuple[str, ...]:
    """A term's words in order, CamelCase kept whole: ``LayerNorm`` → (layernorm,)."""
    return tuple(_normal(w) for w in re.findall(r"[A-Za-z0-9]+", name))


def common_prefix(names: list[str]) -> str:
    """The CamelCase prefix every name shares and none consists of (``ViT``), or ``""``."""
    if len(names) < 2:
        return ""
    prefix = min(names)
    for name in names:
        while not name.startswith(prefix):
            prefix = prefix[:-1]
    while prefix and not all(len(n) > len(prefix) and n[len(prefix)].isupper() for n in names):
        prefix = prefix[:-1]
    return prefix


def _contains_phrase(words: list[str], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(tuple(words[i:i + n]) == phrase for i in range(len(words) - n + 1))


class _Matcher:
    """Decides which term names an identifier's words stand for."""

    def __init__(self, terms: list[Term]) -> None:
        self.names = [(term.label, term_words(name)) for term in terms for name in term.names]
        # Which terms each definition builds on ({term}`residual connection` inside "residual
        # stream"): in a tie the more basic term is the one the others are defined with.
        self.builds_on = {term.label: {ref.lower() for ref in _TERM_ROLE.findall(term.definition)}
                          for term in terms}
        self.labels_of = {name.lower(): term.label for term in terms for name in term.names}

    def match(self, words: frozenset[str]) -> list[tuple[str, str]]:
        """(term label, term name) pairs the identifier stands for; ambiguous ones give none."""
        scored = []
        for label, name_words in self.names:
            covered = len(set(name_words) & words)
            if not covered:
                continue
            key = (name_words[-1] in words, covered / len(name_words))
            if key[0] or key[1] >= 0.5:
                scored.append((key, label, " ".join(name_words)))
        if not scored:
            return []
        best = max(key for key, _, _ in scored)
        winners = [(label, name) for key, label, name in scored if key == best]
        labels = {label for label, _ in winners}
        if best[1] < 1 and len(labels) > 1:
            basic = [label for label in labels
                     if all(label in self._referenced_by(other) for other in labels - {label})]
            return [(label, name) for label, name in winners if label in basic] if len(basic) == 1 else []
        return winners

    def _referenced_by(self, label: str) -> set[str]:
        """The labels of the terms that ``label``'s definition refers to with {term}`...`."""
        return {self.labels_of[ref] for ref in self.builds_on.get(label, ()) if ref in self.labels_of}


def _member_evidence(member: Member) -> list[tuple[str, str]]:
    """(target class, how) for an attribute or local: what it holds, else its owner."""
    if member.holds or member.repeats:
        return [(target, "holds") for target in (*member.holds, *member.repeats)]
    return [(member.owner, "has")]


def link_concepts(terms: Iterable[Term], classes: dict[str, ClassParts],
                  first_lines: dict[str, int] | None = None) -> list[ConceptLink]:
    """Every (term, class) pair the code gives evidence for, strongest evidence kind only.

    ``classes`` is :func:`code_graph.members.class_parts`' second result; ``first_lines`` gives
    each class's first line (for class-name evidence; default 0).
    """
    terms = list(terms)
    matcher = _Matcher(terms)
    lines = first_lines or {}
    prefix = common_prefix([c.name for c in classes.values()])
    found: list[ConceptLink] = []

    def add(identifier, target, tier, line, owner, evidence, text, match_on=None) -> None:
        for label, name in matcher.match(identifier_words(match_on or identifier)):
            found.append(ConceptLink(label, target, tier, line, owner, evidence, text, name, identifier))

    for class_id, parts in sorted(classes.items()):
        line = lines.get(class_id, 0)
        add(parts.name, class_id, TIER_NAME, line, class_id, "class name", f"class {parts.name}",
            match_on=parts.name[len(prefix):])
        for member in parts.members:
            where = "attribute" if member.kind == "attribute" else "local name"
            tier = TIER_PART if member.kind == "attribute" else TIER_WORD
            for target, how in _member_evidence(member):
                add(member.name, target, tier, member.line, class_id,
                    f"{where} {member.name}, {how}", member.text)
            for external in member.made_by:
                add(external.rsplit(".", 1)[-1], class_id, TIER_PART, member.line,
                    class_id, f"built by {external}", member.text)
        doc_words = [_normal(w) for w in re.findall(r"[A-Za-z0-9]+", parts.doc)]
        for term in terms:
            for name in term.names:
                if _contains_phrase(doc_words, term_words(name)):
                    found.append(ConceptLink(term.label, class_id, TIER_WORD, line, class_id,
                                             "documentation", parts.doc.split(". ")[0],
                                             " ".join(term_words(name))))
    found += _structural(terms, classes, lines, {link.term for link in found})
    return _strongest(terms, found)


def _structural(terms: list[Term], classes: dict[str, ClassParts], lines: dict[str, int],
                named: set[str]) -> list[ConceptLink]:
    links = []
    for term in terms:
        role = STRUCTURAL.get(" ".join(term_words(term.label)))
        if role is None or term.label in named:
            continue
        for parts in classes.values():
            for member in parts.attributes():
                for repeated in member.repeats:
                    target = repeated if role == "repeated" else parts.id
                    links.append(ConceptLink(
                        term.label, target, 4, member.line, parts.id,
                        f"attribute {member.name} holds a container of {repeated.rsplit('.', 1)[-1]}",
                        member.text))
    return links


def _strongest(terms: list[Term], found: list[ConceptLink]) -> list[ConceptLink]:
    """Per term, the links of its strongest evidence kind; an entry with several names (query,
    key, value) keeps only classes that show evidence for each of them."""
    by_term: dict[str, list[ConceptLink]] = defaultdict(list)
    for link in found:
        by_term[link.term].append(link)
    kept: list[ConceptLink] = []
    for term in terms:
        links = by_term.get(term.label, [])
        if len(term.names) > 1:
            per_name = defaultdict(set)
            for link in links:
                per_name[link.matched].add(link.target)
            wanted = [" ".join(term_words(name)) for name in term.names]
            common = set.intersection(*(per_name[name] for name in wanted)) if all(
                name in per_name for name in wanted) else set()
            links = [link for link in links if link.target in common]
        if links:
            tier = min(link.tier for link in links)
            kept += [link for link in links if link.tier == tier]
    return sorted(set(kept))


def concept_id(term: Term | str) -> str:
    return "concept:" + (term.label if isinstance(term, Term) else term)


def with_concepts(classes: Graph, terms: Iterable[Term], links: Iterable[ConceptLink],
                  describe=lambda term: term.definition) -> Graph:
    """A copy of a class graph plus a ``concept`` node per linked term and its
    ``implemented_by`` edges, so that concepts are laid out with the classes."""
    graph = Graph(dict(classes.nodes), set(classes.edges), list(classes.errors))
    links = [link for link in links if link.target in graph.nodes]
    linked = {link.term for link in links}
    for term in terms:
        if term.label in linked:
            graph.add_node(Node(concept_id(term), term.label, "concept", doc=describe(term)))
    for link in links:
        graph.add_edge(concept_id(link.term), link.target, "implemented_by")
    return graph
