"""Trace the images a chapter's code cells will ask for, before the chapter's notebook runs.

A chapter's cells call ``book_trace("images/x.jpg")``. In the notebook's kernel that would start a
compute process of its own (importing torch and loading the model again: ~5 s for ViT-B/16,
per chapter). Tracing those images first, in this Sphinx process's compute worker which already
holds the model, leaves the kernel only cached traces to read. Image paths are found as string
literals ending in an image suffix in documents that call ``book_trace``; anything missed is
still computed by the kernel, so this is purely a speed-up, and any problem is left for the
cell or directive to report. A document that calls ``book_step`` gets the default training step
(:mod:`elvit_sphinx.tracing.steps`) of those images computed too.
"""

from __future__ import annotations

import os
import re

from sphinx.util import logging

from elvit_sphinx.pages.build_state import state
from elvit_sphinx.tracing.compute_client import ComputeError
from elvit_sphinx.tracing.images import ImageError, load_rgb
from elvit_sphinx.tracing.steps import DEFAULT_LR, get_step, resolve_label
from elvit_sphinx.tracing.traces import TraceRequest, get_trace

logger = logging.getLogger(__name__)

IMAGE_LITERAL = re.compile(r"""["']([^"'\n]+\.(?:jpe?g|png|gif|bmp|webp|tiff?))["']""", re.IGNORECASE)


def images_named_in(source: str) -> list[str]:
    """Image paths written as string literals in a document that calls ``book_trace``."""
    if "book_trace" not in source:
        return []
    return sorted(set(IMAGE_LITERAL.findall(source)))


def prefetch_traces(app, docname: str, source: list[str]) -> None:
    build = getattr(app.env, "elvit_state", None)
    if build is None:
        return
    for relative in images_named_in(source[0]):
        _rel, path = app.env.relfn2path(relative, docname)
        if not os.path.isfile(path):
            continue
        try:
            load_rgb(path, build.max_pixels)
            trace = get_trace(build.cache, TraceRequest(state(app.env).source, path, build.max_pixels,
                                                         build.check_reference, build.timeout),
                              info=logger.info)
            if "book_step(" in source[0]:
                # The backprop chapter's default step (its label from the image's name).
                get_step(build.cache, build.source, trace, resolve_label(trace)[0], DEFAULT_LR,
                         info=logger.info, timeout=build.timeout)
        except (ImageError, ComputeError) as exc:
            logger.debug(f"elvit: not prefetched {relative}: {exc}")


def setup_prefetch(app) -> None:
    app.connect("source-read", prefetch_traces)
