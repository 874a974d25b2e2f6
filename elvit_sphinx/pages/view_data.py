"""From (view, trace, options) to the cached data of one figure: inline JSON plus chunk files.

A view entry in the cache is ``views/<key>.json`` (the data embedded in the page) and, when the
view has chunks, ``views/<key>/<chunk>.js`` (copied beside the built site, loaded on demand).
The JSON is written last, so its presence means the entry is complete.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

from elvit_sphinx.pages.build_state import BuildState
from elvit_sphinx.tracing.cache import make_key
from elvit_sphinx.tracing.images import file_sha256
from elvit_sphinx.tracing.trace_data import TraceConfig
from elvit_sphinx.tracing.traces import TraceRequest, get_trace
from elvit_sphinx.views.base import ViewSpec, chunk_script, to_json

STATIC_NAME = "static.png"

#: Bump when any view's embedded data changes shape (part of every view key).
VIEW_SCHEMA = 2


@dataclass(frozen=True)
class ViewRequest:
    view: ViewSpec
    image_path: str | None  # None for a view drawn from files (ViewSpec.source_files)
    options: dict
    files: tuple[str, ...] = ()  # what such a view reads, absolute

    def trace_request(self, build: BuildState) -> TraceRequest:
        return TraceRequest(build.source, self.image_path, build.max_pixels,
                            build.check_reference, build.timeout)

    def key(self, trace_key: str) -> str:
        return make_key("view", VIEW_SCHEMA, self.view.name, trace_key, sorted(self.options.items()))


def provenance(config: TraceConfig) -> str:
    """The sentence under every figure: which checkpoint and which image made it."""
    width, height = config.image_original_size
    converted = f"; {'; '.join(config.image_conversions)}" if config.image_conversions else ""
    text = (f"Computed during this build by {config.model_label} (model fingerprint "
            f"{config.model_fingerprint[:12]}) from image {config.image_name} ({width}×{height}, "
            f"sha256 {config.image_sha256[:12]}{converted}), resized to "
            f"{config.image_size}×{config.image_size}.")
    if not config.trained:
        text += (" This model is untrained (random weights): the figure shows the mechanics of "
                 "the forward pass, not learned features.")
    return text


def files_provenance(files: list[str]) -> str:
    """The sentence under a figure drawn from files: which files, by content."""
    named = ", ".join(f"{os.path.basename(path)} (sha256 {file_sha256(path)[:12]})" for path in files)
    return f"Drawn during this build from {named}; the code is read, never run."


def chunk_dir(build: BuildState, key: str) -> str:
    return os.path.join(build.cache.root, "views", key)


def chunk_names(build: BuildState, key: str) -> list[str]:
    folder = chunk_dir(build, key)
    if not os.path.isdir(folder):
        return []
    return sorted(name[:-3] for name in os.listdir(folder) if name.endswith(".js"))


def materialize(build: BuildState, request: ViewRequest, info, warn):
    """Return (view_key, TraceConfig, problems); the view's data is in the cache afterwards.

    For a view drawn from files the middle item is the list of those files, not a config.
    """
    if not request.view.needs_trace:
        files = [Path(path) for path in request.files]
        problems = request.view.validate(files, request.options)
        if problems:
            return None, files, problems
        digests = [(str(path), file_sha256(path)) for path in files]
        key = make_key("view", VIEW_SCHEMA, request.view.name, digests, sorted(request.options.items()))
        _store(build, key, request.view, lambda: request.view.build(files, request.options))
        return key, files, []
    trace_request = request.trace_request(build)
    trace = get_trace(build.cache, trace_request, info=info, warn=warn)
    problems = request.view.validate(trace.config, request.options)
    if problems:
        return None, trace.config, problems
    key = request.key(trace_request.key)
    _store(build, key, request.view, lambda: request.view.build(trace, request.options))
    return key, trace.config, []


def static_path(build: BuildState, key: str) -> str:
    """The view's static picture (PNG) in the cache."""
    return os.path.join(chunk_dir(build, key), STATIC_NAME)


def _store(build: BuildState, key: str, view: ViewSpec, make_output) -> None:
    """Build and cache the view's data (and static picture) unless the cache already has it."""
    path = build.cache.view_path(key)
    output = None
    if build.cache.read_text(path) is None:
        output = make_output()
        for name, payload in output.chunks.items():
            build.cache.write_text(os.path.join(chunk_dir(build, key), f"{name}.js"),
                                   chunk_script(f"{key}/{name}", payload))
        build.cache.write_text(path, to_json(output.data))
    picture = static_path(build, key)
    if view.static is not None and not os.path.exists(picture):
        # The picture may draw from chunks, which the cache keeps only as scripts: a cache
        # entry without its picture (an older cache) is rebuilt from the trace once.
        build.cache.write_bytes(picture, png_bytes(view.static(output or make_output())))


def png_bytes(image) -> bytes:
    """A PIL image as PNG bytes, without timestamps (the same figure gives the same file)."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
