"""Batch preparation on the training device: crop/flip at 32×32, mixup/cutmix, upsample, normalise.

Everything works on whole uint8 batches already on the device, and every random number is
drawn from a CPU ``torch.Generator`` that the caller seeds per epoch. That keeps runs
reproducible across devices and lets a resumed run redraw exactly the numbers an
uninterrupted one would have drawn.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

PAD = 4


def _draw(shape, generator, high=None, device=None):
    if high is None:
        values = torch.rand(shape, generator=generator)
    else:
        values = torch.randint(high, shape, generator=generator)
    return values.to(device)


def crop_flip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random 4-px reflect-pad crop and horizontal flip; (B, 3, H, W) uint8 in, float out."""
    batch, _, height, width = images.shape
    device = images.device
    padded = F.pad(images.float(), (PAD, PAD, PAD, PAD), mode="reflect")
    top = _draw((batch,), generator, 2 * PAD + 1, device)
    left = _draw((batch,), generator, 2 * PAD + 1, device)
    flip = _draw((batch,), generator, device=device) < 0.5
    rows = top[:, None] + torch.arange(height, device=device)  # (B, H)
    cols = left[:, None] + torch.arange(width, device=device)  # (B, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)
    # One gather for the whole batch instead of a Python loop of per-image crops.
    index = torch.arange(batch, device=device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[index, rows[:, :, None], cols[:, None, :]]
    return cropped.permute(0, 3, 1, 2)


def mix(images: torch.Tensor, generator: torch.Generator, cutmix_share: float = 0.5):
    """Mixup or cutmix (one of the two for the whole batch) with λ ~ Beta(1, 1) = U(0, 1).

    Returns the mixed images, the permutation that supplies the second label, and the weight
    λ of the first label (for cutmix the exact area share of the image left unpasted).
    """
    batch, _, height, width = images.shape
    lam = float(torch.rand((), generator=generator))
    perm = torch.randperm(batch, generator=generator).to(images.device)
    if float(torch.rand((), generator=generator)) >= cutmix_share:
        return lam * images + (1 - lam) * images[perm], perm, lam
    cut_h, cut_w = round(height * (1 - lam) ** 0.5), round(width * (1 - lam) ** 0.5)
    cy = int(torch.randint(height, (), generator=generator))
    cx = int(torch.randint(width, (), generator=generator))
    y0, y1 = max(cy - cut_h // 2, 0), min(cy + cut_h - cut_h // 2, height)
    x0, x1 = max(cx - cut_w // 2, 0), min(cx + cut_w - cut_w // 2, width)
    mixed = images.clone()
    mixed[:, :, y0:y1, x0:x1] = images[perm][:, :, y0:y1, x0:x1]
    # The box is clipped at the border, so λ is recomputed from the area actually pasted.
    return mixed, perm, 1 - (y1 - y0) * (x1 - x0) / (height * width)


def to_model_input(
    images: torch.Tensor, size: int, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
    rescale: float = 1 / 255,
) -> torch.Tensor:
    """Pixel values 0–255 (uint8 or float) → bilinear upsample to ``size`` → rescale, normalise.

    The steps of a ``ViTImageProcessorPil`` with ``resample=2`` (bilinear) minus its rounding
    to uint8 after resizing; the tests check that the two agree.
    """
    x = images.float()
    if x.shape[-1] != size or x.shape[-2] != size:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    mean_t = torch.tensor(mean, device=x.device, dtype=x.dtype)[:, None, None]
    std_t = torch.tensor(std, device=x.device, dtype=x.dtype)[:, None, None]
    return (x * rescale - mean_t) / std_t
