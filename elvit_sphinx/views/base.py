"""What every view module provides, and the data it hands to the page.

A view module (``elvit_sphinx/views/<name>.py``) defines one module-level ``VIEW``::

    VIEW = ViewSpec(
        name="patches",                      # directive ``elvit-patches``; data-elvit-view value
        option_spec={"patch": nonnegative_int},  # view-specific directive options (docutils)
        defaults={"patch": 0},
        validate=validate,                   # (TraceConfig, options) -> list of problems
        build=build,                         # (Trace, options) -> ViewOutput
        alt=alt,                             # (TraceConfig, options) -> one-sentence alt text
    )

and a script ``elvit_sphinx/static/views/<name>.js`` that draws it in the browser::

    elvit.register("patches", (view) => { ... view.data ... })

``build`` returns plain JSON data (arrays packed by :func:`.encoding.encode`) embedded inline in
the page, plus optional *chunks*: named pieces of data written beside the site
(``_elvit/<key>/<chunk>.js``) and loaded only when the reader asks for them
(``view.chunk(name)``), so that a ViT-B/16 attention view does not put 12 layers × 12 heads of
data into the page. Chunks load through a ``<script>`` element, which works from ``file://``
where ``fetch()`` does not.

The module docstring is the user documentation of the directive (the book's reference page
includes it). The extension does the rest: computes or loads the trace, validates options
(problems become warnings with file:line), calls ``build``, caches its output, embeds it, and
adds the provenance caption.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from elvit_sphinx.tracing.trace_data import Trace, TraceConfig

if TYPE_CHECKING:
    from elvit_sphinx.tracing.model_source import ModelSource

CHUNK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass
class ViewOutput:
    """What a view's ``build`` returns: inline ``data`` and on-demand ``chunks`` (name → data)."""

    data: dict
    chunks: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [name for name in self.chunks if not CHUNK_NAME.match(name)]
        if bad:
            raise ValueError(f"chunk names must be lower-case words ([a-z0-9_-]): {bad}")


@dataclass(frozen=True)
class ViewSpec:
    name: str
    build: Callable[[Trace, dict], ViewOutput]
    validate: Callable[[TraceConfig, dict], list[str]]
    alt: Callable[[TraceConfig, dict], str]
    option_spec: dict[str, Callable] = field(default_factory=dict)
    defaults: dict[str, Any] = field(default_factory=dict)
    #: Shared scripts under ``static/`` this view needs besides the runtime (e.g. d3 for charts).
    libraries: tuple[str, ...] = ()
    #: (TraceConfig, options) -> {name: target}: places in the book the view links to. A target
    #: is a label (``(chapter-attention)=`` in MyST) or a document name; Sphinx resolves them
    #: when the page is written (a missing one is a warning with file:line) and the script reads
    #: the URLs from ``view.links[name]``.
    links: Callable[[TraceConfig, dict], dict[str, str]] | None = None
    #: Views drawn from files instead of a forward pass (the code graph) set this:
    #: (ModelSource, options) -> the paths they read; a relative path is taken from the page's
    #: folder, like ``:image:``; a ``ValueError`` becomes a warning. Such a view takes no
    #: ``:image:`` and no trace is computed: ``validate``, ``build``, ``alt`` and ``links`` get
    #: the list of those files (absolute ``Path``s, same order) where other views get a trace
    #: or its config. The files become dependencies of the page and the cached view is keyed
    #: on their contents, so the view is rebuilt exactly when one of them changes.
    source_files: Callable[[ModelSource, dict], list[str]] | None = None
    #: ViewOutput -> PIL image: the figure as a static picture, drawn at build time from the
    #: same data the page gets, inline data and chunks (no browser); it shows the selection the
    #: page opens with. Readers without JavaScript, the "Download PNG" link, the PDF and other
    #: non-HTML builders use it.
    static: Callable[[ViewOutput], Any] | None = None

    #: The directive takes content (e.g. the annotations' regions and texts): its lines, joined
    #: by newlines, reach ``validate``/``build``/``alt`` as ``options["content"]``.
    content: bool = False

    @property
    def needs_trace(self) -> bool:
        return self.source_files is None

    @property
    def script(self) -> str:
        """The view's own script, relative to ``static/``."""
        return f"views/{self.name}.js"


def to_json(value) -> str:
    """Compact, deterministic JSON (the same view gives the same bytes in every build)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def chunk_script(chunk_id: str, payload) -> str:
    """The file that delivers one chunk: a call the runtime answers (works from file://)."""
    return f"elvit.chunkLoaded({json.dumps(chunk_id)},{script_safe(to_json(payload))});\n"


def script_safe(text: str) -> str:
    """JSON that can sit inside a ``<script>`` element: ``</`` would end the element early."""
    return text.replace("</", "<\\/")
