"""Train the book's embedded ViT from scratch on CIFAR-10 and write a ``save_pretrained`` folder.

    python -m elvit_sphinx.compute.train --data PATH --output DIR [--epochs 40] [--resume] ...

PATH is an image folder (``train/<class>/*.jpg``, ``test/<class>/*.jpg``), a tarball of one
(e.g. ``cifar10-jpg.tar.gz``) or ``torchvision:DIR``. The recipe defaults are the ones
measured on an H100 (design/MEASURED.md): AdamW lr 1e-3, wd 0.05, batch 512, cosine schedule
with 5 % warm-up, label smoothing 0.1, grad-clip 1.0, bf16 autocast on CUDA; crop + flip at
32×32 on the device, then bilinear upsampling to 224. Each epoch's state goes to
``DIR/training/state.pt``; ``--resume`` continues from it and, the run being seeded per epoch,
ends with the same weights as an uninterrupted run on the same device. At the end the model
is saved (float16 safetensors + the embedded processor), evaluated on the test split by
:mod:`elvit_sphinx.compute.evaluate`, and the model card ``DIR/README.md`` written.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import torch
import torch.nn.functional as F
import transformers
from transformers import ViTConfig, ViTForImageClassification

from elvit_sphinx.compute.cifar import load_split
from elvit_sphinx.compute.evaluate import evaluate_checkpoint, fast_preprocess, predict
from elvit_sphinx.compute.model import embedded_config, embedded_processor
from elvit_sphinx.compute.model_card import write_card
from elvit_sphinx.compute.training import state as state_io
from elvit_sphinx.compute.training.augment import crop_flip, mix, to_model_input

log = logging.getLogger("elvit_sphinx.train")


@dataclass
class Recipe:
    """Everything that determines the weights; a resumed run must match it exactly."""

    epochs: int = 40
    batch_size: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: float = 0.05  # share of all steps with a linear warm-up
    label_smoothing: float = 0.1
    grad_clip: float = 1.0
    mix: float = 0.0  # share of batches given mixup or cutmix (50/50), λ ~ Beta(1, 1)
    low_res: int = 0  # progressive resizing: input side for the first low_res_epochs
    low_res_epochs: int = 0
    seed: int = 0
    limit_train: int | None = None  # first N training images of each class
    geometry: dict = field(default_factory=dict)  # ViTConfig overrides (tests, experiments)


def model_config(geometry: dict) -> ViTConfig:
    config = embedded_config()
    known = config.to_dict()
    for key, value in geometry.items():
        if key not in known:
            raise ValueError(f"--geometry {key}: not a ViTConfig field")
        setattr(config, key, value)
    return config


def lr_factor(step: int, total: int, warmup_steps: int) -> float:
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    progress = (step - warmup_steps) / max(total - warmup_steps, 1)
    return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))


def hardware(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)} (CUDA {torch.version.cuda})"
    return (f"CPU {platform.machine()} ({os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads)")


class Trainer:
    """One training run: model, optimiser and schedule, data on the device, epoch by epoch."""

    def __init__(self, recipe: Recipe, data: str, output: Path, device: str | None = None,
                 workers: int | None = None):
        self.recipe, self.data, self.output = recipe, data, output
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # Decode before touching the model or CUDA: the decoder forks worker processes.
        train = load_split(data, "train", per_class=recipe.limit_train, workers=workers)
        self.classes = train.classes
        self.images = torch.from_numpy(train.images).permute(0, 3, 1, 2).contiguous()
        self.images = self.images.to(self.device)
        self.labels = torch.from_numpy(train.labels).to(self.device)
        self.config = model_config(recipe.geometry)
        self.config._attn_implementation = "sdpa"
        torch.manual_seed(recipe.seed)
        self.model = ViTForImageClassification(self.config).to(self.device)
        self.processor = embedded_processor()
        side = self.config.image_size
        self.processor.size = {"height": side, "width": side}
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=recipe.lr,
                                           weight_decay=recipe.weight_decay, betas=(0.9, 0.999))
        self.steps_per_epoch = math.ceil(len(self.labels) / recipe.batch_size)
        total = self.steps_per_epoch * recipe.epochs
        warmup = max(1, round(recipe.warmup * total))
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: lr_factor(step, total, warmup))
        self.epoch, self.history, self.train_seconds = 0, [], 0.0

    # -- state -------------------------------------------------------------------------------
    def state(self) -> dict:
        return {"recipe": asdict(self.recipe), "epoch": self.epoch, "history": self.history,
                "train_seconds": self.train_seconds, "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict()}

    def restore(self, state: dict) -> None:
        if state["recipe"] != asdict(self.recipe):
            changed = sorted(k for k, v in asdict(self.recipe).items() if state["recipe"][k] != v)
            raise ValueError(f"cannot resume: the recipe differs from the saved run in {changed}")
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.epoch, self.history = state["epoch"], state["history"]
        self.train_seconds = state["train_seconds"]

    # -- training ----------------------------------------------------------------------------
    def generator(self, epoch: int) -> torch.Generator:
        # One stream per (seed, epoch): a resumed epoch draws what an uninterrupted one would.
        return torch.Generator().manual_seed(self.recipe.seed * 1_000_003 + epoch)

    def resolution(self, epoch: int) -> int:
        recipe = self.recipe
        return recipe.low_res if epoch < recipe.low_res_epochs and recipe.low_res else (
            self.config.image_size)

    def loss(self, images: torch.Tensor, labels: torch.Tensor, side: int,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Loss (and logits) of uint8 or augmented float 32×32 ``images``, mixed if drawn."""
        recipe, second, lam = self.recipe, None, 1.0
        if generator is not None and recipe.mix and float(torch.rand((), generator=generator)) < (
                recipe.mix):
            images, perm, lam = mix(images, generator)
            second = labels[perm]
        processor = self.processor
        pixels = to_model_input(images, side, processor.image_mean, processor.image_std)
        with torch.autocast(self.device.type, dtype=torch.bfloat16,
                            enabled=self.device.type == "cuda"):
            logits = self.model(pixel_values=pixels,
                                interpolate_pos_encoding=side != self.config.image_size).logits
        logits = logits.float()
        loss = F.cross_entropy(logits, labels, label_smoothing=recipe.label_smoothing)
        if second is not None:
            loss = lam * loss + (1 - lam) * F.cross_entropy(
                logits, second, label_smoothing=recipe.label_smoothing)
        return loss, logits

    def train_epoch(self) -> dict:
        recipe, epoch = self.recipe, self.epoch
        generator = self.generator(epoch)
        side = self.resolution(epoch)
        self.model.train()
        started = time.perf_counter()
        order = torch.randperm(len(self.labels), generator=generator).to(self.device)
        # Running sums stay on the device: a .item() per step would stall the GPU queue.
        loss_sum = torch.zeros((), device=self.device)
        for start in range(0, len(order), recipe.batch_size):
            index = order[start:start + recipe.batch_size]
            images = crop_flip(self.images[index], generator)
            loss, _ = self.loss(images, self.labels[index], side, generator)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), recipe.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            loss_sum += loss.detach() * len(index)
        mean_loss = float(loss_sum) / len(order)
        seconds = time.perf_counter() - started
        self.train_seconds += seconds
        self.epoch += 1
        return {"epoch": self.epoch, "loss": round(mean_loss, 5), "side": side,
                "lr": self.scheduler.get_last_lr()[0], "seconds": round(seconds, 2),
                "images_per_s": round(len(order) / seconds, 1)}

    def test_accuracy(self, test) -> float:
        images = torch.from_numpy(test.images).permute(0, 3, 1, 2)
        predicted = predict(self.model, images, fast_preprocess(self.processor))
        return float((predicted.numpy() == test.labels).mean())

    def run(self, stop_after: int | None = None, time_budget: float | None = None,
            eval_every: int = 0, limit_test: int | None = None) -> bool:
        """Train until the recipe's last epoch (True) or a stop condition (False)."""
        test = load_split(self.data, "test", limit_test) if eval_every else None
        started = time.perf_counter()
        while self.epoch < self.recipe.epochs:
            record = self.train_epoch()
            if test is not None and self.epoch % eval_every == 0:
                record["test_top1"] = round(self.test_accuracy(test), 4)
            self.history.append(record)
            state_io.save_state(self.output, self.state())
            state_io.append_log(self.output, record)
            log.info("epoch %d/%d %s", self.epoch, self.recipe.epochs, json.dumps(record))
            elapsed = time.perf_counter() - started
            if self.epoch < self.recipe.epochs and (
                    (stop_after is not None and self.epoch >= stop_after)
                    or (time_budget is not None and elapsed + record["seconds"] > time_budget)):
                log.info("stopping after epoch %d; continue with --resume", self.epoch)
                return False
        return True

    def finish(self, limit_test: int | None = None, keep_state: bool = False) -> dict:
        """Export the checkpoint, evaluate it as shipped, write the card."""
        state_io.export_checkpoint(self.model, self.processor, self.output)
        training = {
            "command": "python -m elvit_sphinx.compute.train " + shlex.join(sys.argv[1:]),
            "recipe": asdict(self.recipe), "geometry": {
                k: getattr(self.config, k) for k in ("image_size", "patch_size",
                                                     "num_hidden_layers", "hidden_size",
                                                     "num_attention_heads", "intermediate_size")},
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "data": self.data, "train_images": len(self.labels), "epochs_done": self.epoch,
            "hardware": hardware(self.device), "torch": torch.__version__,
            "transformers": transformers.__version__,
            "train_seconds": round(self.train_seconds, 1),
            "final_loss": self.history[-1]["loss"] if self.history else float("nan"),
            "finished_at": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "history": self.history,
        }
        write_card(self.output, training=training)
        measured = evaluate_checkpoint(self.output, self.data, limit=limit_test,
                                       device=str(self.device))
        write_card(self.output, measured=measured)
        if not keep_state:
            state_io.state_path(self.output).unlink(missing_ok=True)
        return measured


def train(recipe: Recipe, data: str, output: str | Path, *, resume: bool = False,
          stop_after: int | None = None, time_budget: float | None = None,
          eval_every: int = 0, limit_test: int | None = None, keep_state: bool = False,
          device: str | None = None, workers: int | None = None) -> dict:
    """Run (or continue) a training; returns {"finished", "epoch", "history", "evaluation"}."""
    output = Path(output)
    saved = state_io.load_state(output) if resume else None
    if saved is None and (output / "config.json").exists():
        raise ValueError(f"{output} already holds a finished checkpoint; choose another folder")
    if saved is None and state_io.state_path(output).exists():
        raise ValueError(f"{output} holds an unfinished run: pass --resume, or another folder")
    output.mkdir(parents=True, exist_ok=True)
    trainer = Trainer(recipe, data, output, device, workers)
    if saved is not None:
        trainer.restore(saved)
        log.info("resuming after epoch %d of %d", trainer.epoch, recipe.epochs)
    log.info("%d training images on %s; %d steps an epoch; %d parameters",
             len(trainer.labels), hardware(trainer.device), trainer.steps_per_epoch,
             sum(p.numel() for p in trainer.model.parameters()))
    finished = trainer.run(stop_after, time_budget, eval_every, limit_test)
    evaluation = trainer.finish(limit_test, keep_state) if finished else None
    if evaluation:
        log.info("test top-1 %.4f on %d images", evaluation["top1"], evaluation["images"])
    return {"finished": finished, "epoch": trainer.epoch, "history": trainer.history,
            "evaluation": evaluation, "model": trainer.model}


def _geometry_arg(text: str) -> tuple[str, object]:
    key, sep, value = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    d = Recipe()
    p = argparse.ArgumentParser(prog="python -m elvit_sphinx.compute.train",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True,
                   help="image folder (train/, test/), its .tar.gz, or torchvision:DIR")
    p.add_argument("--output", required=True, type=Path, help="folder to write the model into")
    p.add_argument("--epochs", type=int, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--weight-decay", type=float, default=d.weight_decay)
    p.add_argument("--warmup", type=float, default=d.warmup, help="share of steps (0.05)")
    p.add_argument("--label-smoothing", type=float, default=d.label_smoothing)
    p.add_argument("--grad-clip", type=float, default=d.grad_clip)
    p.add_argument("--mix", type=float, default=d.mix,
                   help="share of batches given mixup or cutmix (measured: 1.0 helps at ≥ 90 ep)")
    p.add_argument("--low-res", type=int, default=d.low_res,
                   help="progressive resizing: input side (e.g. 112) for the first epochs")
    p.add_argument("--low-res-epochs", type=int, default=d.low_res_epochs)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit-train", type=int, default=None, metavar="N",
                   help="first N training images of each class")
    p.add_argument("--limit-test", type=int, default=None, metavar="N",
                   help="first N test images of each class (evaluation)")
    p.add_argument("--geometry", type=_geometry_arg, action="append", default=[],
                   metavar="KEY=VALUE",
                   help="override a field of embedded_config() (e.g. num_hidden_layers=2); the "
                        "result is no longer the embedded geometry — for tests and experiments")
    p.add_argument("--eval-every", type=int, default=0, metavar="K",
                   help="test accuracy every K epochs (0: only at the end)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda if present)")
    p.add_argument("--workers", type=int, default=None, help="JPEG decoding processes")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/training/state.pt")
    p.add_argument("--stop-after", type=int, default=None, metavar="EPOCH",
                   help="stop (resumably) once this epoch is done")
    p.add_argument("--time-budget", type=float, default=None, metavar="SECONDS",
                   help="stop (resumably) before an epoch would end past this many seconds")
    p.add_argument("--keep-state", action="store_true",
                   help="keep OUTPUT/training/state.pt after the last epoch")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    recipe = Recipe(
        epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, warmup=args.warmup,
        label_smoothing=args.label_smoothing, grad_clip=args.grad_clip, mix=args.mix,
        low_res=args.low_res, low_res_epochs=args.low_res_epochs, seed=args.seed,
        limit_train=args.limit_train, geometry=dict(args.geometry),
    )
    try:
        result = train(recipe, args.data, args.output, resume=args.resume,
                       stop_after=args.stop_after, time_budget=args.time_budget,
                       eval_every=args.eval_every, limit_test=args.limit_test,
                       keep_state=args.keep_state, device=args.device, workers=args.workers)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    summary = {k: result[k] for k in ("finished", "epoch")}
    if result["evaluation"]:
        summary["top1"] = result["evaluation"]["top1"]
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
