"""The prediction view in a built page: a reader hovers a bar and reads its numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.mark.browser
@pytest.mark.sphinx("html", testroot="basic")
def test_hovering_a_bar_shows_that_class_and_its_probability(app, open_page):
    app.build()
    page_path = Path(app.outdir) / "index.html"
    page, log = open_page(page_path, wait_for="() => document.querySelector("
                          "'[data-elvit-view=prediction]').dataset.elvitReady === 'true'")
    figure = page.locator('[data-elvit-view="prediction"]')
    box = figure.bounding_box()
    # The top bar is the predicted class (highlighted); hover just right of the axis, near the top.
    page.mouse.move(box["x"] + box["width"] * 0.12, box["y"] + 45)
    page.wait_for_timeout(500)
    # Bokeh draws its tooltip inside nested shadow roots: gather their text.
    tooltip = page.evaluate("""() => {
      const texts = [];
      const walk = (root) => root.querySelectorAll('*').forEach(el => {
        if (el.shadowRoot) { texts.push(el.shadowRoot.textContent || ''); walk(el.shadowRoot); }
      });
      walk(document);
      return texts.join(' ');
    }""")
    from elvit_sphinx.trace_data import Trace

    [trace_file] = (Path(app.outdir).parent / ".elvit_cache" / "traces").glob("*.npz")
    trace = Trace.load(trace_file)
    top = int(np.argmax(trace["probs"]))
    assert trace.config.id2label[top] in tooltip
    assert f"{trace['probs'][top]:.4f}" in tooltip
    assert log.console_errors == [] and log.page_errors == []
    assert log.outside(Path(app.outdir)) == []
