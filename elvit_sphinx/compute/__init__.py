"""The only part of elvit_sphinx that imports torch and transformers.

Public API::

    from elvit_sphinx.compute import load_model, trace_image
    trace = trace_image(load_model("embedded"), "book/images/cat.png")
    trace["encoder.layer.0.attention.probs"].shape   # (heads, N+1, N+1)
    trace.names(); trace.config.hidden_size
"""

from elvit_sphinx.compute.model import LoadedModel, load_model
from elvit_sphinx.compute.trace import trace_image
from elvit_sphinx.tracing.trace_data import Trace, TraceConfig

__all__ = ["LoadedModel", "Trace", "TraceConfig", "load_model", "trace_image"]
