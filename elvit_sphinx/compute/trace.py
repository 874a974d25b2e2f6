"""One forward pass per (model, image), recording every intermediate under a stable name.

Names (shapes for N patches, T = N+1 tokens, D hidden, h heads, d = D/h, M MLP width):

* ``input.image`` (H×W×3 uint8, what the model sees), ``input.pixels`` (3×H×W, normalised)
* ``param.patch_kernel`` (D×3×P×P), ``param.patch_bias`` (D), ``param.cls_token`` (D),
  ``param.position_embeddings`` (T×D)
* per block i: ``param.layer.{i}.layernorm_before.weight`` / ``.bias`` and
  ``param.layer.{i}.layernorm_after.weight`` / ``.bias`` (γ and β, D each)
* ``param.layernorm.weight`` / ``.bias`` (the final LayerNorm's γ, β), ``param.classifier.weight``
  (classes×D), ``param.classifier.bias`` (classes)
* ``embeddings.patches`` (N×D), ``embeddings.with_cls`` (T×D), ``embeddings.output`` (T×D)
* per block i, prefix ``encoder.layer.{i}.``: ``layernorm_before``, ``attention.query``,
  ``attention.key``, ``attention.value`` (h×T×d), ``attention.scores`` (pre-softmax, h×T×T),
  ``attention.probs`` (h×T×T), ``attention.context`` (heads merged, T×D),
  ``attention.output`` (T×D), ``residual_1``, ``layernorm_after``, ``mlp.fc1`` (T×M),
  ``mlp.gelu`` (T×M), ``mlp.fc2`` (T×D), ``output`` (T×D)
* ``layernorm`` (T×D), ``logits`` (classes), ``probs`` (classes)
"""

from __future__ import annotations

import os

import numpy as np
import torch

from elvit_sphinx.compute.activation_hooks import register_activation_hooks
from elvit_sphinx.compute.attention_recorder import ATTENTION_IMPLEMENTATION, recording_attention
from elvit_sphinx.compute.model import LoadedModel
from elvit_sphinx.tracing.images import DEFAULT_MAX_PIXELS, file_sha256, load_rgb
from elvit_sphinx.tracing.trace_data import Trace, TraceConfig

LAYER_PARTS = (
    "layernorm_before", "attention.query", "attention.key", "attention.value",
    "attention.scores", "attention.probs", "attention.context", "attention.output",
    "residual_1", "layernorm_after", "mlp.fc1", "mlp.gelu", "mlp.fc2", "output",
)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().to(torch.float32).cpu().numpy()


def preprocess(loaded: LoadedModel, image_path: str | os.PathLike,
               max_pixels: int = DEFAULT_MAX_PIXELS):
    """Image file → (pixel tensor 1×3×H×W, LoadedImage), per the checkpoint's processor."""
    image = load_rgb(image_path, max_pixels=max_pixels)
    pixels = loaded.processor(image.rgb, return_tensors="np")["pixel_values"]
    return torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)), image


def _trace_config(loaded: LoadedModel, image_path, image) -> TraceConfig:
    config = loaded.config
    processor = loaded.processor
    return TraceConfig(
        image_size=int(config.image_size),
        patch_size=int(config.patch_size),
        num_channels=int(config.num_channels),
        hidden_size=int(config.hidden_size),
        num_heads=int(config.num_attention_heads),
        num_layers=int(config.num_hidden_layers),
        intermediate_size=int(config.intermediate_size),
        layer_norm_eps=float(config.layer_norm_eps),
        id2label={int(k): str(v) for k, v in config.id2label.items()},
        model_label=loaded.source.label,
        model_fingerprint=loaded.source.fingerprint,
        trained=loaded.source.trained,
        image_name=os.path.basename(os.fspath(image_path)),
        image_sha256=file_sha256(image_path),
        image_conversions=list(image.conversions),
        image_original_size=tuple(image.original_size),
        image_mean=tuple(float(v) for v in (processor.image_mean if processor.do_normalize else (0, 0, 0))),
        image_std=tuple(float(v) for v in (processor.image_std if processor.do_normalize else (1, 1, 1))),
        model_path=loaded.source.path or "",
    )


def trace_image(loaded: LoadedModel, image_path: str | os.PathLike,
                max_pixels: int = DEFAULT_MAX_PIXELS) -> Trace:
    """Run ``loaded`` on one image and return every intermediate (see module docstring)."""
    if loaded.config._attn_implementation != ATTENTION_IMPLEMENTATION:
        raise ValueError(
            f"trace_image needs a model loaded with attn_implementation={ATTENTION_IMPLEMENTATION!r}"
        )
    pixels, image = preprocess(loaded, image_path, max_pixels)
    vit = loaded.model.vit
    recorded: dict[str, torch.Tensor] = {}
    hooks = register_activation_hooks(vit, recorded)
    try:
        with torch.inference_mode(), recording_attention() as attention_calls:
            logits = loaded.model(pixel_values=pixels).logits
    finally:
        for hook in hooks:
            hook.remove()

    arrays: dict[str, np.ndarray] = {}
    config = _trace_config(loaded, image_path, image)
    mean = np.asarray(config.image_mean, dtype=np.float32)[:, None, None]
    std = np.asarray(config.image_std, dtype=np.float32)[:, None, None]
    pixels_np = _numpy(pixels[0])
    display = np.clip(np.rint((pixels_np * std + mean) * 255.0), 0, 255).astype(np.uint8)
    arrays["input.image"] = display.transpose(1, 2, 0)
    arrays["input.pixels"] = pixels_np
    embeddings = vit.embeddings
    arrays["param.patch_kernel"] = _numpy(embeddings.patch_embeddings.projection.weight)
    arrays["param.patch_bias"] = _numpy(embeddings.patch_embeddings.projection.bias)
    arrays["param.cls_token"] = _numpy(embeddings.cls_token[0, 0])
    arrays["param.position_embeddings"] = _numpy(embeddings.position_embeddings[0])
    arrays["embeddings.patches"] = _numpy(recorded["embeddings.patches"][0])
    arrays["embeddings.with_cls"] = np.concatenate(
        [arrays["param.cls_token"][None, :], arrays["embeddings.patches"]], axis=0
    )
    arrays["embeddings.output"] = _numpy(recorded["embeddings.output"][0])
    if len(attention_calls) != len(vit.layers):
        raise RuntimeError(f"recorded {len(attention_calls)} attention calls for {len(vit.layers)} layers")
    for i, call in enumerate(attention_calls):
        prefix = f"encoder.layer.{i}."
        for part in ("query", "key", "value", "scores", "probs"):
            arrays[prefix + "attention." + part] = _numpy(call[part][0])
        arrays[prefix + "attention.context"] = _numpy(call["context"][0].flatten(1))
    for name, tensor in recorded.items():
        if name.startswith("encoder.") or name == "layernorm":
            arrays[name] = _numpy(tensor[0])
    for i, layer in enumerate(vit.layers):
        for norm in ("layernorm_before", "layernorm_after"):
            module = getattr(layer, norm)
            arrays[f"param.layer.{i}.{norm}.weight"] = _numpy(module.weight)
            arrays[f"param.layer.{i}.{norm}.bias"] = _numpy(module.bias)
    arrays["param.layernorm.weight"] = _numpy(vit.layernorm.weight)
    arrays["param.layernorm.bias"] = _numpy(vit.layernorm.bias)
    arrays["param.classifier.weight"] = _numpy(loaded.model.classifier.weight)
    arrays["param.classifier.bias"] = _numpy(loaded.model.classifier.bias)
    arrays["logits"] = _numpy(logits[0])
    arrays["probs"] = _numpy(torch.softmax(logits[0].float(), dim=-1))
    ordered = {name: arrays[name] for name in expected_names(config.num_layers)}
    return Trace(ordered, config)


def expected_names(num_layers: int) -> list[str]:
    names = ["input.image", "input.pixels", "param.patch_kernel", "param.patch_bias",
             "param.cls_token", "param.position_embeddings",
             "embeddings.patches", "embeddings.with_cls", "embeddings.output"]
    for i in range(num_layers):
        names += [f"encoder.layer.{i}.{part}" for part in LAYER_PARTS]
    for i in range(num_layers):
        names += [f"param.layer.{i}.{norm}.{kind}" for norm in ("layernorm_before", "layernorm_after")
                  for kind in ("weight", "bias")]
    names += ["param.layernorm.weight", "param.layernorm.bias", "param.classifier.weight",
              "param.classifier.bias"]
    return names + ["layernorm", "logits", "probs"]
