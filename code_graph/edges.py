"""Emitting the edges: what each module, class and function body calls, constructs and extends.

Kept apart from :mod:`code_graph.resolver`, which knows what an expression *denotes*; this
module knows which expressions *run* in which scope: a function's body, but not the bodies of
the functions it defines, whose decorators and default values do run in it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from .analyzer import Scope
from .model import Graph, Node
from .resolver import Resolver, Values

_NESTED = (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)


class EdgeWriter:
    """Adds the ``inherits``, ``instantiates`` and ``calls`` edges of analysed scopes to a graph."""

    def __init__(self, resolver: Resolver, graph: Graph) -> None:
        self.resolver = resolver
        self.graph = graph

    def targets(self, values: Values) -> Iterator[tuple[str, str]]:
        """The (edge kind, node id) pairs that calling something with these values gives."""
        for kind, ref in sorted(values):
            if kind == "class":
                yield "instantiates", ref
            elif kind == "func":
                yield "calls", ref
            elif kind == "instance":
                for function in self.resolver.call_target(ref):
                    yield "calls", function

    def run(self, externals: bool = True) -> None:
        for scope in self.resolver.order:
            if scope.kind == "class":
                self._inherits(scope, externals)
            self._visit(getattr(scope.node, "body", []), scope)

    def _inherits(self, scope: Scope, externals: bool) -> None:
        for kind, ref in sorted(frozenset().union(*self.resolver.bases(scope.id))):
            if kind == "class" and ref != scope.id:
                self.graph.add_edge(scope.id, ref, "inherits")
            elif kind == "external" and externals and ref != "builtins.object":
                self.graph.add_node(Node(ref, ref.rsplit(".", 1)[-1], "external"))
                self.graph.add_edge(scope.id, ref, "inherits")

    def _visit(self, body: list[ast.stmt], scope: Scope) -> None:
        """Emit the edges of the calls that run in ``scope`` itself (a stack, not recursion:
        a long ``a + b + c + ...`` must not exhaust Python's recursion limit)."""
        stack: list[tuple[ast.AST, dict[str, Values] | None]] = [(s, None) for s in reversed(body)]
        while stack:
            node, local = stack.pop()
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                # Only what runs here: decorators, bases, defaults. A bare decorator
                # (``@register``) is a call too.
                for decorator in node.decorator_list:
                    if not isinstance(decorator, ast.Call):
                        self._emit(scope, self.resolver.eval(decorator, scope, local))
                if isinstance(node, ast.ClassDef):
                    parts = [*node.bases, *(k.value for k in node.keywords)]
                else:
                    parts = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
                stack.extend((part, local) for part in reversed([*node.decorator_list, *parts]))
                continue
            if isinstance(node, _NESTED):
                local = self.resolver.comprehension(node.generators, scope, local)
            elif isinstance(node, ast.Call):
                self._emit(scope, self.resolver.eval(node.func, scope, local))
            stack.extend((child, local) for child in reversed(list(ast.iter_child_nodes(node))))

    def _emit(self, scope: Scope, values: Values) -> None:
        for kind, target in self.targets(values):
            self.graph.add_edge(scope.id, target, kind)
