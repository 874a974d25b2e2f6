"""A force-directed layout in which labels are bodies of the layout too, so no text overlaps.

EL-VIT (section V-B) lays its knowledge graph out with "text-node forces": every label is a
node of the force simulation, attracted to its own node and repelled by the other labels and
nodes. Here networkx's ``spring_layout`` places the nodes (it has no notion of label size),
then :func:`layout_graph` adds what it lacks:

1. label forces — each label box is pulled towards a spot just below its node and pushed out
   of every label box and node marker it overlaps (the nodes give way a little, too);
2. a final overlap-removal pass, deterministic and exact: boxes are placed one by one (node
   markers first, busiest nodes first), each at the free spot nearest to where the forces
   left it. Forces alone only make overlaps unlikely; this pass makes them impossible.

Units are those of ``char_width`` and ``line_height`` (pixels, for the book's view): a label
box is ``len(text) * char_width + padding`` wide and ``line_height`` high, exactly what a
monospace font of that advance width draws. ``y`` grows upwards (Bokeh's data coordinates);
the layout is translated so that its bounding box starts at (0, 0). The same graph and
parameters give the same coordinates: the spring layout is seeded and nothing else is random.

Made for class graphs (tens of nodes: ``modeling_vit.py`` gives 13); the forces cost
O(n²) per iteration and the final pass up to O(n³), so a few hundred nodes take seconds.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import networkx as nx
import numpy as np

from .model import Edge, Graph, Node


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle, ``x0 <= x1`` and ``y0 <= y1``."""

    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def width(self) -> float:
        return self.x1 - self.x0

    @property
    def height(self) -> float:
        return self.y1 - self.y0

    def overlaps(self, other: Box) -> bool:
        """Whether the interiors intersect (touching edges do not count)."""
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1


@dataclass(frozen=True)
class PlacedNode:
    """A node's marker (a circle of ``radius`` around ``x, y``) and its label's box."""

    id: str
    label: str
    kind: str
    x: float
    y: float
    radius: float
    label_box: Box

    @property
    def marker_box(self) -> Box:
        return Box(self.x - self.radius, self.y - self.radius, self.x + self.radius, self.y + self.radius)


@dataclass(frozen=True)
class Layout:
    """Positions of every node and label, the edges to draw, and the overall bounding box."""

    nodes: dict[str, PlacedNode]
    edges: list[Edge]
    bbox: Box
    char_width: float
    line_height: float
    padding: float
    node_radius: float
    units: str = field(default="px")

    def to_dict(self) -> dict:
        """JSON-ready: boxes as ``[x0, y0, x1, y1]``, nodes and edges sorted."""
        def box(b: Box) -> list[float]:
            return [b.x0, b.y0, b.x1, b.y1]

        return {
            "units": self.units, "char_width": self.char_width, "line_height": self.line_height,
            "padding": self.padding, "node_radius": self.node_radius, "bbox": box(self.bbox),
            "nodes": [{**asdict(n), "label_box": box(n.label_box)}
                      for n in sorted(self.nodes.values(), key=lambda n: n.id)],
            "edges": [asdict(e) for e in sorted(self.edges)],
        }

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)


def layout_graph(
    graph: Graph,
    *,
    char_width: float = 7.0,
    line_height: float = 14.0,
    padding: float = 8.0,
    node_radius: float = 6.0,
    gap: float = 4.0,
    seed: int = 0,
    iterations: int = 200,
    label: Callable[[Node], str] | None = None,
) -> Layout:
    """Lay out ``graph`` (usually ``graph.class_graph()``) with labels that never overlap.

    ``label`` gives each node's text (default: ``node.name``). ``gap`` is the least distance
    wanted between any two boxes (label boxes and node markers' bounding squares); at least
    half of it is guaranteed, which is why it must be at least 0.1: coordinates are rounded
    to 0.01, and that must never create an overlap.
    """
    if gap < 0.1 or char_width <= 0 or line_height <= 0 or node_radius <= 0:
        raise ValueError("char_width, line_height and node_radius must be positive, gap at least 0.1")
    ids = sorted(graph.nodes)
    texts = [(label or (lambda node: node.name))(graph.nodes[i]) for i in ids]
    edges = sorted(e for e in graph.edges if e.source in graph.nodes and e.target in graph.nodes)
    n = len(ids)
    if n == 0:
        return Layout({}, [], Box(0, 0, 0, 0), char_width, line_height, padding, node_radius)

    half = np.empty((2 * n, 2))  # bodies 0..n-1 are node markers, n..2n-1 their labels
    half[:n] = node_radius
    half[n:, 0] = [(len(t) * char_width + padding) / 2 for t in texts]
    half[n:, 1] = line_height / 2
    nodes = _spring(ids, edges, half, node_radius, gap, seed)
    centres = np.vstack([nodes, nodes + _below(half, node_radius, gap)])
    centres = _label_forces(centres, half, node_radius, gap, iterations)
    centres = _remove_overlaps(centres, half, edges, ids, node_radius, gap)

    low = (centres - half).min(axis=0)
    centres = np.round(centres - low, 2)
    placed = {}
    for i, node_id in enumerate(ids):
        (x, y), (lx, ly), (hw, hh) = centres[i], centres[n + i], half[n + i]
        box = Box(*(round(float(v), 2) for v in (lx - hw, ly - hh, lx + hw, ly + hh)))
        placed[node_id] = PlacedNode(node_id, texts[i], graph.nodes[node_id].kind, float(x), float(y),
                                     node_radius, box)
    high = (centres + half).max(axis=0)
    bbox = Box(0.0, 0.0, round(float(high[0]), 2), round(float(high[1]), 2))
    return Layout(placed, edges, bbox, char_width, line_height, padding, node_radius)


def _below(half: np.ndarray, radius: float, gap: float) -> np.ndarray:
    """Offsets from each node to its label's resting place: centred just below the marker."""
    n = len(half) // 2
    offset = np.zeros((n, 2))
    offset[:, 1] = -(radius + gap + half[n:, 1])
    return offset


def _spring(ids: list[str], edges: list[Edge], half: np.ndarray, radius: float, gap: float,
            seed: int) -> np.ndarray:
    """networkx's spring layout, scaled so neighbours sit about a label's width apart."""
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    graph.add_edges_from((e.source, e.target) for e in edges if e.source != e.target)
    n = len(ids)
    spread = 1.25 * (float(half[n:, 0].mean()) * 2 + 2 * radius + 4 * gap)
    # spring_layout fills [-1, 1]²; n nodes there are ~2/sqrt(n) apart, so scale by spread·sqrt(n)/2.
    scale = spread * max(1.0, math.sqrt(n)) / 2
    try:
        positions = nx.spring_layout(graph, seed=seed, scale=scale)
    except ImportError:
        # From 500 nodes networkx's spring layout needs scipy, which this package does not
        # require: start from a seeded scatter instead and let the label forces spread it.
        positions = {k: (v - 0.5) * 2 * scale for k, v in nx.random_layout(graph, seed=seed).items()}
    return np.array([positions[i] for i in ids], dtype=float).reshape(n, 2)


def _label_forces(centres: np.ndarray, half: np.ndarray, radius: float, gap: float,
                  iterations: int) -> np.ndarray:
    """The text-node forces: labels pulled to their nodes, all boxes pushed out of each other."""
    n = len(centres) // 2
    centres = centres.copy()
    # Labels give way easily; nodes hold the graph's shape and move less.
    mobility = np.concatenate([np.full(n, 0.25), np.ones(n)])
    share = mobility[:, None] / (mobility[:, None] + mobility[None, :])
    order = np.arange(2 * n)
    tie = np.where(order[:, None] < order[None, :], 1.0, -1.0)  # deterministic push for coincident boxes
    for _ in range(iterations):
        delta = centres[:, None, :] - centres[None, :, :]
        depth = half[:, None, :] + half[None, :, :] + gap - np.abs(delta)
        overlapping = (depth[..., 0] > 0) & (depth[..., 1] > 0)
        np.fill_diagonal(overlapping, False)
        if not overlapping.any():
            pull = centres[:n] + _below(half, radius, gap) - centres[n:]
            if np.abs(pull).max() < 0.5:
                break
        # Push along the axis of least penetration, as far as needed to separate the pair.
        along_x = depth[..., 0] < depth[..., 1]
        sign = np.where(delta == 0, tie[..., None], np.sign(delta))
        push = np.zeros_like(delta)
        push[..., 0] = np.where(along_x, depth[..., 0] * sign[..., 0], 0)
        push[..., 1] = np.where(~along_x, depth[..., 1] * sign[..., 1], 0)
        push *= (overlapping * share)[..., None]
        move = push.sum(axis=1) * 0.5
        # The text-node force: each label towards its resting place below its node.
        move[n:] += 0.2 * (centres[:n] + _below(half, radius, gap) - centres[n:])
        centres += move
    return centres


def _remove_overlaps(centres: np.ndarray, half: np.ndarray, edges: list[Edge], ids: list[str],
                     radius: float, gap: float) -> np.ndarray:
    """Place boxes one by one, each at the free spot nearest to where the forces left it.

    Candidates are the wanted spot and, for every box already placed, the spots just beyond
    each of its four sides (for a label, also around its own node). The spot right of the
    rightmost box is always free, so every box finds a place; the result is exact.
    """
    n = len(ids)
    degree = {i: 0 for i in ids}
    for edge in edges:
        degree[edge.source] += 1
        degree[edge.target] += 1
    ranked = sorted(range(n), key=lambda i: (-degree[ids[i]], ids[i]))
    result = centres.copy()
    boxes = np.empty((2 * n, 4))  # x0, y0, x1, y1 of the boxes placed so far (first `count` rows)
    for count, body in enumerate([*ranked, *(n + i for i in ranked)]):
        hw, hh = half[body]
        wanted = result[body]
        placed = boxes[:count]
        bases = [wanted]
        if body >= n:
            node = result[body - n]
            reach_x, reach_y = radius + gap + hw, radius + gap + hh
            bases += [node + offset for offset in ((0, -reach_y), (0, reach_y), (reach_x, 0), (-reach_x, 0))]
        if _free(np.array([wanted]), hw, hh, placed, gap)[0]:
            best = wanted  # the usual case after the forces: nothing to search
        else:
            base = np.array(bases)
            xs = np.concatenate([placed[:, 0] - hw - gap, placed[:, 2] + hw + gap])
            ys = np.concatenate([placed[:, 1] - hh - gap, placed[:, 3] + hh + gap])
            beside = np.stack(np.broadcast_arrays(xs[None, :], base[:, 1:2]), axis=-1).reshape(-1, 2)
            above = np.stack(np.broadcast_arrays(base[:, 0:1], ys[None, :]), axis=-1).reshape(-1, 2)
            points = np.vstack([base, beside, above])
            free = _free(points, hw, hh, placed, gap)
            cost = np.hypot(*(points - wanted).T)
            best = points[np.flatnonzero(free)[np.argmin(cost[free])]]
        result[body] = best
        boxes[count] = [best[0] - hw, best[1] - hh, best[0] + hw, best[1] + hh]
    return result


def _free(points: np.ndarray, hw: float, hh: float, placed: np.ndarray, gap: float) -> np.ndarray:
    """Which centres leave a box of half-size (hw, hh) at least gap/2 clear of every placed box.

    Candidates are placed a whole gap away, so they pass; the slack means rounding the
    coordinates to 0.01 later cannot make two boxes touch.
    """
    x, y = points[:, None, 0], points[:, None, 1]
    ex, ey = hw + gap / 2, hh + gap / 2
    hit_x = (x - ex < placed[:, 2]) & (placed[:, 0] < x + ex)
    hit_y = (y - ey < placed[:, 3]) & (placed[:, 1] < y + ey)
    return ~(hit_x & hit_y).any(axis=1)
