"""Access to the build's traces from notebook cells (myst-nb executes chapters in a kernel).

During a build the extension exports, through the environment the kernel inherits, the model
it resolved and its cache folder; a cell then reads the same cached trace the figures use::

    from elvit_sphinx.notebook import book_trace
    trace = book_trace("images/cat.png")   # relative to the chapter
    trace.config.num_tokens, trace["embeddings.patches"].shape
    step = book_step("images/cat.png")     # one training step on it (the backprop chapter)

Outside a build (a plain Jupyter session) it resolves ``ELVIT_MODEL`` or the embedded model
itself and caches in ``./.elvit_cache``.
"""

from __future__ import annotations

import json
import os

from elvit_sphinx.tracing.cache import Cache
from elvit_sphinx.tracing.images import DEFAULT_MAX_PIXELS, load_rgb
from elvit_sphinx.tracing.model_source import ModelSource, resolve
from elvit_sphinx.tracing.steps import DEFAULT_LR, get_step, resolve_label, source_of
from elvit_sphinx.tracing.trace_data import Trace
from elvit_sphinx.tracing.traces import TraceRequest, get_trace

SOURCE_VARIABLE = "ELVIT_BUILD_MODEL_SOURCE"
CACHE_VARIABLE = "ELVIT_BUILD_CACHE_DIR"
MAX_PIXELS_VARIABLE = "ELVIT_BUILD_MAX_IMAGE_PIXELS"


def export_build_settings(source: ModelSource, cache_dir: str, max_pixels: int) -> None:
    os.environ[SOURCE_VARIABLE] = json.dumps(source.to_dict())
    os.environ[CACHE_VARIABLE] = cache_dir
    os.environ[MAX_PIXELS_VARIABLE] = str(max_pixels)


def book_source() -> ModelSource:
    """The model the build resolved (outside a build: ``ELVIT_MODEL`` or the embedded one)."""
    exported = os.environ.get(SOURCE_VARIABLE)
    if exported:
        return ModelSource.from_dict(json.loads(exported))
    return resolve(os.environ.get("ELVIT_MODEL"))


def book_cache() -> Cache:
    return Cache(os.environ.get(CACHE_VARIABLE) or os.path.abspath(".elvit_cache"))


def book_trace(image: str | os.PathLike) -> Trace:
    """The trace of the book's model on ``image`` (computed once, then cached)."""
    max_pixels = int(os.environ.get(MAX_PIXELS_VARIABLE, DEFAULT_MAX_PIXELS))
    path = os.path.abspath(os.fspath(image))
    load_rgb(path, max_pixels)  # a clear ImageError before any compute
    return get_trace(book_cache(), TraceRequest(book_source(), path, max_pixels), origin="notebook")


def book_step(image: str | os.PathLike | Trace, label: str | int | None = None,
              lr: float = DEFAULT_LR, weight: tuple[int, int, int, int] | None = None) -> Trace:
    """One training step of the book's model on ``image`` (a path or its trace), cached.

    ``label`` is a class name or number; by default the class the image's file name names
    (``cifar10-test-horse-0006.jpg``), else the model's prediction. ``weight`` is the
    patch-kernel entry (output channel, colour channel, row, column) whose update is recorded;
    by default the one with the largest gradient. The record's ``step.*`` arrays are described
    in :mod:`elvit_sphinx.compute.backprop`.
    """
    trace = image if isinstance(image, Trace) else book_trace(image)
    index, _how = resolve_label(trace, label)
    return get_step(book_cache(), source_of(trace, book_source()), trace, index, lr, weight,
                    origin="notebook")


# --- Formatting shared by the chapters' hidden cells (numbers as the prose prints them) ---------

def num(value: int) -> str:
    """A whole number with thin-space thousands separators: 150528 → '150 528'."""
    return f"{value:,}".replace(",", "\u2009")


def dec(value: float, digits: int = 3) -> str:
    """A decimal with a real minus sign, as the figures print it: −0.125."""
    return f"{value:.{digits}f}".replace("-", "\u2212")


def vec(values, digits: int = 3) -> str:
    """A few numbers as a tuple: (0.125, −1.500, 2.000)."""
    return "(" + ", ".join(dec(float(v), digits) for v in values) + ")"


def model_sentence(trace: Trace, images: str | None = None) -> str:
    """The chapter's provenance sentence (Markdown): which model and which image(s)."""
    cfg = trace.config
    seen = images or f"the image `{cfg.image_name}`"
    return (f"Every number and figure in this chapter was computed during the build of this page "
            f"by the model **{cfg.model_label}**, on {seen}.")


def untrained_note(trace: Trace, what_is_lost: str) -> str:
    """Markdown warning shown while the model is untrained, empty for a trained checkpoint.

    ``what_is_lost`` says, for this chapter, what a trained model would show instead.
    """
    if trace.config.trained:
        return ""
    return ("**This model is untrained: its weights are random numbers, not learned ones.** The "
            "numbers below still show exactly how each step is computed (every shape, every "
            f"product and sum is the real one) but not what a trained ViT has learned: {what_is_lost} "
            "Build the book with a trained checkpoint (see the {doc}`introduction <index>`) to see "
            "learned behaviour.")
