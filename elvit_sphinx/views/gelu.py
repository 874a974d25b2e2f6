"""``elvit-gelu``: the GELU of one block's MLP, with the model's real numbers on it (EL-VIT, Fig. 7B).

The MLP of a block widens every token from ``hidden_size`` to ``intermediate_size`` numbers
(fc1), applies GELU to each of them, and narrows them back (fc2). The view draws the GELU curve,
exact form ``0.5·x·(1 + erf(x/√2))`` as a solid line and the tanh approximation
``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`` dashed, with a second small chart of their
difference (too small to see on the first), its largest value stated. On the curve sit the
``intermediate_size`` points of one token in one block: x is what fc1 gave that token, y what
came out of the model's GELU (both recorded during the forward pass, not recomputed). A marker
moves over the points from the most negative input to the most positive (step / play / pause,
starts paused; hover the chart to jump to the nearest point), with the input and output written
beside it, next to what the two formulas give for the same input. A small flow shows the MLP's
shapes, ``D → M → D``, read from the model's configuration.

Controls: the *block* menu, a token box (0 is the CLS token, token *p* + 1 is patch *p*), a click
on a patch of the image (or the *CLS* button), and the player.

How the data travels: the page holds the starting block and token; every other (block, token)
is a chunk ``b<block>-t<token>`` of its fc1 and GELU numbers (2 × intermediate_size float32),
loaded when the reader picks it (a ViT-B/16 has 12 blocks × 197 tokens × 3072 numbers in each
of the two, 58 MB as float32).

Options:

``block`` (whole number, default 0)
    The block shown first.
``token`` (whole number, default 0)
    The token shown first; 0 is the CLS token.

Example:

.. code-block:: md

    ```{elvit-gelu}
    :image: images/cat.png
    :block: 3
    :token: 40
    ```
"""

from __future__ import annotations

import math

import numpy as np
from docutils.parsers.rst.directives import nonnegative_int

from elvit_sphinx.trace_data import Trace, TraceConfig
from elvit_sphinx.views import ranges
from elvit_sphinx.views.base import ViewOutput, ViewSpec
from elvit_sphinx.views.encoding import encode
from elvit_sphinx.views.prediction import CHARTS  # d3 and charts.js, as the other chart views

PERIOD_MS = 40  # one point per step: 768 points play in about 31 s
#: The GELU curve is always drawn over at least this range, so that its bend shows.
MIN_HALF_RANGE = 4.0

_erf = np.vectorize(math.erf, otypes=[np.float64])


def gelu_exact(x) -> np.ndarray:
    """GELU as transformers' "gelu" computes it: 0.5·x·(1 + erf(x/√2)), in float64."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))


def gelu_tanh(x) -> np.ndarray:
    """The tanh approximation ("gelu_new", "gelu_pytorch_tanh"), in float64."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def largest_tanh_error(step: float = 1e-4, half_range: float = 8.0) -> tuple[float, float]:
    """(x, exact − tanh) where the two forms differ most (the difference is even in x: x ≥ 0)."""
    x = np.arange(0.0, half_range, step)
    difference = gelu_exact(x) - gelu_tanh(x)
    i = int(np.abs(difference).argmax())
    return float(x[i]), float(difference[i])


def gelu_minimum(step: float = 1e-5) -> tuple[float, float]:
    """(x, GELU(x)) at the curve's lowest point, which lies between −1 and −0.5."""
    x = np.arange(-1.0, -0.5, step)
    y = gelu_exact(x)
    i = int(y.argmin())
    return float(x[i]), float(y[i])


def validate(config: TraceConfig, options: dict) -> list[str]:
    block, token = _start(options)
    found = [ranges.block_problem(config, block), ranges.token_problem(config, token)]
    return [problem for problem in found if problem]


def _start(options: dict) -> tuple[int, int]:
    return int(options.get("block") or 0), int(options.get("token") or 0)


def alt(config: TraceConfig, options: dict) -> str:
    block, token = _start(options)
    return (f"The GELU curve with the {config.intermediate_size} inputs and outputs of token {token}'s "
            f"MLP in block {block} plotted on it as points, a marker stepping along them, and the "
            f"MLP's shapes {config.hidden_size} → {config.intermediate_size} → {config.hidden_size}.")


def chunk_name(block: int, token: int) -> str:
    return f"b{block}-t{token}"


def block_arrays(trace: Trace, block: int) -> tuple[np.ndarray, np.ndarray]:
    """A block's fc1 and GELU outputs (T×M each). Read once per block: every ``trace[name]``
    reads the whole array from disk again."""
    prefix = f"encoder.layer.{block}.mlp."
    return trace[prefix + "fc1"], trace[prefix + "gelu"]


def token_payload(fc1: np.ndarray, out: np.ndarray, token: int) -> dict:
    """One token's numbers: what fc1 gave it (x) and what the model's GELU made of them (y)."""
    return {"fc1": encode(fc1[token], "f32"), "gelu": encode(out[token], "f32")}


def input_range(lowest: float, highest: float) -> list[float]:
    """The x range of the chart: every fc1 value of every block fits, and at least ±4."""
    return [min(-MIN_HALF_RANGE, math.floor(lowest)), max(MIN_HALF_RANGE, math.ceil(highest))]


def build(trace: Trace, options: dict) -> ViewOutput:
    config = trace.config
    block, token = _start(options)
    chunks, lowest, highest = {}, math.inf, -math.inf
    for b in range(config.num_layers):
        fc1, out = block_arrays(trace, b)
        lowest, highest = min(lowest, float(fc1.min())), max(highest, float(fc1.max()))
        for t in range(config.num_tokens):
            if (b, t) == (block, token):
                first = token_payload(fc1, out, t)
            else:
                chunks[chunk_name(b, t)] = token_payload(fc1, out, t)
    worst_x, worst = largest_tanh_error()
    min_x, min_y = gelu_minimum()
    return ViewOutput({
        "size": config.image_size, "patch": config.patch_size, "grid": config.grid,
        "tokens": config.num_tokens, "hidden": config.hidden_size, "mlp": config.intermediate_size,
        "blocks": config.num_layers, "period": PERIOD_MS,
        "start": {"block": block, "token": token},
        "image": encode(trace["input.image"], "u8"),
        "x_range": input_range(lowest, highest),
        "tanh_error": {"x": worst_x, "difference": worst},
        "minimum": {"x": min_x, "y": min_y},
        "first": first,
    }, chunks)


VIEW = ViewSpec(
    name="gelu",
    option_spec={"block": nonnegative_int, "token": nonnegative_int},
    defaults={"block": 0, "token": 0},
    validate=validate,
    build=build,
    alt=alt,
    libraries=CHARTS,
)
