"""Resolving the ``elvit_model`` setting to weights on this disk, without importing torch.

The Sphinx process must never start torch (its forked ``-j`` workers would deadlock), yet it
must know *which* weights a page is computed from, both to key the cache and to name the
checkpoint under every figure. So resolution happens here, with huggingface_hub's file cache
and plain hashing; loading happens later in :mod:`elvit_sphinx.compute.model`.

``elvit_model`` may be:

* ``"embedded"`` (default) — the checkpoint shipped inside the package. While no trained
  checkpoint ships, this is an *untrained* ViT with the embedded geometry, created
  deterministically (seed 0) by :func:`elvit_sphinx.compute.model.build_untrained`; every
  figure made from it says so.
* a folder written by ``save_pretrained`` (``config.json`` + weights);
* a Hugging Face hub id, taken from the local HF cache, or downloaded when the hub is reachable.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path

EMBEDDED = "embedded"
EMBEDDED_DIR = Path(__file__).parent.parent / "compute" / "embedded"
#: Bumped when the recipe for the untrained stand-in model changes.
UNTRAINED_RECIPE = "elvit-untrained-v1-seed0"
_WEIGHT_FILES = ("config.json", "preprocessor_config.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_HUB_PATTERNS = ["config.json", "preprocessor_config.json", "*.safetensors", "*.json"]
_HUB_FALLBACK_PATTERNS = ["config.json", "preprocessor_config.json", "*.bin", "*.json"]


class ModelSourceError(ValueError):
    """The configured model cannot be used; the message names it and says how to fix it."""


@dataclass(frozen=True)
class ModelSource:
    spec: str  # what the user configured
    kind: str  # "folder" or "untrained"
    path: str | None  # local folder with config.json and weights (kind == "folder")
    label: str  # how figures name the checkpoint
    trained: bool
    fingerprint: str  # sha256 over everything that determines the weights

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelSource:
        return cls(**data)


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


_hash_memo: dict[tuple[str, int, int], str] = {}


def _memo_hash(path: Path) -> str:
    # Hashing a 330 MB ViT-B/16 takes ~0.5 s; the stat key keeps no-op rebuilds cheap.
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _hash_memo:
        _hash_memo[key] = _hash_file(path)
    return _hash_memo[key]


def _folder_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    files = sorted(
        p for p in folder.iterdir()
        if p.is_file() and (p.name in _WEIGHT_FILES or p.name.endswith(_WEIGHT_SUFFIXES))
    )
    for path in files:
        digest.update(path.name.encode() + b"\0" + _memo_hash(path).encode() + b"\n")
    return digest.hexdigest()


def _check_vit_config(folder: Path, spec: str) -> dict:
    config_path = folder / "config.json"
    if not config_path.is_file():
        raise ModelSourceError(
            f"elvit_model = {spec!r}: folder {folder} has no config.json; give a folder written "
            "by save_pretrained(), a Hugging Face id, or 'embedded'"
        )
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ModelSourceError(f"elvit_model = {spec!r}: cannot read {config_path}: {exc}") from None
    model_type = config.get("model_type")
    architectures = config.get("architectures") or []
    if model_type != "vit" or (architectures and "ViTForImageClassification" not in architectures):
        what = ", ".join(architectures) or model_type or "unknown"
        raise ModelSourceError(
            f"elvit_model = {spec!r} is a {what} checkpoint (model_type {model_type!r}), not a ViT "
            "image classifier; the book needs a ViTForImageClassification checkpoint"
        )
    if not any(p.name.endswith(_WEIGHT_SUFFIXES) for p in folder.iterdir()):
        raise ModelSourceError(f"elvit_model = {spec!r}: folder {folder} has no weight files")
    return config


def _untrained_source() -> ModelSource:
    versions = {name: metadata.version(name) for name in ("torch", "transformers")}
    recipe = json.dumps({"recipe": UNTRAINED_RECIPE, **versions}, sort_keys=True)
    return ModelSource(
        spec=EMBEDDED,
        kind="untrained",
        path=None,
        label="untrained ViT (embedded geometry: 12 blocks × 192, 3 heads, random weights, seed 0)",
        trained=False,
        fingerprint=hashlib.sha256(recipe.encode()).hexdigest(),
    )


def _folder_source(spec: str, folder: Path, label: str) -> ModelSource:
    _check_vit_config(folder, spec)
    return ModelSource(
        spec=spec,
        kind="folder",
        path=str(folder.resolve()),
        label=label,
        trained=True,
        fingerprint=_folder_fingerprint(folder),
    )


def _snapshot(repo_id: str, local_only: bool, cache_dir: str | None) -> Path:
    """The repo's config and weights; safetensors when it has them, else the older .bin files
    (many 4.x-era hub checkpoints, the EL-VIT paper's among them, were uploaded as .bin)."""
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(repo_id, allow_patterns=_HUB_PATTERNS, cache_dir=cache_dir,
                                    local_files_only=local_only))
    if not any(p.name.endswith(_WEIGHT_SUFFIXES) for p in folder.iterdir()):
        folder = Path(snapshot_download(repo_id, allow_patterns=_HUB_FALLBACK_PATTERNS,
                                        cache_dir=cache_dir, local_files_only=local_only))
    return folder


def _hub_snapshot(repo_id: str) -> Path:
    # Read at call time: huggingface_hub fixes its constants when first imported.
    cache_dir = os.environ.get("HF_HUB_CACHE") or None
    try:
        return _snapshot(repo_id, local_only=True, cache_dir=cache_dir)
    except Exception:  # noqa: BLE001 - any miss in the local cache means: try the network
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise ModelSourceError(_unreachable_message(repo_id, "HF_HUB_OFFLINE is set"))
    try:
        return _snapshot(repo_id, local_only=False, cache_dir=cache_dir)
    except Exception as exc:  # noqa: BLE001 - network, auth and not-found all mean the same here
        raise ModelSourceError(_unreachable_message(repo_id, type(exc).__name__)) from None


def _unreachable_message(repo_id: str, why: str) -> str:
    return (
        f"elvit_model = {repo_id!r}: not a local folder, not in the local Hugging Face cache, and "
        f"the hub could not be reached ({why}). Fix: set elvit_model (or the ELVIT_MODEL "
        "environment variable) to a folder written by save_pretrained(), or to 'embedded'; or, "
        f"once online, fill the cache with: python -c \"from huggingface_hub import "
        f"snapshot_download; snapshot_download('{repo_id}')\""
    )


def resolve(spec: str | None, base_dir: str | os.PathLike | None = None) -> ModelSource:
    """Turn an ``elvit_model`` value into a :class:`ModelSource`, or raise ModelSourceError."""
    spec = (spec or EMBEDDED).strip()
    if spec == EMBEDDED:
        if (EMBEDDED_DIR / "config.json").is_file():
            return _folder_source(spec, EMBEDDED_DIR, "embedded checkpoint (ViT trained on CIFAR-10)")
        return _untrained_source()
    candidate = Path(spec).expanduser()
    if not candidate.is_absolute() and base_dir is not None:
        candidate = Path(base_dir) / candidate
    if candidate.is_dir():
        return _folder_source(spec, candidate, f"checkpoint folder {spec}")
    if spec.startswith((".", "/", "~")) or os.sep in spec.strip("/").replace("/", "", 1):
        raise ModelSourceError(f"elvit_model = {spec!r}: no such folder ({candidate})")
    snapshot = _hub_snapshot(spec)
    return _folder_source(spec, snapshot, f"Hugging Face checkpoint {spec}")
