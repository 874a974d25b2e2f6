"""The parts of a ViT and the tensors they produce, from the model's config alone.

Shared by the whole-model views (``overview``, ``detail``, ``annotations``): what each part is
called, which glossary terms define it, which chapter of the book explains it, and the name and
shape of every tensor the trace records (:func:`tensor_shapes`, the same names and shapes as
``compute/trace.py``, which the Sphinx process must not import because it imports torch; a test
checks the two agree at every geometry).
"""

from __future__ import annotations

from dataclasses import dataclass

from elvit_sphinx.tracing.trace_data import TraceConfig


@dataclass(frozen=True)
class Part:
    """One step of the forward pass as the book names it."""

    label: str
    #: Glossary terms whose first sentences define the part (hover text), most specific first.
    terms: tuple[str, ...]
    #: Label of the chapter that explains it (``(chapter-xxx)=`` above the chapter's title).
    chapter: str
    #: Shown when the book has no glossary entry for any of ``terms`` (e.g. in another project).
    fallback: str


PARTS: dict[str, Part] = {
    "image": Part("Input image", ("preprocessing", "patch"), "chapter-patches",
                  "The image as the model sees it: resized and normalised, then cut into patches."),
    "patch_embedding": Part("Patch embedding", ("patch embedding",), "chapter-patches",
                            "Each patch's pixels are mapped by one learned linear map to a vector of "
                            "D numbers."),
    "cls_position": Part("CLS token + position embedding", ("CLS token", "position embedding"),
                         "chapter-cls-position",
                         "A learned CLS token is put in front of the patch tokens, and a learned "
                         "position embedding is added to every token."),
    "encoder": Part("Transformer encoder", ("Transformer encoder",), "chapter-residuals",
                    "The stack of identical blocks the tokens pass through one after another."),
    "block": Part("Transformer block", ("block",), "chapter-residuals",
                  "LayerNorm, multi-head self-attention and a residual addition, then LayerNorm, "
                  "an MLP and a second residual addition."),
    "layernorm_before": Part("LayerNorm", ("LayerNorm",), "chapter-layernorm",
                             "Each token is rescaled to mean 0 and variance 1, then scaled by γ and "
                             "shifted by β."),
    "attention": Part("Multi-head attention", ("multi-head self-attention",), "chapter-attention",
                      "Every token gathers information from all tokens, weighted by how well its "
                      "query matches their keys."),
    "residual_1": Part("Residual addition", ("residual connection",), "chapter-residuals",
                       "The block's input is added to the attention's output."),
    "layernorm_after": Part("LayerNorm", ("LayerNorm",), "chapter-layernorm",
                            "Each token is rescaled to mean 0 and variance 1, then scaled by γ and "
                            "shifted by β."),
    "mlp": Part("MLP", ("MLP",), "chapter-mlp-gelu",
                "Two linear layers with a GELU between them, applied to every token separately."),
    "residual_2": Part("Residual addition", ("residual connection",), "chapter-residuals",
                       "The first residual sum is added to the MLP's output: the block's output."),
    "final_layernorm": Part("Final LayerNorm", ("LayerNorm",), "chapter-head",
                            "One more LayerNorm over every token before the classifier."),
    "classifier": Part("Classifier head", ("classifier head",), "chapter-head",
                       "A linear layer turns the CLS token's D numbers into one score per class."),
    "prediction": Part("Class", ("softmax", "logits"), "chapter-head",
                       "A softmax turns the scores into probabilities; the largest is the "
                       "prediction."),
    # Inside the attention and the MLP (the detail view opens them).
    "query": Part("Queries Q", ("query",), "chapter-attention",
                  "What each token asks for, one d-vector per token and head."),
    "key": Part("Keys K", ("key",), "chapter-attention",
                "What each token offers to be matched against, one d-vector per token and head."),
    "value": Part("Values V", ("value",), "chapter-attention",
                  "What each token passes on, one d-vector per token and head."),
    "scores": Part("Scores QKᵀ/√d", ("attention score",), "chapter-attention",
                   "How well each query matches each key, divided by √d."),
    "probs": Part("Softmax", ("softmax",), "chapter-attention",
                  "Each row of scores turned into weights that sum to 1."),
    "context": Part("Context", ("head",), "chapter-attention",
                    "Each head's weighted sum of values, the heads side by side."),
    "projection": Part("Output projection", ("multi-head self-attention",), "chapter-attention",
                       "A linear layer mixes the heads' results back into D numbers per token."),
    "fc1": Part("fc1", ("MLP",), "chapter-mlp-gelu",
                "The first linear layer widens each token from D to M numbers."),
    "gelu": Part("GELU", ("GELU",), "chapter-mlp-gelu",
                 "The non-linearity: large positive inputs pass, negative ones are squashed "
                 "towards zero."),
    "fc2": Part("fc2", ("MLP",), "chapter-mlp-gelu",
                "The second linear layer brings each token back from M to D numbers."),
}

#: The parts of one block in the order the tokens pass through them.
BLOCK_PARTS = ("layernorm_before", "attention", "residual_1", "layernorm_after", "mlp", "residual_2")

#: Tensor (suffix after ``encoder.layer.{i}.``) each block part outputs.
BLOCK_PART_TENSORS = {
    "layernorm_before": "layernorm_before", "attention": "attention.output",
    "residual_1": "residual_1", "layernorm_after": "layernorm_after", "mlp": "mlp.fc2",
    "residual_2": "output",
}


def part_links(parts) -> dict[str, str]:
    """``{part: chapter label}`` for ``ViewSpec.links``."""
    return {name: PARTS[name].chapter for name in sorted(set(parts))}


def part_info(name: str) -> dict:
    """What a view's script needs to describe a part: label, terms, fallback text, link name."""
    part = PARTS[name]
    return {"label": part.label, "terms": list(part.terms), "fallback": part.fallback, "link": name}


def tensor_shapes(config: TraceConfig) -> dict[str, tuple[int, ...]]:
    """Name → shape of every tensor the trace records for a model of this config."""
    size, c, p = config.image_size, config.num_channels, config.patch_size
    n, t, d = config.num_patches, config.num_tokens, config.hidden_size
    h, hd, m, k = config.num_heads, config.head_dim, config.intermediate_size, config.num_labels
    shapes: dict[str, tuple[int, ...]] = {
        "input.image": (size, size, c), "input.pixels": (c, size, size),
        "param.patch_kernel": (d, c, p, p), "param.patch_bias": (d,), "param.cls_token": (d,),
        "param.position_embeddings": (t, d),
        "embeddings.patches": (n, d), "embeddings.with_cls": (t, d), "embeddings.output": (t, d),
    }
    per_layer = {
        "layernorm_before": (t, d), "attention.query": (h, t, hd), "attention.key": (h, t, hd),
        "attention.value": (h, t, hd), "attention.scores": (h, t, t), "attention.probs": (h, t, t),
        "attention.context": (t, d), "attention.output": (t, d), "residual_1": (t, d),
        "layernorm_after": (t, d), "mlp.fc1": (t, m), "mlp.gelu": (t, m), "mlp.fc2": (t, d),
        "output": (t, d),
    }
    for i in range(config.num_layers):
        shapes.update({f"encoder.layer.{i}.{part}": shape for part, shape in per_layer.items()})
    for i in range(config.num_layers):
        for norm in ("layernorm_before", "layernorm_after"):
            shapes[f"param.layer.{i}.{norm}.weight"] = (d,)
            shapes[f"param.layer.{i}.{norm}.bias"] = (d,)
    shapes.update({"param.layernorm.weight": (d,), "param.layernorm.bias": (d,),
                   "param.classifier.weight": (k, d), "param.classifier.bias": (k,),
                   "layernorm": (t, d), "logits": (k,), "probs": (k,)})
    return shapes


def shape_text(shape) -> str:
    """(197, 192) → '197×192'."""
    return "×".join(str(s) for s in shape)
