"""What every view module provides, and how a built view becomes embeddable HTML.

A view module (``elvit_sphinx/views/<name>.py``) defines one module-level ``VIEW``::

    VIEW = ViewSpec(
        name="patches",                      # directive ``elvit-patches``; data-elvit-view value
        option_spec={"patch": nonnegative_int},  # view-specific directive options (docutils)
        defaults={"patch": 0},
        validate=validate,                   # (TraceConfig, options) -> list of problems
        build=build,                         # (Trace, options) -> Bokeh LayoutDOM
        alt=alt,                             # (TraceConfig, options) -> one-sentence alt text
    )

Its module docstring is the user documentation of the directive (the book's reference page
includes it). The extension does the rest: computes or loads the trace, validates options
(problems become warnings with file:line), calls ``build``, embeds the result with
:func:`embed_json`, and adds the provenance caption.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from elvit_sphinx.trace_data import Trace, TraceConfig


@dataclass(frozen=True)
class ViewSpec:
    name: str
    build: Callable[[Trace, dict], Any]
    validate: Callable[[TraceConfig, dict], list[str]]
    alt: Callable[[TraceConfig, dict], str]
    option_spec: dict[str, Callable] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)


def embed_json(layout) -> str:
    """Bokeh's standalone JSON for ``layout``, with ids in a stable, renumberable form.

    Bokeh numbers models from a process-wide counter, so the same view built in a serial and a
    ``-j`` build would get different ids. We rename them ``@@0``, ``@@1``… in order of first
    appearance; :func:`instantiate_ids` gives them page-unique names when the page is written.
    """
    from bokeh.embed import json_item

    text = json.dumps(json_item(layout), separators=(",", ":"))
    mapping: dict[str, str] = {}

    def rename(match: re.Match) -> str:
        old = match.group(1)
        if old not in mapping:
            mapping[old] = f"@@{len(mapping)}"
        return f'"{mapping[old]}"'

    return re.sub(r'"(p\d{4,})"', rename, text)


def instantiate_ids(item_json: str, prefix: str) -> str:
    """Replace the placeholder ids with ``<prefix>-<n>`` (unique on a page)."""
    return re.sub(r'"@@(\d+)"', lambda m: f'"{prefix}-{m.group(1)}"', item_json)


def standalone_html(layout, title: str = "elvit view") -> str:
    """A self-contained HTML page (BokehJS inlined) for testing a view outside Sphinx."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    return file_html(layout, resources=INLINE, title=title)
