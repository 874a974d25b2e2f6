"""``elvit-codegraph``: the model's source code as a graph of classes, linked to the book's terms.

The "knowledge background graph" of EL-VIT (Fig. 4). Every class of the model's source file,
as installed (``transformers.models.vit.modeling_vit``, read from disk and analysed, never
imported), is a node; edges say which class *inherits* from which, which *instantiates*
which (``self.mlp = ViTMLP(config)``) and which *calls* which. Base classes from outside the
file are grey nodes. The book's glossary terms are nodes too, each joined by an *implemented
by* edge to the classes that implement it, found in the code itself (class names, attribute
names such as ``self.cls_token``, what built an attribute such as ``nn.LayerNorm``; see
``code_graph.concepts``). Classes the book's model does not use (not reachable from
``ViTForImageClassification``) are drawn faded. The layout is force-directed with the labels
as bodies of their own (``code_graph.layout``), so no two labels overlap.

Hover a node (or focus it) to read its docstring's first sentence, or a term's definition.
Click it (or press Enter) to open a panel: a class shows its highlighted source and a link to
the full source page of the file (``_elvit_source/<module>.html#<Class>``), a term shows the
code that implements it and a link to the glossary. Escape closes the panel. From the
keyboard: Tab to the graph, arrow keys move to the nearest node in that direction.

The figure depends only on the source file and the glossary: they are dependencies of the
page, and the graph is rebuilt exactly when one of them changes.

Options:

``:module:`` (default ``transformers.models.vit.modeling_vit``)
    An installed module to draw instead of the model's own.
``:root:`` (default ``ViTForImageClassification``)
    The class the book's model is; classes it does not reach are faded.
``:glossary:`` (default: none)
    A glossary file (MyST or RST, relative to the page) whose terms become concept nodes; its
    entries are linked, so the page and the glossary should share a folder.
``:caption:``
    A caption under the figure (the provenance sentence is added after it).

Example (MyST)::

    ```{elvit-codegraph}
    :glossary: glossary.md
    :caption: The classes of the model's source code and the terms they implement.
    ```
"""

from __future__ import annotations

import math
import posixpath
from pathlib import Path

from docutils.parsers.rst import directives

from code_graph import Graph, locate
from code_graph.concepts import ConceptLink, Term, link_concepts, with_concepts
from elvit_sphinx.codegraph.glossary import first_sentence, read_glossary
from elvit_sphinx.codegraph.highlight import code_block
from elvit_sphinx.codegraph.source_code import MODEL_CLASS, MODEL_MODULE, SourceCode, read_source
from elvit_sphinx.views.base import ViewOutput, ViewSpec

#: Layout units are CSS pixels; the script sizes its monospace font so that one character
#: advances exactly CHAR_WIDTH, which makes the label boxes computed here exact.
CHAR_WIDTH, LINE_HEIGHT, PADDING, RADIUS = 7.2, 16.0, 6.0, 7.0
#: Edge kinds in the order the legend lists them.
EDGE_ORDER = ("inherits", "instantiates", "calls", "implemented_by")
#: How many pieces of evidence a term's panel lists.
MAX_EVIDENCE = 4


def source_files(model_source, options: dict) -> list[str]:
    module = options.get("module") or MODEL_MODULE
    try:
        files = [str(locate(module))]
    except ModuleNotFoundError as exc:
        raise ValueError(f"module {module!r} not found: {exc}") from None
    if options.get("glossary"):
        files.append(options["glossary"])
    return files


def validate(files: list[Path], options: dict) -> list[str]:
    code = read_source(files[0])
    problems = [str(error) for error in code.graph.errors]
    root = options.get("root") or MODEL_CLASS
    if not problems and code.find_class(root) is None:
        names = ", ".join(n.name for n in code.analysed_classes()) or "none"
        problems.append(f"root class {root!r} is not defined in {code.file_name} (classes: {names})")
    if len(files) > 1 and not read_glossary(files[1]):
        problems.append(f"no glossary entries in {files[1].name}")
    return problems


def _class_summary(code: SourceCode, node_id: str) -> str:
    """The hover text of a class: its documentation's first sentence, or what it is made of."""
    node = code.graph.nodes[node_id]
    parts = code.parts.get(node_id)
    if parts is not None and parts.doc:
        return first_sentence(parts.doc)
    if node.kind == "external":
        return f"{node.id}: a base class from outside {code.file_name}."
    names = list(dict.fromkeys(m.name for m in parts.attributes())) if parts else []
    return f"No docstring; its parts: {', '.join(names)}." if names else "No docstring."


def _term_anchor(term: Term) -> str:
    from sphinx.util.nodes import _make_id  # the id Sphinx gives a glossary term

    return _make_id(f"term-{term.names[0]}")


def _evidence(link: ConceptLink, code: SourceCode) -> dict:
    return {"class": code.graph.nodes[link.target].name, "line": link.line, "code": link.text,
            "how": link.evidence}


def _combined_graph(code: SourceCode, terms: list[Term], links: list[ConceptLink]) -> Graph:
    return with_concepts(code.classes, terms, links, describe=lambda t: first_sentence(t.definition))


def _used_by_root(graph: Graph, root: str) -> set[str]:
    kinds = ("inherits", "instantiates", "calls")
    return {node_id for node_id in graph.nodes if graph.has_path(root, node_id, kinds)}


def build(files: list[Path], options: dict) -> ViewOutput:
    from code_graph import layout_graph  # numpy and networkx: only when a graph is drawn

    code = read_source(files[0])
    terms = read_glossary(files[1]) if len(files) > 1 else []
    first_lines = {k: n.line or 0 for k, n in code.graph.nodes.items()}
    links = link_concepts(terms, code.parts, first_lines)
    graph = _combined_graph(code, terms, links)
    layout = layout_graph(graph, char_width=CHAR_WIDTH, line_height=LINE_HEIGHT, padding=PADDING,
                          node_radius=RADIUS)
    root = code.find_class(options.get("root") or MODEL_CLASS)
    used = _used_by_root(graph, root.id) if root is not None else set(graph.nodes)
    height = layout.bbox.y1
    order = sorted(layout.nodes.values(), key=lambda n: (n.kind == "concept", n.id))
    index = {node.id: i for i, node in enumerate(order)}
    by_term = {term.label: term for term in terms}
    nodes = []
    for placed in order:
        node = graph.nodes[placed.id]
        box = placed.label_box
        item = {"id": placed.id, "label": placed.label, "kind": placed.kind,
                "x": placed.x, "y": round(height - placed.y, 2),
                "box": [box.x0, round(height - box.y1, 2), box.x1, round(height - box.y0, 2)],
                "used": placed.id in used or placed.kind == "concept"}
        if node.kind == "concept":
            term = by_term[node.name]
            mine = [link for link in links if link.term == node.name]
            item.update(doc=node.doc, term_anchor=_term_anchor(term),
                        evidence=[_evidence(link, code) for link in mine[:MAX_EVIDENCE]],
                        more_evidence=max(0, len(mine) - MAX_EVIDENCE))
        else:
            item["doc"] = _class_summary(code, placed.id)
        if node.kind == "class":
            item.update(lines=[node.line, node.end_line], anchor=code.anchor(node.id),
                        source=code_block(code.excerpt(node), node.line))
        nodes.append(item)
    edges = [[index[e.source], index[e.target], e.kind]
             for e in sorted(layout.edges, key=lambda e: (EDGE_ORDER.index(e.kind), e.source, e.target))
             if e.kind in EDGE_ORDER]
    return ViewOutput({
        "char_width": CHAR_WIDTH, "line_height": LINE_HEIGHT, "padding": PADDING, "radius": RADIUS,
        "width": layout.bbox.x1, "height": height, "nodes": nodes, "edges": edges,
        "edge_kinds": [kind for kind in EDGE_ORDER if any(e[2] == kind for e in edges)],
        "source": {"page": f"{code.page}.html", "module": code.module, "file": code.file_name,
                   "version": code.version},
        "root": root.name if root is not None else "",
    })


def links(files: list[Path], options: dict) -> dict[str, str]:
    glossary = options.get("glossary")
    return {"glossary": posixpath.splitext(glossary)[0]} if glossary else {}


def alt(files: list[Path], options: dict) -> str:
    code = read_source(files[0])
    concepts = " and the glossary terms they implement" if len(files) > 1 else ""
    return (f"Graph of the {len(code.analysed_classes())} classes defined in {code.file_name}"
            f"{concepts}, with their inheritance, instantiation and call relations.")


# ----------------------------------------------------------------------------- static picture
#: The static picture draws the layout this many pixels a layout unit (CSS pixel), less where
#: the graph would be wider than MAX_WIDTH pixels.
STATIC_SCALE, MAX_WIDTH, MARGIN, HEADER, LEGEND = 1.5, 1360, 16, 30, 46
#: The colours of the page's style sheet (elvit.css, light theme).
TEXT, MUTED, PANEL, BLUE, ORANGE = "#222222", "#555555", "#f6f6f6", "#0a84ff", "#d95f02"
#: Each kind of edge as the page draws it: colour, dashes (in layout units), bend, marker, legend.
EDGE_STYLE = {
    "inherits": (MUTED, (6, 3), -0.18, "hollow", "inherits from"),
    "instantiates": (TEXT, None, 0.0, "arrow", "instantiates"),
    "calls": (BLUE, (2, 3), 0.18, "arrow", "calls"),
    "implemented_by": (ORANGE, (7, 2, 1, 2), 0.0, "dot", "implemented by"),
}
#: Each kind of node: marker shape, fill, outline, outline dashes, label colour, legend.
NODE_STYLE = {
    "class": ("o", BLUE, TEXT, None, TEXT, "class of the file"),
    "external": ("o", PANEL, MUTED, (2, 2), TEXT, "base class from outside the file"),
    "concept": ("s", ORANGE, TEXT, None, MUTED, "glossary term"),
}
#: DejaVu Sans Mono advances 1233/2048 of its size per character.
MONO_ADVANCE = 1233 / 2048


def _edge_path(a: dict, b: dict, kind: str, radius: float):
    """The quadratic curve the page draws from node a to node b: (start, control, end)."""
    dx, dy = b["x"] - a["x"], b["y"] - a["y"]
    length = math.hypot(dx, dy) or 1.0
    ux, uy, r = dx / length, dy / length, radius + 1.5
    x1, y1 = a["x"] + ux * r, a["y"] + uy * r
    x2, y2 = b["x"] - ux * (r + 1), b["y"] - uy * (r + 1)
    bend = EDGE_STYLE[kind][2] * length
    return (x1, y1), ((x1 + x2) / 2 - uy * bend, (y1 + y2) / 2 + ux * bend), (x2, y2)


def _draw_edge(ax, a: dict, b: dict, kind: str, radius: float, scale: float) -> None:
    from matplotlib.patches import Circle, PathPatch, Polygon
    from matplotlib.path import Path as CurvePath

    colour, dashes, _, marker, _ = EDGE_STYLE[kind]
    start, control, end = _edge_path(a, b, kind, radius)
    style = {"edgecolor": colour, "facecolor": "none", "linewidth": 1.3 * scale * 0.72,
             "alpha": 0.8 if kind == "implemented_by" else 1.0}
    if dashes:
        style["linestyle"] = (0, tuple(d / 1.3 for d in dashes))
    ax.add_patch(PathPatch(CurvePath([start, control, end],
                                     [CurvePath.MOVETO, CurvePath.CURVE3, CurvePath.CURVE3]), **style))
    tx, ty = end[0] - control[0], end[1] - control[1]
    norm = math.hypot(tx, ty) or 1.0
    tx, ty = tx / norm, ty / norm
    if marker == "dot":
        ax.add_patch(Circle((end[0] - 4 * tx, end[1] - 4 * ty), 4, facecolor=colour, edgecolor="none"))
        return
    # A triangle 8 units long and 8 wide, its tip at the end (the page's marker).
    back = (end[0] - 8 * tx, end[1] - 8 * ty)
    corners = [end, (back[0] - 4 * ty, back[1] + 4 * tx), (back[0] + 4 * ty, back[1] - 4 * tx)]
    fill = PANEL if marker == "hollow" else colour
    ax.add_patch(Polygon(corners, closed=True, facecolor=fill, edgecolor=colour, linewidth=0.8))


def _draw_node(ax, node: dict, data: dict, font_size: float) -> None:
    from matplotlib.patches import Circle, FancyBboxPatch, Rectangle

    shape, fill, outline, dashes, label_colour, _ = NODE_STYLE[node["kind"]]
    alpha, radius = 1.0 if node["used"] else 0.45, data["radius"]
    style = {"facecolor": fill, "edgecolor": outline, "linewidth": 1.1, "alpha": alpha}
    if dashes:
        style["linestyle"] = (0, dashes)
    if shape == "s":
        ax.add_patch(Rectangle((node["x"] - radius, node["y"] - radius), 2 * radius, 2 * radius, **style))
    else:
        ax.add_patch(Circle((node["x"], node["y"]), radius, **style))
    x0, y0, x1, y1 = node["box"]
    ax.add_patch(FancyBboxPatch((x0, y0), x1 - x0, y1 - y0, boxstyle="round,pad=0,rounding_size=3",
                                facecolor="white", edgecolor="none", alpha=0.85 * alpha))
    ax.text(x0 + data["padding"] / 2, (y0 + y1) / 2, node["label"], family="DejaVu Sans Mono",
            fontsize=font_size, color=label_colour, alpha=alpha, ha="left", va="center_baseline")


def _legend(canvas, x: float, y: float, kinds: list[str], node_kinds: list[str], faded: bool) -> None:
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = []
    for kind in kinds:
        colour, dashes, _, _, words = EDGE_STYLE[kind]
        handles.append(Line2D([], [], color=colour, linewidth=1.6, label=words,
                              linestyle=(0, dashes) if dashes else "-"))
    for kind in node_kinds:
        shape, fill, outline, _, _, words = NODE_STYLE[kind]
        handles.append(Line2D([], [], linestyle="none", marker=shape, markersize=9, markerfacecolor=fill,
                              markeredgecolor=outline, label=words))
    if faded:
        handles.append(Patch(facecolor=BLUE, edgecolor=TEXT, alpha=0.45, label="not used by the model"))
    canvas.figure.legend(handles=handles, loc="upper left", ncols=min(4, len(handles)), frameon=False,
                         fontsize=9, bbox_to_anchor=(x / canvas.width, 1 - y / canvas.height),
                         handlelength=2.6, columnspacing=1.6, borderaxespad=0)


def static_placement(data: dict) -> tuple[float, tuple[float, float]]:
    """Where the static picture draws the layout: pixels a layout unit, and the pixel (x, y) of
    the layout's origin (below the title and the legend)."""
    scale = min(STATIC_SCALE, MAX_WIDTH / data["width"])
    node_kinds = {node["kind"] for node in data["nodes"]}
    faded = not all(node["used"] for node in data["nodes"])
    legend_rows = -(-(len(data["edge_kinds"]) + len(node_kinds) + faded) // 4)
    return scale, (MARGIN, MARGIN + HEADER + 22 * legend_rows + 6)


def static(output: ViewOutput):
    """The graph as the page draws it, from the layout computed here: nodes at their places with
    their labels, edges by kind, classes the model does not use faded, and a legend."""
    from elvit_sphinx.views import static_render as draw

    data = output.data
    node_kinds = [kind for kind in NODE_STYLE if any(n["kind"] == kind for n in data["nodes"])]
    faded = not all(node["used"] for node in data["nodes"])
    scale, (left, top) = static_placement(data)
    width, height = data["width"] * scale, data["height"] * scale
    canvas = draw.PixelLayout(round(width + 2 * MARGIN), round(top + height + MARGIN))
    concepts = " and the glossary terms they implement" if "concept" in node_kinds else ""
    canvas.text(MARGIN, MARGIN, f"The classes of {data['source']['file']}{concepts}", size=11,
                weight="bold")
    _legend(canvas, MARGIN, MARGIN + HEADER, data["edge_kinds"], node_kinds, faded)
    ax = canvas.axes(left, top, width, height)
    ax.set_xlim(0, data["width"])
    ax.set_ylim(data["height"], 0)
    ax.axis("off")
    nodes = data["nodes"]
    for source, target, kind in data["edges"]:
        _draw_edge(ax, nodes[source], nodes[target], kind, data["radius"], scale)
    # one character of the label font advances char_width layout units, as on the page
    font_size = data["char_width"] * scale / MONO_ADVANCE * 72 / draw.DPI
    for node in nodes:
        _draw_node(ax, node, data, font_size)
    return canvas.image()



VIEW = ViewSpec(name="codegraph", build=build, validate=validate, alt=alt, links=links,
                option_spec={"module": directives.unchanged_required,
                             "root": directives.unchanged_required,
                             "glossary": directives.unchanged_required},
                defaults={"module": MODEL_MODULE, "root": MODEL_CLASS},
                source_files=source_files, static=static)
