"""Views that let the reader switch between images: the ``:images:`` option and its data.

A view with ``"images"`` in its ``option_spec`` (``elvit-similarity``,
``elvit-patch-predictions``) shows an image menu: its ``:image:`` first, then the images named by
``:images:`` (paths relative to the page, separated by commas), then the reader's own images
from ``elvit_images`` in ``conf.py``. The directive (:mod:`elvit_sphinx.pages.reader_images`) turns
those paths into ``[absolute path, sha256]`` pairs before the view is built, so the view's cache
key changes when any of the images does; :func:`menu_traces` then reads their traces from the
build's cache (computing any that are missing).

In the page, the first image's data is inline and every other image's data is a chunk loaded
when the reader picks it. Every image is identified by :func:`image_id` (a prefix of its
SHA-256), which the page-level link between views (``static/interpretation.js``) carries.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from elvit_sphinx.tracing.trace_data import Trace

#: Each image adds its data to the site (chunks) and one forward pass to the build.
MAX_IMAGES = 12


def images_option(text: str | None) -> list[str]:
    """Directive option converter: ``a.jpg, images/b.png`` → ``["a.jpg", "images/b.png"]``."""
    entries = [part.strip() for part in (text or "").replace("\n", ",").split(",")]
    entries = [entry for entry in entries if entry]
    if not entries:
        raise ValueError("expected image paths separated by commas, e.g. images/a.jpg, images/b.png")
    return entries


def validate_images(options: dict) -> list[str]:
    images = options.get("images") or []
    if len(images) + 1 > MAX_IMAGES:
        return [f"{len(images) + 1} images in the menu; at most {MAX_IMAGES} (each adds its data "
                "to the site and a forward pass to the build)"]
    return []


def image_id(trace: Trace) -> str:
    """What names an image across the views of a page: the start of its SHA-256."""
    return trace.config.image_sha256[:16]


def image_entry(trace: Trace) -> dict:
    """The menu line of one image: its name and the model's prediction for it."""
    probs = trace["probs"]
    top = int(np.argmax(probs))
    return {"id": image_id(trace), "name": trace.config.image_name,
            "label": trace.config.id2label[top], "prob": float(probs[top])}


def _book_trace(path: str) -> Trace:
    # The build exports its model and cache (elvit_sphinx.notebook): the same traces the
    # notebook cells and the other figures read.
    from elvit_sphinx.notebook import book_trace

    return book_trace(path)


def menu_traces(trace: Trace, options: dict,
                load: Callable[[str], Trace] = _book_trace) -> list[Trace]:
    """The traces of the menu's images, ``trace`` (the ``:image:``) first."""
    return [trace, *(load(path) for path, _sha in options.get("images") or [])]
