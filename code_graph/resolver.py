"""Following the bindings recorded by :mod:`code_graph.analyzer` to the classes and functions
they denote (:mod:`code_graph.edges` then turns what runs where into edges).

An expression evaluates to a set of abstract *values*, pairs ``(kind, ref)``:

``module``   an analysed module (ref: its real dotted name)
``class``    an analysed class; calling it instantiates it
``func``     an analysed function or method; calling it calls it
``instance`` an instance of an analysed class; calling it calls the class's ``__call__``, or
             its ``forward`` when the class has a ``forward`` and no ``__call__`` (what calling
             an ``nn.Module`` does), looked up along the class's MRO within analysed code
``items``    a list, tuple, comprehension or container built from one (``nn.ModuleList([...])``)
             whose items are instances of an analysed class; iterating or indexing gives them
``class-items`` the same for classes, e.g. a registry ``{"eager": Attention, ...}``
``super``    the proxy ``super()`` returns inside a class (ref: that class)
``external`` a dotted name outside the analysed files (``torch.nn.Linear``)

Calls whose target is external are dropped; external names survive only as base classes
(``inherits``), where they tell the reader where the analysed hierarchy leaves the code.
"""

from __future__ import annotations

import ast
import builtins
from collections.abc import Callable, Iterable, Iterator

from .analyzer import Binding, Scope, decorator_names

Value = tuple[str, str]
Values = frozenset[Value]
EMPTY: Values = frozenset()
_BUILTINS = frozenset(dir(builtins))
_ITEMS = {"instance": "items", "class": "class-items"}
_ELEMENTS = {items: kind for kind, items in _ITEMS.items()}


def _kind(values: Iterable[Value], kind: str) -> list[str]:
    return [ref for k, ref in values if k == kind]


def _collection(values: Iterable[Value]) -> Values:
    """A container of these instances or classes (other values are not items we can follow)."""
    return frozenset((_ITEMS[kind], ref) for kind, ref in values if kind in _ITEMS)


def _elements(values: Iterable[Value]) -> Values:
    """What iterating over, or indexing, these containers gives."""
    return frozenset((_ELEMENTS[kind], ref) for kind, ref in values if kind in _ELEMENTS)


def _instances(values: Iterable[Value]) -> Values:
    return frozenset(("instance", ref) for ref in _kind(values, "class"))


def _containers(values: Iterable[Value]) -> Values:
    return frozenset(v for v in values if v[0] in _ELEMENTS)


def _c3(sequences: list[list[str]]) -> list[str] | None:
    sequences = [list(s) for s in sequences if s]
    merged: list[str] = []
    while sequences:
        for sequence in sequences:
            head = sequence[0]
            if not any(head in other[1:] for other in sequences):
                break
        else:
            return None  # inconsistent hierarchy; the caller falls back to depth-first order
        merged.append(head)
        sequences = [[x for x in s if x != head] for s in sequences]
        sequences = [s for s in sequences if s]
    return merged


class Resolver:
    """Evaluates names and expressions over all analysed modules, then emits edges."""

    def __init__(self, modules: list[Scope]) -> None:
        self.modules = {module.real_module: module for module in modules}
        self.scopes: dict[str, Scope] = {}
        self.order: list[Scope] = []
        pending = list(modules)
        while pending:
            scope = pending.pop(0)
            self.scopes.setdefault(scope.id, scope)
            self.order.append(scope)
            pending[:0] = scope.children
        self._cache: dict[tuple, Values] = {}
        self._active: set[tuple] = set()
        self._cuts = 0
        self._mro: dict[str, list[str]] = {}
        self._bases: dict[str, list[Values]] = {}

    def _memo(self, key: tuple, compute: Callable[[], Iterable[Value]]) -> Values:
        """Cached evaluation that returns nothing on a cycle (``x = x.y``) instead of looping.

        A result computed while a cycle was cut may be incomplete, so it is not cached.
        """
        if key in self._cache:
            return self._cache[key]
        if key in self._active:
            self._cuts += 1
            return EMPTY
        self._active.add(key)
        cuts = self._cuts
        try:
            result = frozenset(compute())
        finally:
            self._active.discard(key)
        if cuts == self._cuts:
            self._cache[key] = result
        return result

    # Names -------------------------------------------------------------------------------

    def lookup(self, name: str, scope: Scope, local: dict[str, Values] | None = None) -> Values:
        """A name as Python resolves it: local, enclosing functions, module, builtins."""
        if local and name in local:
            return local[name]
        current: Scope | None = scope
        while current is not None:
            if current.kind == "module":
                found = self.member(current, name)
                if not found and name in _BUILTINS and name not in current.bindings:
                    return frozenset({("external", f"builtins.{name}")})
                return found
            # Class bodies are visible only to their own statements, not to their methods.
            if (current is scope or current.kind != "class") and name in current.bindings:
                return self._bound(current, name)
            current = current.parent
        return EMPTY

    def _bound(self, scope: Scope, name: str) -> Values:
        bindings = scope.bindings[name]
        return self._memo(("name", id(scope), name), lambda: self._union(bindings))

    def _union(self, bindings: list[Binding]) -> Iterator[Value]:
        for binding in bindings:
            yield from self.binding_value(binding)

    def member(self, module: Scope, name: str) -> Values:
        """A module's global ``name``, following its star imports (the last one wins)."""
        def compute() -> Values:
            if name in module.bindings:
                return self._bound(module, name)
            for star in reversed(module.stars):
                source = self.modules.get(star)
                exported = source is not None and (
                    name in source.exports if source.exports is not None else not name.startswith("_"))
                if exported and (found := self.member(source, name)):
                    return found
            return EMPTY
        return self._memo(("member", id(module), name), compute)

    def module_value(self, real: str) -> Values:
        return frozenset({("module" if real in self.modules else "external", real)})

    def binding_value(self, binding: Binding) -> Values:
        kind, payload, where = binding
        if kind == "scope":
            return frozenset({("class" if payload.kind == "class" else "func", payload.id)})  # type: ignore
        if kind == "module":
            return self.module_value(str(payload))
        if kind == "from":
            base, name = payload  # type: ignore[misc]
            if base in self.modules and (found := self.member(self.modules[base], name)):
                return found
            return self.module_value(f"{base}.{name}")
        if kind in ("self", "cls"):
            return frozenset({("instance" if kind == "self" else "class", payload.id)})  # type: ignore
        if kind == "expr":
            return self.eval(payload, where)  # type: ignore[arg-type]
        if kind == "iter":
            return _elements(self.eval(payload, where))  # type: ignore[arg-type]
        if kind == "annotation":
            return _instances(self.annotation(payload, where))  # type: ignore[arg-type]
        return EMPTY

    # Expressions -------------------------------------------------------------------------

    def eval(self, expr: ast.expr, scope: Scope, local: dict[str, Values] | None = None) -> Values:
        """What ``expr`` may denote, as a set of values (empty when unknown)."""
        if isinstance(expr, ast.Name):
            return self.lookup(expr.id, scope, local)
        if isinstance(expr, ast.Attribute):
            return frozenset(v for base in self.eval(expr.value, scope, local)
                             for v in self.attribute(base, expr.attr))
        if isinstance(expr, ast.Call):
            return self.call_result(expr, scope, local)
        if isinstance(expr, ast.IfExp):
            return self.eval(expr.body, scope, local) | self.eval(expr.orelse, scope, local)
        if isinstance(expr, ast.BoolOp):
            return frozenset(v for value in expr.values for v in self.eval(value, scope, local))
        if isinstance(expr, ast.List | ast.Tuple | ast.Set):
            found = set()
            for element in expr.elts:
                if isinstance(element, ast.Starred):  # [*self.blocks, Head()] flattens
                    found |= _containers(self.eval(element.value, scope, local))
                else:
                    found |= _collection(self.eval(element, scope, local))
            return frozenset(found)
        if isinstance(expr, ast.Dict):  # a registry: {"eager": Attention, "sdpa": SdpaAttention}
            return _collection(v for value in expr.values for v in self.eval(value, scope, local))
        if isinstance(expr, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            inner = self.comprehension(expr.generators, scope, local)
            return _collection(self.eval(expr.elt, scope, inner))
        if isinstance(expr, ast.Subscript):
            return _elements(self.eval(expr.value, scope, local))
        if isinstance(expr, ast.Starred | ast.NamedExpr | ast.Await):
            return self.eval(expr.value, scope, local)
        return EMPTY

    def comprehension(self, generators: list[ast.comprehension], scope: Scope,
                      local: dict[str, Values] | None) -> dict[str, Values]:
        inner = dict(local or {})
        for generator in generators:
            values = _elements(self.eval(generator.iter, scope, inner))
            for target in ast.walk(generator.target):
                if isinstance(target, ast.Name):
                    inner[target.id] = values if target is generator.target else EMPTY
        return inner

    def annotation(self, expr: ast.expr, scope: Scope) -> Values:
        """The classes an annotation names: ``A``, ``"A"``, ``A | None``, ``Optional[A]``."""
        if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
            try:
                expr = ast.parse(expr.value, mode="eval").body
            except SyntaxError:
                return EMPTY
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.BitOr):
            return self.annotation(expr.left, scope) | self.annotation(expr.right, scope)
        if isinstance(expr, ast.Subscript) and _kind(self.eval(expr.value, scope), "external") in (
                ["typing.Optional"], ["typing.Union"]):
            parts = expr.slice.elts if isinstance(expr.slice, ast.Tuple) else [expr.slice]
            return frozenset(v for part in parts for v in self.annotation(part, scope))
        return self.eval(expr, scope)

    # Attributes and classes --------------------------------------------------------------

    def attribute(self, value: Value, name: str) -> Values:
        kind, ref = value
        if kind == "module":
            found = self.member(self.modules[ref], name)
            return found or (self.module_value(f"{ref}.{name}") if f"{ref}.{name}" in self.modules else EMPTY)
        if kind == "external":
            return frozenset({("external", f"{ref}.{name}")})
        if kind == "class":
            return self.class_attribute(name, self.mro(ref))
        if kind == "super":
            return self.class_attribute(name, self.mro(ref)[1:])
        if kind == "instance":
            return self.instance_attribute(ref, name)
        return EMPTY

    def class_attribute(self, name: str, mro: list[str]) -> Values:
        for owner in mro:
            scope = self.scopes[owner]
            if name in scope.bindings:
                return self._bound(scope, name)
        return EMPTY

    def instance_attribute(self, class_id: str, name: str) -> Values:
        """``self.<name>``: attributes assigned in any method along the MRO, then the class."""
        mro = self.mro(class_id)
        for owner in mro:
            scope = self.scopes[owner]
            if name in scope.attributes:
                return self._memo(("attr", owner, name), lambda s=scope: self._union(s.attributes[name]))
        found = self.class_attribute(name, mro)
        properties = [self.scopes[f] for f in _kind(found, "func")
                      if {"property", "cached_property"} & decorator_names(self.scopes[f].node)]
        if properties:
            return frozenset(v for f in properties for v in self.returns(f))
        return found

    def bases(self, class_id: str) -> list[Values]:
        """What each base-class expression denotes, in order (``Generic[T]`` as ``Generic``)."""
        if class_id not in self._bases:
            scope = self.scopes[class_id]
            assert isinstance(scope.node, ast.ClassDef) and scope.parent is not None
            self._bases[class_id] = []  # a class naming itself as its base stops here
            self._bases[class_id] = [
                self.eval(b.value if isinstance(b, ast.Subscript) else b, scope.parent)
                for b in scope.node.bases
            ]
        return self._bases[class_id]

    def mro(self, class_id: str) -> list[str]:
        """The method resolution order within analysed classes (C3, as Python computes it)."""
        if class_id not in self._mro:
            self._mro[class_id] = [class_id]  # a cyclic hierarchy stops here
            bases = [b for values in self.bases(class_id) for b in sorted(_kind(values, "class"))]
            bases = list(dict.fromkeys(b for b in bases if b != class_id))
            lines = [self.mro(base) for base in bases]
            merged = _c3([*lines, bases])
            if merged is None:
                merged = list(dict.fromkeys(c for line in lines for c in line))
            self._mro[class_id] = [class_id, *merged]
        return self._mro[class_id]

    def call_target(self, class_id: str) -> list[str]:
        """What calling an instance runs: ``__call__``, else ``forward``, along the MRO."""
        for dunder in ("__call__", "forward"):
            found = self.class_attribute(dunder, self.mro(class_id))
            if found:
                return _kind(found, "func")
        return []

    def returns(self, function: Scope) -> Values:
        node = function.node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.returns is None:
            return EMPTY
        assert function.parent is not None
        return _instances(self.annotation(node.returns, function.parent))

    def call_result(self, call: ast.Call, scope: Scope, local: dict[str, Values] | None) -> Values:
        """What a call returns, as far as it matters for later calls."""
        if isinstance(call.func, ast.Name) and call.func.id == "super":
            if self.lookup("super", scope, local) == {("external", "builtins.super")}:
                if call.args:
                    owners = _kind(self.eval(call.args[0], scope, local), "class")
                else:
                    owner = scope.enclosing_class()
                    owners = [owner.id] if owner is not None else []
                return frozenset(("super", ref) for ref in owners)
        result: set[Value] = set()
        for kind, ref in self.eval(call.func, scope, local):
            if kind == "class":
                result.add(("instance", ref))
            elif kind == "func":
                result |= self.returns(self.scopes[ref])
            elif kind == "instance":
                result |= {v for f in self.call_target(ref) for v in self.returns(self.scopes[f])}
            elif kind == "external":
                # A container built from instances: nn.ModuleList([Block(c) for ...]),
                # nn.Sequential(*blocks).
                for arg in call.args:
                    result |= _containers(self.eval(arg, scope, local))
        return frozenset(result)
