"""Drill-down speed of the whole-model views, in headless Chromium over a local HTTP server.

For each click that opens or closes a level of an ``elvit-detail`` figure (and of an
``elvit-overview``), the time from the click event to the paint of the frame that shows the new
level *drawn*: for the detail view that is after its chunk (PNG sprites) was fetched, decoded and
coloured (the view marks ``elvit-detail-drawn``); a message posted from the next
``requestAnimationFrame`` arrives after that frame is painted.

Two kinds of click: *cold* (``element.click()`` from script: nothing was fetched before) and
*hovered* (the pointer rests on the picture for 300 ms first, as a reader's does, which lets the
view fetch the level while the reader decides). Usage::

    python benchmarks/drilldown_speed.py SITE DETAIL_PAGE.html [--overview PAGE.html] [--repeat 3]

It prints JSON: per click, the milliseconds of each repetition, and the bytes fetched per level.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from reader_speed import CHROMIUM, FLAGS, serve  # noqa: E402

PROBE = """
window.__drill = [];
let clickedAt = null;
addEventListener("click", (event) => { clickedAt = event.timeStamp; }, {capture: true});
function afterPaint(label) {
  const start = clickedAt;
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => window.__drill.push({label, ms: performance.now() - start});
    channel.port2.postMessage(0);
  });
}
const mark = performance.mark.bind(performance);
performance.mark = (name, options) => {
  if (name === "elvit-detail-drawn" && clickedAt !== null) afterPaint(name);
  return mark(name, options);
};
window.__afterPaint = afterPaint;
// The overview draws its new level inside the click handler: the next paint shows it. (Capture:
// the handler replaces the clicked box, so the target is detached by the bubbling phase.)
addEventListener("click", (event) => {
  if (event.target.closest && event.target.closest('[data-elvit-view="overview"]')) afterPaint("overview");
}, {capture: true});
window.__moves = [];
addEventListener("pointermove", (event) => {
  const t0 = event.timeStamp;
  requestAnimationFrame(() => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => window.__moves.push(performance.now() - t0);
    channel.port2.postMessage(0);
  });
}, {capture: true});
"""

DETAIL = '[data-elvit-view="detail"]'
# (card to click, level drawn after it); "up" clicks empty space.
PATH = [("4", "encoder"), ("0", "block-0"), ("1", "attention-0"), ("4", "attention-0"),
        ("up", "attention-0"), ("up", "block-0"), ("4", "mlp-0"), ("up", "block-0"), ("up", "encoder"),
        ("11", "block-11"), ("up", "encoder"), ("up", "model")]


def _drawn(page, level: str) -> None:
    page.wait_for_function("(level) => JSON.parse(document.querySelector('[data-elvit-view=detail]')"
                           ".dataset.elvitState).drawn === level", arg=level, timeout=30000)


def _click(page, target: str, hovered: bool) -> None:
    figure = page.locator(DETAIL).first
    if target == "up":
        page.evaluate("document.querySelector('[data-elvit-view=detail] .elvit-dt-stage')"
                      ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
        return
    card = figure.locator(f'.elvit-dt-card[data-item="{target}"]')
    if hovered:
        card.hover()
        page.wait_for_timeout(300)
        card.click()
    else:
        card.evaluate("el => el.click()")


def measure_overview(browser, url: str) -> dict:
    """Pointer sweeps over the overview's boxes (hover text) and its drill-down clicks."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(PROBE)
    page.goto(url)
    page.wait_for_function("() => performance.getEntriesByName('elvit-views-painted').length > 0",
                           timeout=60000)
    figure = page.locator('[data-elvit-view="overview"]').first
    figure.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    clicks = []

    def sweep():
        box = figure.locator("svg").bounding_box()
        for k in range(30):
            page.mouse.move(box["x"] + box["width"] * (0.02 + 0.96 * k / 29),
                            box["y"] + box["height"] * (0.1 + 0.8 * (k % 5) / 4))
            page.wait_for_timeout(35)

    def click(selector):
        before = page.evaluate("window.__drill.length")
        if selector == "up":
            page.evaluate("document.querySelector('[data-elvit-view=overview] svg .elvit-ov-background')"
                          ".dispatchEvent(new MouseEvent('click', {bubbles: true}))")
        else:
            figure.locator(selector).click()
        page.wait_for_function("(n) => window.__drill.length > n", arg=before, timeout=10000)
        clicks.append(round(page.evaluate("window.__drill.at(-1).ms"), 1))
        page.wait_for_timeout(200)

    page.evaluate("window.__moves = []")
    sweep()
    click("[data-box=encoder]")
    sweep()
    click("[data-box=block-3]")
    sweep()
    click("up")
    click("up")
    moves = page.evaluate("window.__moves")
    context.close()
    return {"clicks_ms": clicks, "moves": len(moves), "moves_over_32ms": sum(m > 32 for m in moves),
            "moves_median_ms": round(statistics.median(moves), 1), "moves_max_ms": round(max(moves), 1)}


def measure(browser, url: str, hovered: bool) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    fetched: dict[str, int] = {}
    page.on("response", lambda r: fetched.__setitem__(r.url.rsplit("/", 1)[-1], len(r.body()))
            if "/_elvit/" in r.url else None)
    page.add_init_script(PROBE)
    page.goto(url)
    page.wait_for_function("() => performance.getEntriesByName('elvit-views-painted').length > 0",
                           timeout=60000)
    page.locator(DETAIL).first.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    times = []
    for target, level in PATH:
        before = page.evaluate("window.__drill.length")
        _click(page, target, hovered)
        _drawn(page, level)
        page.wait_for_function("(n) => window.__drill.length > n", arg=before, timeout=30000)
        ms = round(page.evaluate("window.__drill.at(-1).ms"), 1)
        times.append({"click": target, "level": level, "ms": ms})
        page.wait_for_timeout(400)
    context.close()
    return {"clicks": times, "fetched_bytes": fetched}


def measure_site(site: Path, page: str, overview: str = "", repeat: int = 3) -> dict:
    """The drill-down figures of ``page`` (and of ``overview``'s figure) in a built ``site``."""
    from playwright.sync_api import sync_playwright

    result: dict = {}
    with serve(site) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            for hovered in (False, True):
                runs = [measure(browser, base + page, hovered) for _ in range(repeat)]
                per_click = [[run["clicks"][i]["ms"] for run in runs] for i in range(len(PATH))]
                opening = [ms for i, row in enumerate(per_click) for ms in row if PATH[i][0] != "up"]
                result["hovered" if hovered else "cold"] = {
                    "clicks": [{"click": c, "level": lv, "ms": row}
                               for (c, lv), row in zip(PATH, per_click, strict=True)],
                    "open_median_ms": round(statistics.median(opening), 1),
                    "open_max_ms": max(opening),
                    "over_100ms": sum(ms > 100 for row in per_click for ms in row),
                    "fetched_bytes": runs[0]["fetched_bytes"],
                }
            if overview:
                result["overview"] = [measure_overview(browser, base + overview) for _ in range(repeat)]
        finally:
            browser.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("site", type=Path)
    parser.add_argument("page", help="a page with an elvit-detail figure")
    parser.add_argument("--overview", default="", help="a page with an elvit-overview figure")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(measure_site(args.site, args.page, args.overview, args.repeat), indent=2))


if __name__ == "__main__":
    main()
