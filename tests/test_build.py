"""Building Sphinx projects with the extension: figures, cache, rebuilds, -j 2, bad input."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image
from sphinx.util.console import strip_colors

ROOTS = Path(__file__).parent / "roots"


def copy_root(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(ROOTS / f"test-{name}", target)
    return target


def compute_log(outdir: Path) -> list[dict]:
    path = Path(outdir).parent / ".elvit_cache" / "compute-log.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]


def warnings_of(app) -> str:
    return strip_colors(app.warning.getvalue())


@pytest.mark.sphinx("html", testroot="basic")
def test_view_is_embedded_with_provenance_and_local_scripts(app):
    app.build()
    assert warnings_of(app).strip() == ""
    html = (Path(app.outdir) / "index.html").read_text()
    assert re.search(r'<figure class="elvit-figure" data-elvit-view="prediction" data-elvit-key="\w+"',
                     html)
    assert "Computed during this build by" in html and "noise.png" in html
    assert "This model is untrained" in html
    for script in ("vendor/d3-7.9.2.min.js", "charts.js", "elvit.js", "views/prediction.js"):
        assert re.search(rf'<script defer="defer" src="_static/elvit/{script}(\?v=\w+)?">', html), script
        assert (Path(app.outdir) / "_static" / "elvit" / script).exists()
    # Only the views this page uses.
    assert "views/patches.js" not in html
    assert "cdn." not in html and "https://" not in html.split("</head>")[0]
    assert len(compute_log(app.outdir)) == 1


@pytest.mark.sphinx("html", testroot="basic")
def test_pages_without_views_load_no_figure_scripts(app):
    (Path(app.srcdir) / "plain.rst").write_text("Plain\n=====\n\nNo figures here.\n")
    app.build()
    plain = (Path(app.outdir) / "plain.html").read_text()
    assert "elvit.js" not in plain and "d3-7" not in plain


def first_build(make_app, tmp_path):
    """Build the basic root once; return (srcdir, app, the one trace file it computed)."""
    srcdir = copy_root("basic", tmp_path)
    first = make_app("html", srcdir=srcdir)
    first.build()
    first.cleanup()
    [entry] = compute_log(first.outdir)
    trace_file = Path(first.outdir).parent / ".elvit_cache" / "traces" / f"{entry['key']}.npz"
    return srcdir, first, trace_file


def test_second_build_runs_no_forward_pass(make_app, tmp_path):
    srcdir, first, trace_file = first_build(make_app, tmp_path)
    mtime = trace_file.stat().st_mtime_ns
    html = (Path(first.outdir) / "index.html").read_text()

    fresh = make_app("html", srcdir=srcdir, freshenv=True)  # re-reads every page
    fresh.build()
    fresh.cleanup()
    assert len(compute_log(fresh.outdir)) == 1, "a fresh build recomputed a cached trace"
    assert trace_file.stat().st_mtime_ns == mtime
    assert (Path(fresh.outdir) / "index.html").read_text() == html

    noop = make_app("html", srcdir=srcdir)
    noop.build()
    assert "forward pass" not in noop.status.getvalue()
    assert len(compute_log(noop.outdir)) == 1


def test_corrupt_cache_entry_is_recomputed_with_a_warning(make_app, tmp_path):
    srcdir, _first, trace_file = first_build(make_app, tmp_path)
    trace_file.write_bytes(b"garbage")
    again = make_app("html", srcdir=srcdir, freshenv=True)
    again.build()
    assert "corrupt trace file" in warnings_of(again)
    assert "recomputing" in warnings_of(again)
    assert len(compute_log(again.outdir)) == 2
    assert 'data-elvit-view="prediction"' in (Path(again.outdir) / "index.html").read_text()


def test_changed_weights_rebuild_the_pages_that_use_them(make_app, tmp_path):
    """Same elvit_model folder, new weights inside: the pages are read and traced again."""
    import torch
    from transformers import ViTForImageClassification

    from elvit_sphinx.compute.model import embedded_config, embedded_processor

    config = embedded_config()
    config.num_hidden_layers = 2
    folder = tmp_path / "ckpt"
    srcdir = copy_root("basic", tmp_path)
    for seed in (0, 1):
        torch.manual_seed(seed)
        ViTForImageClassification(config).save_pretrained(folder)
        embedded_processor().save_pretrained(folder)
        app = make_app("html", srcdir=srcdir, confoverrides={"elvit_model": str(folder)})
        app.build()
        app.cleanup()
        assert warnings_of(app).strip() == ""
    assert len(compute_log(app.outdir)) == 2
    assert "checkpoint folder" in (Path(app.outdir) / "index.html").read_text()


def test_bad_input_gives_one_warning_each_with_file_and_line(make_app, tmp_path):
    srcdir = copy_root("bad", tmp_path)
    Image.new("1", (8000, 8000)).save(srcdir / "images" / "huge.png")
    huge_line = len((srcdir / "index.rst").read_text().splitlines()) + 2
    with open(srcdir / "index.rst", "a") as handle:
        handle.write("\n.. elvit-prediction::\n   :image: images/huge.png\n")
    app = make_app("html", srcdir=srcdir)
    app.build()
    warnings = warnings_of(app)
    assert "Traceback" not in warnings
    index = str(srcdir / "index.rst")
    expected = {
        6: "image file not found", 9: "not an image file", 12: "corrupt or truncated image",
        15: "top 50 is out of range: this model has 10 classes", 19: 'unknown; choose from',
        23: 'unknown option: "colour"', 27: "the :image: option is required",
        huge_line: "8000×8000",
    }
    for line, text in expected.items():
        matching = [w for w in warnings.splitlines() if w.startswith(f"{index}:{line}:")]
        assert len(matching) == 1, (line, warnings)
        assert text in warnings.split(f"{index}:{line}:", 1)[1].split(f"{index}:", 1)[0]
    html = (Path(app.outdir) / "index.html").read_text()
    assert html.count('class="elvit-figure"') == 1  # only the good figure
    assert "Text the reader had before" in html and "Text the reader had after" in html


def test_unreachable_model_ends_the_build_with_one_error(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-hf-cache"))
    model_id = "no-such-org/no-such-vit"
    srcdir = copy_root("parallel", tmp_path)
    done = sphinx_build(srcdir, tmp_path / "out", "-D", f"elvit_model={model_id}")
    assert done.returncode == 2
    output = strip_colors(done.stdout + done.stderr)
    assert output.count("ERROR") == 1 and output.count(model_id) >= 1
    assert f"{srcdir / 'conf.py'}:1: ERROR" in output
    assert "save_pretrained" in output and "Traceback" not in output
    assert not (tmp_path / "out" / "page1.html").exists()


def test_environment_variable_overrides_the_configured_model(tmp_path, monkeypatch):
    monkeypatch.setenv("ELVIT_MODEL", str(tmp_path / "missing-folder"))
    done = sphinx_build(copy_root("basic", tmp_path), tmp_path / "out")
    output = strip_colors(done.stderr)
    assert done.returncode == 2 and "missing-folder" in output
    assert "ELVIT_MODEL environment variable" in output and "Traceback" not in output


@pytest.mark.sphinx("text", testroot="basic")
def test_other_builders_get_the_alt_text(app):
    app.build()
    text = " ".join((Path(app.outdir) / "index.txt").read_text().split())  # undo line wrapping
    assert "[Interactive figure: Bar chart of the model's probabilities" in text
    assert "Computed during this build" in text


def sphinx_build(srcdir: Path, outdir: Path, *extra: str) -> subprocess.CompletedProcess:
    # A subprocess: -j forks, and this pytest process may already hold torch threads.
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    return subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
                           *extra, str(srcdir), str(outdir)],
                          capture_output=True, text=True, timeout=600, env=env)


def test_parallel_build_gives_the_same_html_as_a_serial_build(tmp_path):
    srcdir = copy_root("parallel", tmp_path)
    serial = sphinx_build(srcdir, tmp_path / "serial" / "html")
    assert serial.returncode == 0, serial.stderr
    parallel = sphinx_build(srcdir, tmp_path / "parallel" / "html", "-j", "2")
    assert parallel.returncode == 0, parallel.stderr
    pages = sorted(p.name for p in (tmp_path / "serial" / "html").glob("*.html"))
    assert "page7.html" in pages
    for page in pages:
        a = (tmp_path / "serial" / "html" / page).read_text()
        b = (tmp_path / "parallel" / "html" / page).read_text()
        assert a == b, f"{page} differs between serial and -j 2 builds"
    assert "elvit-figure" in (tmp_path / "parallel" / "html" / "page3.html").read_text()


def test_view_links_resolve_through_sphinx_and_a_missing_target_warns(make_app, tmp_path,
                                                                      monkeypatch):
    import dataclasses

    from elvit_sphinx.views import VIEWS

    linked = dataclasses.replace(VIEWS["prediction"], links=lambda config, options: {
        "home": "index", "nowhere": "no-such-chapter"})
    monkeypatch.setitem(VIEWS, "prediction", linked)
    app = make_app("html", srcdir=copy_root("basic", tmp_path))
    app.build()
    warnings = warnings_of(app)
    assert "link target 'no-such-chapter' (for 'nowhere')" in warnings
    assert f"{Path(app.srcdir) / 'index.rst'}:" in warnings
    html = (Path(app.outdir) / "index.html").read_text()
    links = re.search(r'<script type="application/json" class="elvit-links">(.*?)</script>', html)
    assert json.loads(links.group(1)) == {"home": "index.html"}


def test_prefetch_finds_the_image_literals_of_cells_that_call_book_trace():
    from elvit_sphinx.pages.prefetch import images_named_in

    source = 'CAT = "images/cat.jpg"\nt = book_trace(CAT)\nu = book_trace(\'a/b.PNG\')\nx = "notes.txt"\n'
    assert images_named_in(source) == ["a/b.PNG", "images/cat.jpg"]
    assert images_named_in('CAT = "images/cat.jpg"') == []  # no cell reads traces


@pytest.mark.sphinx("html", testroot="basic")
def test_html_figure_has_a_static_picture_for_readers_without_javascript(app):
    app.build()
    html = (Path(app.outdir) / "index.html").read_text()
    found = re.search(r'<noscript><img class="elvit-static" src="(_elvit/\w+/static\.png)" '
                      r'alt="([^"]+)"', html)
    assert found and "Bar chart of the model's probabilities" in found.group(2).replace("&#x27;", "'")
    picture = Image.open(Path(app.outdir) / found.group(1))
    assert picture.format == "PNG" and picture.width >= 400
    assert f'<a class="elvit-download" href="{found.group(1)}" download=' in html


@pytest.mark.sphinx("latex", testroot="basic")
def test_latex_gets_the_static_picture_with_caption(app):
    app.build()
    [tex] = Path(app.outdir).glob("*.tex")
    text = tex.read_text()
    included = re.search(r"\\sphinxincludegraphics(?:\[[^\]]*\])?\{\{([\w-]+)\}(\.png)\}", text)
    assert included, text[-3000:]
    assert Image.open(Path(app.outdir) / (included.group(1) + included.group(2))).format == "PNG"
    assert "Computed during this build by" in text
    assert "Interactive figure" not in text


@pytest.mark.browser
def test_standalone_views_are_self_contained_pages(make_app, tmp_path, open_page):
    app = make_app("html", srcdir=copy_root("basic", tmp_path),
                   confoverrides={"elvit_standalone_views": True})
    app.build()
    [page_path] = (Path(app.outdir) / "_elvit" / "standalone").glob("index-*-prediction.html")
    html = page_path.read_text()
    assert "<script src=" not in html and "<link" not in html  # nothing to fetch
    moved = tmp_path / "slides" / "figure.html"  # it works anywhere, alone
    moved.parent.mkdir()
    moved.write_text(html)
    page, log = open_page(moved, wait_for="() => document.querySelector('[data-elvit-view]')"
                                           ".dataset.elvitReady === 'true'")
    assert page.locator("rect.elvit-bar").count() == 10
    assert "Computed during this build by" in page.inner_text("figcaption")
    assert log.console_errors == [] and log.page_errors == [] and log.outside(moved.parent) == []


def test_gettext_collects_the_figures_words(make_app, tmp_path):
    app = make_app("gettext", srcdir=copy_root("basic", tmp_path))
    app.build()
    pot = (Path(app.outdir) / "elvit.pot").read_text()
    assert 'msgid "◀ step back"' in pot and "#: elvit.js:" in pot
    assert 'msgid "Prediction: {0} ({1}%)"' in pot and "views/prediction.js:" in pot
    assert 'msgid "Class probabilities."' in (Path(app.outdir) / "index.pot").read_text()


@pytest.mark.browser
def test_translated_build_shows_translated_figures(make_app, tmp_path, open_page):
    app = make_app("html", srcdir=copy_root("translated", tmp_path))
    app.build()
    assert warnings_of(app).strip() == ""
    page, log = open_page(Path(app.outdir) / "index.html",
                          wait_for="() => [...document.querySelectorAll('[data-elvit-view]')]"
                                   ".every(f => f.dataset.elvitReady === 'true')")
    assert "Une phrase de texte." in page.inner_text("body")
    prediction = page.locator('[data-elvit-view="prediction"]')
    assert "Prédiction :" in prediction.inner_text() and "probabilité (softmax)" in prediction.inner_text()
    assert "Probabilités des classes." in prediction.locator("figcaption").inner_text()
    conv = page.locator('[data-elvit-view="conv"]')
    labels = conv.get_by_role("button").all_inner_texts()
    assert labels == ["◀ reculer", "▶ lecture", "❚❚ pause", "avancer ▶"]
    assert "Noyau 0 (16×16×3)" in conv.inner_text()
    assert "Output map of kernel 0" in conv.inner_text()  # no translation: stays in English
    # A second view's labels, menus and sentences with bold parts (elvit.tParts), one of whose
    # translations puts the bold number first; untranslated pieces inside stay English.
    attention = page.locator('[data-elvit-view="attention"]')
    words = attention.inner_text()
    assert "Couche" in words and "Tête" in words and "Poids : softmax de chaque ligne" in words
    assert attention.locator("select").first.locator("option").first.inner_text() == "bloc 0"
    assert attention.locator("select").nth(1).locator("option").first.inner_text() == "tête 0"
    row = attention.locator(".elvit-attention-row-text").inner_text()
    assert row.startswith("Ligne 5 (requête : token 5 = patch 4 (row ") and "somme de la ligne" in row
    token = attention.locator(".elvit-attention-token-text")
    weight = token.locator("b").inner_text()
    assert re.fullmatch(r"\d\.\d{4}", weight)
    assert token.inner_text().startswith(f"Poids {weight} donné au jeton CLS (qui n’a pas de patch) "
                                         "par le jeton 5 = patch 4 (ligne ")
    assert log.console_errors == [] and log.page_errors == []


@pytest.mark.sphinx("html", testroot="basic")
def test_files_written_beside_the_site_are_readable_by_a_web_server(app):
    app.build()
    written = list((Path(app.outdir) / "_elvit").rglob("*.*"))
    assert written
    assert all(path.stat().st_mode & 0o044 == 0o044 for path in written), \
        [oct(p.stat().st_mode) for p in written]
