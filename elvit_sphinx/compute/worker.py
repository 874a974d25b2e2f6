"""What runs inside the spawned compute process: trace one image, check it, save it; or take
one training step on a traced image (:func:`compute_step`).

Models stay loaded between requests (keyed by fingerprint), so a book with many images pays
for torch's import and model construction once per build process.
"""

from __future__ import annotations

import time

from elvit_sphinx.compute import reference
from elvit_sphinx.compute.model import LoadedModel, load_model, numpy_weights
from elvit_sphinx.compute.trace import trace_image
from elvit_sphinx.tracing.model_source import ModelSource

_models: dict[str, LoadedModel] = {}


def _model(source: ModelSource) -> LoadedModel:
    if source.fingerprint not in _models:
        _models.clear()  # one model at a time: a ViT-B/16 holds ~350 MB
        _models[source.fingerprint] = load_model(source)
    return _models[source.fingerprint]


def compute_trace(source_dict: dict, image_path: str, out_path: str, max_pixels: int,
                  check_reference: bool) -> dict:
    """Trace ``image_path`` and save it to ``out_path``; return timings and any mismatches."""
    started = time.perf_counter()
    loaded = _model(ModelSource.from_dict(source_dict))
    loaded_at = time.perf_counter()
    trace = trace_image(loaded, image_path, max_pixels=max_pixels)
    traced_at = time.perf_counter()
    mismatches: list[str] = []
    if check_reference:
        expected = reference.forward(numpy_weights(loaded), trace["input.pixels"],
                                     trace.config.num_heads, trace.config.layer_norm_eps)
        mismatches = reference.compare(trace, expected)
    checked_at = time.perf_counter()
    trace.save(out_path)
    return {
        "load_seconds": loaded_at - started,
        "trace_seconds": traced_at - loaded_at,
        "check_seconds": checked_at - traced_at,
        "mismatches": mismatches,
        "num_tensors": len(trace.names()),
    }


def compute_step(source_dict: dict, pixels, label: int, lr: float, weight, config_json: str,
                 out_path: str) -> dict:
    """One training step (compute/backprop.py) on ``pixels``; save it to ``out_path``."""
    from elvit_sphinx.compute.backprop import training_step
    from elvit_sphinx.tracing.trace_data import Trace, TraceConfig

    started = time.perf_counter()
    loaded = _model(ModelSource.from_dict(source_dict))
    loaded_at = time.perf_counter()
    record = training_step(loaded, pixels, label, lr, tuple(weight) if weight is not None else None)
    stepped_at = time.perf_counter()
    Trace(record, TraceConfig.from_json(config_json)).save(out_path)
    return {"load_seconds": loaded_at - started, "step_seconds": stepped_at - loaded_at,
            "num_tensors": len(record)}
