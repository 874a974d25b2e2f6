"""The code-graph view: its data, its source pages, and how Sphinx builds and rebuilds it."""

from __future__ import annotations

import itertools
import json
import re
import shutil
import sys
import time
from pathlib import Path

import pytest
from sphinx.util.console import strip_colors

from code_graph import locate
from elvit_sphinx.codegraph.source_code import read_source
from elvit_sphinx.codegraph.source_pages import source_page_body
from elvit_sphinx.views import codegraph
from elvit_sphinx.views.base import to_json

ROOTS = Path(__file__).parent / "roots"
BOOK_GLOSSARY = Path(__file__).parent.parent / "book" / "glossary.md"
MODELING_VIT = locate("transformers.models.vit.modeling_vit")


def overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.fixture(scope="module")
def data() -> dict:
    return codegraph.build([MODELING_VIT, BOOK_GLOSSARY], dict(codegraph.VIEW.defaults)).data


def test_every_class_of_the_file_is_a_node_with_its_source(data):
    code = read_source(MODELING_VIT)
    by_id = {n["id"]: n for n in data["nodes"]}
    for node in code.analysed_classes():
        shown = by_id[node.id]
        assert shown["lines"] == [node.line, node.end_line]
        assert shown["anchor"] == node.name
        text = re.sub(r"<[^>]+>", "", shown["source"])
        assert text.lstrip().startswith(f"{node.line} ") and f"class {node.name}(" in text
    # The classifier uses every class but the masked-image model; external bases are nodes too.
    unused = {n["label"] for n in data["nodes"] if not n["used"]}
    assert unused == {"ViTForMaskedImageModeling"}
    assert {n["label"] for n in data["nodes"] if n["kind"] == "external"} >= {"Module", "PreTrainedModel"}
    assert by_id["modeling_vit.ViTEmbeddings"]["doc"].startswith("Construct the CLS token")


def test_edges_are_the_analysis_plus_concepts(data):
    code = read_source(MODELING_VIT)
    ids = [n["id"] for n in data["nodes"]]
    shown = {(ids[a], ids[b], kind) for a, b, kind in data["edges"]}
    analysed = {(e.source, e.target, e.kind) for e in code.classes.edges if e.kind != "defines"}
    assert {edge for edge in shown if edge[2] != "implemented_by"} == analysed
    assert ("concept:MLP", "modeling_vit.ViTMLP", "implemented_by") in shown
    assert data["edge_kinds"] == ["inherits", "instantiates", "calls", "implemented_by"]
    mlp = next(n for n in data["nodes"] if n["id"] == "concept:MLP")
    assert mlp["evidence"][0]["class"] == "ViTMLP" and mlp["term_anchor"] == "term-MLP"


def test_label_boxes_fit_their_text_and_nothing_overlaps(data):
    w, h = data["width"], data["height"]
    boxes = []
    for n in data["nodes"]:
        x0, y0, x1, y1 = n["box"]
        assert x1 - x0 == pytest.approx(len(n["label"]) * data["char_width"] + data["padding"], abs=0.02)
        assert y1 - y0 == pytest.approx(data["line_height"], abs=0.02)
        r = data["radius"]
        boxes += [n["box"], [n["x"] - r, n["y"] - r, n["x"] + r, n["y"] + r]]
        assert 0 <= x0 and x1 <= w + 0.01 and 0 <= y0 and y1 <= h + 0.01
    assert not any(overlap(a, b) for a, b in itertools.combinations(boxes, 2))


def test_page_data_is_small_and_build_is_fast(data):
    assert len(to_json(data)) < 400_000
    from elvit_sphinx.codegraph import source_code

    started = time.perf_counter()
    source_code._analyse.cache_clear()  # time the analysis too, not only the layout
    codegraph.build([MODELING_VIT, BOOK_GLOSSARY], dict(codegraph.VIEW.defaults))
    assert time.perf_counter() - started < 2.0


def test_validate_and_source_files_report_bad_options(tmp_path):
    assert codegraph.validate([MODELING_VIT], {"root": "ViTForImageClassification"}) == []
    [problem] = codegraph.validate([MODELING_VIT], {"root": "ViTNoSuchThing"})
    assert "root class 'ViTNoSuchThing' is not defined in modeling_vit.py" in problem
    with pytest.raises(ValueError, match="module 'no_such_pkg.mod' not found"):
        codegraph.source_files(None, {"module": "no_such_pkg.mod"})
    empty = tmp_path / "g.md"
    empty.write_text("no entries")
    assert "no glossary entries in g.md" in codegraph.validate([MODELING_VIT, empty], {})[0]


def test_source_page_has_an_anchor_per_class_and_per_line():
    code = read_source(MODELING_VIT)
    body = source_page_body(code)
    ids = re.findall(r' id="([^"]+)"', body)
    assert len(ids) == len(set(ids))
    for node in code.analysed_classes():
        assert f'<span class="elvit-class-block" id="{node.name}">' in body
    lines = len(MODELING_VIT.read_text().splitlines())
    assert {f"L{n}" for n in range(1, lines + 1)} <= set(ids)
    assert "class=\"k\">class</span>" in body  # Pygments token classes, styled by pygments.css


# --- in Sphinx ---------------------------------------------------------------------------------

def warnings_of(app) -> str:
    return strip_colors(app.warning.getvalue())


def copy_root(tmp_path: Path) -> Path:
    target = tmp_path / "codegraph"
    shutil.copytree(ROOTS / "test-codegraph", target)
    return target


def test_book_page_has_the_figure_the_role_and_the_source_page(make_app, tmp_path):
    app = make_app("html", srcdir=copy_root(tmp_path))
    app.build()
    assert warnings_of(app).strip() == ""
    out = Path(app.outdir)
    page = (out / "index.html").read_text()
    assert 'data-elvit-view="codegraph"' in page
    assert "Drawn during this build from modeling_vit.py (sha256" in page
    assert '"glossary":"glossary.html"' in page
    assert 'href="_elvit_source/transformers.models.vit.modeling_vit.html#ViTMLP"' in page
    assert "views/codegraph.js" in page
    source = (out / "_elvit_source" / "transformers.models.vit.modeling_vit.html").read_text()
    assert 'id="ViTLayer"' in source and "pygments.css" in source
    assert len(page.encode()) < 1_000_000


def test_bad_options_warn_with_file_and_line(make_app, tmp_path):
    srcdir = copy_root(tmp_path)
    (srcdir / "index.rst").write_text(
        "Bad\n===\n\n.. elvit-codegraph::\n   :root: NoSuchClass\n\n"
        ".. elvit-codegraph::\n   :module: no_such_pkg.modeling\n\n"
        ".. elvit-codegraph::\n   :glossary: missing.md\n\n"
        "Role: :elvit-class:`NoSuchClass`.\n\n.. toctree::\n\n   glossary\n")
    app = make_app("html", srcdir=srcdir)
    app.build()
    warnings = warnings_of(app)
    index = str(srcdir / "index.rst")
    assert f"{index}:4: WARNING: elvit-codegraph: root class 'NoSuchClass'" in warnings
    assert f"{index}:7: WARNING: elvit-codegraph: module 'no_such_pkg.modeling' not found" in warnings
    assert f"{index}:10: WARNING: elvit-codegraph: file not found: missing.md" in warnings
    assert "elvit-class: modeling_vit.py defines no class 'NoSuchClass'" in warnings
    assert "Traceback" not in warnings


def view_entries(outdir: Path) -> dict[str, int]:
    views = Path(outdir).parent / ".elvit_cache" / "views"
    return {p.name: p.stat().st_mtime_ns for p in views.glob("*.json")}


def test_graph_is_rebuilt_exactly_when_the_analysed_file_changes(make_app, tmp_path, monkeypatch):
    package = tmp_path / "site" / "toyvit"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    shutil.copy(MODELING_VIT, package / "modeling_toy.py")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    srcdir = copy_root(tmp_path)
    index = srcdir / "index.rst"
    index.write_text(index.read_text().replace(":glossary: glossary.rst",
                                               ":glossary: glossary.rst\n   :module: toyvit.modeling_toy"))

    def build():
        app = make_app("html", srcdir=srcdir)
        app.build()
        app.cleanup()
        assert warnings_of(app).strip() == ""
        return app, view_entries(app.outdir), app.env.all_docs["index"]

    first, entries, read_at = build()
    assert len(entries) == 1

    _noop, again, read_again = build()  # nothing changed: the page is not even read
    assert again == entries and read_again == read_at

    time.sleep(0.01)
    (package / "modeling_toy.py").touch()  # same content: read again, graph taken from the cache
    _touched, touched, read_touched = build()
    assert read_touched > read_at and touched == entries

    with open(package / "modeling_toy.py", "a") as handle:
        handle.write("\n\nclass ToyExtra(ViTModel):\n    pass\n")
    changed_app, changed, _ = build()
    assert len(changed) == 2 and set(entries) < set(changed)  # one new graph, the old one kept
    page = (Path(changed_app.outdir) / "index.html").read_text()
    assert "modeling_toy.ToyExtra" in page
    source_page = Path(changed_app.outdir) / "_elvit_source" / "toyvit.modeling_toy.html"
    assert 'id="ToyExtra"' in source_page.read_text()
    embedded = json.loads(re.search(r'class="elvit-data">(.*?)</script>', page).group(1))
    assert embedded["source"]["module"] == "toyvit.modeling_toy"
    sys.modules.pop("toyvit", None)


def test_a_page_rewritten_without_its_cached_graph_rebuilds_it(make_app, tmp_path):
    """Cache cleared, page rewritten but not re-read (an HTML option changed): still drawn."""
    srcdir = copy_root(tmp_path)
    first = make_app("html", srcdir=srcdir)
    first.build()
    first.cleanup()
    views = Path(first.outdir).parent / ".elvit_cache" / "views"
    shutil.rmtree(views)
    again = make_app("html", srcdir=srcdir, confoverrides={"html_title": "Another title"})
    again.build()
    assert warnings_of(again).strip() == ""
    assert "Another title" in (Path(again.outdir) / "index.html").read_text()
    assert 'data-elvit-view="codegraph"' in (Path(again.outdir) / "index.html").read_text()
    assert len(list(views.glob("*.json"))) == 1


def test_other_builders_get_the_alt_text_and_plain_class_names(make_app, tmp_path):
    app = make_app("text", srcdir=copy_root(tmp_path))
    app.build()
    assert warnings_of(app).strip() == ""
    text = (Path(app.outdir) / "index.txt").read_text()
    assert "[Interactive figure: Graph of the" in text
    assert "The MLP of every block is \"ViTMLP\"." in text
