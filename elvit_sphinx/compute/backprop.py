"""One real training step on one image and its label: loss, every gradient, one SGD update.

What :func:`training_step` records (``step.*`` arrays of a :class:`~elvit_sphinx.tracing.trace_data.Trace`
with the forward trace's config; T tokens, D width, C colour channels, P patch size):

* ``step.label`` (the class index), ``step.lr``, ``step.logits``, ``step.probs``, ``step.loss``
  (cross-entropy ``−log p[label]``), ``step.logits_grad`` (∂L/∂logits = p − one-hot);
* ``step.activation_names`` / ``_shapes`` / ``_grad_norms``: the Euclidean norm of ∂L/∂x for the
  tensors the gradient flows back through, from the logits to the patch embeddings (names as in
  the forward trace; shapes without the batch dimension, written ``197×192``);
* ``step.param_names`` / ``_shapes`` / ``_norms`` / ``_grad_norms``: every parameter tensor
  (names as ``model.named_parameters()`` gives them) in the order the gradient reaches them;
* ``step.patch_kernel_grad`` (D×C×P×P): ∂L/∂ of the patch-embedding kernel, and
  ``step.patches_grad`` (N×D): ∂L/∂ of the patch embeddings, from which the kernel's gradient
  follows by one more step of the chain rule (the backpropagation chapter checks it);
* ``step.weight`` (o, c, i, j), ``step.weight_value``, ``step.weight_grad``, ``step.weight_after``:
  one kernel weight before and after the update ``w − lr·∂L/∂w`` (float32, as an SGD step on
  the model computes it);
* ``step.loss_after`` / ``step.probs_after``: the same image after that SGD step on *every*
  parameter (plain SGD: no momentum, no weight decay);
* ``step.check_names`` / ``_index`` (k×4, −1 padded) / ``_autograd`` (the step's float32
  gradient) / ``_autograd64`` / ``_numeric`` / ``step.check_eps``: a finite-difference check of a
  few weights, ``(L(w + ε) − L(w − ε)) / 2ε`` on a float64 copy of the model, beside autograd's
  gradient of that same float64 copy.

The float64 copy runs attention through PyTorch's ``scaled_dot_product_attention`` ("sdpa"):
the eager and recording attention compute the softmax in float32 whatever the input, which
would limit the finite differences to float32 precision.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch.func import functional_call

from elvit_sphinx.compute.activation_hooks import register_activation_hooks
from elvit_sphinx.compute.model import LoadedModel

#: Central-difference step for the float64 check: truncation error ~ε², rounding ~1e-16/ε.
FD_EPS = 1e-6

#: Inside a block, backwards: the MLP's output (its gradient equals the block output's: an
#: addition passes the gradient unchanged), GELU, fc1, the MLP's normalised input, the first
#: residual sum, the attention's output projection and its input, the attention's input.
BLOCK_PARTS_BACKWARDS = ("output", "mlp.fc2", "mlp.gelu", "mlp.fc1", "layernorm_after",
                         "residual_1", "attention.output", "attention.context", "layernorm_before")

_LAYER_PARAMS_BACKWARDS = ("mlp.fc2", "mlp.fc1", "layernorm_after", "attention.o_proj",
                           "attention.v_proj", "attention.k_proj", "attention.q_proj",
                           "layernorm_before")


def shape_text(shape) -> str:
    return "×".join(str(int(n)) for n in shape)


def activation_order(num_layers: int) -> list[str]:
    """The recorded activations from the head back to the patch embeddings."""
    names = ["logits", "layernorm"]
    for i in reversed(range(num_layers)):
        names += [f"encoder.layer.{i}.{part}" for part in BLOCK_PARTS_BACKWARDS]
    return names + ["embeddings.output", "embeddings.patches"]


def parameter_order(model) -> list[str]:
    """Every parameter name, in the order backpropagation reaches it (head first)."""
    names = [name for name, _ in model.named_parameters()]
    ordered = [n for n in ("classifier.bias", "classifier.weight", "vit.layernorm.bias",
                           "vit.layernorm.weight") if n in names]
    for i in reversed(range(len(model.vit.layers))):
        for part in _LAYER_PARAMS_BACKWARDS:
            ordered += [n for n in (f"vit.layers.{i}.{part}.bias", f"vit.layers.{i}.{part}.weight")
                        if n in names]
    ordered += [n for n in ("vit.embeddings.position_embeddings", "vit.embeddings.cls_token",
                            "vit.embeddings.patch_embeddings.projection.bias",
                            "vit.embeddings.patch_embeddings.projection.weight") if n in names]
    # Anything else a checkpoint may carry (a pooler, say) at the end, in reverse module order.
    return ordered + [n for n in reversed(names) if n not in ordered]


def _check_targets(model, kernel_index: tuple[int, ...]) -> list[tuple[str, tuple[int, ...] | None]]:
    """The weights checked by finite differences: one in the head, one in a middle block's MLP,
    one in the first block's attention, and the chosen patch-embedding weight (None: the
    element of largest |gradient| is taken)."""
    layers = len(model.vit.layers)
    return [("classifier.weight", None),
            (f"vit.layers.{layers // 2}.mlp.fc1.weight", None),
            ("vit.layers.0.attention.q_proj.weight", None),
            ("vit.embeddings.patch_embeddings.projection.weight", kernel_index)]


def training_step(loaded: LoadedModel, pixels: np.ndarray, label: int, lr: float,
                  weight: tuple[int, int, int, int] | None = None,
                  eps: float = FD_EPS) -> dict[str, np.ndarray]:
    """One SGD step of ``loaded`` on ``pixels`` (C×H×W, preprocessed) with ``label``.

    ``weight`` is the patch-embedding kernel entry (output channel, colour channel, row, column)
    whose update is recorded; None picks the one with the largest |∂L/∂w|. The loaded model is
    left untouched.
    """
    model = loaded.model
    num_labels = int(model.config.num_labels)
    if not 0 <= label < num_labels:
        raise ValueError(f"label {label} is out of range: this model has {num_labels} classes")
    if not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"the learning rate must be a positive number, not {lr}")
    x = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32))[None]
    target = torch.tensor([int(label)])
    params = dict(model.named_parameters())
    order = parameter_order(model)
    was_training = model.training
    model.eval()  # dropout off: the step is deterministic
    recorded: dict[str, torch.Tensor] = {}
    hooks = register_activation_hooks(model.vit, recorded, context=True)
    try:
        with torch.enable_grad():
            logits = model(pixel_values=x).logits
            recorded["logits"] = logits
            loss = torch.nn.functional.cross_entropy(logits, target)
            names = activation_order(len(model.vit.layers))
            grads = torch.autograd.grad(loss, [recorded[n] for n in names] + [params[n] for n in order])
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    activation_grads = dict(zip(names, grads[:len(names)], strict=True))
    param_grads = dict(zip(order, grads[len(names):], strict=True))

    kernel_name = "vit.embeddings.patch_embeddings.projection.weight"
    kernel, kernel_grad = params[kernel_name].detach(), param_grads[kernel_name]
    if weight is None:
        weight = tuple(int(v) for v in np.unravel_index(int(kernel_grad.abs().argmax()), kernel_grad.shape))
    weight = tuple(int(v) for v in weight)
    if len(weight) != 4 or any(not 0 <= v < n for v, n in zip(weight, kernel.shape, strict=True)):
        raise ValueError(f"weight {weight} is outside the patch kernel of shape {tuple(kernel.shape)}")

    # The update every parameter gets from plain SGD, and the loss on the same image afterwards.
    with torch.no_grad():
        updated = {n: p.detach() - lr * param_grads[n] for n, p in params.items()}
        logits_after = functional_call(model, updated, args=(), kwargs={"pixel_values": x}).logits
        loss_after = torch.nn.functional.cross_entropy(logits_after, target)

    checks = _finite_differences(model, x, target, _check_targets(model, weight), param_grads, eps)

    def f32(t):
        return t.detach().to(torch.float32).numpy()

    probs = torch.softmax(logits.detach()[0].to(torch.float64), -1)
    one_hot = torch.zeros(num_labels, dtype=torch.float64)
    one_hot[label] = 1.0
    record = {
        "step.label": np.array(label, dtype=np.int64),
        "step.lr": np.array(lr, dtype=np.float64),
        "step.logits": f32(logits[0]),
        "step.probs": f32(torch.softmax(logits.detach()[0], -1)),
        "step.loss": np.array(loss.item(), dtype=np.float64),
        "step.logits_grad": f32(activation_grads["logits"][0]),
        "step.activation_names": np.array(names),
        "step.activation_shapes": np.array([shape_text(recorded[n].shape[1:]) for n in names]),
        "step.activation_grad_norms": np.array(
            [float(activation_grads[n].double().norm()) for n in names], dtype=np.float64),
        "step.param_names": np.array(order),
        "step.param_shapes": np.array([shape_text(params[n].shape) for n in order]),
        "step.param_norms": np.array([float(params[n].detach().double().norm()) for n in order]),
        "step.param_grad_norms": np.array([float(param_grads[n].double().norm()) for n in order]),
        "step.patch_kernel_grad": f32(kernel_grad),
        "step.patches_grad": f32(activation_grads["embeddings.patches"][0]),
        "step.weight": np.array(weight, dtype=np.int64),
        "step.weight_value": np.array(kernel[weight].item(), dtype=np.float32),
        "step.weight_grad": np.array(kernel_grad[weight].item(), dtype=np.float32),
        "step.weight_after": np.array(updated[kernel_name][weight].item(), dtype=np.float32),
        "step.loss_after": np.array(loss_after.item(), dtype=np.float64),
        "step.probs_after": f32(torch.softmax(logits_after[0], -1)),
        "step.check_names": np.array([c["name"] for c in checks]),
        "step.check_index": np.array([c["index"] + (-1,) * (4 - len(c["index"])) for c in checks],
                                     dtype=np.int64),
        "step.check_autograd": np.array([c["autograd"] for c in checks], dtype=np.float64),
        "step.check_autograd64": np.array([c["autograd64"] for c in checks], dtype=np.float64),
        "step.check_numeric": np.array([c["numeric"] for c in checks], dtype=np.float64),
        "step.check_eps": np.array(eps, dtype=np.float64),
    }
    # ∂L/∂logits is softmax − one-hot: a cheap guard that the recorded gradients are this loss's.
    if not np.allclose(record["step.logits_grad"], (probs - one_hot).numpy(), atol=1e-6):
        raise RuntimeError("∂L/∂logits differs from softmax − one-hot")
    return record


def _finite_differences(model, x, target, targets, param_grads, eps: float) -> list[dict]:
    """Central differences on a float64 copy, beside autograd's float64 gradient."""
    model64 = copy.deepcopy(model).to(torch.float64)
    model64.config._attn_implementation = "sdpa"  # float64 softmax (see the module docstring)
    model64.eval()
    params64 = dict(model64.named_parameters())
    x64 = x.to(torch.float64)

    def loss64():
        return torch.nn.functional.cross_entropy(model64(pixel_values=x64).logits, target)

    names = [name for name, _ in targets]
    with torch.enable_grad():
        grads64 = dict(zip(names, torch.autograd.grad(loss64(), [params64[n] for n in names]),
                           strict=True))
    checks = []
    with torch.no_grad():
        for name, index in targets:
            grad = param_grads[name]
            if index is None:
                index = tuple(int(v) for v in np.unravel_index(int(grad.abs().argmax()), grad.shape))
            parameter = params64[name]
            original = parameter[index].item()
            parameter[index] = original + eps
            plus = loss64().item()
            parameter[index] = original - eps
            minus = loss64().item()
            parameter[index] = original
            checks.append({"name": name, "index": tuple(int(v) for v in index),
                           "autograd": float(grad[index]), "autograd64": float(grads64[name][index]),
                           "numeric": (plus - minus) / (2 * eps)})
    return checks
