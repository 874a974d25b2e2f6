"""Random-weight checkpoints of named geometries, for tests, benchmarks and instructors.

``save_random_checkpoint("vit-b16", folder)`` writes a ``save_pretrained`` folder (config,
weights, preprocessor) that ``elvit_model`` accepts, so the whole book can be built with a model
of another shape without downloading anything::

    python -m elvit_sphinx.compute.checkpoints odd /tmp/odd-vit
    ELVIT_MODEL=/tmp/odd-vit nox -s build

Geometries:

* ``vit-b16`` — ViT-B/16 (224×224 input, 16×16 patches, 12 blocks of 768, 12 heads, MLP 3072),
  with the 10 CIFAR-10 classes;
* ``odd`` — differs from the embedded model in every dimension: 96×96 input, 12×12 patches
  (an 8×8 grid), 3 blocks of 48, 4 heads, MLP 80 and 5 classes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from transformers import ViTConfig, ViTForImageClassification
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

from elvit_sphinx.compute.model import CIFAR10_CLASSES

ODD_CLASSES = ("circle", "square", "triangle", "star", "ring")

GEOMETRIES: dict[str, dict] = {
    "vit-b16": dict(image_size=224, patch_size=16, hidden_size=768, num_hidden_layers=12,
                    num_attention_heads=12, intermediate_size=3072, labels=CIFAR10_CLASSES),
    "odd": dict(image_size=96, patch_size=12, hidden_size=48, num_hidden_layers=3,
                num_attention_heads=4, intermediate_size=80, labels=ODD_CLASSES),
}


def geometry_config(name: str) -> ViTConfig:
    spec = dict(GEOMETRIES[name])
    labels = spec.pop("labels")
    return ViTConfig(**spec, num_channels=3, qkv_bias=True,
                     id2label=dict(enumerate(labels)), label2id={n: i for i, n in enumerate(labels)},
                     architectures=["ViTForImageClassification"])


def save_random_checkpoint(name: str, folder: str | Path, seed: int = 0) -> Path:
    """Write geometry ``name`` with random weights (``seed``) to ``folder``; return it."""
    config = geometry_config(name)
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        model = ViTForImageClassification(config)
    finally:
        torch.random.set_rng_state(state)
    folder = Path(folder)
    model.save_pretrained(folder)
    size = config.image_size
    ViTImageProcessorPil(do_resize=True, size={"height": size, "width": size}, resample=2,
                         image_mean=[0.5] * 3, image_std=[0.5] * 3).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("geometry", choices=sorted(GEOMETRIES))
    parser.add_argument("folder")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(save_random_checkpoint(args.geometry, args.folder, args.seed))


if __name__ == "__main__":
    main()
