"""What each analysed class is made of: the names it gives its parts, and what those hold.

The class graph says *that* ``ViTLayer`` builds a ``ViTMLP``; a reader also wants to know
*under which name* (``self.mlp``), on which line, and what the class's other parts are
(``self.layernorm_before = nn.LayerNorm(...)``: a part from outside the analysed code). This
module lists, for every analysed class:

* its ``self.<attr>`` attributes, assigned in any of its methods, with the analysed classes
  whose instances they hold (``holds``), the classes they hold a *container* of (``repeats``:
  ``nn.ModuleList([ViTLayer(config) for _ in ...])``) and the external callable that built
  them (``made_by``: ``torch.nn.LayerNorm``), all as :mod:`code_graph.resolver` evaluates
  them;
* the local names its methods assign (``residual = hidden_states``);
* its documentation: the docstring, or the text a decorator is given to generate one
  (transformers' ``@auto_docstring(custom_intro="...")``).

Like the rest of the package, it only parses the code.
"""

from __future__ import annotations

import ast
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .analyzer import Scope, analyze_with_resolver
from .model import Graph
from .resolver import Resolver


@dataclass(frozen=True)
class Member:
    """A name inside a class: an attribute (``self.<name> = …``) or a method's local name."""

    owner: str
    name: str
    kind: str  # "attribute" or "local"
    line: int
    text: str  # the source line, stripped
    holds: tuple[str, ...] = ()
    repeats: tuple[str, ...] = ()
    made_by: tuple[str, ...] = ()


@dataclass
class ClassParts:
    """One class: its documentation and members, in source order."""

    id: str
    name: str
    doc: str
    members: list[Member] = field(default_factory=list)

    def attributes(self) -> list[Member]:
        return [m for m in self.members if m.kind == "attribute"]


def _decorator_intro(node: ast.ClassDef) -> str:
    """A string keyword of a decorator call that documents the class (``custom_intro=``)."""
    for decorator in node.decorator_list:
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                value = keyword.value
                if (keyword.arg and "intro" in keyword.arg and isinstance(value, ast.Constant)
                        and isinstance(value.value, str)):
                    return value.value
    return ""


def class_doc(node: ast.ClassDef) -> str:
    """The class's documentation, whitespace-normalised: docstring, else a decorator's intro."""
    text = ast.get_docstring(node) or _decorator_intro(node)
    return " ".join(text.split())


def _outer_calls(expr: ast.expr) -> Iterable[ast.Call]:
    """The calls that produce the value: ``A(...)``, both arms of ``A() if c else B()``."""
    if isinstance(expr, ast.Call):
        yield expr
    elif isinstance(expr, ast.IfExp):
        yield from _outer_calls(expr.body)
        yield from _outer_calls(expr.orelse)
    elif isinstance(expr, ast.BoolOp):
        for value in expr.values:
            yield from _outer_calls(value)


class _Reader:
    """Turns the resolver's scopes into members, reading source lines for their text."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self.lines: dict[str, list[str]] = {}

    def text(self, file: str, line: int) -> str:
        if file not in self.lines:
            with tokenize.open(file) as handle:
                self.lines[file] = handle.read().splitlines()
        lines = self.lines[file]
        return lines[line - 1].strip() if 0 < line <= len(lines) else ""

    def member(self, file: str, owner: str, name: str, kind: str, value: ast.expr,
               where: Scope) -> Member:
        values = self.resolver.eval(value, where)
        # In source order: ``nn.Linear(...) if n else nn.Identity()`` is first of all a Linear.
        external = list(dict.fromkeys(ref for call in _outer_calls(value)
                                      for k, ref in sorted(self.resolver.eval(call.func, where))
                                      if k == "external"))
        return Member(owner, name, kind, value.lineno, self.text(file, value.lineno),
                      holds=tuple(sorted(ref for k, ref in values if k == "instance")),
                      repeats=tuple(sorted(ref for k, ref in values if k == "items")),
                      made_by=tuple(external))

    def parts(self, scope: Scope, file: str) -> ClassParts:
        node = scope.node
        assert isinstance(node, ast.ClassDef)
        found = ClassParts(scope.id, node.name, class_doc(node))
        for name, bindings in scope.attributes.items():
            for kind, value, where in bindings:
                if kind == "expr" and isinstance(value, ast.expr) and hasattr(value, "lineno"):
                    found.members.append(self.member(file, scope.id, name, "attribute", value, where))
        for method in scope.children:
            if method.kind != "method":
                continue
            for name, bindings in method.bindings.items():
                for kind, value, _where in bindings:
                    # Parameters carry no expression; ``for x in …`` and ``x = …`` do.
                    if kind in ("expr", "iter") and isinstance(value, ast.expr) and hasattr(value, "lineno"):
                        found.members.append(Member(scope.id, name, "local", value.lineno,
                                                    self.text(file, value.lineno)))
        found.members.sort(key=lambda m: (m.line, m.kind, m.name))
        return found


def class_parts(paths: Iterable[str | Path]) -> tuple[Graph, dict[str, ClassParts]]:
    """The graph of ``paths`` (as :func:`code_graph.analyze`) and the parts of every class."""
    graph, resolver = analyze_with_resolver(paths)
    reader = _Reader(resolver)
    parts = {}
    for scope in resolver.order:
        node = graph.nodes.get(scope.id)
        if scope.kind == "class" and node is not None and node.file is not None:
            parts[scope.id] = reader.parts(scope, node.file)
    return graph, parts
