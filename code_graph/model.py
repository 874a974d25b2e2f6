"""The graph's data model: nodes, edges, the class-level view, and JSON.

Kept free of analysis and layout so that a consumer (the book's Sphinx view, a test, a
notebook) can load a graph from JSON and query it without re-reading any source.

Node ids are dotted qualified names (``modeling_vit.ViTLayer.forward``). External nodes (base
classes that live outside the analysed files, such as ``torch.nn.Module``) carry the dotted
name their import resolves to, and no file or lines.
"""

from __future__ import annotations

import json
import tokenize
from collections import defaultdict, deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

#: Node kinds. ``external`` marks a base class that is not part of the analysed files;
#: ``concept`` a term of a text about the code (added by :mod:`code_graph.concepts`, never by
#: the analysis).
NODE_KINDS = ("module", "class", "function", "method", "external", "concept")
#: Edge kinds: ``defines`` (scope → what it defines), ``inherits`` (class → base),
#: ``instantiates`` (caller → class it constructs), ``calls`` (caller → function or method),
#: ``implemented_by`` (concept → class; :mod:`code_graph.concepts`).
EDGE_KINDS = ("defines", "inherits", "instantiates", "calls", "implemented_by")


@dataclass(frozen=True, order=True)
class Node:
    """A module, class, function, method or external base class.

    ``line`` and ``end_line`` are 1-based and inclusive, decorators included;
    ``doc`` is the first non-blank line of the docstring, or ``""``. External nodes have
    ``file``, ``line`` and ``end_line`` set to ``None``.
    """

    id: str
    name: str
    kind: str
    file: str | None = None
    line: int | None = None
    end_line: int | None = None
    doc: str = ""


@dataclass(frozen=True, order=True)
class Edge:
    """A directed relation between two node ids; see :data:`EDGE_KINDS`."""

    source: str
    target: str
    kind: str


@dataclass(frozen=True, order=True)
class SourceError:
    """A file that could not be analysed (syntax error, unreadable, missing).

    ``line`` is 0 when the problem is the whole file; it then reads ``file: message``.
    """

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


@dataclass
class Graph:
    """Nodes by id and a set of edges; iteration and serialisation are sorted.

    ``errors`` lists the files that could not be analysed; they are not part of the JSON,
    because the graph of the other files stays valid without them.
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: set[Edge] = field(default_factory=set)
    errors: list[SourceError] = field(default_factory=list)

    def add_node(self, node: Node) -> Node:
        # First definition wins, so that a later placeholder never hides a real node.
        return self.nodes.setdefault(node.id, node)

    def add_edge(self, source: str, target: str, kind: str) -> None:
        if kind not in EDGE_KINDS:
            raise ValueError(f"unknown edge kind {kind!r}")
        self.edges.add(Edge(source, target, kind))

    def sorted_nodes(self) -> list[Node]:
        return [self.nodes[key] for key in sorted(self.nodes)]

    def sorted_edges(self) -> list[Edge]:
        return sorted(self.edges)

    def out_edges(self, node_id: str, kind: str | None = None) -> list[Edge]:
        return [e for e in self.sorted_edges() if e.source == node_id and kind in (None, e.kind)]

    def find(self, name: str, kind: str | None = None) -> list[Node]:
        """Nodes whose id is ``name`` or ends with ``.name``, optionally of one kind."""
        return [
            node for node in self.sorted_nodes()
            if (node.id == name or node.id.endswith("." + name)) and kind in (None, node.kind)
        ]

    def has_path(self, source: str, target: str, kinds: Iterable[str] | None = None) -> bool:
        """Whether ``target`` is reachable from ``source`` along edges of the given kinds."""
        allowed = set(kinds) if kinds is not None else set(EDGE_KINDS)
        following = defaultdict(list)
        for edge in self.edges:
            if edge.kind in allowed:
                following[edge.source].append(edge.target)
        seen, queue = {source}, deque([source])
        while queue:
            current = queue.popleft()
            if current == target:
                return True
            for nxt in following[current]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        return False

    def owner_class(self, node_id: str) -> str | None:
        """The innermost class that is, or defines, ``node_id`` (``None`` outside classes).

        An external node is its own owner: external base classes stay in the class view.
        """
        return self._owner_lookup()(node_id)

    def _owner_lookup(self):
        parent = {e.target: e.source for e in self.edges if e.kind == "defines"}
        owners: dict[str, str | None] = {}

        def owner(node_id: str) -> str | None:
            if node_id not in owners:
                node = self.nodes.get(node_id)
                if node is not None and node.kind in ("class", "external"):
                    owners[node_id] = node_id
                else:
                    up = parent.get(node_id)
                    owners[node_id] = owner(up) if up is not None else None
            return owners[node_id]

        return owner

    def class_graph(self) -> Graph:
        """The class-level view: classes (and external bases) and the edges between them.

        Every ``inherits``, ``instantiates`` and ``calls`` edge is lifted to the classes that
        own its two ends (``ViTModel.__init__ instantiates ViTLayer`` becomes ``ViTModel →
        ViTLayer instantiates``); ``defines`` survives between an outer and a nested class.
        Edges from code outside any class, and edges from a class to itself, are dropped.
        """
        owner = self._owner_lookup()
        view = Graph(errors=list(self.errors))
        for node in self.sorted_nodes():
            if node.kind == "class":
                view.add_node(node)
        for edge in self.sorted_edges():
            source, target = owner(edge.source), owner(edge.target)
            if source is None or target is None or source == target:
                continue
            if edge.kind == "defines" and self.nodes[edge.source].kind != "class":
                continue  # a class defined inside a function is not nested in a class
            view.add_node(self.nodes[target])
            view.add_edge(source, target, edge.kind)
        return view

    def source(self, node_id: str) -> str:
        """The source lines of a node, read from its file now (``""`` for external nodes)."""
        node = self.nodes[node_id]
        if node.file is None or node.line is None or node.end_line is None:
            return ""
        with tokenize.open(node.file) as handle:  # honours a ``# -*- coding`` declaration
            lines = handle.readlines()
        return "".join(lines[node.line - 1:node.end_line])

    def to_dict(self) -> dict:
        return {
            "nodes": [asdict(node) for node in self.sorted_nodes()],
            "edges": [asdict(edge) for edge in self.sorted_edges()],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict) -> Graph:
        graph = cls()
        for item in data["nodes"]:
            graph.add_node(Node(**item))
        for item in data["edges"]:
            graph.add_edge(item["source"], item["target"], item["kind"])
        return graph

    @classmethod
    def from_json(cls, text: str) -> Graph:
        return cls.from_dict(json.loads(text))

    def to_text(self) -> str:
        """A human-readable listing: each node, then its outgoing edges, all sorted."""
        by_source = defaultdict(list)
        for edge in self.sorted_edges():
            by_source[edge.source].append(edge)
        out = []
        for node in self.sorted_nodes():
            where = f"{node.file}:{node.line}-{node.end_line}" if node.file else "(external)"
            doc = f"  — {node.doc}" if node.doc else ""
            out.append(f"{node.id} [{node.kind}] {where}{doc}")
            out.extend(f"    {edge.kind:<12} {edge.target}" for edge in by_source[node.id])
        return "\n".join(out) + ("\n" if out else "")
