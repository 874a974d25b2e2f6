"""Reading a reader-supplied image into RGB, with a clear error for every way it can go wrong.

Used on both sides of the process boundary: the Sphinx process calls :func:`load_rgb` to
validate a directive's image (so a bad file becomes one warning with file:line) and the compute
worker calls it again to get the pixels. It never imports torch.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, UnidentifiedImageError

#: Images larger than this many pixels are refused rather than decoded (an 8000×8000 photo
#: would take ~200 MB and seconds to decode, only to be shrunk to 224×224).
DEFAULT_MAX_PIXELS = 4096 * 4096


class ImageError(ValueError):
    """An image the book cannot use; the message is meant for the reader, as is."""


@dataclass
class LoadedImage:
    rgb: Image.Image
    original_mode: str
    original_size: tuple[int, int]
    conversions: list[str] = field(default_factory=list)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _flatten_alpha(img: Image.Image) -> Image.Image:
    # Transparent pixels have no colour of their own; a white page is what the reader sees.
    rgba = img.convert("RGBA")
    background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(background, rgba).convert("RGB")


def _to_rgb(img: Image.Image) -> tuple[Image.Image, list[str]]:
    mode = img.mode
    if mode == "RGB":
        return img, []
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        return _flatten_alpha(img), [f"{mode} image: transparency flattened onto white"]
    if mode == "P":
        return img.convert("RGB"), ["palette image converted to RGB"]
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        values = np.asarray(img, dtype=np.float64)
        depth = "16-bit" if mode.startswith("I;16") else f"{mode}-mode"
        if mode.startswith("I;16"):
            scaled = values / 65535.0 * 255.0
            how = "scaled to 8 bits"
        else:
            lo, hi = float(values.min()), float(values.max())
            scaled = (values - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(values)
            how = "min-max scaled to 8 bits"
        gray = Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), mode="L")
        return gray.convert("RGB"), [f"{depth} grayscale image {how} and repeated on 3 channels"]
    if mode in ("L", "1"):
        return img.convert("RGB"), ["grayscale image repeated on 3 channels"]
    return img.convert("RGB"), [f"{mode} image converted to RGB"]


def load_rgb(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> LoadedImage:
    """Decode ``path`` fully and return it as 8-bit RGB, or raise :class:`ImageError`."""
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ImageError(f"image file not found: {path}")
    if os.path.isdir(path):
        raise ImageError(f"image path is a folder, not a file: {path}")
    try:
        with Image.open(path) as img:
            width, height = img.size
            if width * height > max_pixels:
                raise ImageError(
                    f"image is {width}×{height} ({width * height / 1e6:.1f} megapixels), more than "
                    f"the limit of {max_pixels / 1e6:.1f} megapixels (elvit_max_image_pixels); "
                    "downscale it first, the model only sees a small resized copy"
                )
            img.load()
            if getattr(img, "n_frames", 1) > 1:
                img.seek(0)
            rgb, conversions = _to_rgb(img)
            return LoadedImage(rgb.copy(), img.mode, (width, height), conversions)
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(f"not an image file, or a corrupt one (Pillow cannot identify it): {path}") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(f"image refused as too large: {path} ({exc})") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"corrupt or truncated image: {path} ({exc})") from None
