"""code_graph's layout: label boxes sized from their text, nothing overlapping, deterministic."""

from __future__ import annotations

import itertools
import json

import pytest

from code_graph import Box, Edge, Graph, Node, analyze, layout_graph, locate


@pytest.fixture(scope="module")
def vit_classes() -> Graph:
    return analyze([locate("transformers.models.vit.modeling_vit")]).class_graph()


def overlaps(placed) -> list[tuple[str, str, str]]:
    """Every pair of label/label, label/marker and marker/marker boxes that intersect."""
    found = []
    for a, b in itertools.permutations(placed.nodes.values(), 2):
        if a.label_box.overlaps(b.label_box):
            found.append(("label", a.id, b.id))
        if a.label_box.overlaps(b.marker_box):
            found.append(("label-marker", a.id, b.id))
        if a.marker_box.overlaps(b.marker_box):
            found.append(("marker", a.id, b.id))
    found += [("own marker", n.id, n.id) for n in placed.nodes.values() if n.label_box.overlaps(n.marker_box)]
    return found


def test_vit_class_graph_has_no_overlapping_text(vit_classes):
    placed = layout_graph(vit_classes, char_width=7.2, line_height=15.0, padding=6.0, node_radius=7.0)
    assert set(placed.nodes) == set(vit_classes.nodes)
    assert overlaps(placed) == []
    for node in placed.nodes.values():
        assert node.label == vit_classes.nodes[node.id].name
        assert node.label_box.width == pytest.approx(len(node.label) * 7.2 + 6.0, abs=0.011)
        assert node.label_box.height == pytest.approx(15.0, abs=0.011)
        assert node.radius == 7.0
        for box in (node.label_box, node.marker_box):
            assert placed.bbox.x0 <= box.x0 and box.x1 <= placed.bbox.x1
            assert placed.bbox.y0 <= box.y0 and box.y1 <= placed.bbox.y1
    assert placed.bbox.x0 == 0 and placed.bbox.y0 == 0
    assert {(e.source, e.target, e.kind) for e in placed.edges} == {
        (e.source, e.target, e.kind) for e in vit_classes.edges}


def test_text_node_forces_keep_labels_just_below_their_nodes(vit_classes):
    """Labels rest centred below their node; the forces (not the final pass) get them there."""
    placed = layout_graph(vit_classes, line_height=14.0, node_radius=6.0, gap=4.0)
    offsets = []
    for node in placed.nodes.values():
        box = node.label_box
        resting = (node.x, node.y - 6.0 - 4.0 - 7.0)
        offsets.append(abs((box.x0 + box.x1) / 2 - resting[0]) + abs((box.y0 + box.y1) / 2 - resting[1]))
    assert sum(offsets) / len(offsets) < 2.0
    assert max(offsets) < max(n.label_box.width for n in placed.nodes.values())


def test_layout_is_deterministic(vit_classes):
    first = layout_graph(vit_classes).to_dict()
    assert layout_graph(vit_classes).to_dict() == first
    reanalysed = analyze([locate("transformers.models.vit.modeling_vit")]).class_graph()
    assert layout_graph(reanalysed).to_dict() == first
    assert layout_graph(vit_classes, seed=1).to_dict() != first


def crowd(count: int, edges: bool) -> Graph:
    """Many long labels around one hub: what forces alone do not always untangle."""
    graph = Graph()
    graph.add_node(Node("hub", "hub", "class"))
    for i in range(count):
        graph.add_node(Node(f"leaf{i}", f"AVeryLongClassNameNumber{i:02d}", "class"))
        if edges:
            graph.add_edge("hub", f"leaf{i}", "calls")
    return graph


@pytest.mark.parametrize("edges", [True, False])
def test_crowded_graphs_have_no_overlaps(edges):
    placed = layout_graph(crowd(40, edges), iterations=5)  # few iterations: the final pass must do the work
    assert overlaps(placed) == []


def test_json_shape_and_empty_graph(vit_classes):
    data = json.loads(layout_graph(vit_classes).to_json())
    assert set(data) == {
        "units", "char_width", "line_height", "padding", "node_radius", "bbox", "nodes", "edges"}
    node = data["nodes"][0]
    assert set(node) == {"id", "label", "kind", "x", "y", "radius", "label_box"}
    assert len(node["label_box"]) == 4
    assert [n["id"] for n in data["nodes"]] == sorted(n["id"] for n in data["nodes"])
    assert set(data["edges"][0]) == {"source", "target", "kind"}
    empty = layout_graph(Graph())
    assert empty.nodes == {} and empty.bbox == Box(0, 0, 0, 0)


def test_self_loops_and_bad_parameters():
    graph = Graph()
    graph.add_node(Node("a", "A", "class"))
    graph.add_edge("a", "a", "calls")
    assert layout_graph(graph).edges == [Edge("a", "a", "calls")]
    with pytest.raises(ValueError):
        layout_graph(graph, gap=0)


def test_without_scipy_large_graphs_still_get_a_layout(monkeypatch):
    """networkx's spring layout needs scipy from 500 nodes on; the fallback must hold the guarantee."""
    import networkx

    def needs_scipy(*args, **kwargs):
        raise ImportError("No module named 'scipy'")

    monkeypatch.setattr(networkx, "spring_layout", needs_scipy)
    placed = layout_graph(crowd(30, edges=True))
    assert len(placed.nodes) == 31 and overlaps(placed) == []
    assert layout_graph(crowd(30, edges=True)).to_dict() == placed.to_dict()
