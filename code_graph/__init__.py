"""A class-call graph of Python source, from ``ast`` alone, and a label-aware layout of it.

This is the data behind the book's knowledge-graph view (EL-VIT, section V-B, Fig. 4): each
node is a class whose source the reader can open; edges say who inherits from, constructs or
calls whom. The analysed code is parsed, never imported or run, so the graph of
``modeling_vit.py`` costs milliseconds and neither torch nor transformers is loaded.

>>> from code_graph import analyze, layout_graph, locate
>>> graph = analyze([locate("transformers.models.vit.modeling_vit")])  # doctest: +SKIP
>>> classes = graph.class_graph()                                       # doctest: +SKIP
>>> classes.has_path("modeling_vit.ViTModel", "modeling_vit.ViTMLP")   # doctest: +SKIP
True
>>> placed = layout_graph(classes, char_width=7.0, line_height=14.0)   # doctest: +SKIP
>>> placed.nodes["modeling_vit.ViTLayer"].label_box                     # doctest: +SKIP
Box(x0=..., y0=..., x1=..., y1=...)

The same from a shell: ``python -m code_graph path/to/modeling_vit.py --classes --json``.

:mod:`code_graph.members` says what each class is made of (``self.mlp = ViTMLP(config)``,
line 263), and :mod:`code_graph.concepts` links the terms of a text (a glossary) to the classes
that implement them, from the names in the code.
"""

import importlib

from .analyzer import analyze
from .model import EDGE_KINDS, NODE_KINDS, Edge, Graph, Node, SourceError
from .sources import locate

__all__ = [
    "EDGE_KINDS", "NODE_KINDS", "Box", "Edge", "Graph", "Layout", "Node", "PlacedNode",
    "SourceError", "analyze", "layout_graph", "locate",
]


def __getattr__(name: str):
    # The layout needs numpy and networkx (≈0.3 s to import); analysis alone and the CLI
    # should not pay for them, so the layout names are loaded on first use.
    if name in ("Box", "Layout", "PlacedNode", "layout_graph"):
        return getattr(importlib.import_module(".layout", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
