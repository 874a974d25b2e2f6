"""The ViT forward pass in plain NumPy, from the weights: the maths the book teaches.

No torch here on purpose: this is the independent re-derivation every traced tensor is checked
against (float64 throughout, so the reference is the more exact of the two). The error function
of the exact GELU is SciPy's (double precision, vectorised: a Python loop over ``math.erf`` took
~1.4 s per ViT-B/16 block). Each step is
written the way the chapters explain it:

1. patch embedding — each P×P×3 patch flattened and multiplied by the flattened kernel matrix
   (a convolution with stride = kernel size is exactly this matrix product);
2. prepend the CLS vector, add the position embeddings;
3. per block: LayerNorm → Q, K, V → per head softmax(QKᵀ/√d)·V → merge heads → projection →
   residual; LayerNorm → fc1 → exact GELU 0.5·x·(1 + erf(x/√2)) → fc2 → residual;
4. final LayerNorm, classifier on the CLS token, softmax.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from scipy.special import erf


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)  # biased, as in the ViT paper
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + erf(x / math.sqrt(2.0)))


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def image_to_patches(pixels: np.ndarray, patch: int) -> np.ndarray:
    """3×H×W → N×(3·P·P), patches in row-major order, each flattened channel-first."""
    channels, height, width = pixels.shape
    rows, cols = height // patch, width // patch
    grid = pixels.reshape(channels, rows, patch, cols, patch)
    return grid.transpose(1, 3, 0, 2, 4).reshape(rows * cols, channels * patch * patch)


def forward(weights: Mapping[str, np.ndarray], pixels: np.ndarray, num_heads: int,
            eps: float) -> dict[str, np.ndarray]:
    """Return the same names as :func:`elvit_sphinx.compute.trace.trace_image` records."""
    w = {name: np.asarray(value, dtype=np.float64) for name, value in weights.items()}
    out: dict[str, np.ndarray] = {}
    kernel = w["patch_kernel"]  # D×3×P×P
    hidden, patch = kernel.shape[0], kernel.shape[-1]
    patches = image_to_patches(np.asarray(pixels, dtype=np.float64), patch)
    out["embeddings.patches"] = patches @ kernel.reshape(hidden, -1).T + w["patch_bias"]
    out["embeddings.with_cls"] = np.concatenate([w["cls_token"][None], out["embeddings.patches"]])
    x = out["embeddings.with_cls"] + w["position_embeddings"]
    out["embeddings.output"] = x
    tokens, head_dim = x.shape[0], hidden // num_heads
    layer = 0
    while f"layer.{layer}.q_w" in w:
        p = f"layer.{layer}."
        name = f"encoder.layer.{layer}."
        h = layer_norm(x, w[p + "ln1_w"], w[p + "ln1_b"], eps)
        out[name + "layernorm_before"] = h

        def heads(t: np.ndarray) -> np.ndarray:  # T×D → heads×T×d
            return t.reshape(tokens, num_heads, head_dim).transpose(1, 0, 2)

        q = heads(h @ w[p + "q_w"].T + w[p + "q_b"])
        k = heads(h @ w[p + "k_w"].T + w[p + "k_b"])
        v = heads(h @ w[p + "v_w"].T + w[p + "v_b"])
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(head_dim)
        probs = softmax(scores)
        context = (probs @ v).transpose(1, 0, 2).reshape(tokens, hidden)
        attn = context @ w[p + "o_w"].T + w[p + "o_b"]
        x = x + attn
        out.update({
            name + "attention.query": q, name + "attention.key": k, name + "attention.value": v,
            name + "attention.scores": scores, name + "attention.probs": probs,
            name + "attention.context": context, name + "attention.output": attn,
            name + "residual_1": x,
        })
        h = layer_norm(x, w[p + "ln2_w"], w[p + "ln2_b"], eps)
        fc1 = h @ w[p + "fc1_w"].T + w[p + "fc1_b"]
        act = gelu(fc1)
        fc2 = act @ w[p + "fc2_w"].T + w[p + "fc2_b"]
        x = x + fc2
        out.update({
            name + "layernorm_after": h, name + "mlp.fc1": fc1, name + "mlp.gelu": act,
            name + "mlp.fc2": fc2, name + "output": x,
        })
        layer += 1
    final = layer_norm(x, w["final_ln_w"], w["final_ln_b"], eps)
    out["layernorm"] = final
    out["logits"] = final[0] @ w["head_w"].T + w["head_b"]
    out["probs"] = softmax(out["logits"])
    return out


def compare(traced: Mapping[str, np.ndarray], reference: Mapping[str, np.ndarray],
            rtol: float = 1e-4, atol: float = 1e-5) -> list[str]:
    """Names whose traced tensor differs from the reference, with the worst difference."""
    problems = []
    for name, expected in reference.items():
        actual = np.asarray(traced[name], dtype=np.float64)
        if actual.shape != expected.shape:
            problems.append(f"{name}: shape {actual.shape} != reference {expected.shape}")
        elif not np.allclose(actual, expected, rtol=rtol, atol=atol):
            worst = float(np.max(np.abs(actual - expected)))
            problems.append(f"{name}: max |traced - reference| = {worst:.3g}")
    return problems
