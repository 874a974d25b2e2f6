"""Where the objects are in an example image, and which patches they cover.

The interpretation chapter compares what the model does on an object's patches with what it
does on the rest, so each example image can carry its object boxes in a small JSON file beside
it, ``<stem>.regions.json`` (``horse.jpg`` → ``horse.regions.json``)::

    {
      "size": [32, 32],                        // width, height of the image the boxes refer to
      "regions": {"horse": [[7, 5, 26, 15], [7, 15, 16, 24]]},  // [x0, y0, x1, y1] in pixels,
      "source": "drawn by hand on the 32×32 image"              //  x1/y1 excluded; union per name
    }

The model resizes the whole image to a square, so a patch of a ``g``×``g`` grid covers the same
fraction of the image whatever its pixel size: patch ``(r, c)`` is the rectangle
``[c/g, (c+1)/g) × [r/g, (r+1)/g)`` in coordinates relative to the image. A patch belongs to a
region when more than half of its area lies inside the region's boxes (:meth:`patch_masks`).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import numpy as np

#: Sample points per patch side used to measure how much of a patch a region covers.
SAMPLES = 16


class RegionsError(ValueError):
    """A regions file that cannot be used; the message names the file and the problem."""


def regions_path(image_path: str | os.PathLike) -> str:
    stem, _extension = os.path.splitext(os.fspath(image_path))
    return stem + ".regions.json"


@dataclass(frozen=True)
class ImageRegions:
    width: int
    height: int
    regions: dict[str, list[tuple[float, float, float, float]]]
    source: str = ""

    def to_json(self) -> str:
        """The file's text: one line per region, so that a diff shows which box moved."""
        lines = [f"    {json.dumps(name)}: {json.dumps([list(box) for box in boxes])}"
                 for name, boxes in self.regions.items()]
        return ("{\n"
                f'  "size": [{self.width}, {self.height}],\n'
                '  "regions": {\n' + ",\n".join(lines) + "\n  },\n"
                f'  "source": {json.dumps(self.source, ensure_ascii=False)}\n'
                "}\n")

    def coverage(self, grid: int) -> dict[str, np.ndarray]:
        """Per region, the fraction (0…1) of each of the ``grid``² patches it covers."""
        # Sample points at the centres of a fine sub-grid of every patch, in image pixels.
        steps = (np.arange(grid * SAMPLES) + 0.5) / (grid * SAMPLES)
        xs, ys = steps * self.width, steps * self.height
        result = {}
        for name, boxes in self.regions.items():
            inside = np.zeros((len(ys), len(xs)), dtype=bool)
            for x0, y0, x1, y1 in boxes:
                inside |= ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None, :]
            per_patch = inside.reshape(grid, SAMPLES, grid, SAMPLES).mean(axis=(1, 3))
            result[name] = per_patch.reshape(-1)
        return result

    def patch_masks(self, grid: int) -> dict[str, np.ndarray]:
        """Per region, a boolean per patch (row by row): more than half of the patch is inside."""
        return {name: fraction > 0.5 for name, fraction in self.coverage(grid).items()}


def parse_regions(data: dict, where: str = "regions") -> ImageRegions:
    try:
        width, height = (int(v) for v in data["size"])
        regions = {}
        for name, boxes in data["regions"].items():
            parsed = [tuple(float(v) for v in box) for box in boxes]
            if not parsed or any(len(box) != 4 or box[0] >= box[2] or box[1] >= box[3]
                                 for box in parsed):
                raise ValueError(f"region {name!r} needs boxes [x0, y0, x1, y1] with x0 < x1, y0 < y1")
            regions[str(name)] = parsed
    except (KeyError, TypeError, ValueError) as exc:
        raise RegionsError(f"{where}: not a regions file ({exc}); expected "
                           '{"size": [w, h], "regions": {"name": [[x0, y0, x1, y1]]}}') from None
    if width <= 0 or height <= 0 or not regions:
        raise RegionsError(f"{where}: needs a positive size and at least one region")
    return ImageRegions(width, height, regions, str(data.get("source", "")))


def load_regions(image_path: str | os.PathLike) -> ImageRegions | None:
    """The regions stored beside ``image_path``, or None when it has none."""
    path = regions_path(image_path)
    if not os.path.exists(path):
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        raise RegionsError(f"{path}: cannot read it ({exc})") from None
    return parse_regions(data, path)
