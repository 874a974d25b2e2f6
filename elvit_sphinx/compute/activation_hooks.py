"""Forward hooks that keep a ViT's intermediate tensors under the trace's names.

The trace (``trace.py``, under ``inference_mode``) and the training step (``backprop.py``, with
autograd, which needs the same tensors to take their gradients) record the same places, named
as in the trace (``encoder.layer.{i}.mlp.fc1`` ...). Two of them exist only inside
``ViTLayer.forward``: the first residual sum is what ``layernorm_after`` receives, and GELU's
output is what ``fc2`` receives, so they are read as those modules' inputs.
"""

from __future__ import annotations

import torch


def register_activation_hooks(vit, recorded: dict[str, torch.Tensor], context: bool = False) -> list:
    """Hooks on ``vit`` (a ``ViTModel``) that store each tensor in ``recorded`` (batch of one);
    ``context=True`` also keeps each block's attention context (the output projection's input;
    the trace records it from its attention function instead). Remove them when done."""

    def output(name, pick=lambda out: out):
        def hook(_module, _inputs, out):
            recorded[name] = pick(out)
        return hook

    def first_input(name):
        def hook(_module, inputs):
            recorded[name] = inputs[0]
        return hook

    hooks = [vit.embeddings.patch_embeddings.register_forward_hook(output("embeddings.patches")),
             vit.embeddings.register_forward_hook(output("embeddings.output")),
             vit.layernorm.register_forward_hook(output("layernorm"))]
    for i, layer in enumerate(vit.layers):
        p = f"encoder.layer.{i}."
        hooks += [
            layer.layernorm_before.register_forward_hook(output(p + "layernorm_before")),
            layer.attention.register_forward_hook(output(p + "attention.output", lambda o: o[0])),
            layer.layernorm_after.register_forward_pre_hook(first_input(p + "residual_1")),
            layer.layernorm_after.register_forward_hook(output(p + "layernorm_after")),
            layer.mlp.fc1.register_forward_hook(output(p + "mlp.fc1")),
            layer.mlp.fc2.register_forward_pre_hook(first_input(p + "mlp.gelu")),
            layer.mlp.fc2.register_forward_hook(output(p + "mlp.fc2")),
            layer.register_forward_hook(output(p + "output")),
        ]
        if context:
            hooks.append(layer.attention.o_proj.register_forward_pre_hook(
                first_input(p + "attention.context")))
    return hooks
