"""Per-epoch training state (resume) and the final export (``save_pretrained`` + card).

Layout of an output folder::

    OUT/config.json, model.safetensors, preprocessor_config.json, README.md   ← the checkpoint
    OUT/training/state.pt     model, optimiser, schedule, history; removed once finished
    OUT/training/log.jsonl    one JSON line per epoch

Only the top level is the checkpoint (what ships in ``compute/embedded/``); ``training/``
holds what resuming needs and is not part of it.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import torch

STATE_DIR = "training"
STATE_FILE = "state.pt"
LOG_FILE = "log.jsonl"


def state_path(output: Path) -> Path:
    return output / STATE_DIR / STATE_FILE


def save_state(output: Path, state: dict) -> None:
    path = state_path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    # Atomic on POSIX: a run killed while saving leaves the previous epoch's state intact.
    os.replace(tmp, path)


def load_state(output: Path) -> dict | None:
    path = state_path(output)
    if not path.exists():
        return None
    return torch.load(path, map_location="cpu", weights_only=False)


def append_log(output: Path, record: dict) -> None:
    path = output / STATE_DIR / LOG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")


def export_checkpoint(model, processor, output: Path) -> None:
    """Write ``model`` as float16 safetensors that load as float32 by default.

    float16 halves the file (~11 MB for the embedded geometry); the upcast on loading is
    exact. ``config.json`` then names float32 because transformers' default ``dtype="auto"``
    follows it, and the book's trace and NumPy reference compute in float32 on the CPU.
    """
    export = copy.deepcopy(model).to(device="cpu", dtype=torch.float16)
    export.save_pretrained(output)
    config_path = output / "config.json"
    config = json.loads(config_path.read_text())
    config["dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    processor.save_pretrained(output)
