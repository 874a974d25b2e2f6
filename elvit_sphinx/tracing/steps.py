"""One training step per (model, image, label, learning rate): from the cache, or by the worker.

The backpropagation chapter and the ``elvit-backprop`` figure show one real SGD step of the
book's model on one image: the loss, the gradient of every tensor, one weight's update and a
finite-difference check (:mod:`elvit_sphinx.compute.backprop` computes it with torch autograd in
the compute process). The record is a :class:`~elvit_sphinx.tracing.trace_data.Trace` of ``step.*``
arrays with the forward trace's config, cached like traces in ``steps/<key>.npz``; the key hashes
the model's fingerprint, the pixels the model saw, the label, the learning rate and the chosen
weight. The step starts from the forward trace's own pixels, so it needs no image file.

NumPy only: the Sphinx process and notebook kernels never import torch.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
import time
from collections.abc import Callable

import numpy as np

from elvit_sphinx.tracing import compute_client
from elvit_sphinx.tracing.cache import Cache, make_key
from elvit_sphinx.tracing.model_source import ModelSource, ModelSourceError, resolve
from elvit_sphinx.tracing.trace_data import Trace, TraceConfig

WORKER = "elvit_sphinx.compute.worker:compute_step"
#: Bump when the names, shapes or meaning of the recorded ``step.*`` arrays change.
STEP_SCHEMA = 1
#: Plain SGD at the top of the range the ViT paper fine-tunes with (0.001–0.03).
DEFAULT_LR = 0.01

Weight = tuple[int, int, int, int]


def _no_op(_message: str) -> None:
    pass


# --- the label ----------------------------------------------------------------------------------

def label_from_name(config: TraceConfig) -> int | None:
    """The class the image's file name names, when it names exactly one
    (``cifar10-test-horse-0006.jpg`` → horse), else None."""
    words = set(re.split(r"[^a-z0-9]+", os.path.splitext(config.image_name)[0].lower()))
    found = [index for index, name in config.id2label.items() if name.lower() in words]
    return found[0] if len(found) == 1 else None


def parse_label(config: TraceConfig, value: str | int) -> int:
    """A class name (any case) or index → the index; ValueError naming the choices."""
    text = str(value).strip()
    if text.isdigit() and int(text) in config.id2label:
        return int(text)
    for index, name in config.id2label.items():
        if name.lower() == text.lower():
            return index
    names = [config.id2label[i] for i in sorted(config.id2label)]
    shown = ", ".join(names[:12]) + (", …" if len(names) > 12 else "")
    raise ValueError(f"label {text!r} is not a class of this model: give a class name ({shown}) "
                     f"or a class number from 0 to {len(names) - 1}")


def resolve_label(trace: Trace, value: str | int | None = None) -> tuple[int, str]:
    """(class index, how it was chosen): the given ``value``; else the class the image's name
    names; else the model's prediction. ``how`` is ``"option"``, ``"image name"`` or
    ``"prediction"``."""
    if value is not None and str(value).strip() != "":
        return parse_label(trace.config, value), "option"
    named = label_from_name(trace.config)
    if named is not None:
        return named, "image name"
    return int(np.argmax(trace["logits"])), "prediction"


# --- the weight and the learning rate ---------------------------------------------------------

def weight_option(text: str | None) -> Weight:
    """Directive option converter: ``"12, 0, 3, 4"`` → (12, 0, 3, 4)."""
    parts = (text or "").replace(",", " ").split()
    if len(parts) != 4 or not all(part.isdigit() for part in parts):
        raise ValueError(f"{text!r} is not four whole numbers: output channel, colour channel, "
                         "row, column (e.g. 12, 0, 3, 4)")
    return tuple(int(part) for part in parts)  # type: ignore[return-value]


def weight_problem(config: TraceConfig, weight: Weight | None) -> str | None:
    if weight is None:
        return None
    bounds = (("output channel", config.hidden_size), ("colour channel", config.num_channels),
              ("row", config.patch_size), ("column", config.patch_size))
    for value, (what, size) in zip(weight, bounds, strict=True):
        if not 0 <= value < size:
            return (f"weight {', '.join(map(str, weight))}: {what} {value} is out of range: the "
                    f"patch kernel has {size} {what}s (0–{size - 1}); its shape is "
                    f"{config.hidden_size}×{config.num_channels}×{config.patch_size}×{config.patch_size}")
    return None


def lr_option(text: str | None) -> float:
    """Directive option converter: a positive learning rate (``0.01``, ``1e-3``)."""
    try:
        value = float((text or "").strip())
    except ValueError:
        value = float("nan")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{text!r} is not a positive learning rate (e.g. 0.01)")
    return value


# --- the cached record ----------------------------------------------------------------------------

def pixels_sha256(trace: Trace) -> str:
    return hashlib.sha256(np.ascontiguousarray(trace["input.pixels"], dtype=np.float32).tobytes()).hexdigest()


def step_key(trace: Trace, label: int, lr: float, weight: Weight | None) -> str:
    return make_key("step", STEP_SCHEMA, trace.config.model_fingerprint, pixels_sha256(trace),
                    int(label), repr(float(lr)), list(weight) if weight is not None else None)


def source_of(trace: Trace, default: ModelSource) -> ModelSource:
    """The model that made ``trace``: ``default`` (the build's) when its fingerprint is the
    trace's, else the folder the trace names, or the embedded model for a trace that names no
    folder (a figure drawn from another checkpoint's trace)."""
    if default.fingerprint == trace.config.model_fingerprint:
        return default
    try:
        candidate = resolve(trace.config.model_path or None)
    except ModelSourceError:
        return default
    return candidate if candidate.fingerprint == trace.config.model_fingerprint else default


def get_step(cache: Cache, source: ModelSource, trace: Trace, label: int, lr: float = DEFAULT_LR,
             weight: Weight | None = None, info: Callable[[str], None] = _no_op,
             origin: str = "sphinx", timeout: float | None = None) -> Trace:
    """The training step of ``source`` on ``trace``'s image, computed at most once.

    Raises ValueError when ``trace`` was made by another model, ComputeError when the worker
    fails.
    """
    if source.fingerprint != trace.config.model_fingerprint:
        raise ValueError(f"the trace of {trace.config.image_name} was made by "
                         f"{trace.config.model_label}, not by {source.label}")
    key = step_key(trace, label, lr, weight)
    path = cache.step_path(key)
    cached = _cached(cache, key)
    if cached is not None:
        return cached
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with cache.lock(key):
        cached = _cached(cache, key)
        if cached is not None:
            return cached
        name = trace.config.image_name
        info(f"elvit: one training step of {source.label} on {name} (label {label}, lr {lr}) ...")
        started = time.perf_counter()
        result = compute_client.run(WORKER, source.to_dict(), np.asarray(trace["input.pixels"]),
                                    int(label), float(lr), weight, trace.config.to_json(), path,
                                    timeout=timeout)
        result["wall_seconds"] = time.perf_counter() - started
        info(f"elvit: training step on {name} in {result['step_seconds']:.2f} s (model load "
             f"{result['load_seconds']:.2f} s)")
        cache.log_compute(key, name, {**result, "kind": "backprop", "origin": origin,
                                               "mismatches": []})
        return Trace.load(path)


def _cached(cache: Cache, key: str) -> Trace | None:
    try:
        return cache.load_step(key)
    except ValueError:
        cache.discard(cache.step_path(key))  # a corrupt entry is computed again
        return None
