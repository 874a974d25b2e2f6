"""Problems with a view option that names a block, a head or a token this model does not have.

Shared by the views that let the reader pick one (attention, GELU, ...), so that every figure
words the same mistake the same way. Each function returns one message, or ``None`` when the
number is in range; a view's ``validate`` collects the messages (see :mod:`.base`).
"""

from __future__ import annotations

from elvit_sphinx.tracing.trace_data import TraceConfig


def block_problem(config: TraceConfig, value: int, word: str = "block") -> str | None:
    """``word`` is what the option calls a block: "block", or "layer" as attention code does."""
    if value < config.num_layers:
        return None
    return (f"{word} {value} is out of range: this model has {config.num_layers} blocks "
            f"(0–{config.num_layers - 1})")


def head_problem(config: TraceConfig, value: int) -> str | None:
    if value < config.num_heads:
        return None
    return (f"head {value} is out of range: this model has {config.num_heads} heads "
            f"(0–{config.num_heads - 1})")


def token_problem(config: TraceConfig, value: int) -> str | None:
    if value < config.num_tokens:
        return None
    return (f"token {value} is out of range: this model has {config.num_tokens} tokens "
            f"(0–{config.num_tokens - 1}; 0 is the CLS token)")


def top_classes_problem(config: TraceConfig, value: int | None) -> str | None:
    """The ``top`` option of the views that show a number of classes (prediction, head)."""
    if value is None or 1 <= value <= config.num_labels:
        return None
    return (f"top {value} is out of range: this model has {config.num_labels} classes "
            f"(1–{config.num_labels})")
