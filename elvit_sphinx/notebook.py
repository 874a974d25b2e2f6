"""Access to the build's traces from notebook cells (myst-nb executes chapters in a kernel).

During a build the extension exports, through the environment the kernel inherits, the model
it resolved and its cache folder; a cell then reads the same cached trace the figures use::

    from elvit_sphinx.notebook import book_trace
    trace = book_trace("images/cat.png")   # relative to the chapter
    trace.config.num_tokens, trace["embeddings.patches"].shape

Outside a build (a plain Jupyter session) it resolves ``ELVIT_MODEL`` or the embedded model
itself and caches in ``./.elvit_cache``.
"""

from __future__ import annotations

import json
import os

from elvit_sphinx.cache import Cache
from elvit_sphinx.images import DEFAULT_MAX_PIXELS, load_rgb
from elvit_sphinx.model_source import ModelSource, resolve
from elvit_sphinx.trace_data import Trace
from elvit_sphinx.traces import TraceRequest, get_trace

SOURCE_VARIABLE = "ELVIT_BUILD_MODEL_SOURCE"
CACHE_VARIABLE = "ELVIT_BUILD_CACHE_DIR"
MAX_PIXELS_VARIABLE = "ELVIT_BUILD_MAX_IMAGE_PIXELS"


def export_build_settings(source: ModelSource, cache_dir: str, max_pixels: int) -> None:
    os.environ[SOURCE_VARIABLE] = json.dumps(source.to_dict())
    os.environ[CACHE_VARIABLE] = cache_dir
    os.environ[MAX_PIXELS_VARIABLE] = str(max_pixels)


def book_trace(image: str | os.PathLike) -> Trace:
    """The trace of the book's model on ``image`` (computed once, then cached)."""
    exported = os.environ.get(SOURCE_VARIABLE)
    if exported:
        source = ModelSource.from_dict(json.loads(exported))
    else:
        source = resolve(os.environ.get("ELVIT_MODEL"))
    cache = Cache(os.environ.get(CACHE_VARIABLE) or os.path.abspath(".elvit_cache"))
    max_pixels = int(os.environ.get(MAX_PIXELS_VARIABLE, DEFAULT_MAX_PIXELS))
    path = os.path.abspath(os.fspath(image))
    load_rgb(path, max_pixels)  # a clear ImageError before any compute
    return get_trace(cache, TraceRequest(source, path, max_pixels))
