"""Loading a ViT image classifier for tracing: local folder, hub snapshot, or the embedded model.

Resolution of the ``elvit_model`` setting to files happens in :mod:`elvit_sphinx.tracing.model_source`
(no torch); this module turns a resolved source into a ``ViTForImageClassification`` in eval
mode plus the image processor that matches it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from transformers import ViTConfig, ViTForImageClassification
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

from elvit_sphinx.compute.attention_recorder import ATTENTION_IMPLEMENTATION
from elvit_sphinx.tracing.model_source import ModelSource, ModelSourceError, resolve

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)


def embedded_config() -> ViTConfig:
    """ViT-B/16 in all but width: 224×224 input, 16×16 patches, 12 blocks of 192, 3 heads."""
    return ViTConfig(
        image_size=224,
        patch_size=16,
        num_channels=3,
        hidden_size=192,
        num_hidden_layers=12,
        num_attention_heads=3,
        intermediate_size=768,
        hidden_act="gelu",
        qkv_bias=True,
        id2label=dict(enumerate(CIFAR10_CLASSES)),
        label2id={name: i for i, name in enumerate(CIFAR10_CLASSES)},
        architectures=["ViTForImageClassification"],
    )


def embedded_processor() -> ViTImageProcessorPil:
    """What the embedded model was trained on: CIFAR images upsampled (bilinear), mean/std 0.5."""
    return ViTImageProcessorPil(
        do_resize=True,
        size={"height": 224, "width": 224},
        resample=2,  # PIL bilinear
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.5, 0.5, 0.5],
        image_std=[0.5, 0.5, 0.5],
    )


def build_untrained(attn_implementation: str = "eager") -> ViTForImageClassification:
    """The deterministic stand-in while no trained embedded checkpoint ships (seed 0)."""
    config = embedded_config()
    config._attn_implementation = attn_implementation
    generator_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        model = ViTForImageClassification(config)
    finally:
        torch.random.set_rng_state(generator_state)
    return model


@dataclass
class LoadedModel:
    model: ViTForImageClassification
    processor: ViTImageProcessorPil
    source: ModelSource

    @property
    def config(self) -> ViTConfig:
        return self.model.config


def _processor_for(folder: str, config: ViTConfig) -> ViTImageProcessorPil:
    try:
        return ViTImageProcessorPil.from_pretrained(folder, local_files_only=True)
    except OSError:
        # No preprocessor_config.json: fall back to the ViT defaults at the model's own size.
        return ViTImageProcessorPil(size={"height": config.image_size, "width": config.image_size})


def load_model(
    spec: str | ModelSource | None = None, attn_implementation: str = ATTENTION_IMPLEMENTATION
) -> LoadedModel:
    """Load ``spec`` (an ``elvit_model`` value or a resolved source) in eval mode.

    ``attn_implementation`` defaults to the recording attention (eager maths that also keeps
    scores and probabilities); pass ``"sdpa"`` for a plain fast forward.
    """
    source = spec if isinstance(spec, ModelSource) else resolve(spec)
    if source.kind == "untrained":
        model = build_untrained(attn_implementation)
        processor = embedded_processor()
    else:
        try:
            model = ViTForImageClassification.from_pretrained(
                source.path, local_files_only=True, attn_implementation=attn_implementation,
                dtype=torch.float32,  # fp16 checkpoints (the embedded one) are traced in fp32
            )
        except (OSError, ValueError) as exc:
            raise ModelSourceError(f"elvit_model = {source.spec!r}: cannot load weights: {exc}") from None
        processor = _processor_for(source.path, model.config)
    model.eval()
    return LoadedModel(model=model, processor=processor, source=source)


def numpy_weights(loaded: LoadedModel) -> dict[str, np.ndarray]:
    """The parameters under the names :mod:`elvit_sphinx.compute.reference` uses."""
    vit = loaded.model.vit

    def arr(t):
        return t.detach().to(torch.float32).cpu().numpy()

    emb = vit.embeddings
    weights = {
        "patch_kernel": arr(emb.patch_embeddings.projection.weight),
        "patch_bias": arr(emb.patch_embeddings.projection.bias),
        "cls_token": arr(emb.cls_token[0, 0]),
        "position_embeddings": arr(emb.position_embeddings[0]),
        "final_ln_w": arr(vit.layernorm.weight),
        "final_ln_b": arr(vit.layernorm.bias),
        "head_w": arr(loaded.model.classifier.weight),
        "head_b": arr(loaded.model.classifier.bias),
    }
    for i, layer in enumerate(vit.layers):
        p = f"layer.{i}."
        modules = {
            "ln1": layer.layernorm_before, "ln2": layer.layernorm_after,
            "q": layer.attention.q_proj, "k": layer.attention.k_proj, "v": layer.attention.v_proj,
            "o": layer.attention.o_proj, "fc1": layer.mlp.fc1, "fc2": layer.mlp.fc2,
        }
        for short, module in modules.items():
            weights[p + short + "_w"] = arr(module.weight)
            weights[p + short + "_b"] = arr(module.bias)
    return weights
