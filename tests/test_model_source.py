"""Resolving elvit_model: embedded default, local folders, the HF cache, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from elvit_sphinx.tracing.model_source import ModelSourceError, resolve

PAPER_MODEL = "aaraki/vit-base-patch16-224-in21k-finetuned-cifar10"


def write_checkpoint(folder, model_type="vit", architectures=("ViTForImageClassification",)):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(
        {"model_type": model_type, "architectures": list(architectures)}))
    (folder / "model.safetensors").write_bytes(b"weights")
    return folder


def test_default_is_the_embedded_model():
    source = resolve(None)
    assert source.spec == "embedded"
    if source.kind == "untrained":
        assert not source.trained and "untrained" in source.label


def test_local_folder_fingerprint_follows_the_weights(tmp_path):
    folder = write_checkpoint(tmp_path / "ckpt")
    first = resolve(str(folder))
    assert first.kind == "folder" and first.path == str(folder.resolve())
    (folder / "model.safetensors").write_bytes(b"other weights")
    assert resolve(str(folder)).fingerprint != first.fingerprint


def test_hub_id_is_taken_from_the_local_hf_cache(tmp_path, monkeypatch):
    """Hub resolution without a network: a cache laid out as huggingface_hub writes it."""
    repo = tmp_path / "hub" / ("models--" + PAPER_MODEL.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    write_checkpoint(repo / "snapshots" / "0123abcd")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = resolve(PAPER_MODEL)
    assert source.path.endswith("snapshots/0123abcd") and PAPER_MODEL in source.label


def test_hub_checkpoint_with_only_bin_weights_is_found(tmp_path, monkeypatch):
    """4.x-era repos (the paper's) hold pytorch_model.bin and no safetensors."""
    repo = tmp_path / "hub" / ("models--" + PAPER_MODEL.replace("/", "--"))
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    snapshot = write_checkpoint(repo / "snapshots" / "0123abcd")
    (snapshot / "model.safetensors").rename(snapshot / "pytorch_model.bin")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    source = resolve(PAPER_MODEL)
    assert source.kind == "folder" and (Path(source.path) / "pytorch_model.bin").is_file()


def test_unreachable_hub_id_names_the_id_and_the_fix(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelSourceError) as info:
        resolve(PAPER_MODEL)
    message = str(info.value)
    assert PAPER_MODEL in message and "save_pretrained" in message and "snapshot_download" in message


def test_checkpoint_that_is_not_a_vit_classifier_is_refused(tmp_path):
    folder = write_checkpoint(tmp_path / "bert", "bert", ("BertForMaskedLM",))
    with pytest.raises(ModelSourceError, match="not a ViT image classifier"):
        resolve(str(folder))


def test_missing_folder_and_folder_without_weights(tmp_path):
    with pytest.raises(ModelSourceError, match="no such folder"):
        resolve(str(tmp_path / "nope"))
    folder = write_checkpoint(tmp_path / "empty")
    (folder / "model.safetensors").unlink()
    with pytest.raises(ModelSourceError, match="no weight files"):
        resolve(str(folder))
