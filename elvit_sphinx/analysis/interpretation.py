"""The maths of the interpretation chapter in NumPy: what its views draw and its prose quotes.

Everything here is computed from a recorded trace (:mod:`elvit_sphinx.tracing.trace_data`), never from
the model, and imports NumPy only, so the views (Sphinx process) and the chapter's cells
(notebook kernel) share one definition of each quantity:

* :func:`cosine_similarity_matrix` / :func:`block_similarities`: the cosine similarity between
  every pair of tokens of each block output (EL-VIT, section V-D, equation 7);
* :func:`token_logits` / :func:`token_probabilities`: the final LayerNorm and the classifier
  applied to *every* token of the last block output, not only to CLS (EL-VIT, Fig. 11);
* :func:`mean_head_attention` / :func:`attention_rollout`: attention averaged over heads, and
  Abnar & Zuidema's (2020) rollout of it through the blocks;
* :func:`contrast`: how well a map separates an object's patches from the rest (used to word the
  chapter's claims from this build's numbers).

Blocks are indexed from 0 here, as in the trace (``encoder.layer.{i}.output``); the book
prints them from 1.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from elvit_sphinx.tracing.trace_data import Trace

# ------------------------------------------------------------------------------ similarity


def cosine_similarity_matrix(tokens: np.ndarray) -> np.ndarray:
    """T×D token vectors → the T×T matrix of their cosine similarities (float64).

    ``s(a, b) = a·b / (|a| |b|)``. The result is made exactly symmetric (a matrix product may add
    the two triangles in different orders), so a view can ship one triangle of it. A zero
    vector has no direction: its similarities are 0.
    """
    vectors = np.asarray(tokens, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = np.divide(vectors, norms, out=np.zeros_like(vectors), where=norms > 0)
    product = unit @ unit.T
    return (product + product.T) / 2.0


def block_outputs(trace: Trace) -> list[np.ndarray]:
    """The T×D output of every block, first to last."""
    return [trace.block(i, "output") for i in range(trace.config.num_layers)]


def block_similarities(trace: Trace) -> np.ndarray:
    """L×T×T cosine similarities between the tokens of each block output (float32)."""
    return np.stack([cosine_similarity_matrix(out) for out in block_outputs(trace)]).astype(np.float32)


def upper_triangle(matrix: np.ndarray) -> np.ndarray:
    """The entries ``matrix[i, j]`` with ``j >= i``, row by row (T(T+1)/2 values).

    Row ``i`` starts at ``i*T - i*(i-1)/2``; the browser rebuilds the full matrix from it.
    """
    rows, cols = np.triu_indices(matrix.shape[0])
    return matrix[rows, cols]


def full_from_upper(triangle: np.ndarray, size: int) -> np.ndarray:
    """Inverse of :func:`upper_triangle` for a symmetric ``size``×``size`` matrix."""
    matrix = np.zeros((size, size), dtype=np.asarray(triangle).dtype)
    rows, cols = np.triu_indices(size)
    matrix[rows, cols] = triangle
    matrix[cols, rows] = triangle
    return matrix


# ------------------------------------------------------------------------------ predictions


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return shifted / shifted.sum(axis=axis, keepdims=True)


def token_logits(trace: Trace) -> np.ndarray:
    """T×K logits: the model's head (final LayerNorm, then the classifier) on every token.

    Row 0 (CLS) is what the model itself classifies with; the other rows ask the same head
    about each patch token of the last block output.
    """
    last = trace.block(trace.config.num_layers - 1, "output")
    normed = layer_norm(last, trace["param.layernorm.weight"], trace["param.layernorm.bias"],
                        trace.config.layer_norm_eps)
    return normed @ np.asarray(trace["param.classifier.weight"], dtype=np.float64).T \
        + trace["param.classifier.bias"]


def token_probabilities(trace: Trace) -> np.ndarray:
    """T×K class probabilities of every token (softmax of :func:`token_logits`)."""
    return softmax(token_logits(trace))


# ------------------------------------------------------------------------------ attention


def mean_head_attention(trace: Trace) -> np.ndarray:
    """L×T×T attention weights of each block, averaged over its heads (float64)."""
    return np.stack([np.asarray(trace.block(i, "attention.probs"), dtype=np.float64).mean(axis=0)
                     for i in range(trace.config.num_layers)])


def attention_rollout(attention: np.ndarray) -> np.ndarray:
    """Abnar & Zuidema's attention rollout after each block: L×T×T from L×T×T.

    ``attention[l]`` is block ``l``'s attention averaged over heads (rows sum to 1). The
    residual connection carries every token past attention unchanged, so each block's matrix
    gets the identity added and its rows renormalised, ``Â = (A + I) / rowsum``; the rollout
    after block ``l`` is the product ``Â_l · Â_{l-1} ⋯ Â_0``. Row 0 of it says how much each input
    token flowed into CLS.
    """
    attention = np.asarray(attention, dtype=np.float64)
    tokens = attention.shape[-1]
    rolled = np.eye(tokens)
    result = []
    for block in attention:
        mixed = block + np.eye(tokens)
        mixed /= mixed.sum(axis=-1, keepdims=True)
        rolled = mixed @ rolled
        result.append(rolled)
    return np.stack(result)


# ------------------------------------------------------------------------------ evidence


@dataclass(frozen=True)
class Contrast:
    """How one map (a value per patch) treats an object's patches versus the other patches."""

    inside: float  # mean over the object's patches
    outside: float  # mean over the other patches
    auc: float  # chance that a random object patch beats a random other patch (0.5: no preference)

    @property
    def difference(self) -> float:
        return self.inside - self.outside


def contrast(values: np.ndarray, mask: np.ndarray) -> Contrast:
    """Compare ``values`` (one per patch) on the patches in ``mask`` with those outside it.

    The AUC is the Mann-Whitney statistic: over every (inside, outside) pair, the share where
    the inside value is larger, ties counting half. It does not depend on the scale of the
    values, so maps of different blocks can be compared.
    """
    values = np.asarray(values, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    inside, outside = values[mask], values[~mask]
    if not len(inside) or not len(outside):
        raise ValueError("the mask must leave patches on both sides")
    greater = (inside[:, None] > outside[None, :]).sum()
    ties = (inside[:, None] == outside[None, :]).sum()
    auc = (greater + 0.5 * ties) / (len(inside) * len(outside))
    return Contrast(float(inside.mean()), float(outside.mean()), float(auc))


def mean_pairwise(similarity: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> float:
    """Mean similarity between the patches in ``rows`` and those in ``cols`` (boolean masks
    over patches; a patch is never paired with itself)."""
    patches = np.asarray(similarity, dtype=np.float64)[1:, 1:]
    block = patches[np.ix_(rows, cols)]
    if np.array_equal(rows, cols):
        count = int(rows.sum())
        if count < 2:
            raise ValueError("need at least two patches to pair")
        return float((block.sum() - np.trace(block)) / (count * (count - 1)))
    return float(block.mean())
