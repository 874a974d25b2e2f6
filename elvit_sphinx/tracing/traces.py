"""Get the trace for (model, image): from the cache, or by one forward pass in the worker.

Shared by the directives and by notebook cells (:mod:`elvit_sphinx.notebook`), so a chapter's
glued numbers and its figures come from the same cached forward pass.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from elvit_sphinx.tracing import compute_client
from elvit_sphinx.tracing.cache import Cache, trace_key
from elvit_sphinx.tracing.images import file_sha256
from elvit_sphinx.tracing.model_source import ModelSource
from elvit_sphinx.tracing.trace_data import Trace

WORKER = "elvit_sphinx.compute.worker:compute_trace"


@dataclass(frozen=True)
class TraceRequest:
    source: ModelSource
    image_path: str
    max_pixels: int
    check_reference: bool = True
    timeout: float | None = None

    @cached_property
    def key(self) -> str:
        # Hashes the image file: computed once per request (works on a frozen dataclass).
        return trace_key(self.source.fingerprint, file_sha256(self.image_path), self.max_pixels)


def _no_op(_message: str) -> None:
    pass


def get_trace(cache: Cache, request: TraceRequest, info: Callable[[str], None] = _no_op,
              warn: Callable[[str], None] = _no_op, origin: str = "sphinx") -> Trace:
    """Return the trace, computing it at most once; raises ComputeError on failure.

    ``origin`` ("sphinx" or "notebook") is written to the compute log with each forward pass.
    """
    key = request.key
    trace = _cached(cache, key, warn)
    if trace is not None:
        return trace
    with cache.lock(key):
        trace = _cached(cache, key, warn)
        if trace is not None:
            return trace
        return _compute(cache, request, info, warn, origin)


def _cached(cache: Cache, key: str, warn) -> Trace | None:
    try:
        return cache.load_trace(key)
    except ValueError as exc:
        warn(f"{exc}; recomputing it")
        cache.discard(cache.trace_path(key))
        return None


def _compute(cache: Cache, request: TraceRequest, info, warn, origin: str) -> Trace:
    key, path = request.key, cache.trace_path(request.key)
    name = os.path.basename(request.image_path)
    info(f"elvit: forward pass of {request.source.label} on {name} ...")
    started = time.perf_counter()
    result = compute_client.run(WORKER, request.source.to_dict(), request.image_path, path,
                                request.max_pixels, request.check_reference,
                                timeout=request.timeout)
    result["wall_seconds"] = time.perf_counter() - started
    info(f"elvit: traced {result['num_tensors']} tensors on {name} in "
         f"{result['trace_seconds']:.2f} s (model load {result['load_seconds']:.2f} s, NumPy "
         f"check {result['check_seconds']:.2f} s)")
    cache.log_compute(key, name, {**result, "origin": origin})
    if result["mismatches"]:
        shown = "; ".join(result["mismatches"][:5])
        warn(f"{len(result['mismatches'])} traced tensors differ from the NumPy re-derivation "
             f"for {name}: {shown}")
    return Trace.load(path)
