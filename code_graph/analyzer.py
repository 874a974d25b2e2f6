"""Static analysis of Python files into a :class:`~code_graph.model.Graph`, with ``ast`` only.

The analysed code is parsed, never imported or run: the book analyses ``modeling_vit.py``
from inside Sphinx, where importing transformers (and torch) would cost seconds and start
threads. Analysis is two passes:

1. :class:`ScopeBuilder` (an ``ast.NodeVisitor``) turns each module into a tree of
   :class:`Scope` objects — module, classes, functions, methods — recording what every name
   is bound to (a definition, an import, an assignment, a loop over something, a parameter
   annotation) and what each method assigns to ``self.<attr>``.
2. :mod:`code_graph.resolver` follows those bindings across modules to what they denote, and
   :mod:`code_graph.edges` emits an edge for every call, construction and base class.

Everything is flow-insensitive: a name assigned twice may hold either value, which is what a
reader of the code would assume too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .model import Graph, Node
from .sources import Parsed, discover, parse

#: Methods that put their (last) argument into a container; ``extend`` adds many.
_FILLERS = ("append", "add", "insert", "extend")

#: A binding: (kind, payload, scope to evaluate the payload in). Kinds: ``scope`` (payload: a
#: Scope), ``module`` (a real module name), ``from`` ((real module, name)), ``expr``, ``iter``
#: (the name takes each item of the expression), ``annotation``, ``self``, ``cls``, ``none``.
Binding = tuple[str, object, "Scope"]


@dataclass(eq=False)
class Scope:
    """A module, class or function body: its node, its names and, for classes, its parts."""

    id: str
    kind: str
    node: ast.AST
    parent: Scope | None
    real_module: str = ""
    bindings: dict[str, list[Binding]] = field(default_factory=dict)
    globals: set[str] = field(default_factory=set)
    children: list[Scope] = field(default_factory=list)
    # Modules: star-imported modules (real names) in order, and a literal ``__all__``.
    stars: list[str] = field(default_factory=list)
    exports: list[str] | None = None
    # Classes: ``self.<attr> = value`` bindings gathered from all methods.
    attributes: dict[str, list[Binding]] = field(default_factory=dict)
    # Methods: the name of the instance parameter (``self``), if any.
    self_name: str | None = None

    def bind(self, name: str, kind: str, payload: object = None, where: Scope | None = None) -> None:
        target = self.module_scope() if name in self.globals else self
        target.bindings.setdefault(name, []).append((kind, payload, where or self))

    def module_scope(self) -> Scope:
        scope = self
        while scope.parent is not None:
            scope = scope.parent
        return scope

    def enclosing_class(self) -> Scope | None:
        """The class a zero-argument ``super()`` in this scope refers to."""
        scope: Scope | None = self
        while scope is not None and scope.kind != "method":
            scope = scope.parent
        return scope.parent if scope is not None else None


def decorator_names(node: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    names = set()
    for decorator in node.decorator_list:
        while isinstance(decorator, ast.Call):
            decorator = decorator.func
        if isinstance(decorator, ast.Attribute):
            names.add(decorator.attr)
        elif isinstance(decorator, ast.Name):
            names.add(decorator.id)
    return names


def _own_nodes(node: ast.AST) -> Iterable[ast.AST]:
    """The nodes of a function body, without descending into nested scopes."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(child))


def _first_doc_line(node: ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> str:
    for line in (ast.get_docstring(node) or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _unpacked(value: ast.expr | None, kind: str) -> list[ast.expr | None] | None:
    """What each name of ``a, b = …`` (or ``for a, b in …``) is bound to, where it is plain.

    ``for i, layer in enumerate(self.layers)`` binds ``layer`` to the items of
    ``self.layers``; ``for a, b in zip(xs, ys)`` binds ``a`` and ``b`` likewise.
    """
    if kind == "expr" and isinstance(value, ast.Tuple | ast.List):
        return list(value.elts)
    if kind == "iter" and isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
        if value.func.id == "enumerate" and value.args:
            return [None, value.args[0]]
        if value.func.id == "zip":
            return list(value.args)
    return None


class ScopeBuilder(ast.NodeVisitor):
    """Builds the scope tree of one module and its graph nodes and ``defines`` edges."""

    def __init__(self, parsed: Parsed, graph: Graph) -> None:
        self.graph = graph
        self.file = str(parsed.file.path)
        source = parsed.file
        self.module = Scope(source.module, "module", parsed.tree, None, source.real)
        self.package = source.real if source.is_package else source.real.rpartition(".")[0]
        graph.add_node(Node(source.module, source.module.rpartition(".")[2], "module", self.file,
                            1, parsed.lines, _first_doc_line(parsed.tree)))
        self.scope = self.module
        self.generic_visit(parsed.tree)

    # Definitions -------------------------------------------------------------------------

    def _enter(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, kind: str) -> Scope:
        parent = self.scope
        scope = Scope(f"{parent.id}.{node.name}", kind, node, parent, parent.real_module)
        parent.children.append(scope)
        parent.bind(node.name, "scope", scope)
        # The span starts at the first decorator: the reader who opens a class sees them.
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        self.graph.add_node(Node(scope.id, node.name, kind, self.file, first,
                                 node.end_lineno, _first_doc_line(node)))
        self.graph.add_edge(parent.id, scope.id, "defines")
        return scope

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        scope = self._enter(node, "class")
        self.scope, saved = scope, self.scope
        for statement in node.body:
            self.visit(statement)
        self.scope = saved

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        in_class = self.scope.kind == "class"
        scope = self._enter(node, "method" if in_class else "function")
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        decorators = decorator_names(node)
        first = None
        if in_class and positional and "staticmethod" not in decorators:
            first = positional[0].arg
            is_cls = "classmethod" in decorators or node.name == "__new__"
            scope.bind(first, "cls" if is_cls else "self", self.scope)
            scope.self_name = None if is_cls else first
        for arg in [*positional, *args.kwonlyargs, args.vararg, args.kwarg]:
            if arg is not None and arg.arg != first:
                if arg.annotation is not None and arg in positional + args.kwonlyargs:
                    scope.bind(arg.arg, "annotation", arg.annotation, scope.parent)
                else:
                    scope.bind(arg.arg, "none")
        self.scope, saved = scope, self.scope
        # ``global`` must be known before the assignments it redirects are seen.
        for inner in _own_nodes(node):
            if isinstance(inner, ast.Global):
                scope.globals.update(inner.names)
        for statement in node.body:
            self.visit(statement)
        self.scope = saved

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        """Lambda parameters shadow nothing that matters here; their bodies hold no bindings."""

    # Bindings ----------------------------------------------------------------------------

    def _bind_target(self, target: ast.expr, kind: str, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            self.scope.bind(target.id, kind if value is not None else "none", value)
        elif isinstance(target, ast.Attribute):
            self._bind_attribute(target, kind, value)
        elif isinstance(target, ast.Tuple | ast.List):
            items = _unpacked(value, kind)
            if items is not None and len(items) != len(target.elts):
                items = None
            for index, element in enumerate(target.elts):
                self._bind_target(element, kind, items[index] if items is not None else None)
        elif isinstance(target, ast.Starred):
            self._bind_target(target.value, kind, None)

    def _bind_attribute(self, target: ast.Attribute, kind: str, value: ast.expr | None) -> None:
        owner = self.scope.parent
        if (self.scope.kind != "method" or owner is None or value is None
                or not isinstance(target.value, ast.Name) or target.value.id != self.scope.self_name):
            return
        owner.attributes.setdefault(target.attr, []).append((kind, value, self.scope))

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._bind_target(target, "expr", node.value)
        if self.scope is self.module and any(
                isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            self._record_exports(node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self._bind_target(node.target, "expr", node.value)
        else:
            self._bind_target(node.target, "annotation", node.annotation)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._bind_target(node.target, "none", None)
        self.generic_visit(node)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self._bind_target(node.target, "expr", node.value)
        self.generic_visit(node)

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self._bind_target(node.target, "iter", node.iter)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            self._bind_target(node.optional_vars, "none", None)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self.scope.bind(node.name, "none")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        """``self.blocks.append(Block())``, ``layers.extend(...)``: containers filled later."""
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _FILLERS and node.args:
            item = node.args[-1]
            value = item if func.attr == "extend" else ast.List(elts=[item], ctx=ast.Load())
            if isinstance(func.value, ast.Name) and func.value.id in self.scope.bindings:
                self.scope.bind(func.value.id, "expr", value)
            elif isinstance(func.value, ast.Attribute):
                self._bind_attribute(func.value, "expr", value)
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            if alias.asname:
                self.scope.bind(alias.asname, "module", alias.name)
            else:
                head = alias.name.partition(".")[0]
                self.scope.bind(head, "module", head)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = self._absolute(node.module, node.level)
        for alias in node.names:
            if base is None:
                self.scope.bind(alias.asname or alias.name, "none")
            elif alias.name == "*":
                self.module.stars.append(base)
            else:
                self.scope.bind(alias.asname or alias.name, "from", (base, alias.name))

    def _absolute(self, module: str | None, level: int) -> str | None:
        """The real name an import refers to, or ``None`` when it climbs above the top."""
        if level == 0:
            return module
        parts = self.package.split(".") if self.package else []
        if level - 1 > len(parts) or (level - 1 == len(parts) and not module):
            return None
        kept = parts[:len(parts) - (level - 1)]
        return ".".join([*kept, module] if module else kept) or None

    def _record_exports(self, value: ast.expr) -> None:
        if isinstance(value, ast.List | ast.Tuple) and all(
                isinstance(e, ast.Constant) and isinstance(e.value, str) for e in value.elts):
            self.module.exports = [e.value for e in value.elts]  # type: ignore[union-attr]


def analyze(paths: Iterable[str | Path], *, externals: bool = True) -> Graph:
    """The graph of the Python files at ``paths`` (files or folders, searched recursively).

    Files that cannot be parsed are listed in ``graph.errors`` and left out; the others are
    analysed as usual. ``externals=False`` drops the external base-class nodes and their
    ``inherits`` edges, leaving only analysed code.
    """
    return analyze_with_resolver(paths, externals=externals)[0]


def analyze_with_resolver(paths: Iterable[str | Path], *, externals: bool = True):
    """:func:`analyze`, also returning the :class:`~code_graph.resolver.Resolver` that knows
    every scope and binding, for callers that ask more than the graph says
    (:mod:`code_graph.members`: what each ``self.<attr>`` holds)."""
    from .edges import EdgeWriter  # both import Scope from here
    from .resolver import Resolver

    files, errors = discover(list(paths))
    graph = Graph(errors=errors)
    modules: list[Scope] = []
    for source in files:
        parsed = parse(source)
        if isinstance(parsed, Parsed):
            modules.append(ScopeBuilder(parsed, graph).module)
        else:
            graph.errors.append(parsed)
    resolver = Resolver(modules)
    EdgeWriter(resolver, graph).run(externals=externals)
    graph.errors.sort()
    return graph, resolver
