"""Reader-side speed of a built book, in headless Chromium over a local HTTP server.

For each page with figures:

* **first interactive** — navigation start to the ``elvit-views-painted`` mark, which the
  runtime (``static/elvit.js``) sets once every figure is drawn and the frame showing them has
  been painted;
* **response** — the reader's actions are replayed (pointer sweeps over every canvas, clicks,
  arrow keys on focusable pictures, typing a number, buttons, menus, pointing at and clicking
  the nodes of graph views, arrow keys, Enter and Escape on them) and timed two ways:

  - clicks, key presses and typing by the browser's Event Timing API (``PerformanceObserver``,
    type ``event``, ``durationThreshold: 16``), one interaction per ``interactionId``; its
    duration runs from the input to the next paint;
  - pointer moves, which the Event Timing API does not report (continuous events), by a probe:
    from the event's timestamp to a message posted from the next ``requestAnimationFrame``,
    i.e. after that frame is painted.

A trivial page (one canvas redrawn on every pointer move, one button) is measured the same way
first, as the calibration of this machine. Run ``python benchmarks/reader_speed.py SITE
[PAGE.html ...]``; it prints JSON. ``nox -s bench`` runs it on the books it builds.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import http.server
import json
import statistics
import sys
import threading
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]
SLOW_MS = 32

PROBES = """
window.__elvitEvents = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__elvitEvents.push(
    {name: e.name, id: e.interactionId, start: e.startTime, duration: e.duration});
}).observe({type: "event", buffered: true, durationThreshold: 16});
window.__elvitMoves = [];
addEventListener("pointermove", (event) => {
  const t0 = event.timeStamp;
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => window.__elvitMoves.push(performance.now() - t0);
    channel.port2.postMessage(0);
  });
}, {capture: true});
"""

TRIVIAL_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>calibration</title></head>
<body><figure data-elvit-view="calibration"><canvas width="64" height="64"
style="width:448px;height:448px;image-rendering:pixelated"></canvas><p id="out">-</p>
<input type="number" class="elvit-number"><button type="button">step</button></figure><script>
const canvas = document.querySelector("canvas"), ctx = canvas.getContext("2d");
const out = document.getElementById("out"), image = ctx.createImageData(64, 64);
function draw(v) { for (let i = 0; i < image.data.length; i++) image.data[i] = (i * 7 + v) & 255;
  ctx.putImageData(image, 0, 0); out.textContent = "value " + v; }
canvas.addEventListener("pointermove", (e) => draw(e.offsetX | 0));
canvas.addEventListener("click", (e) => draw(e.offsetY | 0));
document.querySelector("button").addEventListener("click", () => draw(7));
document.querySelector("input").addEventListener("input", (e) => draw(Number(e.target.value) | 0));
draw(0); performance.mark("elvit-views-painted");
</script></body></html>"""


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@contextlib.contextmanager
def serve(folder: Path):
    """A local HTTP server for ``folder``; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()


def _settle(page) -> None:
    """Wait until held-back scripts (MathJax) have run and typeset: a reader reads first."""
    page.wait_for_function(
        "() => !document.querySelector('script[type=\"text/x-elvit-after-views\"]')", timeout=30000)
    page.evaluate("() => window.MathJax && MathJax.startup && MathJax.startup.promise "
                  "? MathJax.startup.promise : null")
    page.wait_for_timeout(600)


def _act_on_figure(page, figure) -> int:
    """Replay what a reader does with one figure; return the number of actions."""
    actions = 0
    figure.scroll_into_view_if_needed()
    page.wait_for_timeout(800)  # let the scrolled-in page finish painting, as a reader would
    for canvas in figure.locator("canvas").all()[:4]:
        # A click may have replaced the figure's pictures (a drill-down opens another level):
        # a canvas that is gone is skipped rather than waited for.
        box = canvas.bounding_box(timeout=2000) if canvas.count() else None
        if not box or box["width"] < 40:
            continue
        for k in range(24):
            page.mouse.move(box["x"] + box["width"] * (0.04 + 0.92 * (k % 8) / 7),
                            box["y"] + box["height"] * (0.15 + 0.3 * (k // 8)))
            page.wait_for_timeout(35)
            actions += 1
        for k in range(3):
            page.mouse.click(box["x"] + box["width"] * (0.2 + 0.3 * k), box["y"] + box["height"] * 0.6)
            page.wait_for_timeout(120)
            actions += 1
    for frame in figure.locator(".elvit-picture-frame[tabindex]").all()[:2]:
        frame.focus()
        for key in ("ArrowRight", "ArrowRight", "ArrowDown", "Enter"):
            page.keyboard.press(key)
            page.wait_for_timeout(120)
            actions += 1
    for box in figure.locator("input.elvit-number").all()[:1]:
        box.focus()
        for text in ("1", "3", "9"):
            box.fill("")
            page.keyboard.type(text)
            page.wait_for_timeout(120)
            actions += 1
    for button in figure.get_by_role("button", name="step forward ▶").all()[:1]:
        for _ in range(3):
            button.click()
            page.wait_for_timeout(120)
            actions += 1
    for select in figure.locator("select").all()[:2]:
        select.focus()
        page.keyboard.press("ArrowDown")
        page.wait_for_timeout(150)
        actions += 1
    for bar in figure.locator(".elvit-bar-row").all()[:5]:
        bar.hover()
        page.wait_for_timeout(60)
        actions += 1
    actions += _act_on_graph_nodes(page, figure)
    return actions


def _act_on_graph_nodes(page, figure) -> int:
    """Graph views (SVG nodes marked ``data-elvit-node``, first child = the node's marker):
    point at nodes, click some (opens a panel), then arrow keys, Enter and Escape."""
    nodes = figure.locator("[data-elvit-node]")
    count = nodes.count()
    if not count:
        return 0
    actions = 0
    step = max(1, count // 16)
    for index in range(0, count, step):
        box = nodes.nth(index).locator(":scope > *").first.bounding_box()
        if not box:
            continue
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_timeout(60)
        actions += 1
        if index % (4 * step) == 0:
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.wait_for_timeout(120)
            actions += 1
    first = figure.locator('[data-elvit-node][tabindex="0"]')
    if first.count():
        first.first.focus()
        for key in ("ArrowRight", "ArrowDown", "ArrowLeft", "Enter", "Escape", "ArrowUp", "Enter", "Escape"):
            page.keyboard.press(key)
            page.wait_for_timeout(120)
            actions += 1
    return actions


def _summary(values: list[float]) -> dict:
    if not values:
        return {"count": 0}
    ordered = sorted(values)
    return {"count": len(values), "over_32ms": sum(v > SLOW_MS for v in values),
            "share_over_32ms": round(sum(v > SLOW_MS for v in values) / len(values), 3),
            "median_ms": round(statistics.median(ordered), 1),
            "p95_ms": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 1),
            "max_ms": round(ordered[-1], 1)}


def measure_page(browser, url: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.add_init_script(PROBES)
    page.goto(url)
    page.wait_for_function("() => performance.getEntriesByName('elvit-views-painted').length > 0",
                           timeout=60000)
    first = page.evaluate("performance.getEntriesByName('elvit-views-painted')[0].startTime")
    figures = page.locator("[data-elvit-view]")
    count = figures.count()
    _settle(page)
    page.evaluate("window.__elvitEvents = []; window.__elvitMoves = []")
    actions = sum(_act_on_figure(page, figure) for figure in figures.all())
    page.wait_for_timeout(500)
    events = page.evaluate("window.__elvitEvents")
    moves = page.evaluate("window.__elvitMoves")
    context.close()
    interactions: dict[int, float] = {}
    for event in events:
        if event["id"]:
            interactions[event["id"]] = max(interactions.get(event["id"], 0), event["duration"])
    return {"first_interactive_ms": round(first), "figures": count,
            "reader_actions": actions, "discrete_interactions": _summary(list(interactions.values())),
            "pointer_moves": _summary(moves), "errors": errors}


def measure_site(site: Path, pages: list[str] | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    site = Path(site)
    if pages is None:
        pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html")
                       if "data-elvit-view=" in p.read_text(encoding="utf-8", errors="replace"))
    calibration_dir = site / "_elvit_calibration"
    calibration_dir.mkdir(exist_ok=True)
    (calibration_dir / "index.html").write_text(TRIVIAL_PAGE, encoding="utf-8")
    result: dict = {}
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            result["calibration_trivial_page"] = measure_page(browser, base + "_elvit_calibration/index.html")
            for name in pages:
                print(f"[reader-speed] {name}", file=sys.stderr, flush=True)
                result[name] = measure_page(browser, base + name)
        finally:
            browser.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path, help="the built HTML folder (e.g. book/_build/html)")
    parser.add_argument("pages", nargs="*", help="pages to measure (default: every page with figures)")
    args = parser.parse_args()
    print(json.dumps(measure_site(args.site, args.pages or None), indent=2))


if __name__ == "__main__":
    main()
