"""The training script, the evaluation command and the CIFAR-10 loaders, on a shipped sample.

``tests/data/cifar10-sample`` holds 20 CIFAR-10 test images per class (see its README); the
tests use them as both a tiny training set and a test set. Most runs use a shrunken geometry
(32×32 input, 4×4 patches, 2 blocks of 64) passed through ``Recipe.geometry`` (``--geometry``
on the command line) to stay fast on two CPU cores; one runs the real 224/16 embedded
geometry end to end.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from elvit_sphinx.compute import load_model
from elvit_sphinx.compute.cifar import CifarDataError, load_split
from elvit_sphinx.compute.evaluate import evaluate_checkpoint, fast_preprocess
from elvit_sphinx.compute.model import CIFAR10_CLASSES, embedded_processor
from elvit_sphinx.compute.model_card import read_card_data
from elvit_sphinx.compute.train import Recipe, Trainer, main, train
from elvit_sphinx.compute.training.augment import to_model_input
from elvit_sphinx.tracing.model_source import EMBEDDED_DIR

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(__file__).parent / "data" / "cifar10-sample"
TINY = {"image_size": 32, "patch_size": 4, "num_hidden_layers": 2, "hidden_size": 64,
        "num_attention_heads": 2, "intermediate_size": 128}


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """train/ and test/ both holding the sample (the loaders need a train split to train on)."""
    root = tmp_path_factory.mktemp("cifar")
    shutil.copytree(SAMPLE / "test", root / "train")
    shutil.copytree(SAMPLE / "test", root / "test")
    return root


@pytest.fixture(scope="module")
def smoke(data_dir, tmp_path_factory):
    """A 1-epoch training on all 200 sample images; loss on a fixed batch before and after."""
    torch.set_num_threads(2)
    out = tmp_path_factory.mktemp("smoke")
    trainer = Trainer(Recipe(epochs=1, batch_size=16, seed=0, geometry=TINY), str(data_dir), out)
    fixed = torch.arange(0, 200, 2)  # 100 images, 10 of each class, no augmentation

    def fixed_loss() -> float:
        trainer.model.eval()
        with torch.no_grad():
            loss, _ = trainer.loss(trainer.images[fixed], trainer.labels[fixed], 32)
        return float(loss)

    before = fixed_loss()
    assert trainer.run() is True
    after = fixed_loss()
    evaluation = trainer.finish()
    return {"out": out, "before": before, "after": after, "evaluation": evaluation,
            "history": trainer.history}


def test_folder_and_tarball_give_the_same_images(data_dir, tmp_path):
    tarball = tmp_path / "cifar10-jpg.tar.gz"
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(data_dir / "test", arcname="cifar10/test")
    from_folder = load_split(data_dir, "test")
    from_tar = load_split(tarball, "test", workers=1)
    assert from_folder.classes == from_tar.classes == CIFAR10_CLASSES
    assert from_folder.images.shape == (200, 32, 32, 3) and from_folder.images.dtype == np.uint8
    np.testing.assert_array_equal(from_folder.images, from_tar.images)
    np.testing.assert_array_equal(from_folder.labels, np.repeat(np.arange(10), 20))
    np.testing.assert_array_equal(from_folder.labels, from_tar.labels)
    limited = load_split(tarball, "test", per_class=3)
    assert len(limited) == 30
    np.testing.assert_array_equal(limited.images[:3], from_folder.images[:3])


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(CifarDataError, match="does not exist"):
        load_split(tmp_path / "nowhere", "train")
    with pytest.raises(CifarDataError, match="no train/ folder"):
        load_split(tmp_path, "train")
    assert main(["--data", str(tmp_path / "nowhere"), "--output", str(tmp_path / "o")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_torch_preprocessing_matches_the_saved_processor():
    images = load_split(SAMPLE, "test", per_class=1).images
    processor = embedded_processor()
    expected = processor(list(images), return_tensors="pt")["pixel_values"]
    batch = torch.from_numpy(images).permute(0, 3, 1, 2)
    fast = fast_preprocess(processor)(batch)
    assert fast.shape == expected.shape == (10, 3, 224, 224)
    # PIL resizes in 8-bit fixed point and rounds to uint8: under one grey level (×2 for std
    # 0.5) anywhere, and no bias on average.
    difference = fast - expected
    assert float(difference.abs().max()) < 2 / 255
    assert abs(float(difference.mean())) < 0.1 / 255
    assert torch.equal(fast, to_model_input(batch, 224))


def test_smoke_training_lowers_the_loss(smoke):
    print(f"fixed-batch loss {smoke['before']:.4f} -> {smoke['after']:.4f}; "
          f"epoch {smoke['history'][0]}")
    assert smoke["after"] < smoke["before"] - 0.02


def test_output_folder_loads_back(smoke):
    from transformers import ViTForImageClassification

    out = smoke["out"]
    assert {"config.json", "model.safetensors", "preprocessor_config.json", "README.md"} <= {
        p.name for p in out.iterdir()}
    assert not (out / "training" / "state.pt").exists()
    model = ViTForImageClassification.from_pretrained(out, local_files_only=True)
    assert model.dtype == torch.float32  # stored as float16, computed in float32
    loaded = load_model(str(out))
    assert loaded.config.image_size == 32 and loaded.source.trained
    assert loaded.processor.size["height"] == 32
    card = read_card_data(out)
    assert card["measured"]["top1"] == smoke["evaluation"]["top1"]
    assert card["training"]["recipe"]["seed"] == 0


def test_evaluate_command_prints_json(smoke, data_dir):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    done = subprocess.run(
        [sys.executable, "-m", "elvit_sphinx.compute.evaluate", str(smoke["out"]),
         "--data", str(data_dir), "--limit", "5", "--model-card", "--device", "cpu"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["images"] == 50 and result["classes"] == list(CIFAR10_CLASSES)
    assert 0.0 <= result["top1"] <= 1.0 and result["correct"] == round(result["top1"] * 50)
    matrix = np.asarray(result["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum(axis=1).tolist() == [5] * 10
    assert {c["total"] for c in result["per_class"].values()} == {5}
    assert result["preprocessing"] == "torch-bilinear"
    assert read_card_data(smoke["out"])["measured"]["images"] == 50
    assert "Top-1 accuracy" in (smoke["out"] / "README.md").read_text()
    exact = evaluate_checkpoint(smoke["out"], str(data_dir), limit=5, exact=True)
    assert exact["preprocessing"] == "processor"
    assert abs(exact["correct"] - result["correct"]) <= 1


def test_model_card_leaves_foreign_readmes_alone(tmp_path):
    from elvit_sphinx.compute.model_card import write_card

    (tmp_path / "README.md").write_text("# someone else's card\n")
    with pytest.raises(ValueError, match="not overwriting"):
        write_card(tmp_path, measured={"top1": 1.0})
    assert (tmp_path / "README.md").read_text() == "# someone else's card\n"


def test_resume_ends_with_the_same_weights(data_dir, tmp_path):
    # Progressive resizing (epoch 1 at 16×16) and mixing drawn per batch: both must replay too.
    recipe = Recipe(epochs=2, batch_size=16, seed=3, limit_train=5, geometry=TINY,
                    low_res=16, low_res_epochs=1, mix=0.5)
    whole = train(recipe, str(data_dir), tmp_path / "whole", limit_test=1)
    first = train(recipe, str(data_dir), tmp_path / "split", stop_after=1)
    assert (first["finished"], first["epoch"]) == (False, 1)
    assert not (tmp_path / "split" / "config.json").exists()
    with pytest.raises(ValueError, match="pass --resume"):
        train(recipe, str(data_dir), tmp_path / "split")
    with pytest.raises(ValueError, match="recipe differs"):
        train(Recipe(**{**recipe.__dict__, "lr": 2e-3}), str(data_dir), tmp_path / "split",
              resume=True)
    second = train(recipe, str(data_dir), tmp_path / "split", resume=True, limit_test=1)
    assert second["finished"] and second["epoch"] == 2
    log = [json.loads(line) for line in
           (tmp_path / "split" / "training" / "log.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in log] == [1, 2]  # the resumed run trained epoch 2 only
    assert [r["side"] for r in log] == [16, 32]
    for (name, a), (_, b) in zip(whole["model"].state_dict().items(),
                                 second["model"].state_dict().items(), strict=True):
        assert torch.equal(a, b), name


def test_real_geometry_with_progressive_resizing_and_mixing(data_dir, tmp_path):
    """224×224, 16×16 patches, 12 × 192: epoch 1 at 112 (interpolated positions), epoch 2 at 224."""
    recipe = Recipe(epochs=2, batch_size=10, limit_train=1, low_res=112, low_res_epochs=1,
                    mix=1.0)
    result = train(recipe, str(data_dir), tmp_path / "vit", limit_test=1)
    assert [r["side"] for r in result["history"]] == [112, 224]
    assert all(np.isfinite(r["loss"]) for r in result["history"])
    out = tmp_path / "vit"
    size_mb = (out / "model.safetensors").stat().st_size / 1e6
    assert 10 < size_mb < 12.5, size_mb  # 5.5 M parameters in float16
    loaded = load_model(str(out), attn_implementation="sdpa")
    assert (loaded.config.image_size, loaded.config.patch_size) == (224, 16)
    assert loaded.config.num_hidden_layers == 12 and loaded.config.hidden_size == 192
    pixels = torch.zeros(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.allclose(loaded.model(pixel_values=pixels).logits,
                              result["model"].eval()(pixel_values=pixels).logits, atol=0.05)
    assert result["evaluation"]["images"] == 10


def test_real_geometry_backward_step():
    """One forward/backward through the unmodified embedded geometry changes every layer."""
    from transformers import ViTForImageClassification

    from elvit_sphinx.compute.model import embedded_config

    torch.manual_seed(0)
    config = embedded_config()
    config._attn_implementation = "sdpa"
    model = ViTForImageClassification(config)
    images = torch.from_numpy(load_split(SAMPLE, "test", per_class=1).images[:2])
    pixels = to_model_input(images.permute(0, 3, 1, 2), 224)
    loss = F.cross_entropy(model(pixel_values=pixels).logits, torch.tensor([0, 1]))
    loss.backward()
    assert np.isfinite(loss.item())
    for i, layer in enumerate(model.vit.layers):
        assert float(layer.attention.q_proj.weight.grad.abs().sum()) > 0, i


def test_shipped_embedded_checkpoint_matches_its_card():
    if not (EMBEDDED_DIR / "config.json").exists():
        pytest.skip(f"no trained embedded checkpoint ships yet ({EMBEDDED_DIR}/config.json)")
    from transformers import ViTForImageClassification

    ViTForImageClassification.from_pretrained(EMBEDDED_DIR, local_files_only=True)
    card = read_card_data(EMBEDDED_DIR)
    assert "measured" in card, "the embedded checkpoint's README.md has no measured accuracy"
    result = evaluate_checkpoint(EMBEDDED_DIR, str(SAMPLE), device="cpu")
    assert abs(result["top1"] - card["measured"]["top1"]) <= 0.05, (result["top1"], card)
