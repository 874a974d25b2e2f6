"""Top-1 accuracy, per-class accuracy and confusion matrix of a ViT checkpoint on CIFAR-10 test.

    python -m elvit_sphinx.compute.evaluate CHECKPOINT --data PATH [--limit N] [--model-card]

CHECKPOINT is a ``save_pretrained`` folder (or anything :func:`elvit_sphinx.tracing.model_source.resolve`
turns into one, e.g. a cached hub id). Images are preprocessed the way the checkpoint's own
``preprocessor_config.json`` says. For the common bilinear case the same steps run in torch on
whole batches (much faster than PIL one image at a time; the tests check both agree);
``--exact-preprocessing`` runs the processor itself. Prints JSON on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from transformers import ViTForImageClassification
from transformers.models.vit.image_processing_pil_vit import ViTImageProcessorPil

from elvit_sphinx.compute.cifar import CifarSplit, load_split
from elvit_sphinx.compute.training.augment import to_model_input

PIL_BILINEAR = 2


def fast_preprocess(processor: ViTImageProcessorPil) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """The processor's steps as one torch function on uint8 NCHW batches, or None if it has
    steps the torch path does not replicate (then the processor itself must run)."""
    size = processor.size
    square = size.get("height") is not None and size.get("height") == size.get("width")
    if not (processor.do_resize and processor.do_rescale and processor.do_normalize
            and int(processor.resample) == PIL_BILINEAR and square):
        return None
    side, mean, std = int(size["height"]), processor.image_mean, processor.image_std
    factor = float(processor.rescale_factor)
    return lambda batch: to_model_input(batch, side, mean, std, factor)


def processor_preprocess(processor: ViTImageProcessorPil) -> Callable[[torch.Tensor], torch.Tensor]:
    def run(batch: torch.Tensor) -> torch.Tensor:
        images = list(batch.permute(0, 2, 3, 1).cpu().numpy())
        return processor(images, return_tensors="pt")["pixel_values"].to(batch.device)

    return run


@torch.no_grad()
def predict(
    model: ViTForImageClassification, images: torch.Tensor,
    preprocess: Callable[[torch.Tensor], torch.Tensor], batch_size: int = 250,
    label_ids: list[int] | None = None,
) -> torch.Tensor:
    """Argmax over ``label_ids`` (default: all logits) for uint8 NCHW ``images``; on the CPU."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    dtype = next(model.parameters()).dtype
    out = []
    for start in range(0, len(images), batch_size):
        pixels = preprocess(images[start:start + batch_size].to(device)).to(dtype)
        logits = model(pixel_values=pixels).logits.float()
        if label_ids is not None:
            logits = logits[:, label_ids]
        out.append(logits.argmax(dim=1).cpu())
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.long)


def label_ids_for(model: ViTForImageClassification, classes: tuple[str, ...]) -> list[int]:
    """The model's output index for each data-set class, matched by label name."""
    by_name = {str(name).lower(): int(i) for i, name in model.config.id2label.items()}
    missing = [name for name in classes if name.lower() not in by_name]
    if missing:
        raise ValueError(
            f"the checkpoint's labels ({len(by_name)}, e.g. {sorted(by_name)[:3]}) do not name "
            f"the CIFAR-10 classes {missing}: it is not a CIFAR-10 classifier"
        )
    return [by_name[name.lower()] for name in classes]


def summarise(predicted: np.ndarray, labels: np.ndarray, classes: tuple[str, ...]) -> dict:
    n = len(classes)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    totals = confusion.sum(axis=1)
    correct = int(np.trace(confusion))
    return {
        "images": int(len(labels)),
        "correct": correct,
        "top1": round(correct / max(len(labels), 1), 6),
        "per_class": {
            name: {"correct": int(confusion[i, i]), "total": int(totals[i]),
                   "accuracy": round(float(confusion[i, i] / max(totals[i], 1)), 6)}
            for i, name in enumerate(classes)
        },
        "classes": list(classes),
        # Rows: true class, columns: predicted class, both in ``classes`` order.
        "confusion_matrix": confusion.tolist(),
    }


def evaluate_model(
    model: ViTForImageClassification, processor: ViTImageProcessorPil, split: CifarSplit,
    batch_size: int = 250, exact: bool = False,
) -> dict:
    fast = None if exact else fast_preprocess(processor)
    preprocess = fast or processor_preprocess(processor)
    images = torch.from_numpy(split.images).permute(0, 3, 1, 2).contiguous()
    started = time.perf_counter()
    predicted = predict(model, images, preprocess, batch_size, label_ids_for(model, split.classes))
    result = summarise(predicted.numpy(), split.labels, split.classes)
    result["preprocessing"] = "torch-bilinear" if fast else "processor"
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result


def resolve_checkpoint(spec: str) -> Path:
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    from elvit_sphinx.tracing.model_source import resolve

    source = resolve(spec)
    if source.kind != "folder":
        raise ValueError(f"{spec!r} is not a checkpoint folder ({source.label})")
    return Path(source.path)


def load_checkpoint(folder: Path, device: str) -> tuple[ViTForImageClassification,
                                                         ViTImageProcessorPil]:
    # fp32 whatever the stored precision: the figures must not depend on the storage format.
    model = ViTForImageClassification.from_pretrained(
        folder, local_files_only=True, attn_implementation="sdpa", dtype=torch.float32
    ).to(device)
    processor = ViTImageProcessorPil.from_pretrained(folder, local_files_only=True)
    return model, processor


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def evaluate_checkpoint(
    checkpoint: str | Path, data: str, limit: int | None = None, batch_size: int = 250,
    exact: bool = False, device: str | None = None, split: CifarSplit | None = None,
) -> dict:
    """Evaluate a checkpoint folder on the test split of ``data`` (``split`` if already loaded)."""
    folder = resolve_checkpoint(str(checkpoint))
    device = device or default_device()
    model, processor = load_checkpoint(folder, device)
    if split is None:
        split = load_split(data, "test", per_class=limit)
    result = {"checkpoint": str(folder), "data": str(data), "split": "test",
              "limit_per_class": limit, "device": device}
    result.update(evaluate_model(model, processor, split, batch_size, exact))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m elvit_sphinx.compute.evaluate", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("checkpoint", help="save_pretrained folder of a ViT CIFAR-10 classifier")
    parser.add_argument("--data", required=True,
                        help="image folder (test/<class>/*.jpg), its .tar.gz, or torchvision:DIR")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="only the first N test images of each class (by file name)")
    parser.add_argument("--batch-size", type=int, default=250)
    parser.add_argument("--device", default=None, help="cuda or cpu (default: cuda if present)")
    parser.add_argument("--exact-preprocessing", action="store_true",
                        help="run the checkpoint's PIL processor instead of its torch replica")
    parser.add_argument("--model-card", action="store_true",
                        help="write the result into the checkpoint's README.md (measured section)")
    args = parser.parse_args(argv)
    try:
        result = evaluate_checkpoint(args.checkpoint, args.data, args.limit, args.batch_size,
                                     args.exact_preprocessing, args.device)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result, indent=2))
    if args.model_card:
        from elvit_sphinx.compute.model_card import write_card

        try:
            write_card(Path(result["checkpoint"]), measured=result)
        except (OSError, ValueError) as exc:
            print(f"error: model card: {exc}", file=sys.stderr)
            return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
