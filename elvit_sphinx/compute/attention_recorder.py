"""An attention function registered with transformers that records what eager attention hides.

transformers' ``ViTAttention`` hands q, k, v to whichever function ``attn_implementation``
names (``AttentionInterface``). Ours computes exactly what ``eager_attention_forward`` computes
and, while a recording is active, keeps the per-head query, key, value, pre-softmax scores,
probabilities and the merged context of every layer.
"""

from __future__ import annotations

import contextlib
import threading

import torch
from torch import nn
from transformers import AttentionInterface

ATTENTION_IMPLEMENTATION = "elvit_recording"

_state = threading.local()


def _recording_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                         **kwargs):
    if scaling is None:
        scaling = query.size(-1) ** -0.5
    scores = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        scores = scores + attention_mask
    probs = nn.functional.softmax(scores, dim=-1, dtype=torch.float32).to(query.dtype)
    probs = nn.functional.dropout(probs, p=dropout, training=module.training)
    context = torch.matmul(probs, value).transpose(1, 2).contiguous()
    records = getattr(_state, "records", None)
    if records is not None:
        records.append({"query": query, "key": key, "value": value, "scores": scores,
                        "probs": probs, "context": context})
    return context, probs


AttentionInterface.register(ATTENTION_IMPLEMENTATION, _recording_attention)


@contextlib.contextmanager
def recording_attention():
    """Collect one dict per attention call, in call order (= layer order)."""
    records: list[dict] = []
    _state.records = records
    try:
        yield records
    finally:
        _state.records = None
