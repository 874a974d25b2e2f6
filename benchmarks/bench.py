"""Build-time, trace-time and page-size figures for the book, as one JSON object on stdout.

Run with ``nox -s bench`` or ``python benchmarks/bench.py [--skip-vit-b16]``; progress goes to
stderr. Every build runs ``python -m sphinx -b html`` in a subprocess on a copy of ``book/`` in a
temporary folder, so the extension's cache starts empty (``<outdir>/../.elvit_cache``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

BOOK = Path(__file__).resolve().parent.parent / "book"
BOOK_IMAGE = "images/cifar10-test-cat-0001.jpg"
TARGETS = {"cold_build_seconds_max": 60.0, "noop_ratio_max": 1.5, "trace_ratio_max": 1.3,
           "vit_b16_cold_build_seconds_max": 120.0, "vit_b16_chapter_page_bytes_max": 2_000_000,
           "first_interactive_ms_max": 1000, "share_of_actions_over_32ms_max": 0.05,
           "drilldown_clicks_over_100ms_max": 0, "code_graph_seconds_max": 2.0}
# A MyST fence (``` or :::) opening an elvit-* directive, up to its closing fence.
ELVIT_BLOCK = re.compile(r"^(`{3,}|:{3,})\{elvit-[\w-]+\}.*?^\1[ \t]*\n?", re.MULTILINE | re.DOTALL)
ASSET_REF = re.compile(r"""(?:src|href)=["']([^"'#?]+)""")


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def copy_book(dest: Path) -> Path:
    """book/ into ``dest``, and the CITATION.cff its conf.py reads beside it."""
    shutil.copytree(BOOK, dest, ignore=shutil.ignore_patterns("_build", ".elvit_cache", ".ipynb_checkpoints"))
    shutil.copy(BOOK.parent / "CITATION.cff", dest.parent / "CITATION.cff")
    return dest


def make_plain(src: Path) -> None:
    """Drop the extension from conf.py and its directive blocks from the sources."""
    with open(src / "conf.py", "a", encoding="utf-8") as conf:
        conf.write('\nextensions = [name for name in extensions if name != "elvit_sphinx"]\n')
    for page in src.rglob("*.md"):
        text = page.read_text(encoding="utf-8")
        page.write_text(ELVIT_BLOCK.sub("", text), encoding="utf-8")


def sphinx_build(src: Path, build: Path, env_extra: dict[str, str] | None = None) -> float:
    """``python -m sphinx -b html``; HTML in build/html, doctrees beside it; returns seconds."""
    env = {k: v for k, v in os.environ.items() if k != "ELVIT_MODEL"}
    env.update(env_extra or {})
    command = [sys.executable, "-m", "sphinx", "-b", "html", "-d", str(build / "doctrees"),
               str(src), str(build / "html")]
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"sphinx-build failed ({done.returncode}) for {src}")
    log(f"built {src.name} in {seconds:.1f} s")
    return seconds


def compute_log(build: Path) -> list[dict]:
    path = build / ".elvit_cache" / "compute-log.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summarize_compute(entries: list[dict]) -> dict:
    # Training steps (the backprop chapter, steps.py) share the log, marked kind="backprop".
    steps = [e for e in entries if e.get("kind") == "backprop"]
    entries = [e for e in entries if e.get("kind") != "backprop"]
    total = {key: round(sum(e.get(key, 0.0) for e in entries), 2)
             for key in ("load_seconds", "trace_seconds", "check_seconds", "wall_seconds")}
    return {"forward_passes": len(entries), **total, "training_steps": len(steps),
            "step_seconds": round(sum(e.get("wall_seconds", 0.0) for e in steps), 2)}


def dir_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


# What a browser with JavaScript does not fetch when it opens a page: the static picture inside
# <noscript> (for readers without JavaScript) and the "Download PNG" link (fetched on a click).
NOT_LOADED = re.compile(r"<noscript>.*?</noscript>|<a [^>]*\bdownload=[^>]*>", re.DOTALL)


def _local_assets(html: Path, page: Path, text: str) -> set[Path]:
    static = (html / "_static").resolve()
    assets = set()
    for ref in ASSET_REF.findall(text):
        if "://" in ref or ref.startswith(("data:", "mailto:", "javascript:")):
            continue
        target = (page.parent / ref).resolve()
        if target.is_file() and target.suffix != ".html" and not target.is_relative_to(static):
            assets.add(target)
    return assets


def page_sizes(html: Path, loaded_only: bool = True) -> dict[str, int]:
    """Bytes per page: the HTML plus the local, non-``_static`` files it references (not pages).

    ``loaded_only``: only the files a reader's browser fetches on opening the page (not the
    figures' static pictures, see :data:`NOT_LOADED`); else every file it links to.
    """
    sizes = {}
    for page in sorted(html.rglob("*.html")):
        text = page.read_text(encoding="utf-8", errors="replace")
        assets = _local_assets(html, page, NOT_LOADED.sub("", text) if loaded_only else text)
        sizes[page.relative_to(html).as_posix()] = page.stat().st_size + sum(a.stat().st_size for a in assets)
    return sizes


def static_picture_bytes(html: Path) -> dict[str, int]:
    """Per chapter, the bytes of its figures' static pictures (what a reader without JavaScript
    fetches besides the page, and what "Download PNG" links to)."""
    loaded, linked = page_sizes(html), page_sizes(html, loaded_only=False)
    return {name: linked[name] - loaded[name] for name in chapter_pages(loaded)}


def chapter_pages(sizes: dict[str, int]) -> dict[str, int]:
    """Chapters are the numbered pages (01-....html)."""
    return {name: size for name, size in sizes.items() if re.match(r"\d", Path(name).name)}


def reader_speed(html: Path) -> dict:
    """Headless-Chromium figures for every page with figures (see reader_speed.py)."""
    sys.path.insert(0, str(Path(__file__).parent))
    import reader_speed as speed

    log(f"reader speed in Chromium: {html} ...")
    pages = speed.measure_site(html)
    calibration = pages.pop("calibration_trivial_page")
    summary = {"first_interactive_ms_max": max(p["first_interactive_ms"] for p in pages.values()),
               "share_of_actions_over_32ms_max": max(_slow_share(p) for p in pages.values())}
    return {"calibration_trivial_page": calibration, "pages": pages, **summary}


def page_with(html: Path, view: str) -> str:
    """The first page (in name order) with a figure of ``view``."""
    for page in sorted(html.glob("*.html")):
        if f'data-elvit-view="{view}"' in page.read_text(encoding="utf-8", errors="replace"):
            return page.name
    raise SystemExit(f"no page of {html} has an elvit-{view} figure")


def drilldown(html: Path) -> dict:
    """Click-to-painted times of the detail view's levels (and the overview's), see
    drilldown_speed.py; ``over_100ms`` counts the clicks slower than the 100 ms target."""
    sys.path.insert(0, str(Path(__file__).parent))
    import drilldown_speed

    log(f"drill-down speed in Chromium: {html} ...")
    return drilldown_speed.measure_site(html, page_with(html, "detail"), page_with(html, "overview"),
                                        repeat=2)


CODE_GRAPH_TIMING = """
import time
from pathlib import Path
from code_graph.sources import locate
from elvit_sphinx.views import codegraph
files = [locate("transformers.models.vit.modeling_vit"), Path({glossary!r})]
started = time.perf_counter()
codegraph.build(files, dict(codegraph.VIEW.defaults))
print(time.perf_counter() - started)
"""


def code_graph_seconds(runs: int = 3) -> float:
    """Median seconds to analyse and lay out the installed modeling_vit.py with the book's
    glossary, as the codegraph view does, each run in a fresh process (nothing memoised)."""
    code = CODE_GRAPH_TIMING.format(glossary=str(BOOK / "glossary.md"))
    seconds = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                    check=True).stdout.split()[-1]) for _ in range(runs)]
    return round(statistics.median(seconds), 3)


def _slow_share(page: dict) -> float:
    """Reader actions slower than 32 ms (Event Timing for clicks/keys, the probe for moves)."""
    slow = page["discrete_interactions"].get("over_32ms", 0) + page["pointer_moves"].get("over_32ms", 0)
    return round(slow / max(page["reader_actions"], 1), 3)


def measure_builds(work: Path) -> dict:
    src, build = copy_book(work / "book"), work / "build"
    log("cold build (empty cache) ...")
    cold = sphinx_build(src, build)
    cold_compute = compute_log(build)
    log("no-op rebuild ...")
    noop = sphinx_build(src, build)
    noop_compute = compute_log(build)[len(cold_compute):]
    plain_src, plain_build = copy_book(work / "plain"), work / "plain-build"
    make_plain(plain_src)
    log("plain build (no elvit_sphinx, no elvit directives) ...")
    plain_cold = sphinx_build(plain_src, plain_build)
    plain_noop = sphinx_build(plain_src, plain_build)
    html = build / "html"
    sizes = page_sizes(html)
    return {
        "cold_build_seconds": round(cold, 2),
        "cold_build_compute": summarize_compute(cold_compute),
        "noop_rebuild_seconds": round(noop, 2),
        "noop_rebuild_forward_passes": len(noop_compute),
        "plain_cold_build_seconds": round(plain_cold, 2),
        "plain_noop_rebuild_seconds": round(plain_noop, 2),
        "noop_ratio": round(noop / plain_noop, 3),
        "max_page_bytes": max(sizes.values()),
        "pages": sizes,
        "static_picture_bytes": static_picture_bytes(html),
        "site_bytes": dir_bytes(html),
        "shared_static_bytes": dir_bytes(html / "_static"),
        "plain_site_bytes": dir_bytes(plain_build / "html"),
        "reader_speed": reader_speed(html),
        "drilldown": drilldown(html),
    }


def time_forward(spec: str, image: Path, runs: int) -> dict:
    """Median seconds of a plain SDPA forward (with preprocessing) and of ``trace_image``."""
    import torch

    from elvit_sphinx.compute import load_model, trace_image
    from elvit_sphinx.compute.trace import preprocess

    plain_model = load_model(spec, attn_implementation="sdpa")
    trace_model = load_model(spec)

    def plain() -> None:
        pixels, _image = preprocess(plain_model, image)
        with torch.inference_mode():
            plain_model.model(pixel_values=pixels)

    def trace() -> None:
        trace_image(trace_model, image)

    plain(), trace()  # warm-up
    seconds: dict[str, list[float]] = {"plain_forward_seconds": [], "trace_seconds": []}
    for _ in range(runs):  # interleaved, so both see the same load from other processes
        for name, run in (("plain_forward_seconds", plain), ("trace_seconds", trace)):
            started = time.perf_counter()
            run()
            seconds[name].append(time.perf_counter() - started)
    medians = {name: round(statistics.median(values), 4) for name, values in seconds.items()}
    log(f"{spec if spec == 'embedded' else 'ViT-B/16'}: medians {medians}")
    medians["trace_ratio"] = round(medians["trace_seconds"] / medians["plain_forward_seconds"], 3)
    return medians


def measure_vit_b16(work: Path, image: Path) -> dict:
    log("ViT-B/16: saving a random-weight checkpoint ...")
    from elvit_sphinx.compute.checkpoints import save_random_checkpoint

    folder = save_random_checkpoint("vit-b16", work / "vit-b16")
    figures = {f"vit_b16_{k}": v for k, v in time_forward(str(folder), image, runs=5).items()}
    src, build = copy_book(work / "book-b16"), work / "build-b16"
    log("ViT-B/16: cold build ...")
    seconds = sphinx_build(src, build, {"ELVIT_MODEL": str(folder)})
    chapters = chapter_pages(page_sizes(build / "html"))
    figures.update({
        "vit_b16_cold_build_seconds": round(seconds, 2),
        "vit_b16_chapter_pages": chapters,
        "vit_b16_chapter_page_bytes": max(chapters.values()),
        "vit_b16_static_picture_bytes": static_picture_bytes(build / "html"),
        "vit_b16_reader_speed": reader_speed(build / "html"),
        "vit_b16_drilldown": drilldown(build / "html"),
    })
    return figures


def machine_info() -> dict:
    return {"cpu_count": os.cpu_count(), "load_average_at_start": os.getloadavg(),
            "python": platform.python_version(), "platform": platform.platform(),
            **{f"{name}_version": metadata.version(name)
               for name in ("torch", "transformers", "sphinx", "myst-nb")}}


def check_targets(result: dict) -> dict:
    speed = result["reader_speed"]
    checks = {
        "cold_build": result["cold_build_seconds"] <= TARGETS["cold_build_seconds_max"],
        "noop_rebuild": result["noop_ratio"] <= TARGETS["noop_ratio_max"],
        "trace": result["trace_ratio"] <= TARGETS["trace_ratio_max"],
        "first_interactive": speed["first_interactive_ms_max"] <= TARGETS["first_interactive_ms_max"],
        "response": speed["share_of_actions_over_32ms_max"] <= TARGETS["share_of_actions_over_32ms_max"],
        "drilldown": (result["drilldown"]["cold"]["over_100ms"]
                      <= TARGETS["drilldown_clicks_over_100ms_max"]),
        "code_graph": result["code_graph_seconds"] <= TARGETS["code_graph_seconds_max"],
    }
    if "vit_b16_chapter_page_bytes" in result:
        b16 = result["vit_b16_reader_speed"]
        checks.update({
            "vit_b16_cold_build": (result["vit_b16_cold_build_seconds"]
                                   <= TARGETS["vit_b16_cold_build_seconds_max"]),
            "vit_b16_chapter_page": (result["vit_b16_chapter_page_bytes"]
                                     <= TARGETS["vit_b16_chapter_page_bytes_max"]),
            "vit_b16_first_interactive": (b16["first_interactive_ms_max"]
                                          <= TARGETS["first_interactive_ms_max"]),
            "vit_b16_response": (b16["share_of_actions_over_32ms_max"]
                                 <= TARGETS["share_of_actions_over_32ms_max"]),
            "vit_b16_drilldown": (result["vit_b16_drilldown"]["cold"]["over_100ms"]
                                  <= TARGETS["drilldown_clicks_over_100ms_max"]),
        })
    return checks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-vit-b16", action="store_true", help="skip the slow ViT-B/16 parts")
    args = parser.parse_args()
    result: dict = {"machine": machine_info()}
    image = BOOK / BOOK_IMAGE
    with tempfile.TemporaryDirectory(prefix="elvit-bench-") as tmp:
        work = Path(tmp)
        result.update(measure_builds(work))  # before torch is imported here: builds run alone
        log("embedded model: forward timings ...")
        result.update(time_forward("embedded", image, runs=10))
        log("code graph: analysis and layout of modeling_vit.py ...")
        result["code_graph_seconds"] = code_graph_seconds()
        if not args.skip_vit_b16:
            result.update(measure_vit_b16(work, image))
    result["load_average_at_end"] = os.getloadavg()  # other processes skew every timing
    result["targets"] = TARGETS
    result["meets_targets"] = check_targets(result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
