"""Get the trace for (model, image): from the cache, or by one forward pass in the worker.

Shared by the directives and by notebook cells (:mod:`elvit_sphinx.notebook`), so a chapter's
glued numbers and its figures come from the same cached forward pass.
"""

from __future__ import annotations

import contextlib
import json
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
    # Sphinx's -j readers (and notebook kernels) may ask for the same image at once: one
    # computes, the others wait for it and then read its result.
    with _lock(cache, key):
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


@contextlib.contextmanager
def _lock(cache: Cache, key: str):
    """An exclusive lock per trace key across processes (POSIX flock; none elsewhere)."""
    try:
        import fcntl
    except ImportError:  # Windows: at worst two processes compute the same trace
        yield
        return
    folder = os.path.dirname(cache.trace_path(key))
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, f"{key}.lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
    _append_compute_log(cache, key, name, {**result, "origin": origin})
    if result["mismatches"]:
        shown = "; ".join(result["mismatches"][:5])
        warn(f"{len(result['mismatches'])} traced tensors differ from the NumPy re-derivation "
             f"for {name}: {shown}")
    return Trace.load(path)


def _append_compute_log(cache: Cache, key: str, image_name: str, result: dict) -> None:
    # One line per forward pass actually run: the rebuild tests and `nox -s bench` read it.
    os.makedirs(cache.root, exist_ok=True)
    with open(os.path.join(cache.root, "compute-log.jsonl"), "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"key": key, "image": image_name, "pid": os.getpid(),
                                 **{k: v for k, v in result.items() if k != "mismatches"},
                                 "mismatches": len(result["mismatches"])}) + "\n")
